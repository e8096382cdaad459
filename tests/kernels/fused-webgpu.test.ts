/**
 * Fused WebGPU kernels (Dawn + SwiftShader) against the plain TF.js composites on the cpu backend:
 * forward values and every input gradient, on tiny shapes chosen to hit partial workgroups
 * (row lengths not a multiple of 64, longer than one workgroup pass). Also checks each fused forward
 * is one GPU dispatch and that the device reported no uncaptured error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as tfType from '@tensorflow/tfjs';
import { maxRelError, values } from '../helpers/arrays';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';

type Kernels = typeof import('../../src/engine/kernels');
type Tf = typeof tfType;

let gpu: NodeWebGPU;
let tf: Tf;
let kernels: Kernels;

beforeAll(async () => {
  gpu = await installNodeWebGPU();
  tf = gpu.tf;
  kernels = await import('../../src/engine/kernels');
});

afterAll(async () => {
  await gpu?.teardown();
});

interface Case {
  inputs: Array<{ shape: number[]; data: Float32Array }>;
  /** Inputs that get a gradient (indices into inputs). */
  differentiable: number[];
  /** fused = true: the kernel function; false: the composite. */
  run: (fused: boolean, ...xs: tfType.Tensor[]) => tfType.Tensor;
}

/** Forward output and gradients of sum(y * w), as plain arrays, on the active backend. */
async function evaluate(testCase: Case, fused: boolean): Promise<Float32Array[]> {
  const xs = testCase.inputs.map(({ shape, data }) => tf.tensor(data, shape));
  const y = testCase.run(fused, ...xs);
  const weights = tf.tensor(values(y.size, 99), y.shape);
  const gradFn = tf.grads((...diff: tfType.Tensor[]) => {
    const all = xs.map((x, i) => {
      const k = testCase.differentiable.indexOf(i);
      return k >= 0 ? diff[k] : x;
    });
    return tf.sum(tf.mul(testCase.run(fused, ...all), weights));
  });
  const grads = gradFn(testCase.differentiable.map((i) => xs[i]));
  const out = await Promise.all([y, ...grads].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([...xs, y, weights, ...grads]);
  return out;
}

/** webgpu (fused) vs cpu (composite); tolerance relative to the largest expected magnitude. */
async function compare(testCase: Case, tolerance: number, expectedForwardDispatches = 1): Promise<void> {
  await tf.setBackend('webgpu');
  const counter = kernels.installDispatchCounter();
  const forward = testCase.run(true, ...testCase.inputs.map(({ shape, data }) => tf.tensor(data, shape)));
  const forwardDispatches = counter.total();
  counter.uninstall();
  await forward.data();
  forward.dispose();
  expect(forwardDispatches).toBe(expectedForwardDispatches);
  const fused = await evaluate(testCase, true);

  await tf.setBackend('cpu');
  const plain = await evaluate(testCase, false);
  await tf.setBackend('webgpu');

  expect(fused.length).toBe(plain.length);
  fused.forEach((result, i) => {
    expect(maxRelError(result, plain[i]), `output ${i} (0 = forward, then gradients)`).toBeLessThan(
      tolerance,
    );
  });
  expect(gpu.uncapturedErrors).toEqual([]);
}

/** The adapter under test (kernel or composite): AFLoRA's form with Λd and Λb, LoRA's without. */
function runAdapter(
  fused: boolean,
  scale: number,
  ...[x, base, a, b, ld, lb]: tfType.Tensor[]
): tfType.Tensor {
  return (fused ? kernels.lowRankAdapter : kernels.lowRankAdapterComposite)(
    x as tfType.Tensor2D,
    base as tfType.Tensor2D,
    {
      a: a as tfType.Tensor2D,
      b: b as tfType.Tensor2D,
      ...(ld && lb ? { lambdaD: ld as tfType.Tensor1D, lambdaB: lb as tfType.Tensor1D } : {}),
      scale,
    },
  );
}

describe('fused WebGPU kernels match the plain TF.js composites', () => {
  it('layerNorm: forward, dx, dgamma, dbeta (row lengths 40 and 130)', async () => {
    for (const [rows, cols] of [
      [6, 40],
      [5, 130],
    ]) {
      await compare(
        {
          inputs: [
            { shape: [rows, cols], data: values(rows * cols, 1 + cols, -3, 5) },
            { shape: [cols], data: values(cols, 2, 0.5, 1.5) },
            { shape: [cols], data: values(cols, 3) },
          ],
          differentiable: [0, 1, 2],
          run: (fused, x, g, b) =>
            (fused ? kernels.layerNorm : kernels.layerNormComposite)(
              x,
              g as tfType.Tensor1D,
              b as tfType.Tensor1D,
              1e-12,
            ),
        },
        2e-5,
      );
    }
  });

  it('layerNorm on a 3-D input keeps its shape', async () => {
    await compare(
      {
        inputs: [
          { shape: [2, 3, 24], data: values(144, 5) },
          { shape: [24], data: values(24, 6) },
          { shape: [24], data: values(24, 7) },
        ],
        differentiable: [0],
        run: (fused, x, g, b) =>
          (fused ? kernels.layerNorm : kernels.layerNormComposite)(
            x,
            g as tfType.Tensor1D,
            b as tfType.Tensor1D,
            1e-5,
          ),
      },
      2e-5,
    );
  });

  it('biasGelu: forward, dx, dbias; and without bias', async () => {
    await compare(
      {
        inputs: [
          { shape: [5, 33], data: values(165, 8, -4, 4) },
          { shape: [33], data: values(33, 9) },
        ],
        differentiable: [0, 1],
        run: (fused, x, b) => (fused ? kernels.biasGelu : kernels.biasGeluComposite)(x, b as tfType.Tensor1D),
      },
      2e-5,
    );
    await compare(
      {
        inputs: [{ shape: [3, 2, 7], data: values(42, 10, -4, 4) }],
        differentiable: [0],
        run: (fused, x) => (fused ? kernels.biasGelu : kernels.biasGeluComposite)(x),
      },
      2e-5,
    );
  });

  it('maskedSoftmax: forward and d scores, with masked keys (Sk = 70)', async () => {
    const [batch, heads, queries, keys] = [2, 2, 3, 70];
    const mask = new Float32Array(batch * keys);
    for (let k = 60; k < keys; k++) mask[keys + k] = -1e9; // second sequence is padded after 60 tokens
    await compare(
      {
        inputs: [
          { shape: [batch, heads, queries, keys], data: values(batch * heads * queries * keys, 11, -6, 6) },
          { shape: [batch, keys], data: mask },
        ],
        differentiable: [0],
        run: (fused, s, m) =>
          (fused ? kernels.maskedSoftmax : kernels.maskedSoftmaxComposite)(s as tfType.Tensor4D, m, 0.125),
      },
      2e-5,
    );
  });

  it('linear: forward, dx, dW, db (W in [out, in] layout)', async () => {
    await compare(
      {
        inputs: [
          { shape: [9, 20], data: values(180, 12) },
          { shape: [13, 20], data: values(260, 13) },
          { shape: [13], data: values(13, 14) },
        ],
        differentiable: [0, 1, 2],
        run: (fused, x, w, b) =>
          (fused ? kernels.linear : kernels.linearComposite)(
            x as tfType.Tensor2D,
            w as tfType.Tensor2D,
            b as tfType.Tensor1D,
          ),
      },
      2e-5,
    );
  });

  it('linear differentiates only what is needed: no dW / db work for a frozen weight', async () => {
    await tf.setBackend('webgpu');
    const x = tf.tensor2d(values(9 * 20, 25), [9, 20]);
    const w = tf.tensor2d(values(13 * 20, 26), [13, 20]);
    const b = tf.tensor1d(values(13, 27));
    const countBackward = async (f: (input: tfType.Tensor2D) => tfType.Tensor) => {
      const counter = kernels.installDispatchCounter();
      const grad = tf.grad((input: tfType.Tensor) => tf.sum(f(input as tfType.Tensor2D)))(x);
      await grad.data();
      counter.uninstall();
      grad.dispose();
      return counter.total();
    };
    const lazy = await countBackward((input) => kernels.linear(input, w, b));
    const eager = await countBackward((input) =>
      tf.fused.matMul({ a: input, b: w, transposeB: true, bias: b }),
    );
    // tf.fused.matMul's customGrad also runs the dW matMul and the db reduction.
    expect(eager - lazy).toBeGreaterThanOrEqual(2);
    tf.dispose([x, w, b]);
    expect(gpu.uncapturedErrors).toEqual([]);
  });

  it('lowRankAdapter (AFLoRA form, Λd and Λb): forward and every input gradient', async () => {
    const [tokens, inF, outF, rank] = [10, 24, 70, 4];
    await compare(
      {
        inputs: [
          { shape: [tokens, inF], data: values(tokens * inF, 15) },
          { shape: [tokens, outF], data: values(tokens * outF, 16) },
          { shape: [rank, inF], data: values(rank * inF, 17) },
          { shape: [outF, rank], data: values(outF * rank, 18) },
          { shape: [rank], data: values(rank, 19, 0.05, 0.2) },
          { shape: [outF], data: values(outF, 20, -0.5, 0.5) },
        ],
        differentiable: [0, 1, 2, 3, 4, 5],
        run: (fused, x, base, a, b, ld, lb) => runAdapter(fused, 1.5, x, base, a, b, ld, lb),
      },
      2e-5,
      2,
    );
  });

  it('lowRankAdapter (LoRA form, scale alpha / r, rank 8): forward and gradients', async () => {
    const [tokens, inF, outF, rank] = [7, 16, 33, 8];
    await compare(
      {
        inputs: [
          { shape: [tokens, inF], data: values(tokens * inF, 21) },
          { shape: [tokens, outF], data: values(tokens * outF, 22) },
          { shape: [rank, inF], data: values(rank * inF, 23) },
          { shape: [outF, rank], data: values(outF * rank, 24) },
        ],
        differentiable: [0, 2, 3],
        run: (fused, x, base, a, b) => runAdapter(fused, 2, x, base, a, b),
      },
      2e-5,
      2,
    );
  });

  // Step-sized adapters run lowRankProducts.ts (narrow x A^T and du, the tiled up product, token sums for dA, dB,
  // dΛb): tokens not a multiple of the 16-token tile, features not a multiple of 64 (and below it), ranks below,
  // at and above a multiple of 4; P of more than one 256-column block.
  for (const [form, tokens, inF, outF, rank] of [
    ['AFLoRA', 250, 100, 68, 3],
    ['AFLoRA', 64, 128, 256, 12],
    // Same form and rank, other sizes: each program's cache key must hold every size baked into its shader.
    ['AFLoRA', 128, 32, 64, 12],
    ['LoRA', 300, 96, 300, 8],
  ] as const) {
    it(`lowRankAdapter at step size (${form}, ${tokens} tokens, ${inF} -> ${outF}, rank ${rank}): the rank-r product programs`, async () => {
      const lambdas = form === 'AFLoRA';
      await tf.setBackend('webgpu');
      const counter = kernels.installDispatchCounter();
      await compare(
        {
          inputs: [
            { shape: [tokens, inF], data: values(tokens * inF, 31) },
            { shape: [tokens, outF], data: values(tokens * outF, 32) },
            { shape: [rank, inF], data: values(rank * inF, 33, -0.3, 0.3) },
            { shape: [outF, rank], data: values(outF * rank, 34, -0.3, 0.3) },
            { shape: [rank], data: values(rank, 35, 0.05, 0.2) },
            { shape: [outF], data: values(outF, 36, -0.5, 0.5) },
          ],
          differentiable: lambdas ? [0, 1, 2, 3, 4, 5] : [0, 2, 3],
          run: (fused, x, base, a, b, ld, lb) =>
            lambdas ? runAdapter(fused, 1, x, base, a, b, ld, lb) : runAdapter(fused, 2, x, base, a, b),
        },
        2e-5,
        2,
      );
      const ran = [...counter.byProgram().keys()];
      counter.uninstall();
      for (const program of [
        'aflora_lowrank_narrow',
        'aflora_lowrank_up_tiled',
        'aflora_lowrank_tokensum_rows',
        'aflora_lowrank_tokensum_cols',
      ])
        expect(
          ran.some((key) => key.startsWith(program)),
          `${program} ran (ran: ${ran.join(', ')})`,
        ).toBe(true);
      expect(ran.some((key) => key.startsWith('aflora_lowrank_tokensum_dot'))).toBe(lambdas);
    });
  }

  for (const variant of ['torch', 'hf'] as const)
    it(`clipCoefficients + adamWUpdate (${variant}): three clipped steps match the composite`, async () => {
      // 8 variables: two sum-of-squares dispatches (6 + 2 inputs) per step.
      const shapes = [[37], [3, 5], [130, 4], [2], [11], [4, 4], [9], [300]];
      const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, variant };
      async function train(): Promise<Float32Array[]> {
        // Each variable owns its data (tf.variable shares its initial tensor's), so the update runs in place.
        const vars = shapes.map((shape, i) => {
          const initial = tf.tensor(values(shape.reduce((a, b) => a * b), 20 + i), shape);
          const v = tf.variable(initial);
          initial.dispose();
          return v;
        });
        let states = vars.map((v) => kernels.adamWState(v));
        const norms: number[] = [];
        for (let step = 1; step <= 3; step++) {
          const grads = shapes.map((shape, i) =>
            tf.tensor(
              values(
                shape.reduce((a, b) => a * b),
                40 + 7 * step + i,
              ),
              shape,
            ),
          );
          const clip = kernels.clipCoefficients(grads, 0.5);
          norms.push(...((await clip.data()) as Float32Array));
          states = vars.map((v, i) => {
            const next = kernels.adamWUpdate(v, grads[i], states[i], clip, { ...hp, step });
            states[i].dispose();
            return next;
          });
          tf.dispose([...grads, clip]);
        }
        const out = await Promise.all(
          [...vars, ...states].map(async (t) => (await t.data()) as Float32Array),
        );
        out.push(Float32Array.from(norms));
        tf.dispose([...vars, ...states]);
        return out;
      }
      await tf.setBackend('webgpu');
      const counter = kernels.installDispatchCounter();
      const fused = await train();
      // Per step: 2 sum-of-squares + 8 x one in-place update (parameter and moments).
      expect(counter.total()).toBe(3 * (2 + 8));
      counter.uninstall();
      await tf.setBackend('cpu');
      const plain = await train();
      await tf.setBackend('webgpu');
      // Clipping must have been active (norm > 0.5) for the test to cover the scale path.
      expect(plain[plain.length - 1][0]).toBeGreaterThan(0.5);
      fused.forEach((result, i) => expect(maxRelError(result, plain[i]), `tensor ${i}`).toBeLessThan(1e-5));
      expect(gpu.uncapturedErrors).toEqual([]);
    });

  it('adamWUpdate writes parameter and moments in place, and not a parameter another tensor shares', async () => {
    await tf.setBackend('webgpu');
    const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1 };
    const initial = tf.tensor2d(values(96, 5), [8, 12]);
    const grad = tf.tensor2d(values(96, 6), [8, 12]);
    const clip = kernels.clipCoefficients([grad], 0.5);
    const copy = tf.add(initial, 0);
    const own = tf.variable(copy);
    copy.dispose(); // `own` now holds its data alone
    const shared = tf.variable(initial); // shares `initial`'s data
    const ownMoments = kernels.adamWState(own);
    const sharedMoments = kernels.adamWState(shared);
    const [ownId, ownMomentsId, sharedId] = [own.dataId, ownMoments.dataId, shared.dataId];
    const counter = kernels.installDispatchCounter();
    const ownNext = kernels.adamWUpdate(own, grad, ownMoments, clip, hp);
    const oneProgram = counter.total();
    const sharedNext = kernels.adamWUpdate(shared, grad, sharedMoments, clip, hp);
    counter.uninstall();
    // In place: one program writes both; a shared parameter takes the moments program, then the parameter's.
    expect([oneProgram, counter.total() - oneProgram]).toEqual([1, 2]);
    expect(own.dataId).toBe(ownId);
    expect(ownNext.dataId).toBe(ownMomentsId);
    expect(shared.dataId).not.toBe(sharedId);
    // The same formula either way: bit for bit.
    expect(await own.data()).toEqual(await shared.data());
    expect(await ownNext.data()).toEqual(await sharedNext.data());
    expect(await initial.data()).toEqual(Float32Array.from(values(96, 5)));
    // A read caches the values on the host; the next in-place update must drop that copy.
    const before = await own.data();
    const third = kernels.adamWUpdate(own, grad, ownNext, clip, { ...hp, step: 2 });
    expect(await own.data()).not.toEqual(before);
    tf.dispose([initial, grad, clip, own, shared, ownMoments, ownNext, sharedMoments, sharedNext, third]);
  });

  it('adamWUpdate leaves moments another tensor shares as they were, and reads the coefficient table as the uniforms', async () => {
    await tf.setBackend('webgpu');
    const hp = { lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.05, step: 4 };
    const owned = (seed: number) => {
      const t = tf.tensor1d(values(50, seed));
      const v = tf.variable(t);
      t.dispose();
      return v;
    };
    const grad = tf.tensor1d(values(50, 9));
    const start = tf.tensor2d(values(100, 10, 0.5, 1), [2, 50]); // v > 0
    const [a, b] = [owned(8), owned(8)];
    // a: uniforms, moments shared with a snapshot (so the two-program path); b: the table, all in place.
    const momentsA = tf.add(start, 0) as tfType.Tensor2D;
    const snapshot = tf.clone(momentsA);
    const momentsB = tf.add(start, 0) as tfType.Tensor2D;
    const row = 2;
    const coefs = tf.tensor1d([...Array(row * 4).fill(0), ...kernels.adamWCoefficientRow(hp), 0, 0, 0, 0]);
    const counter = kernels.installDispatchCounter();
    const nextA = kernels.adamWUpdate(a, grad, momentsA, null, hp);
    const first = counter.total();
    const nextB = kernels.adamWUpdate(b, grad, momentsB, null, hp, { coefs, row });
    counter.uninstall();
    expect([first, counter.total() - first]).toEqual([2, 1]);
    expect(nextA.dataId).not.toBe(momentsA.dataId);
    expect(nextB.dataId).toBe(momentsB.dataId);
    expect(await snapshot.data()).toEqual(await start.data());
    expect(await a.data()).toEqual(await b.data());
    expect(await nextA.data()).toEqual(await nextB.data());
    expect(await a.data()).not.toEqual(Float32Array.from(values(50, 8)));
    tf.dispose([grad, start, a, b, momentsA, snapshot, momentsB, coefs, nextA, nextB]);
    expect(gpu.uncapturedErrors).toEqual([]);
  });

  it('dropout: GPU-hash mask with the right rate, scaling, seeding and gradient', async () => {
    await tf.setBackend('webgpu');
    const [rows, cols, rate] = [64, 300, 0.25];
    const xData = values(rows * cols, 30, 0.5, 2); // no zeros: a zero output means dropped
    const wData = values(rows * cols, 31);
    const x = tf.tensor2d(xData, [rows, cols]);
    const w = tf.tensor2d(wData, [rows, cols]);
    const counter = kernels.installDispatchCounter();
    const y = kernels.dropout(x, rate, 12345);
    counter.uninstall();
    expect(counter.total()).toBe(1);
    const again = kernels.dropout(x, rate, 12345);
    const other = kernels.dropout(x, rate, 54321);
    const grad = tf.grad((input: tfType.Tensor) => tf.sum(tf.mul(kernels.dropout(input, rate, 12345), w)))(x);
    const [yv, av, ov, gv] = await Promise.all(
      [y, again, other, grad].map(async (t) => (await t.data()) as Float32Array),
    );
    let dropped = 0;
    let differs = 0;
    for (let i = 0; i < yv.length; i++) {
      const kept = yv[i] !== 0;
      if (!kept) dropped++;
      else expect(Math.abs(yv[i] - xData[i] / (1 - rate))).toBeLessThan(1e-5 * Math.abs(yv[i]));
      expect(av[i]).toBe(yv[i]);
      if ((ov[i] !== 0) !== kept) differs++;
      expect(Math.abs(gv[i] - (kept ? wData[i] / (1 - rate) : 0))).toBeLessThan(1e-5);
    }
    // Binomial sd of the dropped fraction is 0.003 here: 0.02 is > 6 sd.
    expect(Math.abs(dropped / yv.length - rate)).toBeLessThan(0.02);
    // Independent masks disagree on 2 * 0.25 * 0.75 = 37.5 % of the elements.
    expect(differs / yv.length).toBeGreaterThan(0.3);
    tf.dispose([x, w, y, again, other, grad]);
    expect(gpu.uncapturedErrors).toEqual([]);
  });

  it("segment means: one dispatch, the cpu composite's values, the same bits every run", async () => {
    // Sizes around the workgroup (256) and a long one; positive values like AFLoRA's scores.
    const sizes = [1, 255, 256, 257, 3001, 7];
    const n = sizes.reduce((a, b) => a + b, 0);
    const data = values(n, 40, 0.001, 3);
    const run = async () => {
      const layout = new kernels.SegmentLayout(sizes);
      const x = tf.tensor1d(data);
      const counter = tf.getBackend() === 'webgpu' ? kernels.installDispatchCounter() : null;
      const means = layout.means(x);
      counter?.uninstall();
      const out = (await means.data()) as Float32Array;
      tf.dispose([x, means]);
      layout.dispose();
      return { out, dispatches: counter?.total() };
    };
    await tf.setBackend('webgpu');
    const first = await run();
    const second = await run();
    expect(first.dispatches).toBe(1);
    expect(Array.from(second.out)).toEqual(Array.from(first.out));
    await tf.setBackend('cpu');
    const plain = await run();
    await tf.setBackend('webgpu');
    const exact = sizes.map((size, s) => {
      const start = sizes.slice(0, s).reduce((a, b) => a + b, 0);
      let sum = 0;
      for (let i = start; i < start + size; i++) sum += data[i];
      return sum / size;
    });
    expect(maxRelError(first.out, Float32Array.from(exact))).toBeLessThan(1e-6);
    expect(maxRelError(plain.out, Float32Array.from(exact))).toBeLessThan(1e-6);
    expect(() => new kernels.SegmentLayout([3, 0])).toThrow(/positive integers/);
    expect(gpu.uncapturedErrors).toEqual([]);
  });

  it('abs-dot: two dispatches, within 1e-6 of the exact sum and of the cpu composite, on one and many workgroups', async () => {
    // IncreLoRA's score Σ |ΔW| |∂L/∂ΔW| / √n: signed values; 300 (one group), 70_001 (69 groups and a tail), 600_000
    // (the 256-group cap, every thread looping).
    for (const n of [300, 70_001, 600_000]) {
      const a = values(n, 17, -2, 2);
      const b = values(n, 29, -1e-3, 1e-3);
      const run = async () => {
        const [x, y] = [tf.tensor1d(a), tf.tensor1d(b)];
        const counter = tf.getBackend() === 'webgpu' ? kernels.installDispatchCounter() : null;
        const out = kernels.absDot(x, y, Math.sqrt(n));
        counter?.uninstall();
        const value = (await out.data())[0];
        tf.dispose([x, y, out]);
        return { value, dispatches: counter?.total() };
      };
      await tf.setBackend('webgpu');
      const fused = await run();
      await tf.setBackend('cpu');
      const plain = await run();
      await tf.setBackend('webgpu');
      let exact = 0;
      for (let i = 0; i < n; i++) exact += Math.abs(a[i]) * Math.abs(b[i]);
      exact /= Math.sqrt(n);
      expect(fused.dispatches, `n ${n}`).toBe(2);
      expect(Math.abs(fused.value - exact) / exact, `n ${n}: ${fused.value} vs ${exact}`).toBeLessThan(1e-6);
      expect(Math.abs(plain.value - exact) / exact, `cpu, n ${n}`).toBeLessThan(1e-5);
    }
    tf.tidy(() => {
      expect(() => kernels.absDot(tf.zeros([2]), tf.zeros([3]), 1)).toThrow(/2 and 3 elements/);
    });
    expect(gpu.uncapturedErrors).toEqual([]);
  });
});

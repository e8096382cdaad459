/**
 * The tiled WebGPU matmul (src/engine/kernels/matmul.ts) against tf.matMul on the cpu backend: every tiling in
 * every operand layout on shapes with partial tiles in M, N and K, batched and with bias; and kernels.matMul's
 * gradients (through the same program) against tf.matMul's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as tfType from '@tensorflow/tfjs';
import { maxRelError, values } from '../helpers/arrays';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';

type MatMulModule = typeof import('../../src/engine/kernels/matmul');

let gpu: NodeWebGPU;
let tf: typeof tfType;
let mm: MatMulModule;

beforeAll(async () => {
  gpu = await installNodeWebGPU();
  tf = gpu.tf;
  mm = await import('../../src/engine/kernels/matmul');
});

afterAll(async () => {
  await gpu?.teardown();
});

type Layout = [transposeA: boolean, transposeB: boolean];
const LAYOUTS: Layout[] = [
  [false, false],
  [false, true],
  [true, false],
];

function operandShapes(batch: number, m: number, n: number, k: number, [ta, tb]: Layout): [number[], number[]] {
  const a = ta ? [k, m] : [m, k];
  const b = tb ? [n, k] : [k, n];
  return batch > 0 ? [[batch, ...a], [batch, ...b]] : [a, b];
}

/** cpu tf.matMul (+ bias) of the same data. */
async function reference(a: Float32Array, b: Float32Array, shapes: [number[], number[]], layout: Layout, bias?: Float32Array) {
  await tf.setBackend('cpu');
  const product = tf.tidy(() => {
    const p = tf.matMul(tf.tensor(a, shapes[0]), tf.tensor(b, shapes[1]), layout[0], layout[1]);
    return bias ? tf.add(p, tf.tensor1d(bias)) : p;
  });
  const out = (await product.data()) as Float32Array;
  product.dispose();
  await tf.setBackend('webgpu');
  return out;
}

describe('tiled WebGPU matmul', () => {
  it('every tiling and layout matches tf.matMul on partial tiles (M, N, K not multiples of the tile)', async () => {
    for (const [name, tiling] of Object.entries(mm.TILINGS)) {
      for (const layout of LAYOUTS) {
        // Bias in the forward linear's layout (x W^T + b), batches in the others; SwiftShader compiles slowly.
        {
          const bias = layout[1];
          const [batch, m, n, k] = [bias ? 0 : 2, tiling.bm + 4, tiling.bn + 8, tiling.bk * 2 + 4];
          const shapes = operandShapes(batch, m, n, k, layout);
          const aData = values(shapes[0].reduce((x, y) => x * y), 1 + m);
          const bData = values(shapes[1].reduce((x, y) => x * y), 2 + n);
          const biasData = bias ? values(n, 3) : undefined;
          await tf.setBackend('webgpu');
          const spec = { rank: batch > 0 ? (3 as const) : (2 as const), batch: Math.max(batch, 1), m, n, k, transposeA: layout[0], transposeB: layout[1], bias };
          const program = mm.tiledMatMulProgram(spec, tiling);
          const ins = [tf.tensor(aData, shapes[0]), tf.tensor(bData, shapes[1])];
          if (biasData) ins.push(tf.tensor1d(biasData));
          const backend = tf.backend() as unknown as {
            runWebGPUProgram(p: unknown, i: tfType.TensorInfo[], d: string, u: unknown): tfType.TensorInfo;
          };
          const info = backend.runWebGPUProgram(program, ins, 'float32', mm.tiledMatMulUniforms(spec));
          const out = tf.engine().makeTensorFromTensorInfo(info);
          expect(out.shape).toEqual(batch > 0 ? [batch, m, n] : [m, n]);
          const got = (await out.data()) as Float32Array;
          tf.dispose([...ins, out]);
          const want = await reference(aData, bData, shapes, layout, biasData);
          expect(maxRelError(got, want), `${name} transposeA=${layout[0]} transposeB=${layout[1]} bias=${bias}`).toBeLessThan(1e-6);
        }
      }
    }
    expect(gpu.uncapturedErrors).toEqual([]);
  }, 300_000);

  it('kernels.matMul: forward and both gradients in each layout (rank 2 with bias, rank 3) match tf.matMul', async () => {
    const kernels = await import('../../src/engine/kernels');
    for (const layout of LAYOUTS) {
      for (const [batch, m, n, k] of [
        [0, 36, 20, 28],
        [3, 24, 16, 16],
        [0, 8, 64, 1028], // few output tiles, long K: the forward splits K
      ]) {
        const shapes = operandShapes(batch, m, n, k, layout);
        const aData = values(shapes[0].reduce((x, y) => x * y), 4 + m);
        const bData = values(shapes[1].reduce((x, y) => x * y), 5 + n);
        const biasData = batch === 0 ? values(n, 6) : null;
        const weights = values(Math.max(batch, 1) * m * n, 7);
        const run = async (backend: 'webgpu' | 'cpu') => {
          await tf.setBackend(backend);
          const a = tf.tensor(aData, shapes[0]);
          const b = tf.tensor(bData, shapes[1]);
          const bias = biasData ? tf.tensor1d(biasData) : null;
          const w = tf.tensor(weights, batch > 0 ? [batch, m, n] : [m, n]);
          const f = (x: tfType.Tensor, y: tfType.Tensor, z?: tfType.Tensor) =>
            backend === 'webgpu'
              ? kernels.matMul(x, y, layout[0], layout[1], z as tfType.Tensor1D | undefined)
              : z
                ? tf.add(tf.matMul(x, y, layout[0], layout[1]), z)
                : tf.matMul(x, y, layout[0], layout[1]);
          const inputs = bias ? [a, b, bias] : [a, b];
          const forward = f(a, b, bias ?? undefined);
          const grads = tf.grads((...xs: tfType.Tensor[]) => tf.sum(tf.mul(f(xs[0], xs[1], xs[2]), w)))(inputs);
          const out = await Promise.all([forward, ...grads].map(async (t) => (await t.data()) as Float32Array));
          tf.dispose([...inputs, w, forward, ...grads]);
          return out;
        };
        await tf.setBackend('webgpu');
        const counter = kernels.installDispatchCounter();
        const got = await run('webgpu');
        const byProgram = counter.byProgram();
        counter.uninstall();
        const tiled = [...byProgram].filter(([key]) => key.startsWith('aflora_mm')).reduce((x, [, c]) => x + c, 0);
        // The forward (again inside tf.grads), dA and dB.
        expect(tiled, 'forward and both gradients ran the tiled program').toBeGreaterThanOrEqual(4);
        const want = await run('cpu');
        got.forEach((g, i) => {
          expect(maxRelError(g, want[i]), `layout ${layout} batch ${batch}: output ${i} (0 = forward)`).toBeLessThan(1e-6);
        });
      }
    }
    expect(gpu.uncapturedErrors).toEqual([]);
  }, 180_000);

  it('split-K: K slices summed plane by plane match tf.matMul (the slices do not divide K evenly)', async () => {
    const [m, n, k] = [12, 72, 1000];
    for (const layout of LAYOUTS) {
      const shapes = operandShapes(0, m, n, k, layout);
      const aData = values(m * k, 11);
      const bData = values(n * k, 12);
      await tf.setBackend('webgpu');
      const spec = { rank: 2 as const, batch: 1, m, n, k, transposeA: layout[0], transposeB: layout[1], bias: false };
      const tiling = mm.TILINGS.t32x64;
      expect(mm.chooseSplits(spec, tiling)).toBeGreaterThan(1);
      const backend = tf.backend() as unknown as {
        runWebGPUProgram(p: unknown, i: tfType.TensorInfo[], d: string, u?: unknown): tfType.TensorInfo;
      };
      const a = tf.tensor(aData, shapes[0]);
      const b = tf.tensor(bData, shapes[1]);
      const planes = backend.runWebGPUProgram(mm.tiledMatMulProgram(spec, tiling, 7), [a, b], 'float32', mm.tiledMatMulUniforms(spec));
      const summed = backend.runWebGPUProgram(mm.splitSumProgram(7, m, n), [planes], 'float32');
      const out = tf.engine().makeTensorFromTensorInfo(summed);
      const got = (await out.data()) as Float32Array;
      tf.dispose([a, b, out, tf.engine().makeTensorFromTensorInfo(planes)]);
      const want = await reference(aData, bData, shapes, layout);
      expect(maxRelError(got, want), `layout ${layout}`).toBeLessThan(1e-6);
    }
    expect(gpu.uncapturedErrors).toEqual([]);
  }, 120_000);

  it('falls back to tf.matMul for shapes it does not tile (a dimension not a multiple of 4)', async () => {
    const kernels = await import('../../src/engine/kernels');
    await tf.setBackend('webgpu');
    expect(mm.tiledMatMulSupported({ batch: 1, m: 9, n: 13, k: 20, transposeA: false, transposeB: true })).toBe(false);
    const a = tf.tensor2d(values(9 * 20, 8), [9, 20]);
    const b = tf.tensor2d(values(13 * 20, 9), [13, 20]);
    const got = (await kernels.matMul(a, b, false, true).data()) as Float32Array;
    const want = await reference(await a.data() as Float32Array, await b.data() as Float32Array, [[9, 20], [13, 20]], [false, true]);
    expect(maxRelError(got, want)).toBeLessThan(1e-6);
    tf.dispose([a, b]);
  });
});

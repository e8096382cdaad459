/**
 * AFLoRA method on the cpu backend with a fake minimal context (no trainer): schedule, scores against a plain-JS
 * re-implementation of the reference's update, threshold / freezing rules, permanence, the PM ablations.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { linearTargets, type LinearTarget } from '../../src/engine/types';
import type { AdapterRuntime, MethodContext, MethodEvent, MethodVariable } from '../../src/engine/adapter';
import { OptionError } from '../../src/engine/options';
import type { AfloraOptions } from '../../src/methods/aflora/schema';
import { isMaskingStep, remainingFraction, resolveSchedule, stepsPerEpoch, thresholdRank } from '../../src/methods/aflora/schedule';
import { ScoreState } from '../../src/methods/aflora/scores';
import { kthSmallest, segmentMeans } from '../../src/methods/aflora/select';
import { CATALOG, methodOptions } from '../../src/methods/catalog';
import { SCORE_SERIES } from '../../src/methods/entry';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig } from '../helpers/tinyBert';

/** Hands a step's gradients to the method as the Trainer does, with an inactive clip (coefficient 1). */
function observe(runtime: AdapterRuntime, step: number, grads: ReadonlyMap<string, tf.Tensor>): void {
  const clip = tf.tensor1d([0, 1]);
  runtime.observeGradients!(step, grads, clip);
  clip.dispose();
}

const CONFIG = tinyConfig({
  vocabSize: 10,
  hiddenSize: 4,
  numLayers: 1,
  numHeads: 1,
  intermediateSize: 8,
  maxPositions: 8,
});
const RANK = 2;
const PATH = 'bert.encoder.layer.0';
const INTER_A = `${PATH}.intermediate.dense.lora_A`; // [2, 4]: 8 elements
const INTER_B = `${PATH}.intermediate.dense.lora_B`; // [8, 2]: 16
const OUT_A = `${PATH}.output.dense.lora_A`; // [2, 8]: 16
const OUT_B = `${PATH}.output.dense.lora_B`; // [4, 2]: 8

function context(totalSteps = 100, epochs = 10): MethodContext {
  return { config: CONFIG, targets: linearTargets(CONFIG), totalSteps, epochs, stepsPerEpoch: Math.ceil(totalSteps / epochs), warmupSteps: 0, seed: 3 };
}

/** t_i = 10, t_f = 30 of 100 steps: masking at 20, 30, ..., 70 and every step after 70. */
const SCHEDULED: Partial<AfloraOptions> = { rank: RANK, initialWarmup: 10, finalWarmup: 30 };

function create(options: Partial<AfloraOptions> = {}, ctx = context()): AdapterRuntime {
  return adapterMethod('aflora', { ...SCHEDULED, ...options }).create(ctx);
}

const isMatrix = (v: MethodVariable) => /\.lora_[AB]$/.test(v.name);

/** Gradient of tensor `name` at `step`: every element = magnitude(name) * h(step) * (1 + 0.25 * element parity). */
type GradientRule = (name: string, step: number, index: number) => number;

function gradients(runtime: AdapterRuntime, step: number, rule: GradientRule): Map<string, tf.Tensor> {
  const grads = new Map<string, tf.Tensor>();
  for (const v of runtime.trainable()) {
    const values = new Float32Array(v.variable.size).map((_, i) => rule(v.name, step, i));
    grads.set(v.name, tf.tensor(values, v.variable.shape));
  }
  return grads;
}

async function runSteps(runtime: AdapterRuntime, steps: number, rule: GradientRule): Promise<MethodEvent[]> {
  const events: MethodEvent[] = [];
  for (let step = 0; step < steps; step++) {
    const grads = gradients(runtime, step, rule);
    observe(runtime, step, grads);
    for (const g of grads.values()) g.dispose();
    events.push(...(await runtime.afterStep!(step)).events);
  }
  return events;
}

/** Plain-JS reference of the score update (glue/utils.py update_ipt_with_local_window), in float64. */
class JsScores {
  window = new Map<string, Float64Array>();
  ibar = new Map<string, Float64Array>();
  ubar = new Map<string, Float64Array>();

  constructor(
    private readonly beta1 = 0.85,
    private readonly beta2 = 0.95,
    private readonly deltaT = 10,
  ) {}

  observe(step: number, sensitivity: Map<string, Float64Array>): void {
    const local = step % this.deltaT;
    for (const [name, s] of sensitivity) {
      const w = this.window.get(name) ?? new Float64Array(s.length);
      const ib = this.ibar.get(name) ?? new Float64Array(s.length);
      const ub = this.ubar.get(name) ?? new Float64Array(s.length);
      if (local === 0) {
        for (let i = 0; i < s.length; i++) {
          ib[i] = this.beta1 * ib[i] + (1 - this.beta1) * w[i];
          ub[i] = this.beta2 * ub[i] + (1 - this.beta2) * Math.abs(w[i] - ib[i]);
          w[i] = s[i];
        }
      } else {
        for (let i = 0; i < s.length; i++) w[i] = (w[i] * local + s[i]) / (local + 1);
      }
      this.window.set(name, w);
      this.ibar.set(name, ib);
      this.ubar.set(name, ub);
    }
  }

  elementScores(name: string): Float64Array {
    const ib = this.ibar.get(name)!;
    const ub = this.ubar.get(name)!;
    return ib.map((v, i) => v * ub[i]);
  }

  mean(name: string): number {
    const e = this.elementScores(name);
    return e.reduce((a, b) => a + b, 0) / e.length;
  }
}

function expectRelClose(actual: number, expected: number, tolerance: number, what = ''): void {
  expect(Math.abs(actual - expected), `${what}: got ${actual}, want ${expected}`).toBeLessThanOrEqual(
    tolerance * Math.abs(expected) + 1e-30,
  );
}

const h = (step: number) => 1 + 0.5 * Math.sin(1.3 * step);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('schedule helpers', () => {
  const s = { totalSteps: 100, initialWarmup: 10, finalWarmup: 30, deltaT: 10, finalRatio: 0 };

  it('follows the cubic ramp between t_i and T - t_f', () => {
    expect(remainingFraction(0, s)).toBe(1);
    expect(remainingFraction(10, s)).toBe(1);
    expectRelClose(remainingFraction(11, s), (59 / 60) ** 3, 1e-15, 'r(11)');
    expectRelClose(remainingFraction(40, s), 0.125, 1e-15, 'r(40)'); // (1 - 30/60)^3
    expectRelClose(remainingFraction(55, s), 0.015625, 1e-15, 'r(55)'); // (1 - 45/60)^3
    expect(remainingFraction(70, s)).toBe(0); // (1 - 60/60)^3
    expect(remainingFraction(71, s)).toBe(0);
    expect(remainingFraction(99, s)).toBe(0);
  });

  it('masks every deltaT steps on the ramp and every step after T - t_f', () => {
    const masking = Array.from({ length: 100 }, (_, t) => t).filter((t) => isMaskingStep(t, s));
    expect(masking.slice(0, 6)).toEqual([20, 30, 40, 50, 60, 70]);
    expect(masking.slice(6)).toEqual(Array.from({ length: 29 }, (_, i) => 71 + i));
    expect(isMaskingStep(10, s)).toBe(false); // t_i itself never masks
  });

  it('takes the k-th smallest with k = floor(N (1 - r)), at least 1', () => {
    expect(thresholdRank(1000, 0.125)).toBe(875);
    expect(thresholdRank(48, (5 / 6) ** 3)).toBe(20); // 48 * 0.4213 = 20.2
    expect(thresholdRank(10, 0.99)).toBe(1);
    expect(thresholdRank(10, 1)).toBe(1);
    expect(thresholdRank(10, 0)).toBe(10);
  });

  it('derives t_i and t_f from epochs like the reference (whole epochs of floor(T / E) steps)', () => {
    expect(stepsPerEpoch(2005, 20)).toBe(100);
    const derived = resolveSchedule(methodOptions('aflora'), 2005, 20);
    expect([derived.initialWarmup, derived.finalWarmup]).toEqual([100, 1400]); // 1 and 14 epochs
    const explicit = resolveSchedule(
      methodOptions('aflora', { initialWarmup: 7, finalWarmup: 3 }),
      2005,
      20,
    );
    expect([explicit.initialWarmup, explicit.finalWarmup]).toEqual([7, 3]);
  });
});

describe('selection helpers', () => {
  it('kthSmallest agrees with sorting, duplicates included, and leaves the input alone', () => {
    const values = Float32Array.from({ length: 501 }, (_, i) => ((i * 7919) % 101) / 7);
    const before = values.slice();
    const sorted = values.slice().sort();
    for (const k of [1, 2, 50, 251, 500, 501]) expect(kthSmallest(values, k)).toBe(sorted[k - 1]);
    expect(values).toEqual(before);
    expect(() => kthSmallest(values, 0)).toThrow(RangeError);
  });

  it('segmentMeans averages consecutive segments', () => {
    expect(segmentMeans(Float32Array.from([1, 2, 3, 10, 20]), [3, 2])).toEqual([2, 15]);
  });
});

describe('AFLoRA module', () => {
  it('adapts all six linears, trains Λd, Λb everywhere and A/B of the FFN only', () => {
    const runtime = create();
    expect([...runtime.adapted].sort()).toEqual(
      linearTargets(CONFIG)
        .map((t) => t.path)
        .sort(),
    );
    const trainable = runtime.trainable().map((v) => v.name);
    expect(trainable.filter((n) => /lora_[AB]$/.test(n)).sort()).toEqual(
      [INTER_A, INTER_B, OUT_A, OUT_B].sort(),
    );
    expect(trainable.filter((n) => n.endsWith('.lambda_d') || n.endsWith('.lambda_b'))).toHaveLength(12);
    expect(runtime.variables()).toHaveLength(24);
    // Reference optimizer groups: every adapter variable decays, Λ vectors included.
    expect(runtime.variables().every((v) => v.decays && v.lrGroup === 'adapter')).toBe(true);
    const count = runtime.trainable().reduce((sum, v) => sum + v.variable.size, 0);
    expect(adapterMethod('aflora', { rank: RANK }).countTrainable(CONFIG)).toBe(count);
    // The live view's cells: the A/B matrices that may freeze, in layer order.
    expect(runtime.cells.map((c) => c.name)).toEqual([INTER_A, INTER_B, OUT_A, OUT_B]);
    expect(runtime.cells[1].cell).toEqual({ layer: 0, kind: 'inter', matrix: 'B' });
    runtime.dispose();
  });

  it('initialises A, B Kaiming-uniform (a = 0), Λd = 0.1, Λb = 0', async () => {
    const runtime = create();
    for (const v of runtime.variables()) {
      const values = (await v.variable.data()) as Float32Array;
      const max = values.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      if (v.name.endsWith('.lambda_d')) expect([...values]).toEqual([0.1, 0.1].map(Math.fround));
      else if (v.name.endsWith('.lambda_b')) expect(max).toBe(0);
      else {
        const fanIn = v.name.endsWith('.lora_A') ? v.variable.shape[1]! : RANK;
        expect(max).toBeLessThanOrEqual(Math.sqrt(6 / fanIn));
        expect(max).toBeGreaterThan(0.3 * Math.sqrt(6 / fanIn)); // spread over the range, not tiny
      }
    }
    runtime.dispose();
  });

  it('computes base + Λb ⊙ (B (Λd ⊙ (A x))), no scaling', async () => {
    const runtime = create();
    const target = linearTargets(CONFIG).find((t) => t.kind === 'inter') as LinearTarget; // 4 -> 8
    const vars = new Map(runtime.variables().map((v) => [v.name, v.variable]));
    const lambdaB = Float32Array.from({ length: 8 }, (_, i) => 0.5 - 0.1 * i);
    vars.get(`${target.path}.lambda_b`)!.assign(tf.tensor1d(lambdaB));
    vars.get(`${target.path}.lambda_d`)!.assign(tf.tensor1d([0.3, -2]));
    const x = [
      [1, -1, 0.5, 2],
      [0, 3, -2, 1],
    ];
    const base = Array.from({ length: 2 }, (_, r) => Array.from({ length: 8 }, (_, c) => r - c / 4));
    const out = (await runtime.apply(target, tf.tensor2d(x), tf.tensor2d(base)).array()) as number[][];
    const a = (await vars.get(`${target.path}.lora_A`)!.array()) as number[][]; // [2, 4]
    const b = (await vars.get(`${target.path}.lora_B`)!.array()) as number[][]; // [8, 2]
    const lambdaD = [0.3, -2];
    for (let r = 0; r < 2; r++) {
      const down = a.map((row, j) => lambdaD[j] * row.reduce((s, w, i) => s + w * x[r][i], 0));
      for (let c = 0; c < 8; c++) {
        const up = b[c].reduce((s, w, j) => s + w * down[j], 0);
        expectRelClose(out[r][c], base[r][c] + lambdaB[c] * up, 1e-5, `y[${r}][${c}]`);
      }
    }
    runtime.dispose();
  });

  it('offers attention-only and both, and rejects unknown options', () => {
    const attention = create({ trainableMatrices: 'attention' });
    expect(attention.cells.map((c) => c.cell.kind)).toEqual(['query', 'query', 'key', 'key', 'value', 'value', 'attn_out', 'attn_out']);
    expect(attention.trainable().filter(isMatrix)).toHaveLength(8);
    attention.dispose();
    const both = create({ trainableMatrices: 'both' });
    expect(both.trainable().filter(isMatrix)).toHaveLength(12);
    both.dispose();
    expect(() => create({ rank: 0 })).toThrow(OptionError);
    expect(() => create({ rank: 0 })).toThrow(/rank must be in \[1, 64\]/);
    expect(() => create({ sensitivty: 'grad' } as Partial<AfloraOptions>)).toThrow(/sensitivty is not an option/);
  });
});

describe('AFLoRA scores', () => {
  const rule: GradientRule = (name, step, i) =>
    ((name.length % 5) + 1) * h(step) * (1 + 0.25 * (i % 3)) * (i % 2 ? -1 : 1);

  it('match a plain-JS run of the reference update for |g|, |p*g| and |g/p|', async () => {
    for (const sensitivity of ['grad', 'paramGrad', 'gradOverParam'] as const) {
      const runtime = create({ sensitivity });
      const params = new Map<string, Float32Array>();
      for (const v of runtime.trainable()) params.set(v.name, (await v.variable.data()) as Float32Array);
      const segments = runtime.trainable().filter(isMatrix);
      const state = new ScoreState(
        segments.map((v) => ({ name: v.name, variable: v.variable, size: v.variable.size })),
        { sensitivity, beta1: 0.85, beta2: 0.95, deltaT: 10 },
        3, // window starts 0, 10, 20 before the read
      );
      const js = new JsScores();
      const rows: { step: number; means: Map<string, number> }[] = [];
      for (let step = 0; step <= 23; step++) {
        const grads = gradients(runtime, step, rule);
        state.observe(step, grads);
        for (const g of grads.values()) g.dispose();
        const sens = new Map<string, Float64Array>();
        for (const v of segments) {
          const p = params.get(v.name)!;
          const g = Float64Array.from({ length: p.length }, (_, i) => rule(v.name, step, i));
          sens.set(
            v.name,
            g.map((gi, i) =>
              Math.abs(sensitivity === 'grad' ? gi : sensitivity === 'paramGrad' ? p[i] * gi : gi / p[i]),
            ),
          );
        }
        js.observe(step, sens);
        if (step % 10 === 0)
          rows.push({ step, means: new Map(segments.map((v) => [v.name, js.mean(v.name)])) });
      }
      const read = await state.read(true);
      expect(read.rows.map((r) => r.step)).toEqual([0, 10, 20]);
      read.rows.forEach((row, i) => {
        for (const [name, want] of rows[i].means)
          expectRelClose(row.scores.get(name)!, want, 1e-5, `${sensitivity} ${name}@${row.step}`);
      });
      // Element scores as of the last window start (20), in segment order.
      const want = segments.flatMap((v) => [...js.elementScores(v.name)]);
      expect(read.elementScores!.length).toBe(want.length);
      want.forEach((w, i) => expectRelClose(read.elementScores![i], w, 1e-5, `${sensitivity} element ${i}`));
      expect(want.every((w) => w > 0)).toBe(true); // the test exercises non-trivial scores
      // A read consumes the history.
      expect((await state.read(false)).rows).toEqual([]);
      state.dispose();
      runtime.dispose();
    }
  });

  it('observeGradients never reads the GPU; afterStep reads once per masking round and not otherwise', async () => {
    const runtime = create();
    const reads = [
      vi.spyOn(tf.Tensor.prototype, 'data'),
      vi.spyOn(tf.Tensor.prototype, 'dataSync'),
      vi.spyOn(tf.Tensor.prototype, 'array'),
      vi.spyOn(tf.Tensor.prototype, 'arraySync'),
    ];
    const readCount = () => reads.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
    for (let step = 0; step <= 31; step++) {
      const grads = gradients(runtime, step, rule);
      const before = readCount();
      observe(runtime, step, grads);
      expect(readCount(), `observe ${step}`).toBe(before);
      for (const g of grads.values()) g.dispose();
      await runtime.afterStep!(step);
      expect(readCount() - before, `afterStep ${step}`).toBe(step === 20 || step === 30 ? 1 : 0);
    }
    runtime.dispose();
  });
});

describe('AFLoRA freezing', () => {
  /** Constant per-tensor magnitudes: every element of a tensor has the same score, c^2 x (a common factor). */
  const magnitudes: Record<string, number> = { [INTER_A]: 1, [OUT_A]: 2, [OUT_B]: 3, [INTER_B]: 4 };
  const flatRule: GradientRule = (name, step) => (magnitudes[name] ?? 1) * h(step);

  function freezeSteps(events: MethodEvent[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of events) if (e.type === 'freeze') out[e.name] = e.step;
    return out;
  }

  it('freezes tensors whose mean score is strictly below the k-th smallest element, permanently', async () => {
    const runtime = create();
    const events = await runSteps(runtime, 100, flatRule);
    // Step 20: N = 48, k = floor(48 (1 - (5/6)^3)) = 20; sorted: 8 x inter-A, 16 x out-A (ranks 9..24):
    //   threshold = out-A's score, so only inter-A freezes (out-A equals it: strict <).
    // Step 30: N = 40, r = (2/3)^3, k = 28; sorted: 16 x out-A, 8 x out-B, 16 x inter-B -> threshold = inter-B's:
    //   out-A and out-B freeze. inter-B equals the threshold in every later round (its elements are all equal,
    //   so its mean is the maximum): it never freezes.
    expect(freezeSteps(events)).toEqual({ [INTER_A]: 20, [OUT_A]: 30, [OUT_B]: 30 });
    const schedule = events.filter((e) => e.type === 'schedule');
    expect(schedule.map((e) => e.step).slice(0, 7)).toEqual([20, 30, 40, 50, 60, 70, 71]);
    expect(schedule[0].trainableFraction).toBe(40 / 48);
    expect(schedule[1].trainableFraction).toBe(16 / 48);
    expectRelClose(schedule[0].remaining, (5 / 6) ** 3, 1e-15, 'r(20)');
    // The threshold of round 20 is out-A's score in the scores event of step 20.
    const scores20 = events.find((e) => e.type === 'values' && e.step === 20);
    if (scores20?.type !== 'values') throw new Error('no scores event at step 20');
    expect(scores20.series).toBe(SCORE_SERIES);
    expectRelClose(
      schedule[0].threshold,
      scores20.values.find((s) => s.name === OUT_A)!.value,
      1e-6,
      'threshold@20',
    );
    // The method's own record of its freezes is what its events said.
    expect(Object.fromEntries(runtime.freezeSteps!())).toEqual(freezeSteps(events));
    // Permanence: frozen tensors are out of trainable() and their tf.Variable is marked untrainable.
    const trainable = runtime.trainable().map((v) => v.name);
    for (const name of [INTER_A, OUT_A, OUT_B]) expect(trainable).not.toContain(name);
    expect(trainable).toContain(INTER_B);
    expect(runtime.variables().find((v) => v.name === INTER_A)!.variable.trainable).toBe(false);
    // Scores before the first masking round were emitted too (read with it): window starts 0 and 10.
    expect(
      events
        .filter((e) => e.type === 'values')
        .map((e) => e.step)
        .slice(0, 3),
    ).toEqual([0, 10, 20]);
    runtime.dispose();
  });

  it('matches a plain-JS masking on uneven scores', async () => {
    const uneven: GradientRule = (name, step, i) =>
      (magnitudes[name] ?? 1) * h(step + i) * (1 + ((i * 37) % 11) / 5);
    const runtime = create();
    const events = await runSteps(runtime, 100, uneven);
    // Plain-JS reference: scores, k-th smallest over trainable elements, strict <, permanent.
    const js = new JsScores();
    const sizes = new Map(
      runtime
        .variables()
        .filter((v) => v.name in magnitudes)
        .map((v) => [v.name, v.variable.size]),
    );
    const trainable = new Set(sizes.keys());
    const expected: Record<string, number> = {};
    const s = resolveSchedule(methodOptions('aflora', SCHEDULED), 100, 10);
    for (let step = 0; step < 100 && trainable.size > 0; step++) {
      const sens = new Map<string, Float64Array>();
      for (const name of trainable) {
        sens.set(
          name,
          Float64Array.from({ length: sizes.get(name)! }, (_, i) => Math.abs(uneven(name, step, i))),
        );
      }
      js.observe(step, sens);
      if (!isMaskingStep(step, s)) continue;
      const all = [...trainable].flatMap((n) => [...js.elementScores(n)]).sort((a, b) => a - b);
      const threshold = all[Math.max(1, Math.floor(all.length * (1 - remainingFraction(step, s)))) - 1];
      for (const name of [...trainable]) {
        if (js.mean(name) < threshold) {
          expected[name] = step;
          trainable.delete(name);
        }
      }
    }
    expect(Object.keys(expected).length).toBeGreaterThan(1);
    expect(freezeSteps(events)).toEqual(expected);
    runtime.dispose();
  });

  it('freezeTogether judges A and B of a module by their mean score and freezes them together', async () => {
    const runtime = create({ freezeTogether: true });
    const events = await runSteps(runtime, 40, flatRule);
    // Step 20: threshold = out-A's score (4 units); pair means inter (1 + 16) / 2, out (4 + 9) / 2 are above it.
    // Step 30: N = 48, k = floor(48 (1 - (2/3)^3)) = 33 -> inter-B's score (16): both pairs are below.
    expect(freezeSteps(events)).toEqual({ [INTER_A]: 30, [INTER_B]: 30, [OUT_A]: 30, [OUT_B]: 30 });
    runtime.dispose();
  });

  it('keeps the tensor count flat across steps (it may only drop when something freezes)', async () => {
    const runtime = create();
    const counts: number[] = [];
    const froze: boolean[] = [];
    for (let step = 0; step < 80; step++) {
      const grads = gradients(runtime, step, flatRule);
      observe(runtime, step, grads);
      for (const g of grads.values()) g.dispose();
      const result = await runtime.afterStep!(step);
      froze.push(result.frozen.length > 0);
      counts.push(tf.memory().numTensors);
    }
    for (let step = 1; step < 80; step++) {
      if (froze[step]) expect(counts[step]).toBeLessThanOrEqual(counts[step - 1]);
      else expect(counts[step], `tensor count at step ${step}`).toBe(counts[step - 1]);
    }
    const before = tf.memory().numTensors;
    const owned = runtime.variables().length;
    runtime.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before - owned);
  });

  it('returns frozen names for the engine and nothing once every A/B is frozen', async () => {
    const runtime = create({ finalWarmup: 95 }); // every step > 5 masks with r = 0
    const result: string[] = [];
    for (let step = 0; step < 12; step++) {
      const grads = gradients(runtime, step, (name, t, i) => (magnitudes[name] ?? 1) * h(t) * (1 + (i % 4)));
      observe(runtime, step, grads);
      for (const g of grads.values()) g.dispose();
      result.push(...(await runtime.afterStep!(step)).frozen);
    }
    expect(result.sort()).toEqual([INTER_A, INTER_B, OUT_A, OUT_B].sort());
    expect(runtime.trainable().some(isMatrix)).toBe(false);
    expect(await runtime.afterStep!(12)).toEqual({ events: [], frozen: [] });
    runtime.dispose();
  });
});

describe('PM ablations', () => {
  it('are in the catalog next to AFLoRA', () => {
    expect(CATALOG.map((m) => m.id).slice(0, 3)).toEqual(['aflora', 'pm-trainable', 'pm-frozen']);
  });

  it('pm-frozen trains no A/B, only the Λ vectors', () => {
    const method = adapterMethod('pm-frozen', { rank: RANK });
    const runtime = method.create(context());
    expect(runtime.trainable().some(isMatrix)).toBe(false);
    expect(runtime.trainable()).toHaveLength(12);
    expect(
      runtime
        .variables()
        .filter(isMatrix)
        .every((v) => !v.variable.trainable),
    ).toBe(true);
    const count = runtime.trainable().reduce((sum, v) => sum + v.variable.size, 0);
    expect(method.countTrainable(CONFIG)).toBe(count);
    expect(runtime.observeGradients).toBeUndefined();
    runtime.dispose();
  });

  it('pm-trainable trains the FFN A/B and never freezes them', () => {
    const method = adapterMethod('pm-trainable', { rank: RANK });
    const runtime = method.create(context());
    expect(
      runtime
        .trainable()
        .filter(isMatrix)
        .map((v) => v.name)
        .sort(),
    ).toEqual([INTER_A, INTER_B, OUT_A, OUT_B].sort());
    expect(runtime.afterStep).toBeUndefined();
    const count = runtime.trainable().reduce((sum, v) => sum + v.variable.size, 0);
    expect(method.countTrainable(CONFIG)).toBe(count);
    runtime.dispose();
  });
});

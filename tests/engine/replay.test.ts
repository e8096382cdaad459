/**
 * Replayed steps (engine/replay.ts) against the same kernels run op by op through TF.js ('engine'), from the same
 * start, dropout off, on Dawn + SwiftShader: losses and grad norms within 1e-5 relative, the same freeze steps,
 * the same final state; the plan really replays (most steps), costs no tensors, and re-plans after a freeze.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodEvent } from '../../src/engine/adapter';
import type { Execution, TrainingRecipe } from '../../src/engine/trainer';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

let gpu: NodeWebGPU;
beforeAll(async () => {
  gpu = await installNodeWebGPU();
});
afterAll(async () => {
  await gpu?.teardown();
});

const recipe: TrainingRecipe = {
  epochs: 1,
  batchSize: 4,
  maxLength: 8,
  adapterLr: 1e-2,
  classifierLr: 4e-2,
  weightDecay: 0.1,
  classifierWeightDecay: 0.1,
  warmupRatio: 0.1,
  maxGradNorm: 0.1,
  optimizer: 'adamw_torch',
  seed: 5,
  logEvery: 5,
};

/** A Trainer on a one-layer toy BERT (dropout as given), the run of `steps` steps of `method`. */
async function trainerFor(
  execution: Execution,
  method: string,
  options: object,
  steps: number,
  dropout = 0,
  overrides: Partial<TrainingRecipe> = {},
) {
  const { Trainer } = await import('../../src/engine/trainer');
  const { randomBertWeights } = await import('../../src/engine/weights');
  const { adapterMethod } = await import('../../src/methods/registry');
  const config = tinyConfig({
    hiddenSize: 8,
    intermediateSize: 16,
    numLayers: 1,
    vocabSize: 40,
    hiddenDropout: dropout,
    attentionDropout: dropout,
  });
  return new Trainer({
    config,
    weights: randomBertWeights(config, 3),
    method: adapterMethod(method, options),
    train: toyExamples(12, 8, 4),
    recipe: { ...recipe, totalSteps: steps, ...overrides },
    execution,
  });
}

async function run(...args: Parameters<typeof trainerFor>) {
  const { tf } = gpu;
  const trainer = await trainerFor(...args);
  const events: MethodEvent[] = [];
  const metrics = [];
  const tensorsAfter: number[] = [];
  /** Steps that were replayed (the status's count went up). */
  const replayedAt: number[] = [];
  while (!trainer.finished) {
    const before = trainer.replayStatus().replayedSteps;
    const step = trainer.stepsDone;
    events.push(...(await trainer.step()));
    if (trainer.replayStatus().replayedSteps > before) replayedAt.push(step);
    if (trainer.stepsDone % 5 === 0) metrics.push(...(await trainer.flushMetrics()));
    tensorsAfter.push(tf.memory().numTensors);
  }
  metrics.push(...(await trainer.flushMetrics()));
  const state = await trainer.adapterState();
  const status = trainer.replayStatus();
  const report = trainer.executionReport();
  trainer.dispose();
  const freezes = events.flatMap((e) => (e.type === 'freeze' ? [`${e.step}:${e.name}`] : []));
  const scores = events.flatMap((e) =>
    e.type === 'values' ? e.values.map((v) => ({ key: `${e.step}:${v.name}`, value: v.value })) : [],
  );
  return { metrics, state, status, report, freezes, scores, replayedAt, tensorsAfter };
}

function expectRelClose(actual: number[], expected: number[], what: string, tolerance = 1e-5): void {
  expect(actual.length, what).toBe(expected.length);
  expected.forEach((e, i) =>
    expect(Math.abs(actual[i] - e), `${what}[${i}]: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(
      tolerance * Math.max(Math.abs(e), 1e-12),
    ),
  );
}

/** Replaying adds nothing to the same kernels op by op: losses and grad norms within 1e-5, final state 1e-4. */
function expectSameRun(replayed: Awaited<ReturnType<typeof run>>, engine: Awaited<ReturnType<typeof run>>): void {
  expectRelClose(replayed.metrics.map((m) => m.loss), engine.metrics.map((m) => m.loss), 'loss');
  expectRelClose(replayed.metrics.map((m) => m.gradNorm), engine.metrics.map((m) => m.gradNorm), 'gradNorm');
  for (const [name, value] of engine.state)
    expectRelClose(Array.from(replayed.state.get(name)!.data), Array.from(value.data), name, 1e-4);
}

describe('replayed steps', () => {
  it(
    'a value read between replayed steps is read afresh after the next ones (no stale host cache)',
    { timeout: 200_000 },
    async () => {
      const { tf } = gpu;
      const trainer = await trainerFor('replayed', 'lora', { targetModules: ['query', 'value'] }, 8);
      for (let i = 0; i < 5; i++) await trainer.step();
      await trainer.flushMetrics();
      expect(trainer.replayStatus().replayedSteps).toBeGreaterThan(0);
      const trainable = Object.values(tf.engine().registeredVariables).filter((v) => v.trainable);
      // A read caches the values on the host; the webgpu backend answers later reads of the tensor from that cache.
      // The same for the Adam moments, which the parameter's program updates as a read_write input (kernels/adamw.ts).
      const before = await Promise.all(trainable.map(async (v) => Array.from(await v.data())));
      const momentsBefore = (await trainer.checkpoint()).optimizer;
      await trainer.step();
      await trainer.step();
      await trainer.flushMetrics();
      const after = await Promise.all(trainable.map(async (v) => Array.from(await v.data())));
      const momentsAfter = (await trainer.checkpoint()).optimizer;
      expect(momentsAfter.length).toBe(momentsBefore.length);
      momentsAfter.forEach((slot, i) =>
        expect(Array.from(slot.moments.data), `${slot.name}'s moments after two more steps`).not.toEqual(
          Array.from(momentsBefore[i].moments.data),
        ),
      );
      const fresh = await Promise.all(
        trainable.map(async (v) => Array.from(await tf.tidy(() => tf.add(v, 0)).data())),
      );
      expect(
        fresh.some((values, i) => values.some((x, j) => x !== before[i][j])),
        'the replayed steps changed a variable',
      ).toBe(true);
      expect(after).toEqual(fresh);
      trainer.dispose();
      expect(gpu.uncapturedErrors).toEqual([]);
    },
  );

  it(
    'LoRA: 8 replayed-path steps equal the engine path (losses, grad norms, state); tensor count flat',
    { timeout: 400_000 },
    async () => {
      const options = { targetModules: ['query', 'value', 'inter', 'out'] };
      const engine = await run('engine', 'lora', options, 8);
      const replayed = await run('replayed', 'lora', options, 8);
      expect(gpu.uncapturedErrors).toEqual([]);
      expect(replayed.status.plans).toBe(1);
      // Steps 0 and 1 differ (first uploads), 1 and 2 match: replayed from step 3 on.
      expect(replayed.status.replayedSteps).toBe(5);
      expect(engine.status.replayedSteps).toBe(0);
      // The plan spans at least two command buffers (replayTuning), so the equalities below cover a chunked submit.
      const { replayTuning } = await import('../../src/engine/replay');
      expect(replayed.status.stats!.dispatches).toBeGreaterThan(replayTuning.submitEvery);
      // Parameters and Adam moments are updated in place: nothing to copy back before a step. Every upload (the
      // batch, the AdamW table, the dropout seed) is written outside the step's order, so no copy ends a compute pass.
      const stats = replayed.status.stats!;
      expect(stats.carries).toBe(0);
      expect(stats.uploads).toBeGreaterThan(0);
      expect(stats.outOfOrderUploads).toBe(stats.uploads);
      expect(stats.passes).toBe(1);
      // What the Train panel shows: the last step replayed; the engine path says why it does not.
      expect(replayed.report).toEqual({ requested: 'replayed', path: 'replayed', reason: null, replayedSteps: 5, steps: 8 });
      expect(engine.report.path).toBe('engine');
      expect(engine.report.reason).toMatch(/"engine" chosen/);
      expectSameRun(replayed, engine);
      expect(replayed.metrics.map((m) => m.step)).toEqual(engine.metrics.map((m) => m.step));
      // Flat once the normal steps' pending metrics were flushed (step 5): replayed steps create no tensors.
      expect(new Set(replayed.tensorsAfter.slice(4)).size).toBe(1);
    },
  );

  it(
    'AFLoRA while scoring: 50 replayed steps through its masking rounds equal the engine and plain paths (losses, grad norms, scores, freeze steps)',
    { timeout: 1_500_000 },
    async () => {
      // deltaT 3: steps inside a window and window starts alternate in one plan; masking rounds on the ramp at
      // 15, 18, ..., 42 freeze some matrices (each a re-plan), every step after 42 masks.
      const options = { rank: 2, trainableMatrices: 'both', initialWarmup: 14, finalWarmup: 8, deltaT: 3 };
      const plain = await run('plain', 'aflora', options, 50);
      const engine = await run('engine', 'aflora', options, 50);
      const replayed = await run('replayed', 'aflora', options, 50);
      expect(gpu.uncapturedErrors).toEqual([]);
      expect(plain.status.replayedSteps + engine.status.replayedSteps).toBe(0);
      expect(engine.freezes).toEqual(plain.freezes);
      const freezeSteps = [...new Set(plain.freezes.map((f) => Number(f.split(':')[0])))];
      expect(freezeSteps.length, 'freeze rounds').toBeGreaterThan(1);
      expect(replayed.freezes).toEqual(plain.freezes);
      // Replayed while scoring: from step 3 to the first freeze, and again between freeze rounds (re-planned).
      const [first, last] = [Math.min(...freezeSteps), Math.max(...freezeSteps)];
      expect(replayed.replayedAt.filter((s) => s <= first).length, `replayed up to the first freeze (${first})`).toBeGreaterThanOrEqual(first - 3);
      expect(replayed.replayedAt.some((s) => s > first && s < last), 'replayed between freeze rounds').toBe(true);
      expect(replayed.scores.map((s) => s.key)).toEqual(plain.scores.map((s) => s.key));
      expect(plain.scores.length).toBeGreaterThan(20);
      // Replaying adds nothing to the same kernels op by op: 1e-5.
      expectRelClose(replayed.scores.map((s) => s.value), engine.scores.map((s) => s.value), 'scores');
      expectSameRun(replayed, engine);
      // Against the TF.js composites: scores and losses 1e-5; grad norms 2e-5, the kernels' float rounding
      // (measured 1.13e-5 at step 10, the same on the engine path).
      expectRelClose(replayed.scores.map((s) => s.value), plain.scores.map((s) => s.value), 'scores vs plain');
      expectRelClose(replayed.metrics.map((m) => m.loss), plain.metrics.map((m) => m.loss), 'loss vs plain');
      expectRelClose(replayed.metrics.map((m) => m.gradNorm), plain.metrics.map((m) => m.gradNorm), 'gradNorm vs plain', 2e-5);
    },
  );

  it(
    'AFLoRA: 50 steps through its freeze rounds, same freeze steps as the engine and plain paths',
    { timeout: 600_000 },
    async () => {
      const options = { rank: 2, trainableMatrices: 'both', initialWarmup: 1, finalWarmup: 6, deltaT: 1 };
      const plain = await run('plain', 'aflora', options, 50);
      const engine = await run('engine', 'aflora', options, 50);
      const replayed = await run('replayed', 'aflora', options, 50);
      // The kernels and the TF.js composites agree to float rounding: the same freeze decisions.
      expect(engine.freezes).toEqual(plain.freezes);
      expectRelClose(
        replayed.metrics.map((m) => m.loss),
        plain.metrics.map((m) => m.loss),
        'loss vs plain',
      );
      expect(gpu.uncapturedErrors).toEqual([]);
      expect(engine.freezes.length).toBeGreaterThan(0);
      expect(replayed.freezes).toEqual(engine.freezes);
      expect(replayed.status.replayedSteps).toBeGreaterThan(25);
      expectRelClose(
        replayed.metrics.map((m) => m.loss),
        engine.metrics.map((m) => m.loss),
        'loss',
      );
      expectRelClose(
        replayed.metrics.map((m) => m.gradNorm),
        engine.metrics.map((m) => m.gradNorm),
        'gradNorm',
      );
      for (const [name, value] of engine.state)
        expectRelClose(Array.from(replayed.state.get(name)!.data), Array.from(value.data), name, 1e-4);
    },
  );

  it(
    'AdaLoRA with deltaT 1: a masking round every step is a buffer write, the plan keeps replaying (ranks, importance, losses as the engine path)',
    { timeout: 900_000 },
    async () => {
      // Budget phase to step 23 (every step masks), the last allocation at 24, the fixed pattern 25-29.
      const options = { initR: 4, targetR: 2, targetModules: ['query', 'value'], tinit: 3, tfinal: 6, deltaT: 1 };
      const engine = await run('engine', 'adalora', options, 30);
      const replayed = await run('replayed', 'adalora', options, 30);
      expect(gpu.uncapturedErrors).toEqual([]);
      expect(replayed.scores.map((s) => s.key)).toEqual(engine.scores.map((s) => s.key));
      // The budget fell: some rank events after step 0 (the masking rounds decided something).
      expect(engine.scores.filter((s) => !s.key.startsWith('0:')).length).toBeGreaterThan(10);
      expectRelClose(replayed.scores.map((s) => s.value), engine.scores.map((s) => s.value), 'rank and importance events');
      // One plan through the budget phase (masking rounds do not re-plan), one for the fixed pattern.
      expect(replayed.replayedAt.filter((s) => s > 3 && s < 24)).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
      expect(replayed.replayedAt.filter((s) => s > 24).length, 'replayed with the pattern fixed').toBeGreaterThanOrEqual(2);
      expect(replayed.status.plans).toBe(2);
      expectSameRun(replayed, engine);
      // Masked triplets hold E = 0 at the end, on both paths (the in-place write reached the variable).
      const named = (suffix: string) => [...replayed.state].find(([name]) => name.endsWith(`query.${suffix}`))![1].data;
      const [mask, e] = [named('lora_mask'), named('lora_E')];
      expect(Array.from(mask).some((m) => m === 0)).toBe(true);
      mask.forEach((m, i) => m === 0 && expect(Math.abs(e[i])).toBe(0));
    },
  );

  it(
    'IncreLoRA: replayed between growth rounds, re-planned at each; ranks and losses as the engine path',
    { timeout: 900_000 },
    async () => {
      // Two modules from rank 1, a total budget of 4: growth rounds at steps 5 and 10 (top 1), then the hooks go.
      const options = { loraR: 1, targetRank: 2, targetModules: ['query', 'value'], initWarmup: 4, increInterval: 5, topH: 1 };
      const engine = await run('engine', 'increlora', options, 20);
      const replayed = await run('replayed', 'increlora', options, 20);
      expect(gpu.uncapturedErrors).toEqual([]);
      expect(replayed.scores.map((s) => s.key)).toEqual(engine.scores.map((s) => s.key));
      // The last event is round 10's ranks: the budget (2 modules x target 2) is met, so the hooks went.
      const lastRanks = engine.scores.slice(-2);
      expect(lastRanks.map((s) => s.key.split(':')[0])).toEqual(['10', '10']);
      expect(lastRanks.reduce((sum, s) => sum + s.value, 0)).toBe(4);
      expectRelClose(replayed.scores.map((s) => s.value), engine.scores.map((s) => s.value), 'rank and importance events');
      expect(replayed.replayedAt.some((s) => s > 5 && s < 10), 'replayed between the rounds').toBe(true);
      expect(replayed.replayedAt.filter((s) => s > 10).length, 'replayed after the last round').toBeGreaterThanOrEqual(5);
      expectSameRun(replayed, engine);
    },
  );

  it(
    'dropout on: replayed masks follow the step seed like the engine path',
    { timeout: 180_000 },
    async () => {
      const options = { targetModules: ['query', 'value'] };
      const engine = await run('engine', 'lora', options, 6, 0.1);
      const replayed = await run('replayed', 'lora', options, 6, 0.1);
      expect(gpu.uncapturedErrors).toEqual([]);
      expect(replayed.status.replayedSteps).toBe(3);
      expectRelClose(
        replayed.metrics.map((m) => m.loss),
        engine.metrics.map((m) => m.loss),
        'loss',
      );
    },
  );

  it(
    'a NaN after replayed steps restores the adapter of the last clean flush (a real copy, not the replayed buffers)',
    { timeout: 300_000 },
    async () => {
      const { Trainer } = await import('../../src/engine/trainer');
      const { randomBertWeights } = await import('../../src/engine/weights');
      const { adapterMethod } = await import('../../src/methods/registry');
      const config = tinyConfig({ hiddenSize: 8, intermediateSize: 16, numLayers: 1, vocabSize: 40, numLabels: 1 });
      const train = toyExamples(60, 8, 4, 1);
      // Rows 40.. (the batch of step 10, data in order) have targets whose squares overflow float32.
      (train.labels as Float32Array).fill(3e19, 40);
      const trainer = new Trainer({
        config,
        weights: randomBertWeights(config, 3),
        method: adapterMethod('lora', { targetModules: ['query', 'value'] }),
        train,
        recipe: { ...recipe, totalSteps: 15, shuffle: false },
        execution: 'replayed',
      });
      const rows = [];
      let good: Awaited<ReturnType<typeof trainer.adapterState>> | null = null;
      while (!trainer.finished) {
        await trainer.step();
        if (trainer.stepsDone % 5 === 0) rows.push(...(await trainer.flushMetrics()));
        if (trainer.stepsDone === 10) good = await trainer.adapterState();
      }
      expect(trainer.replayStatus().replayedSteps).toBeGreaterThanOrEqual(10);
      const bad = Trainer.firstNonFinite(rows)!;
      expect(bad.step).toBe(10);
      // Replayed steps 10-14 moved the variables on, in place (else the restore below would prove nothing).
      const moved = await trainer.adapterState();
      expect([...good!].some(([name, v]) => moved.get(name)!.data.some((x, i) => x !== v.data[i]))).toBe(true);
      trainer.recoverFromNonFinite(bad);
      const restored = await trainer.adapterState();
      expect(gpu.uncapturedErrors).toEqual([]);
      for (const [name, value] of good!) expect(Array.from(restored.get(name)!.data), name).toEqual(Array.from(value.data));
      trainer.dispose();
    },
  );

  it(
    'a checkpoint taken between replayed steps resumes exactly on a fresh replaying trainer',
    { timeout: 300_000 },
    async () => {
      const { Trainer } = await import('../../src/engine/trainer');
      const { randomBertWeights } = await import('../../src/engine/weights');
      const { adapterMethod } = await import('../../src/methods/registry');
      const config = tinyConfig({ hiddenSize: 8, intermediateSize: 16, numLayers: 1, vocabSize: 40 });
      const make = () =>
        new Trainer({
          config,
          weights: randomBertWeights(config, 3),
          method: adapterMethod('lora', { targetModules: ['query', 'value'] }),
          train: toyExamples(12, 8, 4),
          recipe: { ...recipe, totalSteps: 14 },
          execution: 'replayed',
        });
      const straight = make();
      const tail = [];
      let checkpoint = null;
      while (!straight.finished) {
        await straight.step();
        if (straight.stepsDone === 7) {
          await straight.flushMetrics();
          checkpoint = structuredClone(await straight.checkpoint());
        }
        if (straight.stepsDone > 7) tail.push(...(await straight.flushMetrics()));
      }
      const final = await straight.adapterState();
      expect(straight.replayStatus().replayedSteps).toBe(11);
      straight.dispose();

      const resumed = make();
      resumed.restore(checkpoint!);
      const resumedTail = [];
      while (!resumed.finished) {
        await resumed.step();
        resumedTail.push(...(await resumed.flushMetrics()));
      }
      // Re-planned after the restore: steps 7, 8 recorded, replayed from 9.
      expect(resumed.replayStatus().replayedSteps).toBe(4);
      expect(gpu.uncapturedErrors).toEqual([]);
      expect(resumedTail.map((m) => m.step)).toEqual(tail.map((m) => m.step));
      expectRelClose(resumedTail.map((m) => m.loss), tail.map((m) => m.loss), 'loss');
      expectRelClose(resumedTail.map((m) => m.gradNorm), tail.map((m) => m.gradNorm), 'gradNorm');
      const state = await resumed.adapterState();
      for (const [name, value] of final) expectRelClose(Array.from(state.get(name)!.data), Array.from(value.data), name);
      resumed.dispose();
    },
  );
});

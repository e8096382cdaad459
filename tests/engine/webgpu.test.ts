/**
 * Training steps on webgpu (Dawn + SwiftShader) agree with the cpu backend, with and without the fused kernels
 * (the webgpu default); no uncaptured WebGPU errors. 1 layer, hidden 8: SwiftShader is slow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodEvent } from '../../src/engine/adapter';
import type { TrainingRecipe } from '../../src/engine/trainer';
import type { StateDict } from '../../src/engine/types';
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
  warmupRatio: 0, // both steps update
  maxGradNorm: 0.1,
  optimizer: 'adamw_torch',
  seed: 5,
  logEvery: 2,
};

interface RunOptions {
  /** undefined: the Trainer's default (on for webgpu, off for cpu). */
  kernels?: boolean;
  options?: object;
  steps?: number;
  dropout?: number;
  recipe?: Partial<TrainingRecipe>;
}

const LORA_OPTIONS = { targetModules: ['query', 'value', 'inter', 'out'] };

async function run(backend: 'webgpu' | 'cpu', method: string, kernelsOrRun: boolean | RunOptions = false) {
  const opts: RunOptions = typeof kernelsOrRun === 'boolean' ? { kernels: kernelsOrRun } : kernelsOrRun;
  const { tf } = gpu;
  expect(await tf.setBackend(backend)).toBe(true);
  // Imported after the backend is installed so the engine shares this tfjs instance.
  const { Trainer } = await import('../../src/engine/trainer');
  const { randomBertWeights } = await import('../../src/engine/weights');
  const { adapterMethod } = await import('../../src/methods/registry');
  const dropout = opts.dropout ?? 0;
  const config = tinyConfig({
    hiddenSize: 8,
    intermediateSize: 16,
    numLayers: 1,
    vocabSize: 40,
    hiddenDropout: dropout,
    attentionDropout: dropout,
  });
  const trainer = new Trainer({
    config,
    weights: randomBertWeights(config, 3),
    method: adapterMethod(method, opts.options ?? (method === 'lora' ? LORA_OPTIONS : {})),
    train: toyExamples(8, 8, 4),
    recipe: { ...recipe, ...opts.recipe },
    ...(opts.kernels === undefined ? {} : { kernels: opts.kernels }),
    // Op by op: the dispatch count below is TF.js's (a replayed step dispatches outside it).
    execution: 'engine',
  });
  const usedKernels = trainer.kernels;
  const inspected = await trainer.inspectNextStep();
  const events: MethodEvent[] = [];
  const steps = opts.steps ?? 2;
  for (let i = 0; i < steps - 1; i++) events.push(...(await trainer.step()));
  // Dispatches of one warm step (webgpu only): the per-step CPU-overhead proxy.
  const { installDispatchCounter } = await import('../../src/engine/kernels');
  const counter = backend === 'webgpu' ? installDispatchCounter() : null;
  events.push(...(await trainer.step()));
  const dispatches = counter?.total() ?? 0;
  counter?.uninstall();
  const metrics = await trainer.flushMetrics();
  const state = await trainer.adapterState();
  trainer.dispose();
  return { inspected, losses: metrics.map((m) => m.loss), state, dispatches, events, usedKernels };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 1e-6;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    // Relative to the tensor's largest magnitude: elements near 0 (B = 0 at init) would make a per-element ratio meaningless.
    expect(Math.abs(actual[i] - expected[i]), `${what}[${i}]`).toBeLessThanOrEqual(1e-3 * scale);
  }
}

function expectStatesClose(actual: StateDict, expected: StateDict): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, value] of expected) expectClose(actual.get(name)!.data, value.data, name);
}

describe('engine on webgpu', () => {
  it('matches cpu for two lora steps (logits, loss, grads, final state)', async () => {
    const onGpu = await run('webgpu', 'lora');
    expect(gpu.uncapturedErrors).toEqual([]);
    const onCpu = await run('cpu', 'lora');
    expectClose(onGpu.inspected.logits.data, onCpu.inspected.logits.data, 'logits');
    expectClose([onGpu.inspected.loss], [onCpu.inspected.loss], 'loss');
    for (const [name, grad] of onCpu.inspected.grads) expectClose(onGpu.inspected.grads.get(name)!.data, grad.data, `grad ${name}`);
    expectClose(onGpu.losses, onCpu.losses, 'losses');
    expectStatesClose(onGpu.state, onCpu.state);
  });

  it('matches cpu with the fused kernels on (LayerNorm, softmax, GELU, linear, clipping, AdamW) in fewer dispatches', async () => {
    const plain = await run('webgpu', 'lora');
    const fused = await run('webgpu', 'lora', true);
    expect(gpu.uncapturedErrors).toEqual([]);
    const onCpu = await run('cpu', 'lora');
    expectClose(fused.inspected.logits.data, onCpu.inspected.logits.data, 'logits');
    for (const [name, grad] of onCpu.inspected.grads) expectClose(fused.inspected.grads.get(name)!.data, grad.data, `grad ${name}`);
    expectClose(fused.losses, onCpu.losses, 'losses');
    expectStatesClose(fused.state, onCpu.state);
    console.log(`dispatches per lora step (1 layer, hidden 8): plain ${plain.dispatches}, kernels ${fused.dispatches}`);
    expect(fused.dispatches).toBeLessThan(plain.dispatches);
  });

  it('matches cpu for AFLoRA with the default (kernels on) through a freeze, in fewer dispatches', { timeout: 120_000 }, async () => {
    // Masking at step 1 with remaining fraction 0 (t_i = 0, t_f = 2 of 3 steps): step 2 trains with frozen A/B.
    const aflora = {
      options: { rank: 2, trainableMatrices: 'both', initialWarmup: 0, finalWarmup: 2, deltaT: 1 },
      recipe: { totalSteps: 3 },
      steps: 3,
    };
    const fused = await run('webgpu', 'aflora', aflora);
    const plain = await run('webgpu', 'aflora', { ...aflora, kernels: false });
    expect(gpu.uncapturedErrors).toEqual([]);
    const onCpu = await run('cpu', 'aflora', aflora);
    expect([fused.usedKernels, plain.usedKernels, onCpu.usedKernels]).toEqual([true, false, false]);

    const freezes = (events: MethodEvent[]) => events.flatMap((e) => (e.type === 'freeze' ? [`${e.step}:${e.name}`] : []));
    expect(freezes(onCpu.events).length).toBeGreaterThan(0);
    expect(freezes(fused.events)).toEqual(freezes(onCpu.events));
    expectClose(fused.inspected.logits.data, onCpu.inspected.logits.data, 'logits');
    for (const [name, grad] of onCpu.inspected.grads) expectClose(fused.inspected.grads.get(name)!.data, grad.data, `grad ${name}`);
    expectClose(fused.losses, onCpu.losses, 'losses');
    expectStatesClose(fused.state, onCpu.state);
    console.log(`dispatches per aflora step after the freeze: plain ${plain.dispatches}, kernels ${fused.dispatches}`);
    expect(fused.dispatches).toBeLessThan(plain.dispatches / 2);
  });

  it('dropout with kernels (GPU-hashed masks): seeded, changes the loss by a plausible amount', { timeout: 120_000 }, async () => {
    const withDropout = { kernels: true, dropout: 0.1 };
    const a = await run('webgpu', 'lora', withDropout);
    const b = await run('webgpu', 'lora', withDropout);
    const other = await run('webgpu', 'lora', { ...withDropout, recipe: { seed: 6 } });
    const noDropout = await run('webgpu', 'lora', { kernels: true });
    expect(gpu.uncapturedErrors).toEqual([]);
    expect(a.losses).toEqual(b.losses);
    expect(a.losses).not.toEqual(other.losses);
    // Rate 0.1 on a 2-class toy task: masks perturb the loss, they do not wreck it.
    a.losses.forEach((loss, i) => {
      expect(loss).not.toBe(noDropout.losses[i]);
      expect(Math.abs(loss - noDropout.losses[i])).toBeLessThan(0.5 * noDropout.losses[i]);
    });
  });
});

/** Two training steps on webgpu (Dawn + SwiftShader) agree with the cpu backend; no uncaptured WebGPU errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  warmupRatio: 0, // both steps update
  maxGradNorm: 0.1,
  seed: 5,
  logEvery: 2,
};

async function run(backend: 'webgpu' | 'cpu', method: string, kernels = false) {
  const { tf } = gpu;
  expect(await tf.setBackend(backend)).toBe(true);
  // Imported after the backend is installed so the engine shares this tfjs instance.
  const { Trainer } = await import('../../src/engine/trainer');
  const { randomBertWeights } = await import('../../src/engine/weights');
  const config = tinyConfig({ hiddenSize: 8, intermediateSize: 16, numLayers: 1, vocabSize: 40 });
  const trainer = new Trainer({
    config,
    weights: randomBertWeights(config, 3),
    method,
    options: method === 'lora' ? { targetModules: ['query', 'value', 'inter', 'out'] } : {},
    train: toyExamples(8, 8, 4),
    recipe,
    kernels,
  });
  const inspected = await trainer.inspectNextStep();
  await trainer.step();
  // Dispatches of one warm step (webgpu only): the per-step CPU-overhead proxy.
  const { installDispatchCounter } = await import('../../src/engine/kernels');
  const counter = backend === 'webgpu' ? installDispatchCounter() : null;
  await trainer.step();
  const dispatches = counter?.total() ?? 0;
  counter?.uninstall();
  const metrics = await trainer.flushMetrics();
  const state = await trainer.adapterState();
  trainer.dispose();
  return { inspected, losses: metrics.map((m) => m.loss), state, dispatches };
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
});

/**
 * AFLoRA's GPU-side score state and masking on webgpu (Dawn + SwiftShader) agree with the cpu backend:
 * many-input concat, unsortedSegmentSum, gather compaction; no uncaptured WebGPU errors. Tiny sizes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodEvent } from '../../src/engine/adapter';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';
import { tinyConfig } from '../helpers/tinyBert';

let gpu: NodeWebGPU;

beforeAll(async () => {
  gpu = await installNodeWebGPU();
}, 60_000);

afterAll(async () => {
  await gpu?.teardown();
});

const CONFIG = tinyConfig({
  vocabSize: 10,
  hiddenSize: 4,
  numHeads: 1,
  intermediateSize: 8,
  maxPositions: 8,
});

interface RunResult {
  events: MethodEvent[];
}

/** 35 steps of AFLoRA (A/B of all 12 linears: 24 tensors, so concat runs in chunks) on the current backend. */
async function run(): Promise<RunResult> {
  const tf = gpu.tf;
  const { adapterMethod } = await import('../../src/methods/registry');
  const { linearTargets } = await import('../../src/engine/types');
  const runtime = adapterMethod('aflora', {
    rank: 2,
    trainableMatrices: 'both',
    sensitivity: 'paramGrad',
    initialWarmup: 10,
    finalWarmup: 30,
  }).create({ config: CONFIG, targets: linearTargets(CONFIG), totalSteps: 100, epochs: 10, stepsPerEpoch: 10, warmupSteps: 0, seed: 5 });
  const events: MethodEvent[] = [];
  for (let step = 0; step < 35; step++) {
    const grads = new Map<string, InstanceType<typeof tf.Tensor>>();
    runtime.trainable().forEach((v, t) => {
      const values = Float32Array.from(
        { length: v.variable.size },
        (_, i) => Math.sin(0.7 * step + 0.31 * i + t) * (1 + (t % 5)),
      );
      grads.set(v.name, tf.tensor(values, v.variable.shape));
    });
    const clip = tf.tensor1d([0, 1]); // inactive clip, as the Trainer passes it
    runtime.observeGradients!(step, grads, clip);
    for (const g of [...grads.values(), clip]) g.dispose();
    events.push(...(await runtime.afterStep!(step)).events);
  }
  runtime.dispose();
  return { events };
}

describe('AFLoRA scores on webgpu', () => {
  it('match the cpu backend: scores, thresholds and freeze steps', { timeout: 120_000 }, async () => {
    const onGpu = await run();
    expect(gpu.uncapturedErrors).toEqual([]);
    await gpu.tf.setBackend('cpu');
    const onCpu = await run();
    await gpu.tf.setBackend('webgpu');

    const freezes = (r: RunResult) =>
      r.events
        .filter((e) => e.type === 'freeze')
        .map((e) => `${e.step}:${e.type === 'freeze' ? e.name : ''}`);
    expect(freezes(onGpu)).toEqual(freezes(onCpu));
    expect(freezes(onCpu).length).toBeGreaterThan(0);
    const scores = (r: RunResult) =>
      r.events.flatMap((e) => (e.type === 'values' ? e.values.map((s) => s.value) : []));
    const [gpuScores, cpuScores] = [scores(onGpu), scores(onCpu)];
    expect(gpuScores.length).toBe(cpuScores.length);
    expect(cpuScores.length).toBeGreaterThan(24);
    cpuScores.forEach((want, i) =>
      expect(Math.abs(gpuScores[i] - want)).toBeLessThanOrEqual(1e-4 * Math.abs(want) + 1e-30),
    );
    const thresholds = (r: RunResult) =>
      r.events.flatMap((e) => (e.type === 'schedule' ? [e.threshold] : []));
    const [gpuT, cpuT] = [thresholds(onGpu), thresholds(onCpu)];
    expect(gpuT.length).toBe(cpuT.length);
    cpuT.forEach((want, i) => expect(Math.abs(gpuT[i] - want)).toBeLessThanOrEqual(1e-4 * Math.abs(want)));
  });
});

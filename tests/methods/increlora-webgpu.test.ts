/**
 * IncreLoRA on webgpu (Dawn + SwiftShader, the engine's fused kernels on) agrees with the cpu backend through its
 * growth rounds: same rank pattern after every round, losses and importances close; no uncaptured errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodEvent } from '../../src/engine/adapter';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

let gpu: NodeWebGPU;
beforeAll(async () => {
  gpu = await installNodeWebGPU();
}, 60_000);
afterAll(async () => {
  await gpu?.teardown();
});

const CONFIG = tinyConfig({ numLayers: 1, hiddenSize: 8, intermediateSize: 16, numHeads: 1 });
// Six modules, 6 -> 15: rounds at steps 4, 7, 10 add 3 each (the last one exactly reaches the target).
const OPTIONS = { loraR: 1, targetRank: 2, targetTotalRank: 15, increRankNum: 1, topH: 3, initWarmup: 3, increInterval: 3, loraAlpha: 8, regOrthCoef: 0.1 };

async function run(kernels: boolean) {
  const { Trainer, DEFAULT_RECIPE } = await import('../../src/engine/trainer');
  const { randomBertWeights } = await import('../../src/engine/weights');
  const { adapterMethod } = await import('../../src/methods/registry');
  const trainer = new Trainer({
    config: CONFIG,
    weights: randomBertWeights(CONFIG, 2),
    method: adapterMethod('increlora', OPTIONS),
    train: toyExamples(16, 10, 4),
    recipe: { ...DEFAULT_RECIPE, epochs: 8, batchSize: 8, maxLength: 10, adapterLr: 2e-2, classifierLr: 5e-2, seed: 3, shuffle: false },
    kernels,
  });
  const events: MethodEvent[] = [];
  while (!trainer.finished) events.push(...(await trainer.step()));
  const losses = (await trainer.flushMetrics()).map((m) => m.loss);
  trainer.dispose();
  const series = (name: string) => events.flatMap((e) => (e.type === 'values' && e.series === name ? [e.values.map((v) => v.value)] : []));
  return { losses, ranks: series('rank'), importance: series('importance').flat() };
}

describe('IncreLoRA on webgpu', () => {
  it('matches the cpu backend through its growth rounds', { timeout: 560_000 }, async () => {
    expect(await gpu.tf.setBackend('webgpu')).toBe(true);
    const onGpu = await run(true);
    expect(gpu.uncapturedErrors).toEqual([]);
    await gpu.tf.setBackend('cpu');
    const onCpu = await run(false);
    await gpu.tf.setBackend('webgpu');

    expect(onCpu.ranks).toHaveLength(4); // step 0 + three rounds
    expect(onCpu.ranks[3].reduce((a, b) => a + b, 0)).toBe(15);
    expect(new Set(onCpu.ranks[3]).size).toBeGreaterThan(1);
    expect(onGpu.ranks).toEqual(onCpu.ranks);
    onCpu.losses.forEach((want, i) => expect(Math.abs(onGpu.losses[i] - want), `loss ${i}`).toBeLessThan(1e-3 * Math.abs(want)));
    expect(onGpu.importance.length).toBe(onCpu.importance.length);
    const scale = Math.max(...onCpu.importance);
    onCpu.importance.forEach((want, i) => expect(Math.abs(onGpu.importance[i] - want), `importance ${i}`).toBeLessThan(1e-3 * scale));
  });
});

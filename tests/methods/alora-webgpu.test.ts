/**
 * ALoRA on webgpu (Dawn + SwiftShader, the engine's fused kernels on) agrees with the cpu backend through three
 * allocation rounds: same gate pattern after every round, losses and module importance close; no uncaptured errors.
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
const OPTIONS = {
  rInit: 2,
  maxRank: 4,
  alpha: 8,
  superEpochs: { value: 6, unit: 'steps' },
  roundEvery: { value: 4, unit: 'steps' },
  rounds: 3,
  pruneCount: 3,
  probeSize: 8,
};

async function run(kernels: boolean) {
  const { Trainer, DEFAULT_RECIPE } = await import('../../src/engine/trainer');
  const { randomBertWeights } = await import('../../src/engine/weights');
  const { adapterMethod } = await import('../../src/methods/registry');
  const trainer = new Trainer({
    config: CONFIG,
    weights: randomBertWeights(CONFIG, 2),
    method: adapterMethod('alora', OPTIONS),
    train: toyExamples(16, 10, 4),
    validation: toyExamples(8, 10, 6),
    recipe: {
      ...DEFAULT_RECIPE,
      epochs: 8,
      batchSize: 8,
      maxLength: 10,
      adapterLr: 2e-2,
      classifierLr: 5e-2,
      seed: 3,
      shuffle: false,
    },
    kernels,
  });
  const events: MethodEvent[] = [];
  const gates: number[][] = [];
  while (!trainer.finished) {
    events.push(...(await trainer.step()));
    if (
      events.some((e) => e.type === 'values' && e.series === 'importance' && e.step === trainer.stepsDone - 1)
    ) {
      const flat: number[] = [];
      for (const v of trainer.runtime.variables())
        if (v.name.endsWith('.lora_gate')) flat.push(...((await v.variable.data()) as Float32Array));
      gates.push(flat);
    }
  }
  const losses = (await trainer.flushMetrics()).map((m) => m.loss);
  trainer.dispose();
  const importance = events.flatMap((e) =>
    e.type === 'values' && e.series === 'importance' ? e.values.map((v) => v.value) : [],
  );
  return { losses, gates, importance };
}

describe('ALoRA on webgpu', () => {
  it('matches the cpu backend through three rounds', { timeout: 180_000 }, async () => {
    expect(await gpu.tf.setBackend('webgpu')).toBe(true);
    const onGpu = await run(true);
    expect(gpu.uncapturedErrors).toEqual([]);
    await gpu.tf.setBackend('cpu');
    const onCpu = await run(false);
    await gpu.tf.setBackend('webgpu');

    expect(onCpu.gates).toHaveLength(3);
    expect(onGpu.gates).toEqual(onCpu.gates);
    // The allocation moved away from r_init = 2 on every module.
    expect(onCpu.gates[2].filter((g) => g === 1).length).toBe(2 * 6);
    expect(onCpu.gates[2]).not.toEqual(onCpu.gates[0].map((_, i) => (i % 4 < 2 ? 1 : 0)));
    onCpu.losses.forEach((want, i) =>
      expect(Math.abs(onGpu.losses[i] - want), `loss ${i}`).toBeLessThan(1e-3 * Math.abs(want)),
    );
    const spread = Math.max(...onCpu.importance) - Math.min(...onCpu.importance);
    expect(onGpu.importance.length).toBe(onCpu.importance.length);
    onCpu.importance.forEach((want, i) =>
      expect(Math.abs(onGpu.importance[i] - want), `importance ${i}`).toBeLessThan(2e-2 * spread),
    );
  });
});

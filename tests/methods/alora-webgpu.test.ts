/**
 * ALoRA on webgpu (Dawn + SwiftShader, the engine's fused kernels on) agrees with the cpu backend through three
 * allocation rounds: same gate pattern after every round, losses and module importance close; no uncaptured errors.
 */
import { describe, expect, it } from 'vitest';
import { expectEachClose, expectWithinScale, onBothBackends, seriesOf, trainMethod, setupNodeWebGPU } from '../helpers/backends';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

const gpu = setupNodeWebGPU();

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
  const gates: number[][] = [];
  const { events, losses } = await trainMethod(
    {
      config: CONFIG,
      method: 'alora',
      options: OPTIONS,
      train: toyExamples(16, 10, 4),
      validation: toyExamples(8, 10, 6),
      recipe: { epochs: 8, batchSize: 8, maxLength: 10, adapterLr: 2e-2, classifierLr: 5e-2, seed: 3, shuffle: false },
      kernels,
    },
    // After each round (it reports importance at its step), the gate variables as they now are.
    async (trainer, soFar) => {
      const step = trainer.stepsDone - 1;
      if (!soFar.some((e) => e.type === 'values' && e.series === 'importance' && e.step === step)) return;
      const flat: number[] = [];
      for (const v of trainer.runtime.variables())
        if (v.name.endsWith('.lora_gate')) flat.push(...((await v.variable.data()) as Float32Array));
      gates.push(flat);
    },
  );
  return { losses, gates, importance: seriesOf(events, 'importance').flat() };
}

describe('ALoRA on webgpu', () => {
  it('matches the cpu backend through three rounds', { timeout: 560_000 }, async () => {
    const { onGpu, onCpu } = await onBothBackends(gpu(), run);

    expect(onCpu.gates).toHaveLength(3);
    expect(onGpu.gates).toEqual(onCpu.gates);
    // The allocation moved away from r_init = 2 on every module.
    expect(onCpu.gates[2].filter((g) => g === 1).length).toBe(2 * 6);
    expect(onCpu.gates[2]).not.toEqual(onCpu.gates[0].map((_, i) => (i % 4 < 2 ? 1 : 0)));
    expectEachClose(onGpu.losses, onCpu.losses, 1e-3, 'loss');
    const spread = Math.max(...onCpu.importance) - Math.min(...onCpu.importance);
    expectWithinScale(onGpu.importance, onCpu.importance, 2e-2, spread, 'importance');
  });
});

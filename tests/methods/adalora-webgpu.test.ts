/**
 * AdaLoRA on webgpu (Dawn + SwiftShader, the engine's fused kernels on) agrees with the cpu backend through its
 * budget schedule: same rank pattern and budget after every masking round, losses and importances close, the final
 * E (Λ) values close; no uncaptured errors.
 */
import { describe, expect, it } from 'vitest';
import { expectEachClose, expectWithinScale, onBothBackends, seriesOf, trainMethod, setupNodeWebGPU } from '../helpers/backends';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

const gpu = setupNodeWebGPU();

const CONFIG = tinyConfig({ numLayers: 1, hiddenSize: 8, intermediateSize: 16, numHeads: 1 });
// Six modules at init_r 4 (budget 24) -> target_r 2 (12); 16 steps: masking every 2 steps in (2, 12], the pattern
// fixed after step 12.
const OPTIONS = {
  initR: 4,
  targetR: 2,
  loraAlpha: 8,
  targetModules: ['query', 'key', 'value', 'attn_out', 'inter', 'out'],
  tinit: 2,
  tfinal: 4,
  deltaT: 2,
  orthRegWeight: 0.1,
};

async function run(kernels: boolean) {
  const finalE: number[] = [];
  const { events, losses } = await trainMethod(
    {
      config: CONFIG,
      method: 'adalora',
      options: OPTIONS,
      train: toyExamples(16, 10, 4),
      recipe: { epochs: 8, batchSize: 8, maxLength: 10, adapterLr: 5e-2, classifierLr: 5e-2, seed: 3, shuffle: false },
      kernels,
    },
    async (trainer) => {
      if (!trainer.finished) return;
      for (const v of trainer.runtime.variables())
        if (v.name.endsWith('.lora_E')) finalE.push(...((await v.variable.data()) as Float32Array));
    },
  );
  const budgets = events.flatMap((e) => (e.type === 'budget' ? [`${e.step}:${e.scheduled}:${e.actual}`] : []));
  const rounds = events.flatMap((e) => (e.type === 'values' && e.series === 'rank' ? [`${e.step}:${e.values.map((v) => `${v.name}=${v.value}`).join()}`] : []));
  return { losses, budgets, rounds, importance: seriesOf(events, 'importance').flat(), finalE };
}

describe('AdaLoRA on webgpu', () => {
  it('matches the cpu backend through its budget schedule', { timeout: 560_000 }, async () => {
    const { onGpu, onCpu } = await onBothBackends(gpu(), run);

    // The schedule really ran: several masking rounds, down to the target budget, ranks that differ by module.
    expect(onCpu.budgets.length).toBeGreaterThan(3);
    expect(onCpu.budgets.at(-1)).toMatch(/:12:12$/);
    expect(onCpu.rounds.length).toBeGreaterThan(2);
    expect(onGpu.budgets).toEqual(onCpu.budgets);
    expect(onGpu.rounds).toEqual(onCpu.rounds);
    expectEachClose(onGpu.losses, onCpu.losses, 1e-3, 'loss');
    expectWithinScale(onGpu.importance, onCpu.importance, 1e-3, Math.max(...onCpu.importance), 'importance');
    expect(onCpu.finalE.filter((e) => e === 0).length).toBe(6 * 4 - 12);
    expectWithinScale(onGpu.finalE, onCpu.finalE, 1e-3, Math.max(...onCpu.finalE.map(Math.abs)), 'E');
  });
});

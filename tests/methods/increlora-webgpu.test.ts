/**
 * IncreLoRA on webgpu (Dawn + SwiftShader, the engine's fused kernels on) agrees with the cpu backend through its
 * growth rounds: same rank pattern after every round, losses and importances close; no uncaptured errors.
 */
import { describe, expect, it } from 'vitest';
import { expectEachClose, expectWithinScale, onBothBackends, seriesOf, trainMethod, setupNodeWebGPU } from '../helpers/backends';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

const gpu = setupNodeWebGPU();

const CONFIG = tinyConfig({ numLayers: 1, hiddenSize: 8, intermediateSize: 16, numHeads: 1 });
// Six modules, 6 -> 15: rounds at steps 4, 7, 10 add 3 each (the last one exactly reaches the target).
const OPTIONS = { loraR: 1, targetRank: 2, targetTotalRank: 15, increRankNum: 1, topH: 3, initWarmup: 3, increInterval: 3, loraAlpha: 8, regOrthCoef: 0.1 };

async function run(kernels: boolean) {
  const { events, losses } = await trainMethod({
    config: CONFIG,
    method: 'increlora',
    options: OPTIONS,
    train: toyExamples(16, 10, 4),
    recipe: { epochs: 8, batchSize: 8, maxLength: 10, adapterLr: 2e-2, classifierLr: 5e-2, seed: 3, shuffle: false },
    kernels,
  });
  return { losses, ranks: seriesOf(events, 'rank'), importance: seriesOf(events, 'importance').flat() };
}

describe('IncreLoRA on webgpu', () => {
  it('matches the cpu backend through its growth rounds', { timeout: 560_000 }, async () => {
    const { onGpu, onCpu } = await onBothBackends(gpu(), run);

    expect(onCpu.ranks).toHaveLength(4); // step 0 + three rounds
    expect(onCpu.ranks[3].reduce((a, b) => a + b, 0)).toBe(15);
    expect(new Set(onCpu.ranks[3]).size).toBeGreaterThan(1);
    expect(onGpu.ranks).toEqual(onCpu.ranks);
    expectEachClose(onGpu.losses, onCpu.losses, 1e-3, 'loss');
    expectWithinScale(onGpu.importance, onCpu.importance, 1e-3, Math.max(...onCpu.importance), 'importance');
  });
});

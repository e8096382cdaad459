/**
 * The rank methods' schedules as the settings show them before training (entry.resolved): AdaLoRA's budget phase
 * and allocations, IncreLoRA's growth steps, ALoRA's rounds, in steps of the run, and the warning when the options
 * cannot work on this data (the paper presets count steps of the full GLUE sets). The methods themselves are
 * checked against their references in tests/engine/golden.test.ts, increlora.test.ts and alora.golden.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { summarizeBudget } from '../../src/methods/adalora/schedule';
import { growthStepCount } from '../../src/methods/increlora/schedule';
import { methodEntry, methodOptions } from '../../src/methods/catalog';
import { MIN_RAMP_ROUNDS, runShape } from '../../src/methods/entry';

const entry = methodEntry('adalora');

function preset(method: 'adalora' | 'increlora', id: string) {
  const found = methodEntry(method).presets.find((p) => p.id === id);
  if (!found) throw new Error(`no ${method} preset ${id}`);
  return { options: methodOptions(method, found.options), recipe: found.recipe! };
}

describe('AdaLoRA resolved schedule', () => {
  it('counts the allocations between tinit and T − tfinal, the forced last one included', () => {
    // 12 steps, tinit 2, tfinal 2: masking at 3..9 and the forced round at 10.
    expect(summarizeBudget({ initR: 12, targetR: 8, tinit: 2, tfinal: 2, deltaT: 1 }, 12)).toEqual({ finalStep: 10, rounds: 8, warning: null });
    // deltaT 10 over steps 101..299: 110, 120, .., 290 (19), then 300.
    expect(summarizeBudget({ initR: 12, targetR: 8, tinit: 100, tfinal: 100, deltaT: 10 }, 400).rounds).toBe(20);
    // tfinal 0: T − tfinal is no step of the run, so no forced round; masking at 1..T−1.
    expect(summarizeBudget({ initR: 12, targetR: 8, tinit: 0, tfinal: 0, deltaT: 1 }, 50)).toEqual({ finalStep: 50, rounds: 49, warning: null });
  });

  it('warns when a Table-8 preset leaves no budgeting phase on a small dataset, and not on the full one', () => {
    const rte = preset('adalora', 'rte'); // tinit 600, tfinal 1800, batch 32, 50 epochs
    const small = entry.resolved!(rte.options, runShape(1500, rte.recipe.batchSize!, rte.recipe.epochs!)); // 47 x 50 = 2350 steps
    expect(small.text).toMatch(/^Budget of this run \(2350 steps, 47 per epoch\)/);
    expect(small.warning).toMatch(/^tinit \(600\) and tfinal \(1800\) leave no budgeting phase in this run of 2350 steps/);
    expect(small.warning).toMatch(/Train will refuse it/);
    // RTE's 2490 training rows: 78 x 50 = 3900 steps, the ranks move between 600 and 2100 every step.
    const full = entry.resolved!(rte.options, runShape(2490, 32, 50));
    expect(full.warning).toBeNull();
    expect(full.text).toMatch(/by step 2100 \(T − tfinal\) in 1500 allocations \(every 1 steps\)/);
    const sst2 = preset('adalora', 'sst2'); // tinit 6000, tfinal 22000 of SST-2's 67k rows x 24 epochs
    expect(entry.resolved!(sst2.options, runShape(1500, 32, 24)).warning).toMatch(/no budgeting phase/);
  });

  it('warns when the budget falls in fewer than MIN_RAMP_ROUNDS allocations, or cannot fall', () => {
    const options = methodOptions('adalora', { tinit: 10, tfinal: 10, deltaT: 10 });
    // 40 steps: masking at 20 (in 11..29) and the forced round at 30.
    const few = entry.resolved!(options, runShape(40, 8, 8));
    expect(few.warning).toMatch(/^The budget falls from init_r to target_r in only 2 allocations \(steps 11\.\.30, every 10 steps\)/);
    expect(few.warning).toContain(`at least ${MIN_RAMP_ROUNDS}`);
    expect(entry.resolved!(methodOptions('adalora', { tinit: 10, tfinal: 10, deltaT: 1 }), runShape(40, 8, 8)).warning).toBeNull();
    expect(entry.resolved!(methodOptions('adalora', { targetR: 12 }), runShape(400, 8, 8)).warning).toMatch(/target_r \(12\) is not below init_r \(12\)/);
  });
});

describe('IncreLoRA resolved growth', () => {
  const increlora = methodEntry('increlora');

  it('counts the steps that may hold a round (after init_warmup, multiples of incre_interval, before the end)', () => {
    expect(growthStepCount({ initWarmup: 100, increInterval: 100 }, 2350)).toBe(22); // 200, 300, .., 2300
    expect(growthStepCount({ initWarmup: 0, increInterval: 3 }, 12)).toBe(3); // 3, 6, 9 (step 12 is no step of the run)
    expect(growthStepCount({ initWarmup: 1000, increInterval: 1000 }, 1128)).toBe(0);
  });

  it("warns when a preset's interval leaves no round on a small dataset", () => {
    const sst2 = preset('increlora', 'sst2'); // init_warmup = incre_interval = 1000
    const small = increlora.resolved!(sst2.options, runShape(1500, 32, sst2.recipe.epochs!)); // 47 x 24 = 1128 steps
    expect(small.warning).toMatch(/^No growth round falls in this run of 1128 steps .*every module stays at lora_r = 1/);
    const rte = preset('increlora', 'rte'); // 100 / 100
    const ok = increlora.resolved!(rte.options, runShape(1500, 32, rte.recipe.epochs!));
    expect(ok.warning).toBeNull();
    expect(ok.text).toMatch(/22 steps may hold a round \(after step 100, every 100\), each growing the top_h = 9 modules, until the total reaches target_rank 8 × modules/);
  });
});

describe('ALoRA resolved rounds', () => {
  const alora = methodEntry('alora');

  it('lists the round steps, and warns when K1 covers the whole run', () => {
    const text = alora.resolved!(methodOptions('alora'), runShape(1500, 16, 10)).text; // 94 per epoch: K1 94, K2 ceil(23.5)
    expect(text).toBe('Rounds of this run (940 steps, 94 per epoch): super-network training for 94 steps (K1), then 8 allocation rounds (after steps 94, 118, 142, 166, 190, 214, 238, 262), every 24 steps (K2).');
    const short = alora.resolved!(methodOptions('alora'), runShape(17, 8, 1)); // 3 steps, K1 = 3
    expect(short.warning).toMatch(/^K1 \(3 steps\) covers the whole run of 3 steps: no allocation round runs/);
    const cut = alora.resolved!(methodOptions('alora'), runShape(17, 8, 2));
    expect([cut.text.match(/then (\d+) allocation/)?.[1], cut.warning]).toEqual(['3', null]); // K2 = ceil(0.75) = 1: after steps 3, 4, 5
    expect(cut.text).toMatch(/N_A = 8, the run ends first/);
    expect(alora.resolved!(methodOptions('alora', { rounds: 0 }), runShape(17, 8, 1)).warning).toBeNull();
  });
});

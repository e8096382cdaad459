/**
 * AdaLoRA's schedule as the settings show it before training: the budget phase in steps, its allocations, and the
 * warning when the options cannot work on this data (the Table-8 presets count steps of the full GLUE sets).
 * The method itself is checked against PEFT in tests/engine/golden.test.ts and adalora-webgpu.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { summarizeBudget } from '../../src/methods/adalora/schedule';
import { methodEntry, methodOptions } from '../../src/methods/catalog';
import { MIN_RAMP_ROUNDS, runShape } from '../../src/methods/entry';

const entry = methodEntry('adalora');

function preset(id: string) {
  const found = entry.presets.find((p) => p.id === id);
  if (!found) throw new Error(`no AdaLoRA preset ${id}`);
  return { options: methodOptions('adalora', found.options), recipe: found.recipe! };
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
    const rte = preset('rte'); // tinit 600, tfinal 1800, batch 32, 50 epochs
    const small = entry.resolved!(rte.options, runShape(1500, rte.recipe.batchSize!, rte.recipe.epochs!)); // 47 x 50 = 2350 steps
    expect(small.text).toMatch(/^Budget of this run \(2350 steps, 47 per epoch\)/);
    expect(small.warning).toMatch(/^tinit \(600\) and tfinal \(1800\) leave no budgeting phase in this run of 2350 steps/);
    expect(small.warning).toMatch(/Train will refuse it/);
    // RTE's 2490 training rows: 78 x 50 = 3900 steps, the ranks move between 600 and 2100 every step.
    const full = entry.resolved!(rte.options, runShape(2490, 32, 50));
    expect(full.warning).toBeNull();
    expect(full.text).toMatch(/by step 2100 \(T − tfinal\) in 1500 allocations \(every 1 steps\)/);
    const sst2 = preset('sst2'); // tinit 6000, tfinal 22000 of SST-2's 67k rows x 24 epochs
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

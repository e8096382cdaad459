/** ALoRA's tensor-free decisions (src/methods/alora/allocate.ts): round steps, pruning, sharing the budget out. */
import { describe, expect, it } from 'vitest';
import { allocateRound, shareOut, type SlotState } from '../../src/methods/alora/allocate';
import { roundSteps } from '../../src/methods/alora/schedule';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig } from '../helpers/tinyBert';

const epochs = (value: number) => ({ value, unit: 'epochs' as const });

describe('roundSteps', () => {
  it('runs after K1, then every K2 (epochs rounded up to steps), at most N_A rounds, never at the end', () => {
    expect(roundSteps({ superEpochs: epochs(1), roundEvery: epochs(0.25), rounds: 8 }, 10, 100)).toEqual([
      9, 12, 15, 18, 21, 24, 27, 30,
    ]);
    expect(roundSteps({ superEpochs: epochs(1), roundEvery: epochs(0.25), rounds: 8 }, 10, 20)).toEqual([
      9, 12, 15, 18,
    ]);
    expect(
      roundSteps(
        { superEpochs: { value: 3, unit: 'steps' }, roundEvery: { value: 0, unit: 'steps' }, rounds: 3 },
        10,
        20,
      ),
    ).toEqual([2, 3, 4]);
    expect(roundSteps({ superEpochs: epochs(0), roundEvery: epochs(1), rounds: 2 }, 10, 100)).toEqual([9]); // a round after 0 steps is none
    expect(roundSteps({ superEpochs: epochs(1), roundEvery: epochs(1), rounds: 0 }, 10, 100)).toEqual([]);
  });
});

describe('shareOut', () => {
  it('gives equal shares and the remainder by higher mean importance (ties: earlier module)', () => {
    const give = shareOut(5, [0, 1, 2], [0.1, 0.3, 0.3], [9, 9, 9]);
    expect(Object.fromEntries(give)).toEqual({ 0: 1, 1: 2, 2: 2 });
    expect(Object.fromEntries(shareOut(1, [0, 1, 2], [0.1, 0.3, 0.3], [9, 9, 9]))).toEqual({
      0: 0,
      1: 1,
      2: 0,
    });
  });

  it('passes what does not fit to the next receiver with room, and drops it only when all are full', () => {
    expect(Object.fromEntries(shareOut(6, [0, 1, 2], [0.3, 0.2, 0.1], [0, 1, 9]))).toEqual({
      0: 0,
      1: 1,
      2: 5,
    });
    expect(Object.fromEntries(shareOut(6, [0, 1], [0.3, 0.2], [1, 2]))).toEqual({ 0: 1, 1: 2 });
    expect(shareOut(3, [], [], []).size).toBe(0);
  });
});

describe('allocateRound', () => {
  const fresh = (): SlotState[][] => [
    ['active', 'active', 'dormant', 'dormant'],
    ['active', 'active', 'dormant', 'dormant'],
    ['active', 'active', 'dormant', 'dormant'],
  ];

  it('prunes the lowest ranks (ties: earlier slot) and revives the lowest dormant slots of modules that lost none', () => {
    const states = fresh();
    const importance = [
      [0.5, -0.2, NaN, NaN],
      [0.4, 0.4, NaN, NaN],
      [-0.2, 0.9, NaN, NaN],
    ];
    const decision = allocateRound(states, importance, 2);
    expect(decision.pruned).toEqual([
      [0, 1],
      [2, 0],
    ]); // equal importance: module 0's slot first
    expect(decision.threshold).toBe(-0.2);
    expect(decision.added).toEqual([
      [1, 2],
      [1, 3],
    ]); // only module 1 lost none: it takes both
    expect(states).toEqual([
      ['active', 'pruned', 'dormant', 'dormant'],
      ['active', 'active', 'active', 'active'],
      ['pruned', 'active', 'dormant', 'dormant'],
    ]);
    expect(decision.meanImportance).toEqual([0.15, 0.4, 0.35]);
  });

  it('keeps at least one rank, never revives a pruned slot, and ranks a module without ranks last', () => {
    const states: SlotState[][] = [
      ['pruned', 'pruned', 'dormant', 'dormant'],
      ['active', 'pruned', 'dormant', 'dormant'],
    ];
    const decision = allocateRound(
      states,
      [
        [NaN, NaN, NaN, NaN],
        [0.1, NaN, NaN, NaN],
      ],
      5,
    );
    expect(decision.pruned).toEqual([]); // the last rank stays
    expect(decision.meanImportance).toEqual([-Infinity, 0.1]);
    const next = allocateRound(
      [
        ['pruned', 'pruned', 'dormant', 'dormant'],
        ['active', 'active', 'dormant', 'dormant'],
        ['active', 'active', 'pruned', 'pruned'],
      ],
      [
        [NaN, NaN, NaN, NaN],
        [0.2, 0.3, NaN, NaN],
        [0.1, 0.05, NaN, NaN],
      ],
      1,
    );
    // Module 2 lost its 0.05 rank; modules 0 (no ranks: last) and 1 receive; the remainder of 1 goes to module 1.
    expect(next.added).toEqual([[1, 2]]);
  });
});

describe('options', () => {
  it('refuses more initial ranks than slots, naming both', () => {
    expect(() => adapterMethod('alora', { rInit: 8, maxRank: 4 }).countTrainable(tinyConfig())).toThrow(
      /maxRank.*\(4\).*r_init \(8\)/,
    );
  });
});

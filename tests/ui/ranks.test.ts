/** The rank view's model and exports: frames replayed from 'rank' / 'importance' snapshots, budget events, the rank log. */
import { describe, expect, it } from 'vitest';
import { csvToRecords } from '../../src/io/export/logs';
import { rankLogCsv, rankLogJson, rankLogRows } from '../../src/ui/exports';
import { maxRank, rankFrames, rankGrid, totalRank } from '../../src/ui/ranks';
import { INITIAL_STATE, newRun, reducer, type RunRecord } from '../../src/ui/state';
import { fromMethodEvent, mergeEvents } from '../../src/worker/events';
import type { TrainingPlan, ValueSnapshot } from '../../src/worker/protocol';
import { parseRunConfig } from '../../src/worker/run-config';
import aflora from '../fixtures/run-config/aflora.json';

const Q0 = 'bert.encoder.layer.0.attention.self.query';
const V0 = 'bert.encoder.layer.0.attention.self.value';
const Q1 = 'bert.encoder.layer.1.attention.self.query';

const plan: TrainingPlan = {
  method: 'lora',
  totalSteps: 100,
  stepsPerEpoch: 10,
  epochs: 10,
  cells: [
    { name: Q0, cell: { layer: 0, kind: 'query' } },
    { name: V0, cell: { layer: 0, kind: 'value' } },
    { name: Q1, cell: { layer: 1, kind: 'query' } },
  ],
  trainableParamsAtStart: 10,
  metricNames: ['accuracy'],
  exports: ['peft', 'native'],
};

const snap = (series: string, step: number, names: string[], values: number[]): ValueSnapshot => ({ series, step, names, values: Float64Array.from(values) });

// Ranks at step 0 for all, then only the modules whose rank changed; importance with each allocation.
const values: ValueSnapshot[] = [
  snap('rank', 0, [Q0, V0, Q1], [12, 12, 12]),
  snap('importance', 10, [Q0, V0, Q1], [3e-3, 1e-4, 2e-3]),
  snap('rank', 10, [V0], [6]),
  snap('importance', 20, [Q0, V0, Q1], [4e-3, 5e-5, 1e-3]),
  snap('rank', 20, [V0, Q1], [0, 9]),
];

describe('rank view model', () => {
  it('replays the frames: each module as it stood after the frame step, importance at or before it', () => {
    expect(rankFrames(values)).toEqual([0, 10, 20]);
    const first = rankGrid(plan.cells, values, 0);
    expect(first.layers).toEqual([0, 1]);
    expect(first.columns.map((c) => c.label)).toEqual(['query', 'value']);
    expect(first.cells[0][0]).toMatchObject({ name: Q0, rank: 12, importance: null, importanceStep: null });
    expect(first.cells[1][1]).toBeNull();
    const middle = rankGrid(plan.cells, values, 10);
    expect(middle.cells[0][1]).toMatchObject({ name: V0, rank: 6, importance: 1e-4, importanceStep: 10 });
    expect(middle.cells[1][0]).toMatchObject({ name: Q1, rank: 12 });
    expect(totalRank(middle)).toBe(30);
    const last = rankGrid(plan.cells, values, 20);
    expect(last.cells.flat().map((c) => c?.rank ?? null)).toEqual([12, 0, 9, null]);
    expect(totalRank(last)).toBe(21);
    // A step between frames shows the earlier frame.
    expect(rankGrid(plan.cells, values, 15).cells[0][1]).toMatchObject({ rank: 6, importance: 1e-4 });
    expect(maxRank(values)).toBe(12);
  });

  it('has no frames (and pending cells) before the method reported a rank', () => {
    expect(rankFrames([])).toEqual([]);
    expect(rankGrid(plan.cells, [], -1).cells[0][0]).toMatchObject({ rank: null });
    expect(maxRank([])).toBe(1);
  });

  it('keeps budget events on the run, merged in the batcher', () => {
    const a = fromMethodEvent({ type: 'budget', step: 10, scheduled: 30, actual: 30, target: 12 });
    const b = fromMethodEvent({ type: 'budget', step: 20, scheduled: 21, actual: 21, target: 12 });
    const merged = mergeEvents(a, b)!;
    expect(merged).toEqual({ type: 'budget', entries: [{ step: 10, scheduled: 30, actual: 30, target: 12 }, { step: 20, scheduled: 21, actual: 21, target: 12 }] });
    const state = reducer(
      reducer(INITIAL_STATE, { type: 'startRequested', id: 'r', label: 'r', createdAt: 0, config: parseRunConfig(aflora) }),
      { type: 'worker', event: merged, at: 0 },
    );
    expect(state.run!.budget!.map((e) => e.actual)).toEqual([30, 21]);
  });
});

describe('rank log export', () => {
  const run: RunRecord = { ...newRun({ id: 'r1', label: 'rank run', createdAt: 1, config: parseRunConfig(aflora) }), plan, values, budget: [{ step: 20, scheduled: 21, actual: 21, target: 12 }] };

  it('writes one row per module and frame, read back by io', () => {
    const rows = rankLogRows(run);
    expect(rows).toHaveLength(9);
    const csv = rankLogCsv(run);
    expect(csv.split('\n')[0]).toBe('step,name,layer,kind,rank,importance');
    const back = csvToRecords(csv);
    expect(back.filter((r) => r.step === 20).map((r) => [r.name, r.rank, r.importance])).toEqual([
      [Q0, 12, 4e-3],
      [V0, 0, 5e-5],
      [Q1, 9, 1e-3],
    ]);
    expect(back[0]).toMatchObject({ step: 0, name: Q0, layer: 0, kind: 'query', rank: 12, importance: null });
  });

  it('writes the frames, the modules and the budget as JSON', () => {
    const json = JSON.parse(rankLogJson(run));
    expect(json.modules).toHaveLength(3);
    expect(json.frames).toHaveLength(9);
    expect(json.budget).toEqual([{ step: 20, scheduled: 21, actual: 21, target: 12 }]);
  });
});

import { describe, expect, it } from 'vitest';
import { buildHeatmap } from '../../src/ui/heatmap';
import { INITIAL_STATE, averageTrainable, etaSeconds, executionText, hasWeights, latestValues, reducer, runDigest, valueSeries, weightsNote, type Action, type AppState } from '../../src/ui/state';
import type { ModelInfo } from '../../src/worker/protocol';
import type { TrainingPlan, WorkerEvent } from '../../src/worker/protocol';
import { parseRunConfig } from '../../src/worker/run-config';
import aflora from '../fixtures/run-config/aflora.json';

const plan: TrainingPlan = {
  method: 'aflora',
  totalSteps: 101,
  stepsPerEpoch: 10,
  epochs: 10,
  cells: [
    { name: 'l0.inter.A', cell: { layer: 0, kind: 'inter', matrix: 'A' } },
    { name: 'l0.inter.B', cell: { layer: 0, kind: 'inter', matrix: 'B' } },
    { name: 'l1.out.A', cell: { layer: 1, kind: 'out', matrix: 'A' } },
  ],
  trainableParamsAtStart: 1000,
  metricNames: ['accuracy'],
  exports: ['peft', 'native', 'pytorch'],
};

function worker(event: WorkerEvent, at = 0): Action {
  return { type: 'worker', event, at };
}

function metricsEvent(steps: number[], trainable: number[]): WorkerEvent {
  return {
    type: 'stepMetrics',
    batch: {
      step: Float64Array.from(steps),
      epoch: Float64Array.from(steps.map((s) => Math.floor(s / 10))),
      loss: Float64Array.from(steps.map(() => 0.5)),
      lr: Float64Array.from(steps.map(() => 1e-3)),
      trainableParams: Float64Array.from(trainable),
    },
  };
}

function run(actions: Action[], from: AppState = INITIAL_STATE): AppState {
  return actions.reduce(reducer, from);
}

const start: Action = {
  type: 'startRequested',
  id: 'r1',
  label: 'AFLoRA',
  createdAt: 1,
  config: parseRunConfig(aflora),
};

describe('reducer', () => {
  it('follows a run from start to finish', () => {
    const s = run([
      start,
      worker({ type: 'started', plan }),
      worker(metricsEvent([0, 1], [1000, 1000]), 1000),
      worker(metricsEvent([2, 3], [900, 800]), 2000),
      worker({ type: 'freeze', entries: [{ step: 3, name: 'l0.inter.B', cell: plan.cells[1].cell }] }),
      worker({ type: 'freeze', entries: [{ step: 9, name: 'l0.inter.B', cell: plan.cells[1].cell }] }),
      worker({ type: 'evaluation', step: 9, epoch: 0, metrics: { accuracy: 0.75 } }),
      worker({ type: 'finished', reason: 'completed', step: 100, seconds: 12 }),
    ]);
    expect(s.training).toBe('finished');
    expect(Array.from(s.run!.metrics.step)).toEqual([0, 1, 2, 3]);
    // Freezing is permanent: the first recorded step stays.
    expect(s.run!.freezeSteps).toEqual({ 'l0.inter.B': 3 });
    expect(s.run!.evaluations).toEqual([{ step: 9, epoch: 0, metrics: { accuracy: 0.75 } }]);
    expect(s.run!.finished).toEqual({ reason: 'completed', step: 100, seconds: 12 });
    expect(averageTrainable(s.run)).toBe(925);
  });

  it('estimates steps/s from wall time between metric batches, excluding compile time', () => {
    const s = run([
      start,
      worker({ type: 'started', plan }),
      worker(metricsEvent([0, 1, 2, 3, 4], [1, 1, 1, 1, 1]), 30_000),
      worker(metricsEvent([5, 6, 7, 8, 9], [1, 1, 1, 1, 1]), 32_500),
    ]);
    expect(s.throughput.stepsPerSecond).toBeCloseTo(2, 10);
    // 100 - 9 steps left at 2 steps/s.
    expect(etaSeconds(s)).toBeCloseTo(45.5, 10);
  });

  it('turns a worker error into a dismissable message and unblocks loading', () => {
    let s = run([{ type: 'modelRequested' }, worker({ type: 'error', kind: 'unsupported-model', message: 'not BERT', hint: 'pick a BERT' })]);
    expect(s.model.status).toBe('error');
    expect(s.errors).toHaveLength(1);
    // The same error again is not stacked.
    s = reducer(s, worker({ type: 'error', kind: 'unsupported-model', message: 'not BERT', hint: 'pick a BERT' }));
    expect(s.errors).toHaveLength(1);
    s = reducer(s, { type: 'dismissError', id: s.errors[0].id });
    expect(s.errors).toHaveLength(0);
  });

  it('keeps how the steps ran (the Train panel line): replayed with its count, or the path and why not', () => {
    const report = { requested: 'replayed', path: 'replayed', reason: null, replayedSteps: 7, steps: 10 } as const;
    const s = run([start, worker({ type: 'started', plan }), worker({ type: 'execution', report })]);
    expect(s.run!.execution).toEqual(report);
    expect(executionText(report)).toBe('replayed steps (7 of 10 steps)');
    expect(executionText({ ...report, path: 'engine', reason: 'recording the step to replay' })).toBe(
      'engine (not replayed: recording the step to replay) · 7 of 10 steps replayed',
    );
    expect(executionText({ requested: 'replayed', path: 'plain', reason: 'no WebGPU: TF.js runs every op', replayedSteps: 0, steps: 3 })).toBe(
      'plain TF.js (not replayed: no WebGPU: TF.js runs every op)',
    );
  });

  it('ignores events that need a run when there is none', () => {
    const s = run([worker(metricsEvent([0], [1]))]);
    expect(s.run).toBeNull();
  });

  it('does not let a restored run replace a live one', () => {
    const live = run([start]);
    const restored = reducer(live, { type: 'restoreRun', run: { ...live.run!, id: 'old' } });
    expect(restored.run!.id).toBe('r1');
  });
});

describe('kept weights (runs that survive a reload)', () => {
  const model = (fingerprint: string, name = 'built-in tiny BERT') => worker({ type: 'modelLoaded', info: { name, hubId: null, revision: null, fingerprint } as ModelInfo });
  const finished = run([
    model('aaaa'),
    start,
    worker({ type: 'started', plan }),
    worker(metricsEvent([0, 1], [1000, 800]), 1000),
    worker({ type: 'evaluation', step: 1, epoch: 0, metrics: { accuracy: 0.75, loss: 0.4 } }),
    worker({ type: 'evaluation', step: 3, epoch: 1, metrics: { accuracy: 0.5, loss: 0.6 } }),
    worker({ type: 'finished', reason: 'completed', step: 3, seconds: 12 }),
    { type: 'weightsKept', runId: 'r1', fingerprint: 'aaaa' },
  ]);

  it('Export and Try it follow the run the worker holds, not the one on show', () => {
    expect(hasWeights(finished)).toBe(true);
    expect(weightsNote(finished)).toBeNull();
    expect(finished.run!.keptWeights).toEqual({ fingerprint: 'aaaa' });
    // After a reload: the kept run is on show, the worker holds nothing.
    const reloaded = run([{ type: 'restoreRun', run: finished.run! }]);
    expect(reloaded.training).toBe('finished');
    expect(hasWeights(reloaded)).toBe(false);
    expect(weightsNote(reloaded)).toBe('Load built-in tiny BERT to export or try this run.');
    expect(weightsNote(run([model('bbbb', 'prajjwal1/bert-tiny')], reloaded))).toBe('This run was trained on built-in tiny BERT, not on the loaded prajjwal1/bert-tiny: load that model to export or try it.');
    const same = run([model('aaaa')], reloaded);
    expect(weightsNote(same)).toBe('Putting the kept weights back on the model…');
    const back = run([worker({ type: 'weightsRestored', runId: 'r1', plan })], same);
    expect(hasWeights(back)).toBe(true);
    expect(back.inWorkerTrained).toBe(false);
    // Loading another model drops the worker's run.
    expect(hasWeights(run([model('aaaa')], back))).toBe(false);
    // A run kept without weights says so.
    const { keptWeights: _k, ...bare } = finished.run!;
    expect(weightsNote(run([{ type: 'restoreRun', run: bare }, model('aaaa')]))).toMatch(/weights were not kept/);
  });

  it('a deleted run stops claiming kept weights (deleted alone, with all runs, or found missing)', () => {
    const reloaded = run([{ type: 'restoreRun', run: finished.run! }, model('aaaa')]);
    expect(weightsNote(reloaded)).toBe('Putting the kept weights back on the model…');
    expect(reducer(reloaded, { type: 'weightsGone', runId: 'other' }).run!.keptWeights).toEqual({ fingerprint: 'aaaa' });
    for (const runId of ['r1', null]) {
      const gone = reducer(reloaded, { type: 'weightsGone', runId });
      expect(gone.run!.keptWeights).toBeUndefined();
      expect(weightsNote(gone)).toMatch(/weights were not kept/);
    }
    // The worker's own copy (trained here) still serves Export and Try it.
    const deletedWhileHeld = reducer(finished, { type: 'weightsGone', runId: 'r1' });
    expect(hasWeights(deletedWhileHeld)).toBe(true);
    expect(weightsNote(deletedWhileHeld)).toBeNull();
  });

  it('opening another kept run replaces a finished one (not a live one)', () => {
    const other = reducer(finished, { type: 'restoreRun', run: { ...finished.run!, id: 'r0' } });
    expect(other.run!.id).toBe('r0');
    expect(hasWeights(other)).toBe(false);
  });

  it('summarises a run: final and best of the primary metric, steps, mean trainable, time', () => {
    expect(runDigest(finished.run!)).toEqual({ metric: 'accuracy', final: 0.5, best: 0.75, avgTrainable: 900, seconds: 12, steps: 4, reason: 'completed' });
  });
});

describe('score views', () => {
  it('aligns per-matrix score series on snapshot steps and reports the latest score', () => {
    const s = run([
      start,
      worker({ type: 'started', plan }),
      worker({
        type: 'values',
        snapshots: [
          { series: 'score', step: 10, names: ['a', 'b'], values: Float64Array.of(1, 2) },
          { series: 'score', step: 20, names: ['b'], values: Float64Array.of(3) },
          { series: 'rank', step: 20, names: ['a'], values: Float64Array.of(8) },
          { series: 'score', step: 30, names: ['a', 'b'], values: Float64Array.of(4, 5) },
        ],
      }),
    ]);
    const series = valueSeries(s.run!.values, 'score');
    expect(series.steps).toEqual([10, 20, 30]);
    expect(series.values.a).toEqual([1, Number.NaN, 4]);
    expect(series.values.b).toEqual([2, 3, 5]);
    expect(latestValues(s.run!.values, 'score')).toEqual({ a: 4, b: 5 });
    expect(latestValues(s.run!.values, 'rank')).toEqual({ a: 8 });
  });

  it('builds the Figure-5 grid with FFN columns and freeze steps', () => {
    const model = buildHeatmap(plan.cells, { 'l0.inter.B': 42 }, { 'l0.inter.A': 1e-5 });
    expect(model.layers).toEqual([0, 1]);
    expect(model.columns.map((c) => c.label)).toEqual(['inter-A', 'inter-B', 'out-A']);
    expect(model.cells[0][1]).toMatchObject({ name: 'l0.inter.B', frozenAt: 42, score: null });
    expect(model.cells[0][0]).toMatchObject({ frozenAt: null, score: 1e-5 });
    expect(model.cells[1][0]).toBeNull();
    expect(model.cells[1][2]).toMatchObject({ layer: 1, name: 'l1.out.A' });
  });
});

/** Train says why it is disabled: a failed load leaves nothing loaded, and a setting typed wrong blocks it. */
import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, latestEvaluation, phaseText, reducer, startBlocker, type Action, type AppState } from '../../src/ui/state';
import type { DataPreview, ModelInfo, TrainingPlan, WorkerEvent } from '../../src/worker/protocol';

const info = { name: 'built-in tiny BERT', hubId: null, revision: null, sizeBytes: 1, totalParams: 1 } as unknown as ModelInfo;
const preview = { name: 'spam-ham', reason: null, usable: true } as unknown as DataPreview;

function worker(event: WorkerEvent): Action {
  return { type: 'worker', event, at: 0 };
}
const failed: WorkerEvent = { type: 'error', kind: 'bad-input', message: 'nope', hint: 'fix it' };

function run(actions: Action[], from: AppState = INITIAL_STATE): AppState {
  return actions.reduce(reducer, from);
}

const ready = run([{ type: 'modelRequested' }, worker({ type: 'modelLoaded', info }), { type: 'dataRequested' }, worker({ type: 'dataPreview', preview })]);

describe('startBlocker', () => {
  it('is null once a model and usable data are loaded', () => {
    expect(startBlocker(ready)).toBeNull();
  });

  it('says what is missing before anything is loaded', () => {
    expect(startBlocker(INITIAL_STATE)).toMatch(/Load a model first/);
    expect(startBlocker(run([{ type: 'modelRequested' }]))).toMatch(/still loading/);
    expect(startBlocker(run([worker({ type: 'modelLoaded', info })]))).toMatch(/Pick a sample dataset/);
  });

  it('after a failed model load shows no model (not the old one) and says the load failed', () => {
    const s = run([{ type: 'modelRequested' }, worker(failed)], ready);
    expect(s.model).toEqual({ status: 'error', info: null });
    expect(startBlocker(s)).toMatch(/last load failed/);
  });

  it('after a failed data load clears the old preview, so Train cannot run on data that is not shown', () => {
    const s = run([{ type: 'dataRequested' }, worker(failed)], ready);
    expect(s.data).toEqual({ status: 'error', preview: null });
    expect(startBlocker(s)).toMatch(/could not be read/);
  });

  it('names unusable data', () => {
    const s = run([worker({ type: 'dataPreview', preview: { ...preview, usable: false, reason: 'No label column found.' } })], ready);
    expect(startBlocker(s)).toBe('The data cannot train yet: No label column found.');
  });

  it('blocks on a setting typed wrong until it is fixed or its field goes away', () => {
    let s = reducer(ready, { type: 'formProblem', key: 'recipe.batchSize', problem: 'Batch size must be in [1, 512] (got 0)' });
    expect(startBlocker(s)).toBe('Fix this setting first: Batch size must be in [1, 512] (got 0).');
    s = reducer(s, { type: 'formProblem', key: 'method.r', problem: 'Rank needs a value' });
    expect(startBlocker(s)).toMatch(/^Fix these settings first: Batch size .*; Rank needs a value\.$/);
    s = reducer(s, { type: 'formProblem', key: 'recipe.batchSize', problem: null });
    s = reducer(s, { type: 'formProblem', key: 'method.r', problem: null });
    expect(s.formProblems).toEqual({});
    expect(startBlocker(s)).toBeNull();
    // Clearing what is not there changes nothing (no re-render).
    expect(reducer(s, { type: 'formProblem', key: 'x', problem: null })).toBe(s);
  });

  it('says nothing while a run is going', () => {
    expect(startBlocker({ ...INITIAL_STATE, training: 'running' })).toBeNull();
  });
});

describe('phase and buttons', () => {
  const plan: TrainingPlan = { method: 'aflora', totalSteps: 10, stepsPerEpoch: 5, epochs: 2, cells: [], trainableParamsAtStart: 1, metricNames: ['accuracy'], exports: [] };
  const started = run([{ type: 'startRequested', id: 'r', label: 'r', createdAt: 0, config: {} as never }, worker({ type: 'started', plan })], ready);
  const progress = (phase: 'compile' | 'evaluate' | 'tokenize', done: number, total: number) => worker({ type: 'progress', phase, done, total });

  it('names the phase: compiling until the first step is back, then training, evaluating', () => {
    expect(phaseText(run([{ type: 'startRequested', id: 'r', label: 'r', createdAt: 0, config: {} as never }, progress('tokenize', 0, 20)], ready))).toBe('Tokenizing 20 rows…');
    let s = run([progress('compile', 0, 1)], started);
    expect(phaseText(s)).toMatch(/^Compiling GPU kernels/);
    s = run([progress('compile', 1, 1)], s);
    expect(phaseText(s)).toBe('Training');
    s = run([progress('evaluate', 0, 6)], s);
    expect(phaseText(s)).toBe('Evaluating on 6 validation rows…');
    s = run([progress('evaluate', 6, 6)], s);
    expect(phaseText(s)).toBe('Training');
  });

  it('Pause and Stop change state at once and say when they take effect; the worker confirms', () => {
    let s = reducer(started, { type: 'pauseRequested' });
    expect(s.training).toBe('pausing');
    expect(phaseText(s)).toBe('Pausing after this step…');
    s = reducer(s, worker({ type: 'paused', step: 3 }));
    expect(s.training).toBe('paused');
    s = reducer(s, { type: 'stopRequested' });
    expect(s.training).toBe('stopping');
    // The resume the stop causes in the worker does not look like a resumed run.
    s = reducer(s, worker({ type: 'resumed', step: 3 }));
    expect(s.training).toBe('stopping');
    expect(phaseText(run([progress('compile', 0, 1), { type: 'stopRequested' }], started))).toMatch(/^Stopping after the first step: it is compiling/);
    expect(phaseText(run([progress('compile', 1, 1), progress('evaluate', 0, 6), { type: 'stopRequested' }], started))).toMatch(/evaluation ends after its current batch/);
  });

  it('states the step time when a step is slow', () => {
    const s = run([{ type: 'pauseRequested' }], { ...started, throughput: { ...started.throughput, stepsPerSecond: 0.1 } });
    expect(phaseText(s)).toBe('Pausing after this step (a step takes about 10 s)…');
  });

  it('keeps the newest evaluation for the panel', () => {
    const s = run([worker({ type: 'evaluation', step: 4, epoch: 0, metrics: { accuracy: 0.5 } }), worker({ type: 'evaluation', step: 6, epoch: 1, metrics: { accuracy: 0.75 } })], started);
    expect(latestEvaluation(s.run)).toEqual({ step: 6, epoch: 1, metrics: { accuracy: 0.75 } });
  });
});

describe('label names', () => {
  it('renames a class, drops a name set back to its own, and starts over with new files (not with a re-read)', () => {
    let s = reducer(ready, { type: 'renameLabel', label: '0', name: ' negative ' });
    s = reducer(s, { type: 'renameLabel', label: '1', name: 'positive' });
    expect(s.labelNames).toEqual({ 0: 'negative', 1: 'positive' });
    s = reducer(s, { type: 'renameLabel', label: '1', name: '1' });
    expect(s.labelNames).toEqual({ 0: 'negative' });
    expect(reducer(s, { type: 'dataRequested' }).labelNames).toEqual({ 0: 'negative' });
    expect(reducer(s, { type: 'dataRequested', newFiles: true }).labelNames).toEqual({});
  });
});

/** Train says why it is disabled: a failed load leaves nothing loaded, and a setting typed wrong blocks it. */
import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, reducer, startBlocker, type Action, type AppState } from '../../src/ui/state';
import type { DataPreview, ModelInfo, WorkerEvent } from '../../src/worker/protocol';

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

/**
 * Resume after a reload, on the page side (fake-indexeddb): a running run's checkpoints are kept in IndexedDB with
 * the run as it stood then; a new controller (the reloaded page) offers it only when the loaded model and rows have
 * its fingerprints, says what to load otherwise, and resumes it with the kept record and checkpoint; the run's end
 * (or Discard) removes the checkpoint.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { createController } from '../../src/ui/controller';
import { resumableRun } from '../../src/ui/runsDb';
import { resumeOffer } from '../../src/ui/state';
import type { Command, DataPreview, ModelInfo, RunCheckpoint, TrainingPlan, WorkerEvent } from '../../src/worker/protocol';
import { buildRunConfig } from '../../src/worker/run-config';
import { tinyConfig } from '../helpers/tinyBert';

const config = buildRunConfig({
  method: 'aflora',
  model: { name: 'tiny', hubId: null, revision: null },
  data: { name: 'd', train: 't.csv', validation: null, columns: { text: 'text', textPair: null, label: 'label' }, task: 'classification', labels: ['a', 'b'] },
});
const plan: TrainingPlan = { method: 'aflora', totalSteps: 10, stepsPerEpoch: 5, epochs: 2, cells: [], trainableParamsAtStart: 100, metricNames: ['accuracy'], exports: [] };
const model = (fingerprint: string) => ({ name: 'tiny', hubId: null, revision: null, config: { ...tinyConfig(), numLabels: 2 }, sizeBytes: 1, totalParams: 1, fingerprint }) as ModelInfo;
const preview = (fingerprint: string) => ({ name: 'd', files: { train: 't.csv', validation: null }, fingerprint, usable: true, reason: null }) as unknown as DataPreview;
const metrics = (steps: number[]) => ({
  type: 'stepMetrics' as const,
  batch: { step: Float64Array.from(steps), epoch: Float64Array.from(steps, (s) => (s + 1) / 5), loss: Float64Array.from(steps, (s) => 1 / (s + 1)), lr: Float64Array.from(steps, () => 1e-3), trainableParams: Float64Array.from(steps, () => 100) },
});
const checkpoint = (step: number): RunCheckpoint => ({
  trainer: { version: 1, step, totalSteps: 10, variables: new Map([['w', { shape: [2], data: Float32Array.of(step, -step) }]]), optimizer: [], method: {} as never },
  seconds: step * 2,
  model: 'M',
  data: 'D',
});
/** Until IndexedDB holds (or no longer holds) a checkpoint at `step`: the controller writes it after the event. */
const kept = (step: number | null) => vi.waitFor(async () => expect((await resumableRun())?.step ?? null).toBe(step));

/** A page: its controller on a fake worker client. */
function page() {
  const sent: Command[] = [];
  let listener: (e: WorkerEvent) => void = () => {};
  const controller = createController({ send: (c: Command) => sent.push(c), subscribe: (l: (e: WorkerEvent) => void) => ((listener = l), () => {}) } as never);
  return { controller, sent, emit: (e: WorkerEvent) => listener(e), state: () => controller.store.getState() };
}

describe('resume after a reload (controller + IndexedDB)', () => {
  it('keeps the newest checkpoint with the run as it stood, offers it after a reload on the same model and rows, and resumes it', async () => {
    const first = page();
    first.emit({ type: 'modelLoaded', info: model('M') });
    first.emit({ type: 'dataPreview', preview: preview('D') });
    first.controller.start(config);
    first.emit({ type: 'started', plan });
    first.emit(metrics([0, 1, 2, 3, 4]));
    first.emit({ type: 'evaluation', step: 4, epoch: 0, metrics: { accuracy: 0.5 } });
    first.emit({ type: 'checkpoint', checkpoint: checkpoint(5) });
    first.emit(metrics([5, 6]));
    first.emit({ type: 'checkpoint', checkpoint: checkpoint(7) });
    // Steps after the last checkpoint are lost with the reload; the kept record ends where the checkpoint is.
    first.emit(metrics([7]));
    await kept(7);
    await vi.waitFor(() => expect(first.state().checkpoint).toEqual({ runId: first.state().run!.id, step: 7, refused: null }));
    const runId = first.state().run!.id;

    // The reload: a new page finds the interrupted run, and says what it needs before it can resume.
    const second = page();
    await second.controller.ready;
    expect(second.state().resumable).toMatchObject({ runId, step: 7, totalSteps: 10, modelName: 'tiny', dataFile: 't.csv', model: 'M', data: 'D' });
    expect(resumeOffer(second.state())?.blocker).toBe('Load tiny (the same files) to resume it.');
    second.emit({ type: 'modelLoaded', info: model('other weights') });
    expect(resumeOffer(second.state())?.blocker).toBe('Load tiny (the same files) to resume it.');
    second.emit({ type: 'modelLoaded', info: model('M') });
    expect(resumeOffer(second.state())?.blocker).toBe('Load t.csv (the same rows) to resume it.');
    second.emit({ type: 'dataPreview', preview: preview('D, other split') });
    expect(resumeOffer(second.state())?.blocker).toBe('The loaded t.csv maps to other rows: pick the same columns and validation split as the run had.');
    second.emit({ type: 'dataPreview', preview: preview('D') });
    expect(resumeOffer(second.state())?.blocker).toBeNull();

    second.controller.setExecution('engine');
    await second.controller.resumeInterrupted();
    const [resume] = second.sent.filter((c): c is Extract<Command, { type: 'resumeRun' }> => c.type === 'resumeRun');
    expect(resume.config).toEqual(config);
    // Resumed the way this browser now runs steps (the Advanced setting), not as a setting of the run.
    expect(resume.execution).toBe('engine');
    expect(resume.checkpoint.trainer.step).toBe(7);
    expect(resume.checkpoint.trainer.variables.get('w')?.data).toEqual(Float32Array.of(7, -7));
    // Shown as it stood at the checkpoint: steps 0..6 and the evaluation, the same run id.
    const shown = second.state().run!;
    expect([shown.id, Array.from(shown.metrics.step), shown.evaluations.length, second.state().training]).toEqual([runId, [0, 1, 2, 3, 4, 5, 6], 1, 'starting']);
    second.emit({ type: 'started', plan });
    expect(second.state().resumable, 'no longer on offer once it runs').toBeNull();
    second.emit(metrics([7, 8, 9]));
    expect(Array.from(second.state().run!.metrics.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    second.emit({ type: 'finished', reason: 'completed', step: 9, seconds: 20 });
    await kept(null);

    // Finished: nothing to resume after the next reload.
    const third = page();
    await third.controller.ready;
    expect(third.state().resumable).toBeNull();
  });

  it('Discard forgets the interrupted run; a refused checkpoint is said in the run state', async () => {
    const first = page();
    first.emit({ type: 'modelLoaded', info: model('M') });
    first.controller.start(config);
    first.emit({ type: 'started', plan });
    first.emit({ type: 'checkpoint', checkpoint: checkpoint(3) });
    await kept(3);
    const second = page();
    await second.controller.ready;
    expect(second.state().resumable?.step).toBe(3);
    await second.controller.discardInterrupted();
    expect(second.state().resumable).toBeNull();
    const third = page();
    await third.controller.ready;
    expect(third.state().resumable).toBeNull();

    third.emit({ type: 'modelLoaded', info: model('M') });
    third.controller.start(config);
    third.emit({ type: 'started', plan });
    third.emit({ type: 'checkpointRefused', error: { kind: 'limit-exceeded', message: 'The checkpoint is 1.3 GB; the limit is 256 MB.', hint: 'Keep this tab open.' } });
    expect(third.state().checkpoint?.refused).toBe('The checkpoint is 1.3 GB; the limit is 256 MB. Keep this tab open.');
  });
});

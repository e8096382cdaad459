/**
 * The controller runs a comparison cell by cell: the next run starts only after the previous one's weights are
 * handled. A reload in the middle of a cell (a new controller on the same localStorage and IndexedDB, fake-indexeddb)
 * goes on with that cell's own run from its checkpoint, or runs the cell again when it had none yet; either way it is
 * recorded once, never counted as done nor skipped. A cell the worker refuses to start stops the grid.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { armsOf } from '../../src/ui/compare';
import { createController } from '../../src/ui/controller';
import { buildRunConfig } from '../../src/worker/run-config';
import type { Command, DataPreview, ModelInfo, RunCheckpoint, TrainingPlan, WorkerEvent } from '../../src/worker/protocol';
import { tinyConfig } from '../helpers/tinyBert';

const base = buildRunConfig({
  method: 'aflora',
  recipe: { epochs: 1 },
  model: { name: 'tiny', hubId: null, revision: null },
  data: { name: 'd', train: 't.csv', validation: null, columns: { text: 'text', textPair: null, label: 'label' }, task: 'classification', labels: ['a', 'b'] },
});
const plan: TrainingPlan = { method: 'aflora', totalSteps: 2, stepsPerEpoch: 2, epochs: 1, cells: [], trainableParamsAtStart: 100, metricNames: ['accuracy'], exports: [] };

describe('compare grid in the controller', () => {
  it('starts each cell with its method and seed, records it, and stops the grid on Stop', async () => {
    const sent: Command[] = [];
    let listener: (e: WorkerEvent) => void = () => {};
    const controller = createController({ send: (c: Command) => sent.push(c), subscribe: (l: (e: WorkerEvent) => void) => ((listener = l), () => {}) } as never);
    const emit = (e: WorkerEvent) => listener(e);
    emit({ type: 'modelLoaded', info: { name: 'tiny', hubId: null, revision: null, config: { ...tinyConfig(), numLabels: 2 }, sizeBytes: 1, totalParams: 1, fingerprint: 'f' } as ModelInfo });
    const settle = () => new Promise((r) => setTimeout(r, 20));
    const finishCell = async (accuracy: number) => {
      emit({ type: 'started', plan });
      emit({ type: 'stepMetrics', batch: { step: Float64Array.of(0, 1), epoch: Float64Array.of(0, 0.5), loss: Float64Array.of(1, 1), lr: Float64Array.of(1, 1), trainableParams: Float64Array.of(100, 100) } });
      emit({ type: 'evaluation', step: 1, epoch: 0, metrics: { accuracy } });
      emit({ type: 'finished', reason: 'completed', step: 1, seconds: 1 });
      emit({ type: 'trainedWeights', file: new Uint8Array(1), fingerprint: 'f' });
      await settle();
    };
    controller.startCompare({ arms: armsOf(['aflora', 'lora'], { method: 'aflora', options: {} }), seeds: [1, 2], metric: 'accuracy' }, base);
    const starts = () => sent.filter((c): c is Extract<Command, { type: 'start' }> => c.type === 'start');
    expect(starts().map((c) => [c.config.method.id, c.config.recipe.seed])).toEqual([['aflora', 1]]);
    // Every cell runs replayed unless the Advanced setting says otherwise.
    expect(starts()[0].execution).toBe('replayed');
    await finishCell(0.5);
    await vi.waitFor(() => expect(starts()).toHaveLength(2));
    expect(starts().map((c) => [c.config.method.id, c.config.recipe.seed])).toEqual([['aflora', 1], ['aflora', 2]]);
    expect(controller.compare.getState().grid!.results.map((r) => r.perEpoch)).toEqual([[0.5]]);
    await finishCell(0.7);
    await vi.waitFor(() => expect(starts()).toHaveLength(3));
    expect(starts().at(-1)!.config.method.id).toBe('lora');
    controller.stopCompare();
    emit({ type: 'finished', reason: 'stopped', step: 0, seconds: 1 });
    await settle();
    expect(starts()).toHaveLength(3);
    const { grid, running } = controller.compare.getState();
    expect(running).toBe(false);
    expect(grid!.results).toHaveLength(2);
    expect(grid!.current).toMatchObject({ arm: 'lora', seed: 1 }); // redone on resume (stopped: its checkpoint is gone)
  });
  it('after a reload mid-cell, resumes that cell from its checkpoint (or runs it again without one) and records it once', async () => {
    const kept = new Map<string, string>();
    globalThis.localStorage = { getItem: (k: string) => kept.get(k) ?? null, setItem: (k: string, v: string) => void kept.set(k, v), removeItem: (k: string) => void kept.delete(k) } as Storage;
    // IndexedDB writes of the page that reloads have landed (fake-indexeddb answers in a few ms; 100 for a loaded box).
    const settle = () => new Promise((r) => setTimeout(r, 100));
    const checkpoint = (step: number): RunCheckpoint => ({
      trainer: { version: 1, step, totalSteps: 2, variables: new Map([['w', { shape: [1], data: Float32Array.of(step) }]]), optimizer: [], method: {} as never },
      seconds: step,
      model: 'f',
      data: 'D',
    });
    /** A page on the built model and data: its controller on a fake worker client. */
    const page = () => {
      const sent: Command[] = [];
      let listener: (e: WorkerEvent) => void = () => {};
      const controller = createController({ send: (c: Command) => sent.push(c), subscribe: (l: (e: WorkerEvent) => void) => ((listener = l), () => {}) } as never);
      const emit = (e: WorkerEvent) => listener(e);
      emit({ type: 'modelLoaded', info: { name: 'tiny', hubId: null, revision: null, config: { ...tinyConfig(), numLabels: 2 }, sizeBytes: 1, totalParams: 1, fingerprint: 'f' } as ModelInfo });
      emit({ type: 'dataPreview', preview: { name: 'd', files: { train: 't.csv', validation: null }, fingerprint: 'D', usable: true, reason: null } as unknown as DataPreview });
      const commands = <T extends Command['type']>(type: T) => sent.filter((c): c is Extract<Command, { type: T }> => c.type === type);
      const step = (n: number) =>
        emit({ type: 'stepMetrics', batch: { step: Float64Array.of(n), epoch: Float64Array.of((n + 1) / 2), loss: Float64Array.of(1), lr: Float64Array.of(1), trainableParams: Float64Array.of(100) } });
      const finish = async (accuracy: number) => {
        step(1);
        emit({ type: 'evaluation', step: 1, epoch: 0, metrics: { accuracy } });
        emit({ type: 'finished', reason: 'completed', step: 1, seconds: 2 });
        emit({ type: 'trainedWeights', file: new Uint8Array(1), fingerprint: 'f' });
        await settle();
      };
      return { controller, emit, commands, step, finish, grid: () => controller.compare.getState() };
    };

    const first = page();
    // LoRA's LR set in the panel (2e-3): the reloaded pages' runs keep it.
    first.controller.startCompare({ arms: armsOf(['aflora', 'lora'], { method: 'aflora', options: {} }, { lora: 2e-3 }), seeds: [1, 2], metric: 'accuracy' }, base);
    await settle();
    first.emit({ type: 'started', plan });
    await first.finish(0.5);
    // Cell aflora/2 runs, keeps a checkpoint after step 0, and the page reloads.
    expect(first.commands('start').map((c) => [c.config.method.id, c.config.recipe.seed])).toEqual([['aflora', 1], ['aflora', 2]]);
    const interrupted = first.controller.store.getState().run!.id;
    first.emit({ type: 'started', plan });
    first.step(0);
    first.emit({ type: 'checkpoint', checkpoint: checkpoint(1) });
    await settle();

    const second = page();
    await settle();
    expect(second.grid()).toMatchObject({ running: false, grid: { current: { arm: 'aflora', seed: 2, runId: interrupted } } });
    expect(second.grid().grid!.results).toHaveLength(1);
    // Resume: that run from its checkpoint, not a second run of the cell.
    second.controller.resumeCompare();
    await vi.waitFor(() => expect(second.commands('resumeRun')).toHaveLength(1));
    expect(second.commands('start')).toEqual([]);
    const [resumed] = second.commands('resumeRun');
    expect([resumed.config.method.id, resumed.config.recipe.seed, resumed.config.recipe.adapterLr, resumed.checkpoint.trainer.step]).toEqual(['aflora', 2, 1e-2, 1]);
    expect(second.controller.store.getState().run!.id).toBe(interrupted);
    expect(second.grid().running).toBe(true);
    second.emit({ type: 'started', plan });
    await second.finish(0.75);
    const { results } = second.grid().grid!;
    expect(results.map((r) => [r.arm, r.seed, r.runId, r.perEpoch])).toEqual([['aflora', 1, results[0].runId, [0.5]], ['aflora', 2, interrupted, [0.75]]]);
    // The next cell starts; a reload before its first checkpoint runs it again from scratch as a new run.
    expect(second.commands('start').map((c) => [c.config.method.id, c.config.recipe.seed])).toEqual([['lora', 1]]);
    const lost = second.controller.store.getState().run!.id;
    second.emit({ type: 'started', plan });
    second.step(0);
    await settle();

    const third = page();
    await settle();
    third.controller.resumeCompare();
    await vi.waitFor(() => expect(third.commands('start')).toHaveLength(1));
    expect(third.commands('resumeRun')).toEqual([]);
    expect(third.commands('start').map((c) => [c.config.method.id, c.config.recipe.seed, c.config.recipe.adapterLr])).toEqual([['lora', 1, 2e-3]]);
    expect(third.grid().grid!.current).toMatchObject({ arm: 'lora', seed: 1 });
    expect(third.grid().grid!.current!.runId).not.toBe(lost);
    expect(third.grid().grid!.current!.runId).toBe(third.controller.store.getState().run!.id);
    third.emit({ type: 'started', plan });
    third.emit({ type: 'checkpoint', checkpoint: checkpoint(1) });
    await settle();

    // Reloaded again mid-cell, and resumed from the Train panel's offer instead: the grid goes on with it too.
    const fourth = page();
    await settle();
    expect(fourth.controller.store.getState().resumable?.runId).toBe(third.grid().grid!.current!.runId);
    await fourth.controller.resumeInterrupted();
    expect(fourth.grid().running).toBe(true);
    fourth.emit({ type: 'started', plan });
    await fourth.finish(0.6);
    expect(fourth.grid().grid!.results.map((r) => [r.arm, r.seed])).toEqual([['aflora', 1], ['aflora', 2], ['lora', 1]]);
    expect(fourth.commands('start').map((c) => [c.config.method.id, c.config.recipe.seed])).toEqual([['lora', 2]]);
  });

  it('stops the grid when the worker refuses to start a cell, so Resume offers it again', async () => {
    const sent: Command[] = [];
    let listener: (e: WorkerEvent) => void = () => {};
    const controller = createController({ send: (c: Command) => sent.push(c), subscribe: (l: (e: WorkerEvent) => void) => ((listener = l), () => {}) } as never);
    listener({ type: 'modelLoaded', info: { name: 'tiny', hubId: null, revision: null, config: { ...tinyConfig(), numLabels: 2 }, sizeBytes: 1, totalParams: 1, fingerprint: 'f' } as ModelInfo });
    controller.startCompare({ arms: armsOf(['lora'], { method: 'aflora', options: {} }), seeds: [1], metric: 'accuracy' }, base);
    expect(controller.compare.getState().running).toBe(true);
    listener({ type: 'error', kind: 'bad-input', message: 'No data is loaded.', hint: 'Load data first.' });
    expect(controller.compare.getState()).toMatchObject({ running: false, grid: { results: [], current: { arm: 'lora', seed: 1 } } });
  });
});

/** The controller runs a comparison cell by cell: the next run starts only after the previous one's weights are handled. */
import { describe, expect, it } from 'vitest';
import { armsOf } from '../../src/ui/compare';
import { createController } from '../../src/ui/controller';
import { buildRunConfig } from '../../src/worker/run-config';
import type { Command, ModelInfo, TrainingPlan, WorkerEvent } from '../../src/worker/protocol';
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
    expect(starts().map((c) => [c.config.method.id, c.config.recipe.seed])).toEqual([['aflora', 1], ['aflora', 2]]);
    expect(controller.compare.getState().grid!.results.map((r) => r.perEpoch)).toEqual([[0.5]]);
    await finishCell(0.7);
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
});

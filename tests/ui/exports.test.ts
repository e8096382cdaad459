/** The freeze log the export panel downloads: the app's own CSV writer, read back with io's parser. */
import { describe, expect, it } from 'vitest';
import { csvToRecords, freezeLogFromCsv } from '../../src/io/export/logs';
import { freezeLogCsv, freezeLogJson } from '../../src/ui/exports';
import type { RunRecord } from '../../src/ui/state';
import { emptyStepMetrics } from '../../src/worker/events';
import { parseRunConfig } from '../../src/worker/run-config';
import aflora from '../fixtures/run-config/aflora.json';

const A = 'bert.encoder.layer.0.intermediate.dense.lora_A';
const B = 'bert.encoder.layer.1.output.dense.lora_B';

const run: RunRecord = {
  id: 'r1',
  label: 'AFLoRA, "quoted", run',
  createdAt: 1,
  config: parseRunConfig(aflora),
  plan: {
    method: 'aflora',
    totalSteps: 100,
    stepsPerEpoch: 10,
    epochs: 10,
    cells: [
      { name: A, cell: { layer: 0, kind: 'inter', matrix: 'A' } },
      { name: B, cell: { layer: 1, kind: 'out', matrix: 'B' } },
    ],
    trainableParamsAtStart: 10,
    metricNames: ['accuracy'],
    exports: ['peft', 'native', 'pytorch'],
  },
  metrics: emptyStepMetrics(),
  evaluations: [],
  values: [
    { series: 'score', step: 10, names: [A, B], values: Float64Array.of(2e-6, 3e-6) },
    { series: 'score', step: 20, names: [A], values: Float64Array.of(1.25e-7) },
  ],
  schedule: [],
  freezeSteps: { [A]: 20 },
  finished: { reason: 'completed', step: 59, seconds: 3 },
};

describe('freeze log export', () => {
  it('writes one row per matrix (last score, never-frozen as an empty cell) that io reads back', () => {
    const csv = freezeLogCsv(run);
    expect(csv.split('\n')[0]).toBe('name,layer,kind,matrix,frozen_at_step,steps_trained,last_score');
    expect(freezeLogFromCsv(csv)).toEqual([
      { name: A, layer: 0, kind: 'inter', matrix: 'A', frozenAtStep: 20, stepsTrained: 21, lastScore: 1.25e-7 },
      { name: B, layer: 1, kind: 'out', matrix: 'B', frozenAtStep: null, stepsTrained: 60, lastScore: 3e-6 },
    ]);
    expect(csvToRecords(csv)[1].frozen_at_step).toBeNull();
  });

  it('keeps the run config in the JSON log', () => {
    const json = JSON.parse(freezeLogJson(run));
    expect(json.run.config).toEqual(run.config);
    expect(json.matrices).toHaveLength(2);
  });
});

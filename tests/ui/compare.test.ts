/** The Compare panel's page side: arms, seeds, the kept grid, a run's table numbers, the run report, the table. */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { CompareTable } from '../../src/ui/components/ComparePanel';
import { suggestedAdapterLr } from '../../src/methods/catalog';
import { armsOf, cellResultOf, parseArmLr, gridRemaining, gridStatus, loadGrid, parseSeeds, runReport, saveGrid, type CompareGrid } from '../../src/ui/compare';
import { newRun, type RunRecord } from '../../src/ui/state';
import { compareTable, FLOPS_CAPTION, headSize, METRIC_CAPTION, MS_PER_STEP_CAPTION, tableCsv, tableMarkdown } from '../../src/worker/compare';
import { buildRunConfig } from '../../src/worker/run-config';
import { tinyConfig } from '../helpers/tinyBert';

const base = buildRunConfig({
  method: 'aflora',
  options: { initialWarmup: 2, finalWarmup: 4 },
  recipe: { epochs: 2, batchSize: 4 },
  model: { name: 'tiny', hubId: null, revision: null },
  data: { name: 'spam-ham', train: 'train.csv', validation: null, columns: { text: 'text', textPair: null, label: 'label' }, task: 'classification', labels: ['ham', 'spam'] },
});
const model = { ...tinyConfig(), numLabels: 2 };
const head = headSize(model);

/** A finished 2-epoch run of 4 steps per epoch, with an extra "Evaluate now" at step 1. */
function finishedRun(id: string, accuracy: [number, number]): RunRecord {
  const run = newRun({ id, label: id, createdAt: 0, config: base });
  const steps = [0, 1, 2, 3, 4, 5, 6, 7];
  return {
    ...run,
    plan: { method: 'aflora', totalSteps: 8, stepsPerEpoch: 4, epochs: 2, cells: [], trainableParamsAtStart: 1000 + head, metricNames: ['accuracy', 'f1'], exports: [] },
    metrics: {
      step: Float64Array.from(steps),
      epoch: Float64Array.from(steps.map((s) => s / 4)),
      loss: Float64Array.from(steps.map(() => 0.5)),
      lr: Float64Array.from(steps.map(() => 1e-3)),
      trainableParams: Float64Array.from(steps.map((s) => head + (s < 4 ? 1000 : 200))),
    },
    evaluations: [
      { step: 1, epoch: 0, metrics: { accuracy: 0.99 } },
      { step: 3, epoch: 0, metrics: { accuracy: accuracy[0] } },
      { step: 7, epoch: 1, metrics: { accuracy: accuracy[1] } },
    ],
    finished: { reason: 'completed', step: 7, seconds: 4, msPerStep: 500 },
  };
}

describe('compare arms and seeds', () => {
  it('AFLoRA arms take the form’s AFLoRA options with the ablation on top; other methods their defaults', () => {
    const arms = armsOf(['aflora-both', 'aflora-pg', 'aflora-sim', 'lora'], { method: 'aflora', options: { initialWarmup: 7, rank: 2 } });
    expect(arms.map((a) => a.method.id)).toEqual(['aflora', 'aflora', 'aflora', 'lora']);
    expect(arms[0].method.options).toMatchObject({ trainableMatrices: 'both', initialWarmup: 7, rank: 2 });
    expect(arms[1].method.options).toMatchObject({ sensitivity: 'paramGrad', trainableMatrices: 'ffn' });
    expect(arms[2].method.options).toMatchObject({ freezeTogether: true });
    expect(arms[3].method.options).toMatchObject({ r: 8 });
    expect(() => armsOf(['nope'], { method: 'aflora', options: {} })).toThrow(/no comparison arm/);
  });

  it("gives every arm its method's suggested adapter LR, or the one the panel set", () => {
    const form = { method: 'aflora', options: {} };
    const arms = armsOf(['aflora', 'aflora-g', 'lora', 'elora', 'full'], form);
    expect(arms.map((a) => a.adapterLr)).toEqual([1e-2, 1e-2, 5e-4, 4e-3, 2e-5]);
    expect(arms.map((a) => a.adapterLr)).toEqual(['aflora', 'aflora', 'lora', 'elora', 'full'].map(suggestedAdapterLr));
    expect(armsOf(['aflora', 'lora'], form, { lora: 1e-3 }).map((a) => a.adapterLr)).toEqual([1e-2, 1e-3]);
    expect(() => armsOf(['lora'], form, { lora: 0 })).toThrow(/LoRA: the adapter LR/);
    expect(parseArmLr(' 5e-4 ')).toEqual({ lr: 5e-4, problem: null });
    for (const bad of ['', 'abc', '0', '-1e-3', '2']) expect(parseArmLr(bad).problem).toMatch(/above 0 and at most 1/);
  });

  it('parses seeds and says what is wrong', () => {
    expect(parseSeeds('1, 2 3')).toEqual({ seeds: [1, 2, 3], problem: null });
    expect(parseSeeds('').problem).toMatch(/at least one seed/);
    expect(parseSeeds('1, 1').problem).toMatch(/twice/);
    expect(parseSeeds('1.5').problem).toMatch(/whole numbers/);
  });
});

describe('a finished run in the table', () => {
  it('takes the epoch-end metric, trainable counts without the classifier, the worker\'s ms/step', () => {
    const result = cellResultOf(finishedRun('r1', [0.7, 0.6]), { arm: 'aflora', seed: 1 }, 'accuracy', model);
    expect(result.perEpoch).toEqual([0.7, 0.6]); // the step-1 "Evaluate now" (0.99) is not an epoch
    expect(result.avgTrainable).toBe(600);
    expect(result.finalTrainable).toBe(200);
    expect(result.msPerStep).toBe(500); // the worker's StepTimer, not 4 s / 8 steps
    // A run kept before the worker timed its steps has no ms/step (not the whole run's time per step).
    const older = finishedRun('r0', [0.7, 0.6]);
    const untimed = cellResultOf({ ...older, finished: { ...older.finished!, msPerStep: undefined } }, { arm: 'aflora', seed: 1 }, 'accuracy', model);
    expect(untimed.msPerStep).toBeNaN();
    expect(result.runId).toBe('r1');
    expect(result.flopsPerStep).toBeGreaterThan(0);
    const report = runReport(finishedRun('r1', [0.7, 0.6]), model);
    expect(report).toEqual({ metric: 'accuracy', last: { epoch: 2, value: 0.6 }, best: { epoch: 1, value: 0.7 }, avgTrainable: 600 });
  });

  it('marks a failed run: its epochs so far are not averaged as if it had finished', () => {
    const run = finishedRun('r2', [0.9, 0.1]);
    const failed = cellResultOf({ ...run, finished: { reason: 'failed', step: 5, seconds: 3 } }, { arm: 'aflora', seed: 2 }, 'accuracy', model);
    expect(failed).toMatchObject({ arm: 'aflora', seed: 2, runId: 'r2', failed: true });
    expect(cellResultOf(run, { arm: 'aflora', seed: 2 }, 'accuracy', model).failed).toBeUndefined();
    const plan = { arms: armsOf(['aflora'], { method: 'aflora', options: {} }), seeds: [1, 2], metric: 'accuracy' };
    const ok = cellResultOf(finishedRun('r1', [0.7, 0.6]), { arm: 'aflora', seed: 1 }, 'accuracy', model);
    const [row] = compareTable(plan, [ok, failed]);
    expect([row.last.n, row.last.mean, row.runIds]).toEqual([1, 0.6, ['r1']]);
    expect(compareTable(plan, [failed])).toEqual([]);
  });

  it('a grid kept in storage resumes with the cells not done, the interrupted one included', () => {
    const plan = { arms: armsOf(['aflora', 'lora'], { method: 'aflora', options: {} }), seeds: [1, 2], metric: 'accuracy' };
    const done = cellResultOf(finishedRun('r1', [0.7, 0.6]), { arm: 'aflora', seed: 1 }, 'accuracy', model);
    const grid: CompareGrid = { id: 'g', createdAt: 0, plan, base, results: [done], current: { arm: 'aflora', seed: 2, runId: 'r2' }, elapsedSeconds: 4 };
    const storage = new Map<string, string>();
    const fake = { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v), removeItem: (k: string) => void storage.delete(k) };
    saveGrid(grid, fake);
    const back = loadGrid(fake)!;
    expect(back).toEqual(grid);
    expect(back.plan.arms.map((a) => a.adapterLr)).toEqual([1e-2, 5e-4]); // each arm keeps its LR across the reload
    // A grid kept before arms carried an LR: its arms get the shared recipe's, the LR their runs trained with.
    const old = { ...grid, plan: { ...plan, arms: plan.arms.map(({ adapterLr: _lr, ...arm }) => arm) } };
    fake.setItem('aflora-playground.compare', JSON.stringify(old));
    expect(loadGrid(fake)!.plan.arms.map((a) => a.adapterLr)).toEqual([base.recipe.adapterLr, base.recipe.adapterLr]);
    expect(gridRemaining(back)).toEqual([{ arm: 'aflora', seed: 2 }, { arm: 'lora', seed: 1 }, { arm: 'lora', seed: 2 }]);
    // 1 of 4 done in 4 s, the current one half way: 1.5 / 4 done, 4 + 2 s so far -> 10 s left.
    expect(gridStatus(back, { stepsDone: 4, totalSteps: 8, seconds: 2 })).toEqual({ fraction: 0.375, etaSeconds: 10 });
    saveGrid(null, fake);
    expect(loadGrid(fake)).toBeNull();
    fake.setItem('aflora-playground.compare', '{broken');
    expect(loadGrid(fake)).toBeNull();
  });
});

describe('CompareTable', () => {
  it('shows mean ± sd per arm in percent, counts without the classifier, and a link per run', () => {
    const plan = { arms: armsOf(['aflora', 'lora'], { method: 'aflora', options: {} }), seeds: [1, 2], metric: 'accuracy' };
    const results = [
      cellResultOf(finishedRun('a1', [0.7, 0.6]), { arm: 'aflora', seed: 1 }, 'accuracy', model),
      cellResultOf(finishedRun('a2', [0.8, 0.8]), { arm: 'aflora', seed: 2 }, 'accuracy', model),
    ];
    const rows = compareTable(plan, results);
    const opened: string[] = [];
    const html = renderToStaticMarkup(createElement(CompareTable, { rows, metric: 'accuracy', onOpen: (id: string) => opened.push(id) }));
    expect(html).toContain('<td>AFLoRA</td>');
    expect(html).toContain('<td class="num">1e-2</td>'); // the arm's adapter LR
    expect(html).toContain('70.00 ± 14.14'); // last epochs 0.6, 0.8
    expect(html).toContain('75.00 ± 7.07'); // best epochs 0.7, 0.8
    expect(html).toContain('600');
    expect(html).toContain(FLOPS_CAPTION.slice(0, 40)); // the caption says how FLOPs are estimated
    // ...what ms/step leaves out and what ± is (apostrophes are escaped in the markup)
    expect(html).toContain(MS_PER_STEP_CAPTION);
    expect(html).toContain(METRIC_CAPTION.slice(0, 60));
    expect(html.match(/data-testid="compare-run-link"/g)).toHaveLength(2);
    expect(html).not.toContain('<td>LoRA</td>'); // no finished run of that arm yet
    expect(tableMarkdown(rows, 'accuracy')).toContain('| AFLoRA | 1e-2 | 2 | 70.00 ± 14.14 | 75.00 ± 7.07 | 600 | 200 | 500 | 1.00 |');
    const csv = tableCsv(rows).split('\n')[1].split(',').map((v, i) => (i === 0 ? v : Number(v)));
    expect(csv.slice(0, 3)).toEqual(['AFLoRA', 0.01, 2]);
    expect(csv[3]).toBeCloseTo(0.7, 12);
    expect(csv[4]).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(csv[5]).toBeCloseTo(0.75, 12);
    expect(csv[6]).toBeCloseTo(Math.sqrt(0.005), 12);
    expect(csv.slice(7)).toEqual([600, 200, 500, 1]);
  });
});

/** Compare mode's tensor-free core (src/worker/compare.ts): grid order and resume, configs, aggregation, exports. */
import { describe, expect, it } from 'vitest';
import { methodOptions } from '../../src/methods/catalog';
import {
  cellConfig,
  formatLr,
  compareTable,
  estimateStepFlops,
  formatParams,
  gridCells,
  gridProgress,
  nextCell,
  remainingCells,
  spread,
  StepTimer,
  FLOPS_CAPTION,
  METRIC_CAPTION,
  MS_PER_STEP_CAPTION,
  tableCsv,
  tableMarkdown,
  trainableWithoutHead,
  withResult,
  type CellResult,
  type ComparePlan,
} from '../../src/worker/compare';
import { parseRunConfig, type RunConfig } from '../../src/worker/run-config';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyConfig } from '../helpers/tinyBert';

const PLAN: ComparePlan = {
  arms: [
    { id: 'aflora', label: 'AFLoRA', method: { id: 'aflora', options: methodOptions('aflora') }, adapterLr: 1e-2 },
    { id: 'lora', label: 'LoRA', method: { id: 'lora', options: methodOptions('lora') }, adapterLr: 5e-4 },
  ],
  seeds: [1, 2, 3],
  metric: 'accuracy',
};

const result = (
  arm: string,
  seed: number,
  perEpoch: number[],
  extra: Partial<CellResult> = {},
): CellResult => ({
  arm,
  seed,
  perEpoch,
  avgTrainable: 100,
  finalTrainable: 50,
  msPerStep: 10,
  flopsPerStep: arm === 'lora' ? 300 : 200,
  ...extra,
});

describe('compare grid', () => {
  it('runs arm-major and resumes with exactly the cells not done', () => {
    expect(gridCells(PLAN).map((c) => `${c.arm}/${c.seed}`)).toEqual([
      'aflora/1',
      'aflora/2',
      'aflora/3',
      'lora/1',
      'lora/2',
      'lora/3',
    ]);
    expect(
      remainingCells(PLAN, [
        { arm: 'aflora', seed: 2 },
        { arm: 'aflora', seed: 1 },
      ]),
    ).toEqual([
      { arm: 'aflora', seed: 3 },
      { arm: 'lora', seed: 1 },
      { arm: 'lora', seed: 2 },
      { arm: 'lora', seed: 3 },
    ]);
    expect(() => gridCells({ ...PLAN, seeds: [1, 1] })).toThrow(/twice/);
    expect(() => gridCells({ ...PLAN, arms: [] })).toThrow(/at least one/);
  });

  it("gives each cell the base run config with the arm's method, its adapter LR and the seed (and it parses)", () => {
    const base = parseRunConfig(
      JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'run-config', 'aflora.json'), 'utf8')),
    ) as RunConfig;
    const config = cellConfig(base, PLAN, { arm: 'lora', seed: 3 });
    expect(config.method.id).toBe('lora');
    expect(config.recipe.seed).toBe(3);
    expect(config.recipe.adapterLr).toBe(5e-4);
    expect(cellConfig(base, PLAN, { arm: 'aflora', seed: 1 }).recipe.adapterLr).toBe(1e-2);
    expect(config.recipe.classifierLr).toBe(base.recipe.classifierLr);
    expect(config.data).toEqual(base.data);
    expect(parseRunConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  it('goes on with a cell a reload interrupted: from its checkpoint when kept, else from scratch; never skipped or counted', () => {
    const done = [result('aflora', 1, [0.5, 0.6])];
    const current = { arm: 'aflora', seed: 2, runId: 'run-2' };
    const kept = (ids: string[]) => (runId: string) => ids.includes(runId);
    // The interrupted cell's run has a checkpoint: that run goes on (the grid links one run per cell).
    expect(nextCell(PLAN, done, current, kept(['run-2']))).toEqual({ kind: 'resume', cell: { arm: 'aflora', seed: 2 }, runId: 'run-2' });
    // None yet (interrupted before its first checkpoint), or another run's: the same cell again, from scratch.
    expect(nextCell(PLAN, done, current, kept([]))).toEqual({ kind: 'fresh', cell: { arm: 'aflora', seed: 2 } });
    expect(nextCell(PLAN, done, current, kept(['run-1']))).toEqual({ kind: 'fresh', cell: { arm: 'aflora', seed: 2 } });
    // A grid kept before cells carried their run (no runId): from scratch, not resumed from some checkpoint.
    expect(nextCell(PLAN, done, { arm: 'aflora', seed: 2 } as typeof current, () => true)).toEqual({ kind: 'fresh', cell: { arm: 'aflora', seed: 2 } });
    // The interrupted cell comes first even where it is not the grid's next (a seed out of order).
    expect(nextCell(PLAN, done, { arm: 'lora', seed: 3, runId: 'run-9' }, kept([]))).toEqual({ kind: 'fresh', cell: { arm: 'lora', seed: 3 } });
    // A current cell already recorded (its end was saved, the reload came before the next began): the next cell.
    expect(nextCell(PLAN, [...done, result('aflora', 2, [0.7])], current, kept(['run-2']))).toEqual({ kind: 'fresh', cell: { arm: 'aflora', seed: 3 } });
    // No current cell: the first not done; all done: done.
    expect(nextCell(PLAN, done, null, kept(['run-2']))).toEqual({ kind: 'fresh', cell: { arm: 'aflora', seed: 2 } });
    const all = PLAN.seeds.flatMap((seed) => [result('aflora', seed, [0.5]), result('lora', seed, [0.5])]);
    expect(nextCell(PLAN, all, current, kept(['run-2']))).toEqual({ kind: 'done' });
  });

  it('keeps one result per cell: a cell recorded twice (resumed after its end was kept) is not counted twice', () => {
    const first = [result('aflora', 1, [0.5]), result('aflora', 2, [0.9], { runId: 'old' })];
    const again = withResult(first, result('aflora', 2, [0.7], { runId: 'new' }));
    expect(again).toHaveLength(2);
    expect(again.find((r) => r.seed === 2)?.runId).toBe('new');
    const [row] = compareTable(PLAN, again);
    expect(row.last).toEqual(spread([0.5, 0.7]));
    expect(row.runIds).toEqual(['new']); // the first has no run to link
  });

  it('reports progress and an ETA for the whole grid', () => {
    expect(gridProgress(6, 0, 0, 0)).toEqual({ fraction: 0, etaSeconds: null });
    const half = gridProgress(6, 2, 0.5, 50); // 2.5 runs in 50 s -> 3.5 runs left: 70 s
    expect(half.fraction).toBeCloseTo(2.5 / 6, 12);
    expect(half.etaSeconds).toBeCloseTo(70, 9);
  });
});

describe('compare table', () => {
  it('takes mean ± sample sd at the last and the best epoch, trainable without the head, FLOPs relative to the first arm', () => {
    const rows = compareTable(PLAN, [
      result('aflora', 1, [0.5, 0.9, 0.8]),
      result('aflora', 2, [0.6, 0.7, 0.7]),
      result('aflora', 3, [0.9, 0.6, 0.6]),
      result('lora', 1, [0.8, 0.85], { avgTrainable: 400, runId: 'run-7' }),
    ]);
    expect(rows.map((r) => r.arm)).toEqual(['aflora', 'lora']);
    expect(rows[0].last.mean).toBeCloseTo(0.7, 12);
    expect(rows[0].last.sd).toBeCloseTo(0.1, 12);
    expect(rows[0].best.mean).toBeCloseTo(2.5 / 3, 12); // best epochs 0.9, 0.7, 0.9
    expect(rows[0].best).toEqual(spread([0.9, 0.7, 0.9]));
    expect(rows[1].last).toEqual({ mean: 0.85, sd: 0, n: 1 });
    expect(rows[1].relativeFlops).toBeCloseTo(1.5, 12);
    expect(rows[1].runIds).toEqual(['run-7']);
    expect(trainableWithoutHead([1010, 1010, 510], 10)).toEqual({ avg: 2530 / 3 - 10, final: 500 });
  });

  it('picks the lowest epoch for loss-like metrics', () => {
    const rows = compareTable({ ...PLAN, metric: 'mse' }, [result('aflora', 1, [0.5, 0.2, 0.3])]);
    expect(rows[0].best.mean).toBe(0.2);
  });

  it('exports Markdown like the paper (percent, params in M / K) and CSV with full precision', () => {
    const rows = compareTable(PLAN, [
      result('aflora', 1, [0.5, 0.75], { avgTrainable: 140_000, finalTrainable: 20_000 }),
    ]);
    const md = tableMarkdown(rows, 'accuracy');
    expect(md.split('\n')[2]).toBe(
      '| AFLoRA | 1e-2 | 1 | 75.00 ± 0.00 | 75.00 ± 0.00 | 0.14M | 20.0K | 10 | 1.00 |',
    );
    expect(tableCsv(rows).split('\n')[1]).toBe('AFLoRA,0.01,1,0.75,0,0.75,0,140000,20000,10,1');
    expect([5e-4, 2.2e-3, 2e-5, 1].map(formatLr)).toEqual(['5e-4', '2.2e-3', '2e-5', '1e0']);
    // The Markdown says what ms/step leaves out and how the FLOPs are estimated.
    expect(md).toContain(METRIC_CAPTION);
    expect(md).toContain(MS_PER_STEP_CAPTION);
    expect(md).toContain(FLOPS_CAPTION);
    expect(FLOPS_CAPTION).toMatch(/estimate/);
    expect(formatParams(1_327_104)).toBe('1.33M');
  });

  it('estimates FLOPs: frozen adapter matrices cost no weight gradient', () => {
    const config = tinyConfig();
    const all = estimateStepFlops({
      config,
      batchSize: 2,
      seqLen: 8,
      adapterMatrixParams: 1000,
      trainableMatrixParams: 1000,
    });
    const frozen = estimateStepFlops({
      config,
      batchSize: 2,
      seqLen: 8,
      adapterMatrixParams: 1000,
      trainableMatrixParams: 0,
    });
    expect(all - frozen).toBe(2 * 16 * 1000);
  });
});

describe('StepTimer (the table\'s ms/step)', () => {
  it('the table averages ms/step over the runs that timed a step', () => {
    const rows = compareTable(PLAN, [
      result('aflora', 1, [0.5], { msPerStep: 10 }),
      result('aflora', 2, [0.5], { msPerStep: Number.NaN }),
      result('aflora', 3, [0.5], { msPerStep: 20 }),
      result('lora', 1, [0.5], { msPerStep: Number.NaN }),
    ]);
    expect(rows.map((r) => r.msPerStep)).toEqual([15, Number.NaN]);
  });

  it('leaves out the steps before the first read (compile) and the time skipped after a read (evaluation)', () => {
    const timer = new StepTimer();
    expect(timer.msPerStep).toBeNaN();
    timer.skipped(0, 0); // nothing to skip before the first read
    timer.synced(1, 5000); // step 1 with its 5 s compile: not timed
    expect(timer.msPerStep).toBeNaN();
    timer.synced(5, 5040); // 4 steps in 40 ms
    timer.skipped(5, 7040); // a 2 s evaluation
    timer.synced(10, 7090); // 5 steps in 50 ms
    expect(timer.timedSteps).toBe(9);
    expect(timer.msPerStep).toBe(10);
  });

  it('counts a stretch of several steps between two reads as their sum', () => {
    const timer = new StepTimer();
    timer.synced(1, 100);
    timer.synced(11, 400);
    expect(timer.msPerStep).toBe(30);
    timer.skipped(11, 1000);
    timer.synced(11, 1000); // a read without a step adds nothing
    expect(timer.timedSteps).toBe(10);
    expect(timer.msPerStep).toBe(30);
  });
});

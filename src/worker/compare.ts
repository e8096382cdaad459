/**
 * Compare mode, tensor-free: a grid of runs (methods or ablations x seeds on one dataset), the order it runs in and
 * where a reload resumes it, and the paper-style table (AFLoRA Tables 2/3/6) built from the finished runs: mean ± sd
 * of the metric at the last and at the best validation epoch, average and final trainable parameters (classifier
 * excluded, as the paper's Table 1), ms/step and FLOPs per step relative to the first arm. The page, the worker and
 * scripts/proof/compare-builtin.ts all drive this one module.
 */
import { linearTargets, type BertConfig } from '../engine/types';
import type { RunConfig } from './run-config';

/** One row of the table: a method with its options (an ablation is the same method with other options). */
export interface CompareArm {
  id: string;
  label: string;
  method: RunConfig['method'];
  /**
   * The arm's peak adapter learning rate (default: the method's suggested one, catalog suggestedAdapterLr): each
   * method trains at its own paper's LR, not all at the shared recipe's (issue #11).
   */
  adapterLr: number;
}

export interface ComparePlan {
  arms: readonly CompareArm[];
  seeds: readonly number[];
  /** The validation metric of the table (accuracy, f1, matthews, pearson, ...). */
  metric: string;
}

/** One run of the grid. */
export interface GridCell {
  arm: string;
  seed: number;
}

/** What a finished run contributes to the table (plain numbers; a few hundred bytes per run). */
export interface CellResult extends GridCell {
  /** The saved run this cell links to (charts, heatmap). */
  runId?: string;
  /** The table's metric after each epoch, in order. */
  perEpoch: readonly number[];
  /** Trainable parameters without the classifier: averaged over the run's steps, and at its end. */
  avgTrainable: number;
  finalTrainable: number;
  msPerStep: number;
  /** Estimated training FLOPs of an average step (estimateStepFlops). */
  flopsPerStep: number;
  /** The run ended in an error: done (not run again), but its epochs so far are not a result. */
  failed?: boolean;
}

/** Arm-major: every seed of the first arm, then the next arm (a half-done grid already has complete rows). */
export function gridCells(plan: ComparePlan): GridCell[] {
  if (plan.arms.length === 0 || plan.seeds.length === 0)
    throw new Error('a comparison needs at least one method and one seed');
  const ids = new Set(plan.arms.map((a) => a.id));
  if (ids.size !== plan.arms.length) throw new Error('two arms of the comparison have the same id');
  if (new Set(plan.seeds).size !== plan.seeds.length) throw new Error('a seed is listed twice');
  return plan.arms.flatMap((arm) => plan.seeds.map((seed) => ({ arm: arm.id, seed })));
}

const sameCell = (a: GridCell, b: GridCell) => a.arm === b.arm && a.seed === b.seed;

/** The cells still to run, in grid order: what a reload resumes with. */
export function remainingCells(plan: ComparePlan, done: readonly GridCell[]): GridCell[] {
  return gridCells(plan).filter((cell) => !done.some((d) => sameCell(d, cell)));
}

/** The cell a page is running and the run it started as; a reload leaves both in the kept grid. */
export interface RunningCell extends GridCell {
  runId: string;
}

/**
 * What going on with a grid does next. A cell a reload interrupted goes on from its run's checkpoint when one is kept
 * (so the run it links to is that run, not a second one), else it runs again from scratch; it is never counted as
 * done nor skipped. `checkpointOf` answers whether a run has a kept checkpoint.
 */
export type NextCell =
  | { kind: 'resume'; cell: GridCell; runId: string }
  | { kind: 'fresh'; cell: GridCell }
  | { kind: 'done' };

export function nextCell(
  plan: ComparePlan,
  results: readonly GridCell[],
  current: RunningCell | null,
  hasCheckpoint: (runId: string) => boolean,
): NextCell {
  const remaining = remainingCells(plan, results);
  const interrupted = current && remaining.find((cell) => sameCell(cell, current));
  if (interrupted && current.runId && hasCheckpoint(current.runId)) {
    return { kind: 'resume', cell: interrupted, runId: current.runId };
  }
  return remaining.length > 0 ? { kind: 'fresh', cell: interrupted ?? remaining[0] } : { kind: 'done' };
}

/** The results with a finished cell's: one per cell (a cell recorded again replaces its earlier result, never adds a second). */
export function withResult<T extends GridCell>(results: readonly T[], result: T): T[] {
  return [...results.filter((r) => !sameCell(r, result)), result];
}

/** The complete run config of a cell: the shared base (model, data, split, recipe) with the arm's method, its adapter LR and the seed. */
export function cellConfig(base: RunConfig, plan: ComparePlan, cell: GridCell): RunConfig {
  const arm = plan.arms.find((a) => a.id === cell.arm);
  if (!arm) throw new Error(`no arm ${cell.arm} in the comparison`);
  return { ...base, method: arm.method, recipe: { ...base.recipe, adapterLr: arm.adapterLr, seed: cell.seed } } as RunConfig;
}

/**
 * A plan kept before arms carried their LR: each arm gets the shared recipe's, which is what its runs trained with
 * (a resumed grid stays one experiment).
 */
export function withArmLrs(plan: ComparePlan, sharedAdapterLr: number): ComparePlan {
  return { ...plan, arms: plan.arms.map((arm) => (Number.isFinite(arm.adapterLr) ? arm : { ...arm, adapterLr: sharedAdapterLr })) };
}

/** Progress of the whole grid: finished runs, the current run's share, and the time left at the pace so far. */
export function gridProgress(
  total: number,
  finished: number,
  currentFraction: number,
  elapsedSeconds: number,
): { fraction: number; etaSeconds: number | null } {
  const done = Math.min(total, finished + Math.max(0, Math.min(1, currentFraction)));
  const fraction = total > 0 ? done / total : 1;
  const etaSeconds = done > 0 ? (elapsedSeconds / done) * (total - done) : null;
  return { fraction, etaSeconds };
}

export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single run. */
  sd: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, sd: Number.NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

export interface TableRow {
  arm: string;
  label: string;
  adapterLr: number;
  /** Metric after the last epoch, and at each run's best epoch (as the paper reports GLUE dev numbers). */
  last: Spread;
  best: Spread;
  avgTrainable: number;
  finalTrainable: number;
  msPerStep: number;
  /** FLOPs per step relative to the first arm with results. */
  relativeFlops: number;
  runIds: string[];
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const meanOrNaN = (values: readonly number[]) => (values.length > 0 ? mean(values) : Number.NaN);

/** Higher is better for every classification / correlation metric; lower for losses and errors. */
export function lowerIsBetter(metric: string): boolean {
  return /loss|mse|mae|error/i.test(metric);
}

/** The table, one row per arm with at least one completed run, in plan order; failed runs are left out. */
export function compareTable(plan: ComparePlan, results: readonly CellResult[]): TableRow[] {
  const pick = lowerIsBetter(plan.metric) ? Math.min : Math.max;
  const rows: TableRow[] = [];
  for (const arm of plan.arms) {
    const runs = results.filter((r) => r.arm === arm.id && r.perEpoch.length > 0 && !r.failed);
    if (runs.length === 0) continue;
    rows.push({
      arm: arm.id,
      label: arm.label,
      adapterLr: arm.adapterLr,
      last: spread(runs.map((r) => r.perEpoch[r.perEpoch.length - 1])),
      best: spread(runs.map((r) => pick(...r.perEpoch))),
      avgTrainable: mean(runs.map((r) => r.avgTrainable)),
      finalTrainable: mean(runs.map((r) => r.finalTrainable)),
      // Over the runs that timed a step (a run resumed for its last step has none): NaN only if no run did.
      msPerStep: meanOrNaN(runs.map((r) => r.msPerStep).filter(Number.isFinite)),
      relativeFlops: mean(runs.map((r) => r.flopsPerStep)),
      runIds: runs.flatMap((r) => (r.runId ? [r.runId] : [])),
    });
  }
  const reference = rows[0]?.relativeFlops ?? 1;
  for (const row of rows) row.relativeFlops /= reference;
  return rows;
}

/* ------------------------------------------------------------------ per-run numbers */

/**
 * Average and final trainable parameters without the classifier, from the per-step counts a run logs (StepMetrics
 * .trainableParams, classifier included) and the head's size.
 */
export function trainableWithoutHead(
  perStep: readonly number[],
  headSize: number,
): { avg: number; final: number } {
  if (perStep.length === 0) return { avg: 0, final: 0 };
  return { avg: mean(perStep) - headSize, final: perStep[perStep.length - 1] - headSize };
}

/** Classifier parameters of a BERT sequence classifier: weight [labels, hidden] + bias [labels]. */
export function headSize(config: BertConfig): number {
  return config.numLabels * config.hiddenSize + config.numLabels;
}

/**
 * Training FLOPs of one step (multiply-adds x 2), an estimate for comparing methods on one model and batch shape:
 * forward through every linear and attention, backward to the activations (about the forward again; every adapted
 * layer needs it), the adapters' own matmuls forward and backward, and the weight gradients of what trains
 * (a frozen A/B matrix costs none: AFLoRA's saving). Embedding gathers, norms and softmax are left out.
 */
export function estimateStepFlops(input: {
  config: BertConfig;
  batchSize: number;
  seqLen: number;
  /** Parameters of every adapter matrix (trainable or frozen): their forward and input-gradient matmuls run. */
  adapterMatrixParams: number;
  /** Parameters whose weight gradient is computed at an average step (trainable adapter matrices, or base weights). */
  trainableMatrixParams: number;
}): number {
  const { config, batchSize, seqLen } = input;
  const tokens = batchSize * seqLen;
  const linearParams = linearTargets(config).reduce((sum, t) => sum + t.inFeatures * t.outFeatures, 0);
  const attention = config.numLayers * 2 * 2 * batchSize * seqLen * seqLen * config.hiddenSize; // QK^T and PV
  const forward = 2 * tokens * (linearParams + input.adapterMatrixParams) + attention;
  return 2 * forward + 2 * tokens * input.trainableMatrixParams;
}

/**
 * The table's ms/step: training time per step with the first step (its GPU kernel compile) and whatever runs between
 * steps (evaluations, checkpoints, pauses) left out. Steps are enqueued without waiting on the GPU, so time is taken
 * only at a read that ends a stretch of steps: `synced` after such a read, `skipped` after time that is not training.
 * The first `synced` opens the first stretch: the steps before it (the compile) are not timed.
 */
export class StepTimer {
  private from: number | null = null;
  private fromStep = 0;
  private ms = 0;
  private steps = 0;

  /** After a GPU read, with `stepsDone` steps taken and the clock at `now` (ms). */
  synced(stepsDone: number, now: number): void {
    if (this.from !== null) {
      this.ms += now - this.from;
      this.steps += stepsDone - this.fromStep;
    }
    this.from = now;
    this.fromStep = stepsDone;
  }

  /** After time that is not training (an evaluation, a checkpoint, a pause), at a point where the GPU is idle. */
  skipped(stepsDone: number, now: number): void {
    if (this.from === null) return;
    this.from = now;
    this.fromStep = stepsDone;
  }

  /** Steps timed so far (the first stretch's steps are not among them). */
  get timedSteps(): number {
    return this.steps;
  }

  /** Mean ms per timed step; NaN before a second read (a run of one step has no step outside the compile). */
  get msPerStep(): number {
    return this.steps > 0 ? this.ms / this.steps : Number.NaN;
  }
}

/** The FLOPs column's caption (the panel's header title and the Markdown's note): what estimateStepFlops counts. */
export const FLOPS_CAPTION =
  'rel. FLOPs/step: an estimate from the shapes, not a measurement, relative to the first row. Forward = 2 x ' +
  'tokens x (parameters of every linear and adapter matrix) + the attention matmuls; backward to the activations = ' +
  'the forward again; plus 2 x tokens x the parameters that train (averaged over the run: a frozen A/B matrix gets ' +
  'no weight gradient). Embeddings, norms, softmax and the optimizer are left out.';

/** What the metric and count columns hold (the panel's caption and the Markdown's first note). */
export const METRIC_CAPTION =
  'Metric: mean ± sample standard deviation over the seeds, in percent, after the last epoch and at each run\'s best ' +
  'epoch; trainable parameters without the classifier (as the paper\'s Table 1), averaged over the steps and at the end.';

/** The ms/step column's caption: what StepTimer leaves out. */
export const MS_PER_STEP_CAPTION =
  'ms/step: wall time per training step on this backend, without the first step (kernel compile), evaluations and checkpoints.';

/* ------------------------------------------------------------------ export */

const COLUMNS = [
  'method',
  'adapter LR',
  'runs',
  'last',
  'last sd',
  'best',
  'best sd',
  'avg trainable',
  'final trainable',
  'ms/step',
  'rel. FLOPs/step',
];

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '';
}

/** Parameter counts as the paper prints them: 1.33M, 0.14M; small ones in thousands. */
export function formatParams(count: number): string {
  if (count >= 1e5) return `${(count / 1e6).toFixed(2)}M`;
  if (count >= 1e3) return `${(count / 1e3).toFixed(1)}K`;
  return String(Math.round(count));
}

/** A learning rate as the papers print it: 5e-4, 1e-2, 2.2e-3. */
export function formatLr(lr: number): string {
  return Number.isFinite(lr) ? lr.toExponential().replace('e+', 'e') : '';
}

/** Markdown, one row per arm; metric values in percent with 2 decimals, as the paper's tables. */
export function tableMarkdown(rows: readonly TableRow[], metric: string): string {
  const pct = (s: Spread) => `${fixed(100 * s.mean, 2)} ± ${fixed(100 * s.sd, 2)}`;
  const lines = [
    `| method | adapter LR | runs | ${metric} (last epoch) | ${metric} (best epoch) | avg trainable | final trainable | ms/step | rel. FLOPs/step |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${formatLr(r.adapterLr)} | ${r.last.n} | ${pct(r.last)} | ${pct(r.best)} | ${formatParams(r.avgTrainable)} | ${formatParams(r.finalTrainable)} | ${fixed(r.msPerStep, 0)} | ${fixed(r.relativeFlops, 2)} |`,
    ),
    '',
    METRIC_CAPTION,
    '',
    MS_PER_STEP_CAPTION,
    '',
    FLOPS_CAPTION,
  ];
  return lines.join('\n') + '\n';
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** CSV with full precision (metric as a fraction, counts as integers). */
export function tableCsv(rows: readonly TableRow[]): string {
  const lines = [COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [
        r.label,
        String(r.adapterLr),
        String(r.last.n),
        String(r.last.mean),
        String(r.last.sd),
        String(r.best.mean),
        String(r.best.sd),
        String(Math.round(r.avgTrainable)),
        String(Math.round(r.finalTrainable)),
        String(r.msPerStep),
        String(r.relativeFlops),
      ]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

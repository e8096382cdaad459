/**
 * The Compare panel's plain-number side: which arms a user can pick (methods and the paper's ablations), the grid as
 * kept across reloads, and what one finished run contributes to the table. The grid order, resume rule, table and
 * exports themselves are src/worker/compare.ts (shared with scripts/proof/compare-builtin.ts).
 */
import type { BertConfig } from '../engine/types';
import { methodOptions, suggestedAdapterLr, type MethodId } from '../methods/catalog';
import {
  estimateStepFlops,
  gridProgress,
  headSize,
  lowerIsBetter,
  remainingCells,
  trainableWithoutHead,
  withArmLrs,
  type CellResult,
  type CompareArm,
  type ComparePlan,
  type GridCell,
  type RunningCell,
} from '../worker/compare';
import type { RunConfig } from '../worker/run-config';
import type { RunRecord } from './state';

/** One pickable row: AFLoRA variants take the form's AFLoRA options (its schedule) with one thing changed. */
interface ArmChoice {
  id: string;
  label: string;
  group: 'Methods' | 'AFLoRA ablations';
  method: MethodId;
  overrides?: Record<string, unknown>;
}

export const ARM_CHOICES: readonly ArmChoice[] = [
  { id: 'aflora', label: 'AFLoRA', group: 'Methods', method: 'aflora' },
  { id: 'pm-trainable', label: 'PM trainable (no freezing)', group: 'Methods', method: 'pm-trainable' },
  { id: 'pm-frozen', label: 'PM frozen', group: 'Methods', method: 'pm-frozen' },
  { id: 'lora', label: 'LoRA', group: 'Methods', method: 'lora' },
  { id: 'elora', label: 'ELoRA', group: 'Methods', method: 'elora' },
  { id: 'full', label: 'Full fine-tuning', group: 'Methods', method: 'full' },
  { id: 'aflora-ffn', label: 'AFLoRA, A/B in FFN only', group: 'AFLoRA ablations', method: 'aflora', overrides: { trainableMatrices: 'ffn' } },
  { id: 'aflora-both', label: 'AFLoRA, A/B in attention + FFN', group: 'AFLoRA ablations', method: 'aflora', overrides: { trainableMatrices: 'both' } },
  { id: 'aflora-g', label: 'AFLoRA, sensitivity |g|', group: 'AFLoRA ablations', method: 'aflora', overrides: { sensitivity: 'grad' } },
  { id: 'aflora-pg', label: 'AFLoRA, sensitivity |p·g|', group: 'AFLoRA ablations', method: 'aflora', overrides: { sensitivity: 'paramGrad' } },
  { id: 'aflora-gp', label: 'AFLoRA, sensitivity |g/p|', group: 'AFLoRA ablations', method: 'aflora', overrides: { sensitivity: 'gradOverParam' } },
  { id: 'aflora-indep', label: 'AFLoRA, A and B frozen independently', group: 'AFLoRA ablations', method: 'aflora', overrides: { freezeTogether: false } },
  { id: 'aflora-sim', label: 'AFLoRA, A and B frozen simultaneously', group: 'AFLoRA ablations', method: 'aflora', overrides: { freezeTogether: true } },
];

function armChoice(id: string): ArmChoice {
  const choice = ARM_CHOICES.find((c) => c.id === id);
  if (!choice) throw new Error(`no comparison arm ${id}`);
  return choice;
}

/** An arm's adapter LR before the user edits it: its method's suggested one (LoRA 5e-4, AFLoRA 1e-2, ...). */
export function defaultArmLr(id: string): number {
  return suggestedAdapterLr(armChoice(id).method);
}

/**
 * The arms of a plan, in the order picked. The form's options of a method are used where that method is the one in
 * the form (so AFLoRA's schedule in steps carries into every AFLoRA arm); other methods run with their defaults.
 * Each arm trains at `lrs[id]` where the panel set one, else at its method's suggested adapter LR.
 */
export function armsOf(
  ids: readonly string[],
  form: { method: string; options: Record<string, unknown> | undefined },
  lrs: Readonly<Record<string, number>> = {},
): CompareArm[] {
  return ids.map((id) => {
    const choice = armChoice(id);
    const own = form.method === choice.method ? (form.options ?? {}) : {};
    const options = methodOptions(choice.method, { ...own, ...choice.overrides });
    const adapterLr = lrs[id] ?? defaultArmLr(id);
    if (!(Number.isFinite(adapterLr) && adapterLr > 0 && adapterLr <= 1)) throw new Error(`${choice.label}: the adapter LR must be a number in (0, 1]`);
    return { id, label: choice.label, method: { id: choice.method, options } as RunConfig['method'], adapterLr };
  });
}

/** The panel's per-arm LR field: a problem in words, or the LR. */
export function parseArmLr(text: string): { lr: number; problem: string | null } {
  const lr = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(lr) || lr <= 0 || lr > 1) return { lr: Number.NaN, problem: 'An adapter LR is a number above 0 and at most 1 (e.g. 5e-4).' };
  return { lr, problem: null };
}

/** "1, 2, 3" -> [1, 2, 3]; a problem in words (the panel shows it), or the seeds. */
export function parseSeeds(text: string): { seeds: number[]; problem: string | null } {
  const parts = text.split(/[\s,]+/).filter((p) => p !== '');
  const seeds = parts.map(Number);
  if (seeds.length === 0) return { seeds: [], problem: 'List at least one seed (e.g. 1, 2, 3).' };
  if (seeds.some((s) => !Number.isSafeInteger(s) || s < 0)) return { seeds: [], problem: 'Seeds are whole numbers ≥ 0, separated by commas.' };
  if (new Set(seeds).size !== seeds.length) return { seeds: [], problem: 'A seed is listed twice.' };
  if (seeds.length > MAX_SEEDS) return { seeds: [], problem: `At most ${MAX_SEEDS} seeds.` };
  return { seeds, problem: null };
}
export const MAX_SEEDS = 10;

/** The table's metric for a task: the first one the run reports (accuracy, or Pearson for regression). */
export function compareMetric(task: RunConfig['data']['task']): string {
  return task === 'regression' ? 'pearson' : 'accuracy';
}

/** A comparison as kept in the browser (localStorage) between reloads: a few hundred bytes per finished run. */
export interface CompareGrid {
  id: string;
  createdAt: number;
  plan: ComparePlan;
  /** Model, data, split and recipe shared by every cell (the form's run config when the grid started). */
  base: RunConfig;
  results: CellResult[];
  /** The cell running now and its run (after a reload: resumed from that run's checkpoint, or run again without one). */
  current: RunningCell | null;
  /** Seconds the finished cells took (the grid's ETA is their pace). */
  elapsedSeconds: number;
}

const GRID_KEY = 'aflora-playground.compare';

export function saveGrid(grid: CompareGrid | null, storage: Pick<Storage, 'setItem' | 'removeItem'> = localStorage): void {
  if (grid === null) storage.removeItem(GRID_KEY);
  else storage.setItem(GRID_KEY, JSON.stringify(grid));
}

/** The kept grid, or null (none, or unreadable: a broken entry is not worth an error). */
export function loadGrid(storage: Pick<Storage, 'getItem'> = localStorage): CompareGrid | null {
  try {
    const text = storage.getItem(GRID_KEY);
    if (!text) return null;
    const grid = JSON.parse(text) as CompareGrid;
    if (!(grid && Array.isArray(grid.results) && grid.plan && Array.isArray(grid.plan.arms))) return null;
    return { ...grid, plan: withArmLrs(grid.plan, grid.base.recipe.adapterLr) };
  } catch {
    return null;
  }
}

export function gridTotal(grid: CompareGrid): number {
  return grid.plan.arms.length * grid.plan.seeds.length;
}

export function gridRemaining(grid: CompareGrid): GridCell[] {
  return remainingCells(grid.plan, grid.results);
}

/** Whole-grid progress and ETA, with the running cell's share from its step count. */
export function gridStatus(grid: CompareGrid, current: { stepsDone: number; totalSteps: number; seconds: number } | null) {
  const fraction = current && current.totalSteps > 0 ? current.stepsDone / current.totalSteps : 0;
  return gridProgress(gridTotal(grid), grid.results.length, fraction, grid.elapsedSeconds + (current?.seconds ?? 0));
}

/**
 * What a finished run adds to the table: its metric after each epoch (the epoch-end evaluations; an extra "Evaluate
 * now" is left out), trainable parameters without the classifier, ms per step as the worker's StepTimer took it
 * (without the first step's kernel compile, evaluations and checkpoints; NaN for a run kept without it), and the
 * FLOPs estimate. A failed run is marked: done, but its epochs so far are no result (the table leaves it out, the
 * panel names it).
 * The FLOPs use the run's counts: every adapter parameter at the start runs forward and backward, the average
 * trainable count gets a weight gradient (full fine-tuning: no adapter, the base weights that train).
 */
export function cellResultOf(run: RunRecord, cell: GridCell, metric: string, model: BertConfig): CellResult {
  const plan = run.plan;
  const labels = run.config.data.task === 'regression' ? 1 : run.config.data.labels.length;
  const config = { ...model, numLabels: labels };
  const head = headSize(config);
  const { avg, final } = trainableWithoutHead(Array.from(run.metrics.trainableParams), head);
  const perEpoch = epochEndValues(run, metric).map((e) => e.value);
  const full = run.config.method.id === 'full';
  const atStart = plan ? plan.trainableParamsAtStart - head : 0;
  return {
    arm: cell.arm,
    seed: cell.seed,
    runId: run.id,
    ...(run.finished?.reason === 'failed' ? { failed: true } : {}),
    perEpoch,
    avgTrainable: avg,
    finalTrainable: final,
    msPerStep: run.finished?.msPerStep ?? Number.NaN,
    flopsPerStep: estimateStepFlops({
      config,
      batchSize: run.config.recipe.batchSize,
      seqLen: Math.min(run.config.recipe.maxLength, model.maxPositions),
      adapterMatrixParams: full ? 0 : atStart,
      trainableMatrixParams: avg,
    }),
  };
}

/** The metric at each epoch end (1-based epochs, in order); an extra "Evaluate now" in between is left out. */
export function epochEndValues(run: RunRecord, metric: string): { epoch: number; value: number }[] {
  const plan = run.plan;
  if (!plan) return [];
  const byStep = new Map<number, number>();
  for (const e of run.evaluations) {
    const epochEnd = (e.step + 1) % plan.stepsPerEpoch === 0 || e.step === plan.totalSteps - 1;
    const value = e.metrics[metric];
    if (epochEnd && Number.isFinite(value)) byStep.set(e.step, value);
  }
  return [...byStep].sort((a, b) => a[0] - b[0]).map(([step, value]) => ({ epoch: Math.ceil((step + 1) / plan.stepsPerEpoch), value }));
}

/** The run view's report (issue #11): its metric at the last and at the best epoch, and trainable counts without the classifier. */
export function runReport(run: RunRecord, model: BertConfig): { metric: string; last: { epoch: number; value: number } | null; best: { epoch: number; value: number } | null; avgTrainable: number | null } {
  const metric = run.plan?.metricNames[0] ?? compareMetric(run.config.data.task);
  const values = epochEndValues(run, metric);
  const lower = lowerIsBetter(metric);
  const best = values.reduce<{ epoch: number; value: number } | null>((b, v) => (b === null || (lower ? v.value < b.value : v.value > b.value) ? v : b), null);
  const labels = run.config.data.task === 'regression' ? 1 : run.config.data.labels.length;
  const counts = Array.from(run.metrics.trainableParams);
  return {
    metric,
    last: values[values.length - 1] ?? null,
    best,
    avgTrainable: counts.length > 0 ? trainableWithoutHead(counts, headSize({ ...model, numLabels: labels })).avg : null,
  };
}

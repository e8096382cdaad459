/**
 * The page's state and its reducer: worker events and UI intents in, plain data out.
 * Pure (timestamps arrive inside actions) so it is unit-tested without a DOM.
 */
import type { Execution, ExecutionReport } from '../engine/recipe';
import { concatStepMetrics, emptyStepMetrics } from '../worker/events';
import type {
  DataPreview,
  ErrorKind,
  Evaluation,
  ExportFormat,
  FinishReason,
  ModelInfo,
  Phase,
  Prediction,
  ScheduleEntry,
  BudgetEntry,
  StepMetricsBatch,
  TrainingPlan,
  ValueSnapshot,
  WorkerError,
  WorkerEvent,
} from '../worker/protocol';
import type { RunConfig } from '../worker/run-config';

/** A training run as shown and as kept in IndexedDB. */
export interface RunRecord {
  id: string;
  label: string;
  createdAt: number;
  /** Everything the run was (the start command's config). */
  config: RunConfig;
  plan: TrainingPlan | null;
  metrics: StepMetricsBatch;
  evaluations: Evaluation[];
  /** The method's live values (AFLoRA: freezing scores), by series. */
  values: ValueSnapshot[];
  schedule: ScheduleEntry[];
  /** A rank method's total rank over steps (scheduled vs held). Absent in runs saved before rank methods. */
  budget?: BudgetEntry[];
  /** The step each cell froze at, from the run's freeze events. */
  freezeSteps: Record<string, number>;
  /** msPerStep: the worker's StepTimer (no compile step, evaluations, checkpoints); absent in runs kept before it. */
  finished: { reason: FinishReason; step: number; seconds: number; msPerStep?: number } | null;
  /** Imported from this file (not trained here): its weights are in the worker, it has no metrics. */
  imported?: string;
  /** Its trained weights are kept in IndexedDB (runsDb), with the fingerprint of the model they belong to. */
  keptWeights?: { fingerprint: string };
  /** How its steps ran, as of the last metrics read (absent in runs saved before #12's report). */
  execution?: ExecutionReport;
}

export interface Throughput {
  /** Wall time (ms) and step of the first metrics batch: the compile time is excluded from the rate. */
  firstAt: number | null;
  firstStep: number;
  lastAt: number | null;
  lastStep: number;
  /** Steps per second (smoothed). */
  stepsPerSecond: number;
}

/** A run a reload interrupted, kept in IndexedDB with its last checkpoint (runsDb): what the Train panel offers to resume. */
export interface ResumeOffer {
  runId: string;
  label: string;
  /** Steps done at the checkpoint: the resumed run continues with the next one. */
  step: number;
  totalSteps: number;
  modelName: string;
  /** The training file it was on (config.data.train). */
  dataFile: string;
  /** Fingerprints the loaded model and data must have (RunCheckpoint.model / .data). */
  model: string;
  data: string;
}

export interface ErrorItem extends WorkerError {
  id: number;
}

export type LoadStatus = 'none' | 'loading' | 'ready' | 'error';
export type TrainingStatus = 'idle' | 'starting' | 'running' | 'pausing' | 'paused' | 'stopping' | 'finished';

export interface AppState {
  backend: { name: 'webgpu' | 'cpu' | 'wasm'; fallbackReason?: string; adapter?: string } | null;
  model: { status: LoadStatus; info: ModelInfo | null };
  data: { status: LoadStatus; preview: DataPreview | null };
  progress: Partial<Record<Phase, { done: number; total: number; message?: string }>>;
  training: TrainingStatus;
  run: RunRecord | null;
  overlay: RunRecord | null;
  throughput: Throughput;
  errors: ErrorItem[];
  nextErrorId: number;
  prediction: Prediction | null;
  lastExport: { format: ExportFormat; names: string[] } | null;
  /** Display names of the loaded data's classes, by their value in the file (SST-2's 0 -> negative). */
  labelNames: Record<string, string>;
  /** Settings the form cannot take as typed, by `section.key`: each blocks Train with its message. */
  formProblems: Record<string, string>;
  /** The run whose weights the worker holds (trained, imported or restored there): Export and Try it work for it. */
  inWorker: string | null;
  /** Whether that run was trained in this worker session (it has its data: Evaluate now works), not imported or restored. */
  inWorkerTrained: boolean;
  /** The answer to the last housekeeping action (cleared cache, deleted runs). */
  notice: string | null;
  /** The current run's resume state: the step of its last checkpoint kept in IndexedDB, or why it has none. */
  checkpoint: { runId: string; step: number | null; refused: string | null } | null;
  /** An interrupted run that can be resumed (found after a reload). */
  resumable: ResumeOffer | null;
}

export type Action =
  | { type: 'worker'; event: WorkerEvent; at: number }
  | { type: 'modelRequested' }
  /** `newFiles`: other files than the ones shown (their label names start over). */
  | { type: 'dataRequested'; newFiles?: boolean }
  /** A class shown (and predicted, and exported) under another name; '' = its own. */
  | { type: 'renameLabel'; label: string; name: string }
  | { type: 'startRequested'; id: string; label: string; createdAt: number; config: RunConfig }
  | { type: 'pauseRequested' }
  | { type: 'stopRequested' }
  /** A kept run shown instead of the current one (not while a run is going). */
  | { type: 'restoreRun'; run: RunRecord }
  /** The current run's weights are kept (IndexedDB). */
  | { type: 'weightsKept'; runId: string; fingerprint: string }
  /** A run's kept weights are gone from IndexedDB (the run was deleted, every run was, or they were not found); null: all runs. */
  | { type: 'weightsGone'; runId: string | null }
  | { type: 'notice'; text: string | null }
  /** The current run's checkpoint at `step` is in IndexedDB. */
  | { type: 'checkpointKept'; runId: string; step: number }
  /** The interrupted run found in IndexedDB (null: none, or discarded). */
  | { type: 'resumable'; offer: ResumeOffer | null }
  /** The interrupted run shown as it stood at its checkpoint, while the worker resumes it. */
  | { type: 'resumeRequested'; run: RunRecord; step: number }
  | { type: 'setOverlay'; run: RunRecord | null }
  | { type: 'dismissError'; id: number }
  | { type: 'localError'; kind: ErrorKind; message: string; hint: string }
  /** A settings field's problem (null: fixed, or the field is gone). */
  | { type: 'formProblem'; key: string; problem: string | null };

const EMPTY_THROUGHPUT: Throughput = { firstAt: null, firstStep: 0, lastAt: null, lastStep: 0, stepsPerSecond: 0 };

export const INITIAL_STATE: AppState = {
  backend: null,
  model: { status: 'none', info: null },
  data: { status: 'none', preview: null },
  progress: {},
  training: 'idle',
  run: null,
  overlay: null,
  throughput: EMPTY_THROUGHPUT,
  errors: [],
  nextErrorId: 1,
  prediction: null,
  lastExport: null,
  labelNames: {},
  formProblems: {},
  inWorker: null,
  inWorkerTrained: false,
  notice: null,
  checkpoint: null,
  resumable: null,
};

export function newRun(init: Pick<RunRecord, 'id' | 'label' | 'createdAt' | 'config'>): RunRecord {
  return {
    ...init,
    plan: null,
    metrics: emptyStepMetrics(),
    evaluations: [],
    values: [],
    schedule: [],
    budget: [],
    freezeSteps: {},
    finished: null,
  };
}

/** Smoothing of the steps/s estimate: responsive but not jumpy. */
const RATE_SMOOTHING = 0.3;

function updateThroughput(t: Throughput, lastStep: number, at: number): Throughput {
  if (t.firstAt === null || t.lastAt === null) return { ...t, firstAt: at, firstStep: lastStep, lastAt: at, lastStep };
  const dt = (at - t.lastAt) / 1000;
  const ds = lastStep - t.lastStep;
  if (dt <= 0 || ds <= 0) return { ...t, lastStep: Math.max(lastStep, t.lastStep) };
  const instant = ds / dt;
  const stepsPerSecond = t.stepsPerSecond === 0 ? instant : RATE_SMOOTHING * instant + (1 - RATE_SMOOTHING) * t.stepsPerSecond;
  return { ...t, lastAt: at, lastStep, stepsPerSecond };
}

/** Seconds left at the current rate, null when unknown. */
export function etaSeconds(state: AppState): number | null {
  const plan = state.run?.plan;
  const rate = state.throughput.stepsPerSecond;
  if (!plan || rate <= 0) return null;
  return Math.max(0, (plan.totalSteps - 1 - state.throughput.lastStep) / rate);
}

function withRun(state: AppState, update: (run: RunRecord) => RunRecord): AppState {
  return state.run ? { ...state, run: update(state.run) } : state;
}

function addError(state: AppState, error: Omit<ErrorItem, 'id'>): AppState {
  // The same error twice in a row (e.g. a retried load) is shown once.
  const last = state.errors[state.errors.length - 1];
  if (last && last.kind === error.kind && last.message === error.message) return state;
  return { ...state, errors: [...state.errors, { ...error, id: state.nextErrorId }], nextErrorId: state.nextErrorId + 1 };
}

function reduceWorkerEvent(state: AppState, event: WorkerEvent, at: number): AppState {
  switch (event.type) {
    case 'backend':
      return { ...state, backend: { name: event.name, fallbackReason: event.fallbackReason, adapter: event.adapter } };
    case 'progress':
      return { ...state, progress: { ...state.progress, [event.phase]: { done: event.done, total: event.total, message: event.message } } };
    case 'modelLoaded':
      // A new model replaces the worker's run (its weights were for the old one).
      return { ...state, model: { status: 'ready', info: event.info }, progress: { ...state.progress, download: undefined }, inWorker: null };
    case 'dataPreview':
      return { ...state, data: { status: event.preview.usable ? 'ready' : 'error', preview: event.preview } };
    case 'started':
      return {
        ...withRun(state, (run) => ({ ...run, plan: event.plan })),
        training: 'running',
        throughput: EMPTY_THROUGHPUT,
        inWorker: state.run?.id ?? null,
        inWorkerTrained: true,
        // The interrupted run is going again: no longer on offer.
        resumable: state.resumable?.runId === state.run?.id ? null : state.resumable,
      };
    case 'paused':
      return { ...state, training: state.training === 'stopping' ? 'stopping' : 'paused' };
    case 'resumed':
      return { ...state, training: state.training === 'stopping' ? 'stopping' : 'running', throughput: { ...state.throughput, lastAt: at } };
    case 'stepMetrics': {
      const n = event.batch.step.length;
      if (n === 0) return state;
      const next = withRun(state, (run) => ({ ...run, metrics: concatStepMetrics(run.metrics, event.batch) }));
      return { ...next, throughput: updateThroughput(state.throughput, event.batch.step[n - 1], at) };
    }
    case 'execution':
      return withRun(state, (run) => ({ ...run, execution: event.report }));
    case 'values':
      return withRun(state, (run) => ({ ...run, values: [...run.values, ...event.snapshots] }));
    case 'schedule':
      return withRun(state, (run) => ({ ...run, schedule: [...run.schedule, ...event.entries] }));
    case 'budget':
      return withRun(state, (run) => ({ ...run, budget: [...(run.budget ?? []), ...event.entries] }));
    case 'freeze':
      return withRun(state, (run) => {
        const freezeSteps = { ...run.freezeSteps };
        // The first freeze of a matrix counts: freezing is permanent.
        for (const entry of event.entries) freezeSteps[entry.name] ??= entry.step;
        return { ...run, freezeSteps };
      });
    case 'evaluation':
      return withRun(state, (run) => ({
        ...run,
        evaluations: [...run.evaluations, { step: event.step, epoch: event.epoch, metrics: event.metrics }],
      }));
    case 'prediction': {
      const { type: _type, ...prediction } = event;
      return { ...state, prediction };
    }
    case 'exported':
      return { ...state, lastExport: { format: event.format, names: event.files.map((f) => f.name) } };
    case 'error': {
      const { type: _type, ...error } = event;
      const next = addError(state, error);
      // A failed load leaves nothing loaded (the worker dropped the old one too): the panels and Train say so,
      // instead of showing the previous model or data as if it were the one picked.
      const model = state.model.status === 'loading' ? { status: 'error' as const, info: null } : state.model;
      const data = state.data.status === 'loading' ? { status: 'error' as const, preview: null } : state.data;
      const training = state.training === 'starting' ? 'idle' : state.training;
      return { ...next, model, data, training };
    }
    case 'adapterImported': {
      const run = newRun({ id: `imported-${at}`, label: `Imported · ${event.file}`, createdAt: Date.now(), config: event.config });
      return { ...state, run: { ...run, plan: event.plan, imported: event.file }, training: 'idle', prediction: null, inWorker: run.id, inWorkerTrained: false };
    }
    case 'weightsRestored':
      return { ...state, inWorker: event.runId, inWorkerTrained: false };
    case 'trainedWeights':
    case 'checkpoint':
      return state;
    case 'checkpointRefused':
      return state.run ? { ...state, checkpoint: { runId: state.run.id, step: null, refused: `${event.error.message} ${event.error.hint}` } } : state;
    case 'modelCacheCleared':
      return { ...state, notice: `Deleted ${event.files} downloaded model file${event.files === 1 ? '' : 's'} from this browser's cache.` };
    case 'finished':
      return {
        ...withRun(state, (run) => ({ ...run, finished: { reason: event.reason, step: event.step, seconds: event.seconds, msPerStep: event.msPerStep } })),
        training: 'finished',
        progress: { ...state.progress, train: undefined, compile: undefined },
      };
  }
}

export function reducer(state: AppState, action: Action): AppState {
  switch (action.type) {
    case 'worker':
      return reduceWorkerEvent(state, action.event, action.at);
    case 'modelRequested':
      return { ...state, model: { status: 'loading', info: state.model.info }, data: state.data };
    case 'dataRequested':
      return { ...state, data: { status: 'loading', preview: state.data.preview }, labelNames: action.newFiles ? {} : state.labelNames };
    case 'renameLabel': {
      const { [action.label]: _old, ...rest } = state.labelNames;
      const name = action.name.trim();
      return { ...state, labelNames: name === '' || name === action.label ? rest : { ...rest, [action.label]: name } };
    }
    case 'startRequested':
      return {
        ...state,
        training: 'starting',
        throughput: EMPTY_THROUGHPUT,
        progress: { download: state.progress.download },
        run: newRun({ id: action.id, label: action.label, createdAt: action.createdAt, config: action.config }),
        checkpoint: null,
      };
    case 'resumeRequested':
      if (isActive(state.training)) return state;
      return {
        ...state,
        training: 'starting',
        throughput: EMPTY_THROUGHPUT,
        progress: { download: state.progress.download },
        run: { ...action.run, finished: null },
        checkpoint: { runId: action.run.id, step: action.step, refused: null },
        prediction: null,
        lastExport: null,
      };
    case 'checkpointKept':
      return state.run?.id === action.runId ? { ...state, checkpoint: { runId: action.runId, step: action.step, refused: null } } : state;
    case 'resumable':
      return { ...state, resumable: action.offer };
    // The buttons answer at once; the worker confirms when the step it is on has ended ('paused', 'finished').
    case 'pauseRequested':
      return state.training === 'running' ? { ...state, training: 'pausing' } : state;
    case 'stopRequested':
      return state.training === 'running' || state.training === 'pausing' || state.training === 'paused' ? { ...state, training: 'stopping' } : state;
    case 'restoreRun':
      if (isActive(state.training) || state.run?.id === action.run.id) return state;
      return { ...state, run: action.run, training: action.run.finished ? 'finished' : 'idle', prediction: null, lastExport: null, throughput: EMPTY_THROUGHPUT };
    case 'notice':
      return { ...state, notice: action.text };
    case 'weightsKept':
      return withRun(state, (run) => (run.id === action.runId ? { ...run, keptWeights: { fingerprint: action.fingerprint } } : run));
    case 'weightsGone':
      return withRun(state, (run) => {
        if ((action.runId !== null && run.id !== action.runId) || !run.keptWeights) return run;
        const { keptWeights: _gone, ...rest } = run;
        return rest;
      });
    case 'setOverlay':
      return { ...state, overlay: action.run };
    case 'dismissError':
      return { ...state, errors: state.errors.filter((e) => e.id !== action.id) };
    case 'localError':
      return addError(state, { kind: action.kind, message: action.message, hint: action.hint });
    case 'formProblem': {
      if ((state.formProblems[action.key] ?? null) === action.problem) return state;
      const { [action.key]: _old, ...rest } = state.formProblems;
      return { ...state, formProblems: action.problem === null ? rest : { ...rest, [action.key]: action.problem } };
    }
  }
}

/** Why Train cannot start now, in words a user can act on; null when it can (or a run is already going). */
export function startBlocker(state: AppState): string | null {
  const { model, data } = state;
  if (isActive(state.training)) return null;
  if (model.status === 'loading') return 'The model is still loading…';
  if (model.status === 'error' || !model.info) return model.status === 'error' ? 'No model is loaded: the last load failed (see the message above); load one in 1 · Model.' : 'Load a model first (1 · Model).';
  if (data.status === 'loading') return 'Reading the data…';
  if (!data.preview) return data.status === 'error' ? 'No data is loaded: the last file could not be read (see the message above).' : 'Pick a sample dataset or drop a file (2 · Data).';
  if (data.preview.reason) return `The data cannot train yet: ${data.preview.reason}`;
  const problems = Object.values(state.formProblems);
  if (problems.length > 0) return `Fix ${problems.length === 1 ? 'this setting' : 'these settings'} first: ${problems.join('; ')}.`;
  return null;
}

/** What the run is doing now, in words (null: no run going): the Train panel's status line. */
const PATH_LABELS: Record<Execution, string> = { replayed: 'replayed steps', engine: 'engine', plain: 'plain TF.js' };

/** The Train panel's line on how steps run: "replayed steps (n of m steps)" or "engine (not replayed: why)". */
export function executionText(report: ExecutionReport): string {
  const label = PATH_LABELS[report.path];
  const count = `${report.replayedSteps} of ${report.steps} steps`;
  if (report.reason === null) return `${label} (${count})`;
  return `${label} (not replayed: ${report.reason})${report.replayedSteps > 0 ? ` · ${count} replayed` : ''}`;
}

export function phaseText(state: AppState): string | null {
  const { progress, training } = state;
  const busy = (p: { done: number; total: number } | undefined) => p !== undefined && p.total > 0 && p.done < p.total;
  const secondsPerStep = state.throughput.stepsPerSecond > 0 ? 1 / state.throughput.stepsPerSecond : null;
  const stepTime = secondsPerStep !== null && secondsPerStep >= 1 ? ` (a step takes about ${Math.round(secondsPerStep)} s)` : '';
  switch (training) {
    case 'starting':
      return busy(progress.tokenize) ? `Tokenizing ${progress.tokenize!.total} rows…` : 'Preparing the run…';
    case 'pausing':
      return `Pausing after this step${stepTime}…`;
    case 'stopping':
      return busy(progress.compile)
        ? 'Stopping after the first step: it is compiling GPU kernels and cannot be interrupted.'
        : busy(progress.evaluate)
          ? 'Stopping: the evaluation ends after its current batch…'
          : `Stopping after this step${stepTime}…`;
    case 'paused':
      return 'Paused: Resume to go on, or Stop to end the run here (it stays exportable).';
    case 'running':
      if (busy(progress.compile)) return 'Compiling GPU kernels: the first step takes longest (seconds to minutes on a slow GPU)…';
      if (busy(progress.evaluate)) return `Evaluating on ${progress.evaluate!.total} validation rows…`;
      return 'Training';
    default:
      return null;
  }
}

/**
 * The resume offer as the Train panel shows it: null when there is none (or a run is going); else whether it can
 * resume now, or what to load first (the model and the rows it was training on, by fingerprint).
 */
export function resumeOffer(state: Pick<AppState, 'resumable' | 'training' | 'model' | 'data'>): { offer: ResumeOffer; blocker: string | null } | null {
  const offer = state.resumable;
  if (!offer || isActive(state.training)) return null;
  const { model, data } = state;
  if (model.status !== 'ready' || !model.info || model.info.fingerprint !== offer.model) {
    return { offer, blocker: `Load ${offer.modelName} (the same files) to resume it.` };
  }
  if (data.status !== 'ready' || data.preview?.fingerprint !== offer.data) {
    return {
      offer,
      blocker: data.preview?.files.train === offer.dataFile ? `The loaded ${offer.dataFile} maps to other rows: pick the same columns and validation split as the run had.` : `Load ${offer.dataFile} (the same rows) to resume it.`,
    };
  }
  return { offer, blocker: null };
}

/** The newest evaluation of the run (the Train panel's current validation numbers). */
export function latestEvaluation(run: RunRecord | null): Evaluation | null {
  return run && run.evaluations.length > 0 ? run.evaluations[run.evaluations.length - 1] : null;
}

/** The worker holds trained weights for the current run: trained there, imported, or restored from IndexedDB. */
export function hasWeights(state: AppState): boolean {
  return state.run !== null && state.inWorker === state.run.id;
}

/** Why a shown run cannot be exported or tried yet (null: it can, or there is no run). */
export function weightsNote(state: AppState): string | null {
  const run = state.run;
  if (!run || hasWeights(state) || isActive(state.training) || state.training === 'starting') return null;
  if (!run.keptWeights) return run.finished?.reason === 'failed' ? 'This run failed: its weights were not kept.' : "This run's weights were not kept: train it again to export or try it.";
  if (state.model.status !== 'ready' || !state.model.info) return `Load ${run.config.model.name} to export or try this run.`;
  if (state.model.info.fingerprint !== run.keptWeights.fingerprint) return `This run was trained on ${run.config.model.name}, not on the loaded ${state.model.info.name}: load that model to export or try it.`;
  return 'Putting the kept weights back on the model…';
}

/** A run is going (starting, paused and stopping included): model, data and settings are locked. */
export function isActive(training: TrainingStatus): boolean {
  return training === 'starting' || training === 'running' || training === 'pausing' || training === 'paused' || training === 'stopping';
}

/* ------------------------------------------------------------------ derived views (plain numbers) */

/** Latest value of every cell in one series (with `atStep`: as it stood after that step). */
export function latestValues(snapshots: readonly ValueSnapshot[], series: string, atStep = Infinity): Record<string, number> {
  const out: Record<string, number> = {};
  for (const snapshot of snapshots) {
    if (snapshot.series !== series || snapshot.step > atStep) continue;
    snapshot.names.forEach((name, i) => {
      out[name] = snapshot.values[i];
    });
  }
  return out;
}

/** The steps at which one series has a snapshot, ascending and distinct: the frames a scrubber steps through. */
export function seriesSteps(snapshots: readonly ValueSnapshot[], series: string): number[] {
  const steps: number[] = [];
  for (const snapshot of snapshots) {
    if (snapshot.series === series && snapshot.step !== steps[steps.length - 1]) steps.push(snapshot.step);
  }
  return steps.sort((a, b) => a - b).filter((step, i, all) => i === 0 || step !== all[i - 1]);
}

/** Per-cell lines of one series: steps shared by its snapshots, values[name][k] at steps[k] (NaN where absent). */
export function valueSeries(snapshots: readonly ValueSnapshot[], series: string): { steps: number[]; values: Record<string, number[]> } {
  const steps: number[] = [];
  const values: Record<string, number[]> = {};
  snapshots.filter((s) => s.series === series).forEach((snapshot, k) => {
    steps.push(snapshot.step);
    snapshot.names.forEach((name, i) => {
      values[name] ??= new Array(k).fill(Number.NaN);
      values[name].push(snapshot.values[i]);
    });
    for (const series of Object.values(values)) if (series.length < k + 1) series.push(Number.NaN);
  });
  return { steps, values };
}

/** Mean trainable parameters over the logged steps (the paper's "average trainable parameters"). */
export function averageTrainable(run: RunRecord | null): number | null {
  const values = run?.metrics.trainableParams;
  if (!values || values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** A run's summary as a run list shows it (W&B's summary row): its primary metric, trainable parameters, time. */
export interface RunDigest {
  metric: string | null;
  final: number | null;
  best: number | null;
  /** Mean trainable parameters over the logged steps. */
  avgTrainable: number | null;
  seconds: number | null;
  steps: number;
  reason: FinishReason | null;
}

/** Lower is better only for the losses and errors (mse); every other metric is higher-is-better. */
const LOWER_IS_BETTER = new Set(['loss', 'mse']);

export function runDigest(run: RunRecord): RunDigest {
  const metric = run.plan?.metricNames[0] ?? null;
  const values = metric ? run.evaluations.map((e) => e.metrics[metric]).filter((v) => Number.isFinite(v)) : [];
  const lower = metric !== null && LOWER_IS_BETTER.has(metric);
  return {
    metric,
    final: values.length > 0 ? values[values.length - 1] : null,
    best: values.length > 0 ? (lower ? Math.min(...values) : Math.max(...values)) : null,
    avgTrainable: averageTrainable(run),
    seconds: run.finished?.seconds ?? null,
    steps: run.finished ? run.finished.step + 1 : run.metrics.step.length,
    reason: run.finished?.reason ?? null,
  };
}

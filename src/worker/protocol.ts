/**
 * The typed message protocol between the page (src/worker/client.ts) and the training worker
 * (src/worker/worker.ts). Everything here is structured-clone friendly: plain objects, numbers,
 * strings, typed arrays, Blobs. No tensors cross this boundary, and no parsed data: the worker reads the
 * files, the page gets a preview. Payloads are derived from the engine's and the methods' types.
 */
import type { MethodEvent, ViewCell } from '../engine/adapter';
import type { TrainerCheckpoint } from '../engine/checkpoint';
import type { Execution, ExecutionReport } from '../engine/recipe';
import type { StepMetrics } from '../engine/trainer';
import type { ErrorPayload } from '../engine/errors';
import type { BertConfig } from '../engine/types';
import type { Task } from '../io/datasets/dataset';
import type { TextEncoding } from '../io/datasets/encoding';
import type { MethodId } from '../methods/catalog';
import type { DataColumns, DataSplit, ModelRef, RunConfig } from './run-config';

export { ENCODING_LABELS, TEXT_ENCODINGS, type TextEncoding } from '../io/datasets/encoding';

/* ------------------------------------------------------------------ commands (page -> worker) */

export type ModelSource =
  /** The app's own small BERT under public/models/builtin/ (absolute URL of that folder). */
  | { kind: 'builtin'; baseUrl: string }
  | { kind: 'hub'; id: string; revision: string }
  /** config.json, the weights and the tokenizer files (tokenizer.json, vocab.txt, vocab.json + merges.txt or spm.model) picked from disk. */
  | { kind: 'files'; files: File[] };

/** A CSV / TSV / JSONL file as the page hands it over (the name tells the format); the worker reads it. */
export type DataFile = { name: string; url: string } | { name: string; blob: Blob } | { name: string; text: string };

export interface DataInput {
  name: string;
  train: DataFile;
  validation: DataFile | null;
  /** The files' text encoding as the user chose it; absent or null: detected per file. */
  encoding?: TextEncoding | null;
}

/** `pytorch`: the run as a PyTorch + PEFT + accelerate project (io/export/pytorch.ts), one zip. */
export type ExportFormat = 'peft' | 'native' | 'pytorch';

export type Command =
  /** `columns` / `task`: a sample dataset's own mapping; null = guess from the file. */
  | { type: 'loadModel'; source: ModelSource }
  | { type: 'loadData'; data: DataInput; columns: DataColumns | null; task: Task | null; split: DataSplit }
  /** Another mapping or split of the loaded files (no new read). */
  | { type: 'mapData'; columns: DataColumns; task: Task; split: DataSplit }
  /** `execution`: how steps run (engine/recipe.ts EXECUTION_SCHEMA; default replayed, plain off WebGPU). */
  | { type: 'start'; config: RunConfig; execution?: Execution }
  /** A run interrupted by a reload, continued from its last checkpoint as if it had not stopped. */
  | { type: 'resumeRun'; config: RunConfig; checkpoint: RunCheckpoint; execution?: Execution }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'evaluate' }
  | { type: 'predict'; requestId: number; text: string; pair?: string }
  | { type: 'export'; format: ExportFormat }
  /** A trained adapter (native file, or PEFT LoRA files / zip) onto the loaded model: Try it and Export use it. */
  | { type: 'importAdapter'; files: File[] }
  /** A kept run's weights (its `trainedWeights` file) back onto the loaded model, for predictions and export. */
  | { type: 'restoreWeights'; runId: string; file: Uint8Array; fingerprint: string }
  /** Empties the downloaded-model cache (Cache Storage); the loaded model stays loaded. */
  | { type: 'clearModelCache' };

/* ------------------------------------------------------------------ events (worker -> page) */

export type Phase = 'download' | 'tokenize' | 'compile' | 'train' | 'evaluate';

export type { ErrorKind, LineProblem } from '../engine/errors';
/** What went wrong, and what to do about it. */
export type WorkerError = ErrorPayload;

export interface ModelInfo extends ModelRef {
  config: BertConfig;
  /** Bytes of the weights file(s). */
  sizeBytes: number;
  totalParams: number;
  /** Config and sampled weights hashed (io/model/fingerprint): kept weights go back only onto the same model. */
  fingerprint: string;
}

/** A problem in the data, by file and line (none for whole-file problems). */
export interface DataProblem {
  file: string;
  line: number | null;
  message: string;
}

/** The loaded data as the page shows it: the worker parsed it, decided the mapping and whether it is usable. */
export interface DataPreview {
  name: string;
  files: { train: string; validation: string | null };
  /** Columns of the training file. */
  columns: string[];
  /** Its first rows with their source lines. */
  rows: { line: number; cells: string[] }[];
  rowCount: number;
  /** null: no text or label column could be found. */
  mapping: DataColumns | null;
  task: Task;
  /** Classification: each class with its rows in the train and validation parts. */
  labels: { name: string; train: number; validation: number }[];
  /** Regression: the target range of the training part. */
  range: { min: number; max: number } | null;
  trainRows: number;
  validationRows: number;
  pair: boolean;
  split: DataSplit;
  /** The first problems (rows skipped, by line; whole-file errors), `problemCount` counts them all. */
  problems: DataProblem[];
  problemCount: number;
  /** Things worth knowing that skip nothing (no header row, many classes). */
  notes: string[];
  /** Per file: the encoding it was read with and why (null: handed over as text). */
  encoding: { train: string | null; validation: string | null };
  /** The encoding used for the training file (what an override starts from); null: handed over as text. */
  encodingUsed: TextEncoding | null;
  /** The mapped rows hashed (worker/data: datasetFingerprint): a checkpoint resumes only on the same rows. */
  fingerprint: string | null;
  /** Whether a run can start on it; `reason` says why not. */
  usable: boolean;
  reason: string | null;
}

type Columns<T> = { [K in keyof T]: Float64Array };

/** The per-step numbers the page charts (a picked view of the engine's StepMetrics). */
export type MetricRow = Pick<StepMetrics, 'step' | 'epoch' | 'loss' | 'lr' | 'trainableParams'>;
/** Column-wise step metrics: index i of every array is one optimizer step. */
export type StepMetricsBatch = Columns<MetricRow>;

type EventOf<T extends MethodEvent['type']> = Omit<Extract<MethodEvent, { type: T }>, 'type'>;

/** A method's 'values' event as columns: names[i] has values[i] at `step`. */
export interface ValueSnapshot {
  series: string;
  step: number;
  names: string[];
  values: Float64Array;
}
export type ScheduleEntry = EventOf<'schedule'>;
export type FreezeEntry = EventOf<'freeze'>;
export type BudgetEntry = EventOf<'budget'>;

export interface TrainingPlan {
  method: MethodId;
  totalSteps: number;
  stepsPerEpoch: number;
  epochs: number;
  /** The cells of the method's live view (heatmap rows x columns), by name. */
  cells: ViewCell[];
  trainableParamsAtStart: number;
  /** Metric names evaluate() reports, the first is the primary one. */
  metricNames: string[];
  /** Export formats this run offers. */
  exports: ExportFormat[];
}

export interface Evaluation {
  step: number;
  epoch: number;
  metrics: Record<string, number>;
}

export interface Prediction {
  requestId: number;
  labels: string[];
  probabilities: number[];
  /** Regression: the predicted value. */
  value?: number;
}

/**
 * A running run's state between two steps (after a metrics flush), for resuming it after a reload: what the
 * Trainer needs, the time trained so far, and fingerprints of the model and the rows it must resume on.
 */
export interface RunCheckpoint {
  trainer: TrainerCheckpoint;
  seconds: number;
  /** ModelInfo.fingerprint of the model it trains. */
  model: string;
  /** DataPreview.fingerprint of the rows it trains on. */
  data: string;
}

export type FinishReason = 'completed' | 'stopped' | 'failed';

export type WorkerEvent =
  | { type: 'backend'; name: 'webgpu' | 'cpu' | 'wasm'; fallbackReason?: string; adapter?: string }
  | { type: 'progress'; phase: Phase; done: number; total: number; message?: string }
  | { type: 'modelLoaded'; info: ModelInfo }
  | { type: 'dataPreview'; preview: DataPreview }
  | { type: 'started'; plan: TrainingPlan }
  | { type: 'paused'; step: number }
  | { type: 'resumed'; step: number }
  | { type: 'stepMetrics'; batch: StepMetricsBatch }
  /** How the steps just read ran (replayed, or why not): after every stepMetrics. */
  | { type: 'execution'; report: ExecutionReport }
  | { type: 'values'; snapshots: ValueSnapshot[] }
  | { type: 'schedule'; entries: ScheduleEntry[] }
  | { type: 'freeze'; entries: FreezeEntry[] }
  | { type: 'budget'; entries: BudgetEntry[] }
  | ({ type: 'evaluation' } & Evaluation)
  | ({ type: 'prediction' } & Prediction)
  | { type: 'exported'; format: ExportFormat; files: { name: string; bytes: Uint8Array }[] }
  | ({ type: 'error' } & WorkerError)
  /** `seconds`: the whole run (compile, evaluations, checkpoints included); `msPerStep`: compare.ts StepTimer's, NaN if unmeasured. */
  | { type: 'finished'; reason: FinishReason; step: number; seconds: number; msPerStep?: number }
  /** The run can be resumed from here after a reload (every ~30 s and at epoch ends and pauses, after the step's events). */
  | { type: 'checkpoint'; checkpoint: RunCheckpoint }
  /** This run is not checkpointed (too big for a checkpoint, see io/limits): a reload loses it. Once per run. */
  | { type: 'checkpointRefused'; error: WorkerError }
  /** An imported adapter is ready on the loaded model; `config` is its run config (as exported, or derived from PEFT's). */
  | { type: 'adapterImported'; file: string; format: 'native' | 'peft'; config: RunConfig; plan: TrainingPlan }
  /**
   * After a completed or stopped run (following its 'finished'): its trained variables as the native file, to keep
   * with the run (the page keeps bytes, never tensors), and the fingerprint of the model they belong to.
   */
  | { type: 'trainedWeights'; file: Uint8Array; fingerprint: string }
  /** A kept run's weights are on the loaded model again: predictions and export work for it. */
  | { type: 'weightsRestored'; runId: string; plan: TrainingPlan }
  /** `files`: how many cached files were deleted. */
  | { type: 'modelCacheCleared'; files: number };

/** One postMessage from the worker: the events gathered since the previous flush, in order. */
export interface EventBatchMessage {
  events: WorkerEvent[];
}

/** Compile-time exhaustiveness check for switches over the unions above. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}

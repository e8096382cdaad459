/**
 * The typed message protocol between the page (src/worker/client.ts) and the training worker
 * (src/worker/worker.ts). Everything here is structured-clone friendly: plain objects, numbers,
 * strings, typed arrays, File objects. No tensors cross this boundary.
 */
import type { Recipe } from '../engine/recipe';
import type { BertConfig, MatrixId } from '../engine/types';

/* ------------------------------------------------------------------ commands (page -> worker) */

export type ModelSource =
  /** The app's own small BERT under public/models/builtin/ (absolute URL of that folder). */
  | { kind: 'builtin'; baseUrl: string }
  | { kind: 'hub'; id: string; revision: string }
  /** config.json, model.safetensors, vocab.txt / tokenizer.json picked from disk. */
  | { kind: 'files'; files: File[] };

/**
 * The rows as the page read them (a sample dataset from public/datasets or the user's files):
 * CSV/TSV/JSONL text; the file names tell the format.
 */
export interface DataInput {
  name: string;
  train: { fileName: string; text: string };
  validation?: { fileName: string; text: string };
}

/** Which columns hold what (column names of the file's header). */
export interface ColumnMapping {
  text: string;
  /** Second segment for sentence-pair tasks. */
  textPair: string | null;
  label: string;
  /** 'regression' = numeric labels, one output (MSE). */
  task: 'classification' | 'regression';
}

export interface ValidationSpec {
  /** Fraction of train rows held out when no validation file is given. */
  fraction: number;
  seed: number;
}

export type MethodId = 'aflora' | 'lora' | 'elora' | 'pm-trainable' | 'pm-frozen' | 'full';

export type { Recipe };

export type ExportFormat = 'peft' | 'native';

export type Command =
  | { type: 'loadModel'; source: ModelSource }
  | { type: 'loadData'; data: DataInput; mapping: ColumnMapping; validation: ValidationSpec }
  | { type: 'start'; method: MethodId; options: Record<string, unknown>; recipe: Recipe }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'evaluate' }
  | { type: 'predict'; requestId: number; text: string; pair?: string }
  | { type: 'export'; format: ExportFormat };

export type CommandType = Command['type'];

/* ------------------------------------------------------------------ events (worker -> page) */

export type Phase = 'download' | 'tokenize' | 'compile' | 'train';

export type ErrorKind =
  | 'webgpu-unavailable'
  | 'device-lost'
  | 'bad-input'
  | 'nan-loss'
  | 'unsupported-model'
  | 'out-of-memory'
  | 'internal';

export interface ModelInfo {
  name: string;
  config: BertConfig;
  /** Bytes of the weights file(s). */
  sizeBytes: number;
  totalParams: number;
}

export interface DataInfo {
  name: string;
  trainRows: number;
  validationRows: number;
  labels: string[];
  pair: boolean;
  regression: boolean;
}

/** Column-wise step metrics: index i of every array is one optimizer step. */
export interface StepMetricsBatch {
  step: Float64Array;
  epoch: Float64Array;
  loss: Float64Array;
  lr: Float64Array;
  trainableParams: Float64Array;
}

export interface ScoreSnapshot {
  step: number;
  /** Parallel arrays: names[i] has score values[i]. */
  names: string[];
  values: Float64Array;
}

export interface ScheduleEntry {
  step: number;
  remaining: number;
  threshold: number;
  trainableFraction: number;
}

export interface FreezeEntry {
  step: number;
  name: string;
  matrix: MatrixId;
}

export interface TrainingPlan {
  method: MethodId;
  totalSteps: number;
  stepsPerEpoch: number;
  epochs: number;
  /** Every freezable A/B matrix of the run (Figure 5 cells), by variable name. */
  matrices: { name: string; matrix: MatrixId }[];
  trainableParamsAtStart: number;
  /** Metric names evaluate() reports, the first is the primary one. */
  metricNames: string[];
}

export type WorkerEvent =
  | { type: 'backend'; name: 'webgpu' | 'cpu' | 'wasm'; fallbackReason?: string; adapter?: string }
  | { type: 'progress'; phase: Phase; done: number; total: number; message?: string }
  | { type: 'modelLoaded'; info: ModelInfo }
  | { type: 'dataLoaded'; info: DataInfo }
  | { type: 'started'; plan: TrainingPlan }
  | { type: 'paused'; step: number }
  | { type: 'resumed'; step: number }
  | { type: 'stepMetrics'; batch: StepMetricsBatch }
  | { type: 'scores'; snapshots: ScoreSnapshot[] }
  | { type: 'schedule'; entries: ScheduleEntry[] }
  | { type: 'freeze'; entries: FreezeEntry[] }
  | { type: 'evaluation'; step: number; epoch: number; metrics: Record<string, number> }
  | { type: 'prediction'; requestId: number; labels: string[]; probabilities: number[]; value?: number }
  | { type: 'exported'; format: ExportFormat; files: { name: string; bytes: Uint8Array }[] }
  | {
      type: 'error';
      kind: ErrorKind;
      message: string;
      hint: string;
      lines?: { line: number; message: string }[];
    }
  | { type: 'finished'; reason: 'completed' | 'stopped' | 'failed'; step: number; seconds: number };

export type WorkerEventType = WorkerEvent['type'];

/** One postMessage from the worker: the events gathered since the previous flush, in order. */
export interface EventBatchMessage {
  events: WorkerEvent[];
}

/** Compile-time exhaustiveness check for switches over the unions above. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}

export function emptyStepMetrics(): StepMetricsBatch {
  return {
    step: new Float64Array(0),
    epoch: new Float64Array(0),
    loss: new Float64Array(0),
    lr: new Float64Array(0),
    trainableParams: new Float64Array(0),
  };
}

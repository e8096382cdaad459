/**
 * The worker's engine/io side: model and data loading, the trainer, evaluation, prediction, export.
 * PLACEHOLDER until src/engine/trainer.ts and the io model/dataset/export modules land: every call
 * reports that the engine is not wired yet.
 */
import type { ColumnMapping, DataInfo, DataInput, ExportFormat, MethodId, ModelInfo, ModelSource, Recipe, TrainingPlan, ValidationSpec, WorkerEvent } from './protocol';
import type { MethodEvent } from '../methods/types';

/** Input the user can fix (bad rows, missing files): shown with its line numbers. */
export class BadInputError extends Error {
  constructor(message: string, readonly hint: string, readonly lines?: { line: number; message: string }[]) {
    super(message);
    this.name = 'BadInputError';
  }
}

/** A model this app cannot run (not BERT, unsupported activation, ...). */
export class UnsupportedInputError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'UnsupportedInputError';
  }
}

export interface MetricRow {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  trainableParams: number;
}

export interface TrainerHandle {
  plan: TrainingPlan;
  step(): Promise<MethodEvent[]>;
  flushMetrics(): Promise<MetricRow[]>;
  evaluate(): Promise<Record<string, number>>;
  /** Copies the adapter to the CPU (kept for export after a device loss). */
  snapshot(): Promise<void>;
}

const NOT_WIRED = 'the training engine is not wired into the worker yet';

export class Session {
  constructor(private readonly emit: (event: WorkerEvent) => void) {}

  async loadModel(_source: ModelSource): Promise<ModelInfo> {
    this.emit({ type: 'progress', phase: 'download', done: 0, total: 0 });
    throw new Error(NOT_WIRED);
  }

  loadData(_data: DataInput, _mapping: ColumnMapping, _validation: ValidationSpec): DataInfo {
    throw new Error(NOT_WIRED);
  }

  async createTrainer(_method: MethodId, _options: Record<string, unknown>, _recipe: Recipe): Promise<TrainerHandle> {
    throw new Error(NOT_WIRED);
  }

  async evaluateNow(): Promise<{ step: number; epoch: number; metrics: Record<string, number> }> {
    throw new Error(NOT_WIRED);
  }

  async predict(_text: string, _pair?: string): Promise<{ labels: string[]; probabilities: number[]; value?: number }> {
    throw new Error(NOT_WIRED);
  }

  async exportAdapter(_format: ExportFormat, _useSnapshot: boolean): Promise<{ name: string; bytes: Uint8Array }[]> {
    throw new Error(NOT_WIRED);
  }
}

/**
 * The worker's engine/io side: loads the model (io/model), reads the rows (io/datasets), builds the
 * Trainer (engine), evaluates, predicts and exports (io/export). Tensor-free outwards: everything it
 * returns is plain numbers, strings and typed arrays for the protocol.
 */
import { UnsupportedModelError } from '../engine/config';
import type { EvalMetrics } from '../engine/metrics';
import { Trainer, type StepMetrics } from '../engine/trainer';
import type { MatrixId, StateDict } from '../engine/types';
import { encodeExamples, prepareDataset, type DatasetIssue, type PreparedDataset } from '../io/datasets';
import { exportNative } from '../io/export/native';
import { exportPeftAdapter } from '../io/export/peft';
import { loadModel, type LoadedModel, type ModelSource as IoModelSource } from '../io/model/model-source';
import type { MethodEvent } from '../engine/adapter';
import { adapterMethod } from '../methods/registry';
import type {
  ColumnMapping,
  DataInfo,
  DataInput,
  ExportFormat,
  MethodId,
  ModelInfo,
  ModelSource,
  Recipe,
  TrainingPlan,
  ValidationSpec,
  WorkerEvent,
} from './protocol';

/** Input the user can fix (bad rows, missing files): shown with its line numbers. */
export class BadInputError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly lines?: { line: number; message: string }[],
  ) {
    super(message);
    this.name = 'BadInputError';
  }
}

/** A model this app cannot run (not BERT, unsupported activation, ...). */
export class UnsupportedInputError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'UnsupportedInputError';
  }
}

export type MetricRow = Pick<StepMetrics, 'step' | 'epoch' | 'loss' | 'lr' | 'trainableParams'>;

export interface TrainerHandle {
  plan: TrainingPlan;
  step(): Promise<MethodEvent[]>;
  flushMetrics(): Promise<MetricRow[]>;
  evaluate(): Promise<Record<string, number>>;
  /** Copies the adapter to the CPU (kept for export after a device loss). */
  snapshot(): Promise<void>;
}

/** Engine metric names -> the UI's (settings.ts MetricName), plus the loss. */
function metricRecord(metrics: EvalMetrics, loss: number): Record<string, number> {
  const out: Record<string, number> = {};
  const rename: Record<string, string> = { mcc: 'matthews' };
  for (const [key, value] of Object.entries(metrics)) if (typeof value === 'number') out[rename[key] ?? key] = value;
  out.loss = loss;
  return out;
}

function issueLines(issues: readonly DatasetIssue[]): { line: number; message: string }[] {
  return issues.map((i) => ({ line: i.line ?? 0, message: `${i.file}: ${i.message}` }));
}

export class Session {
  private model: LoadedModel | null = null;
  private data: { prepared: PreparedDataset; name: string } | null = null;
  private trainer: Trainer | null = null;
  private run: { method: MethodId; options: Record<string, unknown>; recipe: Recipe; seqLen: number; freezeSteps: Record<string, number> } | null = null;
  private lastGoodState: StateDict | null = null;

  constructor(private readonly emit: (event: WorkerEvent) => void) {}

  async loadModel(source: ModelSource): Promise<ModelInfo> {
    const ioSource: IoModelSource =
      source.kind === 'builtin'
        ? { kind: 'url', baseUrl: source.baseUrl, label: 'built-in tiny BERT' }
        : source.kind === 'hub'
          ? { kind: 'hub', repo: source.id, revision: source.revision }
          : { kind: 'files', files: source.files };
    let loaded: LoadedModel;
    try {
      loaded = await loadModel(ioSource, {
        onProgress: (p) => this.emit({ type: 'progress', phase: 'download', done: p.loaded, total: p.total ?? 0, message: p.file }),
      });
    } catch (error) {
      if (error instanceof UnsupportedModelError) throw new UnsupportedInputError(error.message, 'Pick a BERT checkpoint (model_type "bert").');
      throw error;
    }
    this.disposeTrainer();
    this.model = loaded;
    for (const warning of loaded.warnings) console.warn(warning);
    const sizeBytes = Object.values(loaded.sizes).reduce((a, b) => a + b, 0);
    return { name: loaded.name, config: loaded.config, sizeBytes, totalParams: loaded.parameterCount };
  }

  loadData(data: DataInput, mapping: ColumnMapping, validation: ValidationSpec): DataInfo {
    const prepared = prepareDataset(
      { name: data.train.fileName, text: data.train.text },
      {
        validation: data.validation && { name: data.validation.fileName, text: data.validation.text },
        mapping: { text: mapping.text, textPair: mapping.textPair, label: mapping.label },
        task: mapping.task,
        validationFraction: validation.fraction > 0 ? validation.fraction : undefined,
        seed: validation.seed,
      },
    );
    if (prepared.train.length < 2 || prepared.validation.length < 1) {
      throw new BadInputError(
        `${data.name}: not enough usable rows (${prepared.train.length} train, ${prepared.validation.length} validation).`,
        'Fix the rows listed below, or pick other columns.',
        issueLines(prepared.errors),
      );
    }
    this.data = { prepared, name: data.name };
    return {
      name: data.name,
      trainRows: prepared.train.length,
      validationRows: prepared.validation.length,
      labels: prepared.labels,
      pair: prepared.train.some((r) => r.textPair !== null),
      regression: prepared.task === 'regression',
    };
  }

  async createTrainer(methodId: MethodId, options: Record<string, unknown>, recipe: Recipe): Promise<TrainerHandle> {
    const model = this.model;
    const data = this.data;
    if (!model) throw new BadInputError('No model is loaded.', 'Load a model first.');
    if (!data) throw new BadInputError('No data is loaded.', 'Pick a sample dataset or drop a file first.');
    const method = adapterMethod(methodId, options);
    const known = { ...method.options };

    const { prepared } = data;
    const regression = prepared.task === 'regression';
    const config = { ...model.config, numLabels: regression ? 1 : prepared.labels.length };
    const seqLen = Math.min(recipe.maxLength, config.maxPositions);
    this.emit({ type: 'progress', phase: 'tokenize', done: 0, total: prepared.train.length + prepared.validation.length });
    const encode = (rows: typeof prepared.train) => {
      const encoded = encodeExamples(model.tokenizer, rows, prepared.task, seqLen);
      return { count: encoded.n, seqLen: encoded.maxLength, inputIds: encoded.inputIds, tokenTypeIds: encoded.tokenTypeIds, attentionMask: encoded.attentionMask, labels: encoded.labels };
    };
    const train = encode(prepared.train);
    const validation = encode(prepared.validation);
    this.emit({ type: 'progress', phase: 'tokenize', done: prepared.train.length + prepared.validation.length, total: prepared.train.length + prepared.validation.length });

    this.disposeTrainer();
    // The Trainer's default: fused kernels on WebGPU (about 4x fewer dispatches per step), composites elsewhere.
    const trainer = new Trainer({ config, weights: model.weights, method, train, validation, recipe });
    this.trainer = trainer;
    this.lastGoodState = null;
    const run = { method: methodId, options: known, recipe, seqLen, freezeSteps: {} as Record<string, number> };
    this.run = run;

    const matrices = trainer.runtime.cells.map((c) => ({ name: c.name, matrix: c.cell as MatrixId }));
    const plan: TrainingPlan = {
      method: methodId,
      totalSteps: trainer.totalSteps,
      stepsPerEpoch: trainer.stepsPerEpoch,
      epochs: recipe.epochs,
      matrices,
      trainableParamsAtStart: trainer.trainableParamCount(),
      metricNames: regression ? ['pearson', 'spearman', 'mse'] : ['accuracy', 'f1', 'matthews'],
    };
    return {
      plan,
      step: async () => {
        const events = await trainer.step();
        for (const e of events) if (e.type === 'freeze') run.freezeSteps[e.name] ??= e.step;
        return events;
      },
      flushMetrics: () => trainer.flushMetrics(),
      evaluate: async () => {
        const result = await trainer.evaluate();
        return metricRecord(result.metrics, result.loss);
      },
      snapshot: async () => {
        this.lastGoodState = await trainer.adapterState();
      },
    };
  }

  async evaluateNow(): Promise<{ step: number; epoch: number; metrics: Record<string, number> }> {
    const trainer = this.requireTrainer();
    const result = await trainer.evaluate();
    const step = Math.max(0, trainer.stepsDone - 1);
    return { step, epoch: Math.floor(step / trainer.stepsPerEpoch), metrics: metricRecord(result.metrics, result.loss) };
  }

  async predict(text: string, pair?: string): Promise<{ labels: string[]; probabilities: number[]; value?: number }> {
    const trainer = this.requireTrainer();
    const { prepared } = this.data!;
    const encoded = encodeExamples(this.model!.tokenizer, [{ text, textPair: pair ?? null, label: 0, line: 0 }], prepared.task, this.run!.seqLen);
    const output = await trainer.predict({
      count: 1,
      seqLen: encoded.maxLength,
      inputIds: encoded.inputIds,
      tokenTypeIds: encoded.tokenTypeIds,
      attentionMask: encoded.attentionMask,
      labels: encoded.labels,
    });
    if (prepared.task === 'regression') return { labels: [], probabilities: [], value: output[0] };
    return { labels: prepared.labels, probabilities: Array.from(output) };
  }

  /** After a device loss only the last CPU snapshot (taken at each evaluation) can be exported. */
  async exportAdapter(format: ExportFormat, fromSnapshot: boolean): Promise<{ name: string; bytes: Uint8Array }[]> {
    const run = this.run;
    if (!run || !this.model) throw new BadInputError('Nothing to export yet.', 'Train a run first.');
    let state: StateDict;
    if (fromSnapshot) {
      if (!this.lastGoodState) throw new BadInputError('The GPU was lost before the first evaluation: no adapter was saved.', 'Reload and train again.');
      state = this.lastGoodState;
    } else {
      state = await this.requireTrainer().adapterState();
    }
    const baseModel = this.model.name;
    if (format === 'peft') {
      const adapter = exportPeftAdapter({ variables: state, baseModel, loraAlpha: typeof run.options.alpha === 'number' ? run.options.alpha : undefined });
      const encoder = new TextEncoder();
      return [
        { name: 'adapter_config.json', bytes: encoder.encode(adapter.files['adapter_config.json']) },
        { name: 'adapter_model.safetensors', bytes: adapter.files['adapter_model.safetensors'] },
      ];
    }
    const freezeLog: Record<string, number | null> = {};
    for (const c of this.trainer?.runtime.cells ?? []) freezeLog[c.name] = run.freezeSteps[c.name] ?? null;
    const bytes = exportNative({
      method: run.method,
      options: run.options,
      run: { recipe: run.recipe, model: baseModel, data: this.data?.name ?? null, labels: this.data?.prepared.labels ?? [], task: this.data?.prepared.task ?? null },
      freezeLog,
      baseModel,
      variables: state,
    });
    return [{ name: `${run.method}-adapter.safetensors`, bytes }];
  }

  private requireTrainer(): Trainer {
    if (!this.trainer) throw new BadInputError('No trained model yet.', 'Train a run first.');
    return this.trainer;
  }

  private disposeTrainer(): void {
    this.trainer?.dispose();
    this.trainer = null;
  }
}

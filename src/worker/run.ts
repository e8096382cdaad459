/**
 * One training run, owned here from its config to its export: the Trainer, the step loop with pause / resume /
 * stop, evaluations at epoch ends, the CPU copy of the adapter kept in case the GPU is lost, predictions and the
 * export files. It reports through `emit`; the metrics and the method's events go out as protocol events.
 */
import { DEFAULT_EXECUTION, type Execution } from '../engine/recipe';
import type { EvalMetrics } from '../engine/metrics';
import { maxSequenceLength } from '../engine/families';
import { Trainer, type StepMetrics } from '../engine/trainer';
import type { EncodedExamples, StateDict } from '../engine/types';
import { encodeExamples, type PreparedDataset } from '../io/datasets';
import { exportNative } from '../io/export/native';
import { withLabelNames } from '../io/export/peft';
import type { LoadedModel } from '../io/model/model-source';
import { adapterMethod, type BoundMethod } from '../methods/registry';
import { InputError, LimitError } from '../engine/errors';
import { LIMITS, formatLimit } from '../io/limits';
import { StepTimer } from './compare';
import { toWorkerError } from './errors';
import { fromMethodEvent, stepMetricsOf } from './events';
import type { Evaluation, ExportFormat, FinishReason, Prediction, RunCheckpoint, TrainingPlan, WorkerError, WorkerEvent } from './protocol';
import type { RunConfig } from './run-config';

/** Engine metric names -> the page's (mcc is charted as 'matthews'), plus the loss. */
function metricRecord(metrics: EvalMetrics, loss: number): Record<string, number> {
  const out: Record<string, number> = {};
  const rename: Record<string, string> = { mcc: 'matthews' };
  for (const [key, value] of Object.entries(metrics)) if (typeof value === 'number') out[rename[key] ?? key] = value;
  out.loss = loss;
  return out;
}

/** Lets queued messages (pause/stop/predict) run between steps. MessageChannel avoids setTimeout's 4 ms clamp. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

/** Thrown from inside an evaluation when Stop arrives between its batches. */
class StopRequested extends Error {
  constructor() {
    super('stopped');
    this.name = 'StopRequested';
  }
}

/** How often a running run is checkpointed for resume after a reload (also at epoch ends and pauses). */
export const CHECKPOINT_EVERY_MS = 30_000;

/** Where a run's checkpoints go: its model's and data's fingerprints, and the cadence (tests: 0 = every flush). */
export interface CheckpointPolicy {
  model: string;
  data: string;
  everyMs: number;
}

/** The first two steps are always read back: the first ends the compile phase, the second gives the page its first rate (ETA). */
const READ_FIRST_STEPS = 2;

export class Run {
  readonly plan: TrainingPlan;
  private readonly trainer: Trainer;
  private readonly method: BoundMethod;
  private readonly seqLen: number;
  private readonly validationRows: number;
  /** The adapter as of the last evaluation, on the CPU: what can still be exported after a device loss. */
  private lastGoodState: StateDict | null = null;
  /** Trainer.initialisedWeights() as read when training started (constant): for an export after a device loss. */
  private initialisedWeights: StateDict = new Map();
  private running = false;
  /** Training hit a NaN / Inf and the last good adapter was put back: the run failed, but its weights are good. */
  private restored = false;
  private paused = false;
  private stopping = false;
  /** An evaluation asked for while training: it runs after the current step. */
  private evaluationWanted = false;
  private wake: (() => void) | null = null;
  /** Seconds trained before this Run took over (a resumed run's time adds up). */
  private priorSeconds = 0;
  /** Checkpoints were refused for size once: not asked again. */
  private checkpointRefused = false;

  /**
   * `data` null with `initial`: an imported adapter, for predictions and export only (the Trainer is built on one
   * empty placeholder row and never stepped).
   */
  constructor(
    readonly config: RunConfig,
    private readonly model: LoadedModel,
    data: PreparedDataset | null,
    private readonly emit: (event: WorkerEvent) => void,
    initial?: StateDict,
    private readonly checkpoints: CheckpointPolicy | null = null,
    execution: Execution = DEFAULT_EXECUTION,
  ) {
    this.method = adapterMethod(config.method.id, config.method.options);
    const { task, labels } = config.data;
    const regression = task === 'regression';
    const modelConfig = { ...model.config, numLabels: regression ? 1 : labels.length };
    this.seqLen = Math.min(config.recipe.maxLength, maxSequenceLength(modelConfig));
    let train: EncodedExamples;
    let validation: EncodedExamples | undefined;
    if (data) {
      const total = data.train.length + data.validation.length;
      emit({ type: 'progress', phase: 'tokenize', done: 0, total });
      train = encodeExamples(model.tokenizer, data.train, task, this.seqLen);
      validation = encodeExamples(model.tokenizer, data.validation, task, this.seqLen);
      emit({ type: 'progress', phase: 'tokenize', done: total, total });
    } else {
      train = encodeExamples(model.tokenizer, [{ text: '', textPair: null, label: 0, line: 0 }], task, this.seqLen);
    }
    this.validationRows = validation?.count ?? 0;
    // Replayed by default: on WebGPU the kernels' step is recorded once and replayed (engine/replay.ts); elsewhere
    // every execution is the plain composites.
    this.trainer = new Trainer({ config: modelConfig, weights: model.weights, method: this.method, train, validation, recipe: config.recipe, initial, execution });
    this.plan = {
      method: config.method.id,
      totalSteps: this.trainer.totalSteps,
      stepsPerEpoch: this.trainer.stepsPerEpoch,
      epochs: config.recipe.epochs,
      cells: [...this.trainer.runtime.cells],
      trainableParamsAtStart: this.trainer.trainableParamCount(),
      metricNames: regression ? ['pearson', 'spearman', 'mse'] : ['accuracy', 'f1', 'matthews'],
      exports: this.method.exportPeft ? ['peft', 'native', 'pytorch'] : ['native', 'pytorch'],
    };
  }

  /**
   * Continues from a checkpoint of this run (same config, model and rows: the session checks the fingerprints)
   * before train(); throws, changing nothing, when it does not fit.
   */
  restore(checkpoint: RunCheckpoint): void {
    this.trainer.restore(checkpoint.trainer);
    this.priorSeconds = checkpoint.seconds;
    // The checkpoint's values are the last known good adapter on the CPU (export after a device loss).
    this.lastGoodState = checkpoint.trainer.variables;
  }

  /** Whether the run's weights are worth keeping after it failed (the last good adapter was restored). */
  get restoredAfterFailure(): boolean {
    return this.restored;
  }

  /** Training (paused included): the model and the data must not change under it. */
  get active(): boolean {
    return this.running;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    if (this.running) this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  stop(): void {
    this.stopping = true;
    this.resume();
  }

  /** Evaluate after the current step (the page's "Evaluate now" while training). */
  requestEvaluation(): void {
    if (this.running) this.evaluationWanted = true;
  }

  /**
   * The step loop: GPU reads once per logging interval, at the first two steps, at evaluations; finishes with a
   * 'finished' event. Pause and Stop take effect between steps (Stop also between evaluation batches); the
   * compile of the first step cannot be interrupted.
   */
  async train(): Promise<FinishReason> {
    const { totalSteps, stepsPerEpoch } = this.plan;
    const { logEvery, evalEvery } = this.config.recipe;
    const started = performance.now();
    const seconds = () => this.priorSeconds + (performance.now() - started) / 1000;
    // ms/step for the Compare table: this session's steps after the first read, without evaluations and checkpoints.
    const timer = new StepTimer();
    this.running = true;
    // A restored run starts where its checkpoint was taken.
    const first = this.trainer.stepsDone;
    let step = first;
    let lastCompleted = first - 1;
    let lastCheckpoint = performance.now();
    let reason: FinishReason = 'completed';
    this.initialisedWeights = await this.trainer.initialisedWeights();
    try {
      this.emit({ type: 'progress', phase: 'compile', done: 0, total: 1, message: 'the first step compiles GPU kernels' });
      for (; step < totalSteps; step++) {
        if (this.paused) {
          // A paused run can be resumed after a reload from exactly here: its unread steps first, then the checkpoint.
          if (!(await this.readMetrics(step - 1))) {
            reason = 'failed';
            break;
          }
          if (step > first) timer.synced(step, performance.now());
          if (step > first) await this.saveCheckpoint(seconds());
          lastCheckpoint = performance.now();
          this.emit({ type: 'paused', step });
          // A Resume may already have come in while 'paused' went out.
          if (this.paused) await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = null;
          if (!this.stopping) this.emit({ type: 'resumed', step });
          timer.skipped(step, performance.now());
        }
        if (this.stopping) {
          reason = 'stopped';
          break;
        }
        for (const event of await this.trainer.step()) this.emit(fromMethodEvent(event));
        lastCompleted = step;
        const epochEnd = (step + 1) % stepsPerEpoch === 0 || step === totalSteps - 1;
        const evaluateNow = epochEnd || this.evaluationWanted || (evalEvery !== null && (step + 1) % evalEvery === 0);
        const read = (step + 1) % Math.max(1, logEvery) === 0 || step < first + READ_FIRST_STEPS || evaluateNow;
        if (read) {
          // The first read ends the compile phase (before its metrics go out).
          const fine = await this.readMetrics(step, step === first);
          if (!fine) {
            reason = 'failed';
            break;
          }
          timer.synced(step + 1, performance.now());
        }
        if (evaluateNow && !this.stopping) {
          this.evaluationWanted = false;
          this.emit({ type: 'evaluation', ...(await this.evaluate(true)) });
          if (epochEnd) this.lastGoodState = await this.trainer.adapterState();
        }
        // After the step's metrics, events and evaluation went out: the page keeps its view of the run with it.
        const checkpointDue = epochEnd || performance.now() - lastCheckpoint >= (this.checkpoints?.everyMs ?? Infinity);
        if (read && checkpointDue && step < totalSteps - 1 && !this.stopping) {
          await this.saveCheckpoint(seconds());
          lastCheckpoint = performance.now();
        }
        if (read) timer.skipped(step + 1, performance.now());
        await yieldToEventLoop();
      }
    } catch (error) {
      if (error instanceof StopRequested) reason = 'stopped';
      else {
        reason = 'failed';
        // A method can trip over a NaN before the next read shows it (AFLoRA's masking round on NaN scores):
        // then the NaN is what to report, with the last good adapter put back.
        const numerical = await this.nonFiniteSinceLastRead();
        if (!this.stopping) this.emit({ type: 'error', ...(numerical ?? toWorkerError(error, `training step ${step}`)) });
      }
    } finally {
      this.running = false;
      this.paused = false;
      this.stopping = false;
      this.evaluationWanted = false;
      this.emit({ type: 'progress', phase: 'evaluate', done: 0, total: 0 });
      this.emit({ type: 'finished', reason, step: Math.max(0, lastCompleted), seconds: seconds(), msPerStep: timer.msPerStep });
    }
    return reason;
  }

  /**
   * Reads the steps since the last read and sends them; false after a non-finite one (the last good adapter is
   * back and the error went out). `step`: the last step taken; `compiled`: this read ends the compile phase.
   */
  private async readMetrics(step: number, compiled = false): Promise<boolean> {
    const rows = await this.trainer.flushMetrics();
    if (compiled) this.emit({ type: 'progress', phase: 'compile', done: 1, total: 1 });
    if (rows.length === 0) return true;
    this.emit({ type: 'stepMetrics', batch: stepMetricsOf(rows) });
    this.emit({ type: 'execution', report: this.trainer.executionReport() });
    this.emit({ type: 'progress', phase: 'train', done: step + 1, total: this.plan.totalSteps });
    const bad = Trainer.firstNonFinite(rows);
    if (!bad) return true;
    this.restored = true;
    this.emit({ type: 'error', ...this.trainer.recoverFromNonFinite(bad).payload() });
    return false;
  }

  /** A checkpoint event, unless the run has no policy or is too big to checkpoint (then said once, with the limit). */
  private async saveCheckpoint(seconds: number): Promise<void> {
    if (!this.checkpoints || this.checkpointRefused) return;
    const bytes = this.trainer.checkpointBytes();
    const limit = LIMITS.checkpointBytes;
    if (bytes > limit.value) {
      this.checkpointRefused = true;
      this.emit({ type: 'checkpointRefused', error: new LimitError(limit.what, formatLimit(limit.unit, bytes), formatLimit(limit.unit, limit.value), limit.hint).payload() });
      return;
    }
    const { model, data } = this.checkpoints;
    this.emit({ type: 'checkpoint', checkpoint: { trainer: await this.trainer.checkpoint(), seconds, model, data } });
  }

  /** After a failed step: reads the unread steps; a non-finite one restores the last good adapter and is the error. */
  private async nonFiniteSinceLastRead(): Promise<WorkerError | null> {
    let rows: StepMetrics[];
    try {
      rows = await this.trainer.flushMetrics();
    } catch {
      return null;
    }
    if (rows.length > 0) this.emit({ type: 'stepMetrics', batch: stepMetricsOf(rows) });
    const bad = Trainer.firstNonFinite(rows);
    if (!bad) return null;
    this.restored = true;
    return this.trainer.recoverFromNonFinite(bad).payload();
  }

  /** One validation pass; `stoppable`: a Stop that arrives between its batches ends it (and the run). */
  async evaluate(stoppable = false): Promise<Evaluation> {
    const rows = this.validationRows;
    this.emit({ type: 'progress', phase: 'evaluate', done: 0, total: rows });
    const between = stoppable
      ? async () => {
          await yieldToEventLoop();
          if (this.stopping) throw new StopRequested();
        }
      : undefined;
    const result = await this.trainer.evaluate(undefined, { between });
    this.emit({ type: 'progress', phase: 'evaluate', done: rows, total: rows });
    const step = Math.max(0, this.trainer.stepsDone - 1);
    return { step, epoch: Math.floor(step / this.trainer.stepsPerEpoch), metrics: metricRecord(result.metrics, result.loss) };
  }

  async predict(text: string, pair?: string): Promise<Omit<Prediction, 'requestId'>> {
    const { task, labelNames } = this.config.data;
    const encoded = encodeExamples(this.model.tokenizer, [{ text, textPair: pair ?? null, label: 0, line: 0 }], task, this.seqLen);
    const output = await this.trainer.predict(encoded);
    if (task === 'regression') return { labels: [], probabilities: [], value: output[0] };
    return { labels: labelNames, probabilities: Array.from(output) };
  }

  /** The export files; after a device loss only the last CPU snapshot (taken at each evaluation) is left. */
  async exportFiles(format: ExportFormat, fromSnapshot: boolean): Promise<{ name: string; bytes: Uint8Array }[]> {
    let state: StateDict;
    if (fromSnapshot) {
      if (!this.lastGoodState) throw new InputError('The GPU was lost before the first evaluation: no adapter was saved.', 'Reload and train again.');
      state = this.lastGoodState;
    } else {
      state = await this.trainer.adapterState();
    }
    if (format === 'pytorch') throw new Error('the PyTorch project is made by the session (it needs the data files)');
    const baseModel = this.config.model.hubId ?? this.config.model.name;
    if (format === 'peft') {
      if (!this.method.exportPeft) throw new InputError(`${this.config.method.id} has no PEFT form.`, 'Export the native file instead.');
      // PEFT initialises what the base checkpoint lacks on its own: the weights the engine made up travel along.
      const initialised = fromSnapshot ? this.initialisedWeights : await this.trainer.initialisedWeights();
      const withInitialised: StateDict = new Map([...state, ...initialised]);
      const adapter = withLabelNames(this.method.exportPeft(withInitialised, baseModel, { totalSteps: this.plan.totalSteps }), this.config.data.task === 'regression' ? [] : this.config.data.labelNames);
      return [
        { name: 'adapter_config.json', bytes: new TextEncoder().encode(adapter.files['adapter_config.json']) },
        { name: 'adapter_model.safetensors', bytes: adapter.files['adapter_model.safetensors'] },
      ];
    }
    const frozenAt = this.trainer.runtime.freezeSteps?.() ?? new Map<string, number>();
    const freezeLog = Object.fromEntries(this.plan.cells.map((c) => [c.name, frozenAt.get(c.name) ?? null]));
    const bytes = exportNative({ method: this.config.method.id, options: this.config.method.options, run: { ...this.config }, freezeLog, baseModel, variables: state });
    return [{ name: `${this.config.method.id}-adapter.safetensors`, bytes }];
  }

  /** An imported adapter must name exactly the variables this method has on this model (else its values are not what is used). */
  async checkImported(initial: StateDict, file: string): Promise<void> {
    const state = await this.trainer.adapterState();
    // A PEFT file may also carry weights the model initialised (DeBERTa-v3's pooler; others draw them from the run's seed).
    const initialised = await this.trainer.initialisedWeights();
    const missing = [...state.keys()].filter((name) => !initial.has(name));
    const extra = [...initial.keys()].filter((name) => !state.has(name) && !initialised.has(name));
    for (const [name, tensor] of state) {
      const given = initial.get(name);
      if (given && given.data.length !== tensor.data.length) throw new InputError(`${file}: ${name} has ${given.data.length} values; this model needs [${tensor.shape.join(', ')}].`, 'It was trained on another model: load that one first.');
    }
    if (missing.length > 0 || extra.length > 0) {
      const list = (names: string[]) => names.slice(0, 3).join(', ') + (names.length > 3 ? ` and ${names.length - 3} more` : '');
      throw new InputError(
        `${file} does not fit ${this.config.method.id} on this model: ${missing.length > 0 ? `it lacks ${list(missing)}` : ''}${missing.length > 0 && extra.length > 0 ? '; ' : ''}${extra.length > 0 ? `it has ${list(extra)}, which this model does not` : ''}.`,
        'It was trained on another model or with other target modules: load the model it was trained on.',
      );
    }
  }

  dispose(): void {
    this.trainer.dispose();
  }
}

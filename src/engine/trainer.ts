/**
 * The training loop the worker drives: model + adapter method + AdamW + schedule, one optimizer step per
 * `step()`. Losses and grad norms stay on the device and are read together by `flushMetrics()`; the only
 * other reads are the method's own (AFLoRA masking rounds), evaluation and export.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterMethod, AdapterRuntime, MethodEvent, MethodVariable, ModelProbe } from './adapter';
import { CHECKPOINT_VERSION, fromTensorData, type TrainerCheckpoint } from './checkpoint';
import {
  batchArrays,
  disposeBatch,
  gatherBatch,
  stepInputOfBatch,
  uploadBatch,
  validateExamples,
  type DeviceBatch,
} from './batches';
import * as kernels from './kernels';
import { crossEntropyLoss, mseLoss } from './loss';
import { classificationMetrics, regressionMetrics, softmaxRows, type EvalMetrics } from './metrics';
import { maxSequenceLength } from './families';
import { isDebertaV2Config } from './deberta/config';
import { DebertaV2Model } from './deberta/model';
import { sameShape } from './encoder';
import { BertModel, type InitNote } from './model';
import { AdamW, adamWOptionsOf, STEP_INPUT_ADAMW, type ParamEntry } from './optimizer';
import { buildPlan, copyTensors, markStepInput, Recording, type ReplayStatus, type StepPlan } from './replay';
import type { NumericalError } from './errors';
import { nonFiniteError } from './numerics';
import { Rng, mixSeed } from './random';
import { DEFAULT_EXECUTION, type Execution, type ExecutionReport, type TrainingRecipe } from './recipe';
import { linearScheduleFactor, warmupSteps } from './schedule';
import {
  linearTargets,
  type BertConfig,
  type EncodedExamples,
  type StateDict,
  type TensorData,
} from './types';

export { DEFAULT_RECIPE, type Execution, type ExecutionReport, type TrainingRecipe } from './recipe';

export interface TrainerInit {
  config: BertConfig;
  weights: StateDict;
  /** The adapter method with its options bound (src/methods/registry: adapterMethod). */
  method: AdapterMethod;
  train: EncodedExamples;
  validation?: EncodedExamples;
  recipe: TrainingRecipe;
  /** Initial adapter / classifier values by name (golden fixtures, imported adapters). */
  initial?: StateDict;
  /**
   * Fused WebGPU programs (src/engine/kernels) for LayerNorm, softmax, GELU, dropout, linears, the methods'
   * low-rank adapters, clipping and AdamW: far fewer dispatches, same results (tests/engine/webgpu.test.ts;
   * dropout masks come from another RNG). Default: on when the active backend is webgpu. `false` forces the
   * kernels' composites (the reference path the cpu golden tests pin down). The one place this is decided:
   * the Trainer runs its forward, backward and update inside `withKernels(kernels, ...)`.
   */
  kernels?: boolean;
  /**
   * How steps run: 'plain' (TF.js composites), 'engine' (the kernels, every op through TF.js) or 'replayed' (the
   * kernels, recorded once and replayed: engine/replay.ts). Default: the recipe's, else the app's
   * (DEFAULT_EXECUTION). Off webgpu every choice runs plain; only on webgpu with kernels does 'replayed' replay, and
   * a method replays only when its runtime gives a replayKey.
   */
  execution?: Execution;
}

/** Name of the dropout step seed among a step's per-step inputs. */
const STEP_INPUT_DROPOUT = 'dropout-seed';
/** Plans tried per plan key before the Trainer stops recording for it. */
const PLAN_ATTEMPTS = 3;

export interface StepMetrics {
  step: number;
  /** Fractional epoch reached after this step, as Hugging Face logs it. */
  epoch: number;
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Adapter-group learning rate used by this step. */
  lr: number;
  trainableParams: number;
}

/** A multi-batch forward pass (evaluate, logits). */
export interface PassOptions {
  between?: () => Promise<void>;
}

export interface EvaluationResult {
  loss: number;
  count: number;
  metrics: EvalMetrics;
}

interface PendingMetrics {
  step: number;
  /** Device scalars (a normal step), or a slot of the plan's metric ring (a replayed step), or read values. */
  loss?: tf.Scalar;
  gradNorm?: tf.Scalar;
  slot?: number;
  values?: [number, number];
  lr: number;
  trainableParams: number;
}

export class Trainer {
  readonly config: BertConfig;
  readonly recipe: TrainingRecipe;
  readonly method: AdapterMethod;
  readonly model: BertModel | DebertaV2Model;
  readonly runtime: AdapterRuntime;
  readonly totalSteps: number;
  readonly stepsPerEpoch: number;
  readonly warmupSteps: number;
  readonly initNotes: readonly InitNote[];
  /** Whether this trainer runs the fused kernels (TrainerInit.kernels, default: on webgpu). */
  readonly kernels: boolean;

  private readonly train: EncodedExamples;
  private readonly validation?: EncodedExamples;
  private readonly optimizer: AdamW;
  private pending: PendingMetrics[] = [];
  /** Batches uploaded for the method's probes (MethodContext.probe), freed with the trainer. */
  private readonly probeBatches: DeviceBatch[] = [];
  private nextStep = 0;
  private epochOrder: { epoch: number; order: Int32Array } | null = null;
  private disposed = false;
  /**
   * The last good adapter, on the device: tf.clone of every trained variable at the last flush whose steps were
   * all finite (and at the start). A clone shares the variable's buffer, and updates assign new tensors
   * (optimizer, kernels/adamw), so keeping it costs no copy, only the buffers of one older state; a replaying
   * trainer updates buffers in place and keeps buffers of its own, refilled by GPU copies (keepLastGood). Replaced at each clean flush; restoreLastGood()
   * writes it back after a NaN.
   */
  private lastGood: { step: number; tensors: Map<string, tf.Tensor> } | null = null;
  private readonly baseWeights: StateDict;
  private readonly initialValues?: StateDict;
  /** Whether steps may be replayed (execution 'replayed' with kernels on webgpu). */
  readonly replays: boolean;
  readonly execution: Execution;
  /** Why the last step was not replayed (null: it was, or no step yet). */
  private notReplayed: string | null = null;
  private plan: StepPlan | null = null;
  private planKey: string | null = null;
  private recorded: { key: string; recording: Recording } | null = null;
  private readonly planAttempts = new Map<string, number>();
  private readonly status: ReplayStatus = {
    replayedSteps: 0,
    recordedSteps: 0,
    plans: 0,
    lastRefusal: null,
    stats: null,
  };

  constructor(init: TrainerInit) {
    const { config, recipe } = init;
    validateExamples(init.train, 'training data');
    if (init.validation) validateExamples(init.validation, 'validation data');
    if (init.train.seqLen > maxSequenceLength(config)) {
      throw new Error(`sequence length ${init.train.seqLen} exceeds the model's ${maxSequenceLength(config)} positions`);
    }
    if (!(recipe.batchSize >= 1) || !(recipe.epochs >= 1))
      throw new Error('batchSize and epochs must be >= 1');
    this.config = config;
    this.recipe = recipe;
    this.train = init.train;
    this.validation = init.validation;
    this.method = init.method;
    this.stepsPerEpoch = Math.ceil(init.train.count / recipe.batchSize);
    this.totalSteps = recipe.totalSteps ?? this.stepsPerEpoch * recipe.epochs;
    this.warmupSteps = warmupSteps(this.totalSteps, recipe.warmupRatio);

    const execution = init.execution ?? recipe.execution ?? DEFAULT_EXECUTION;
    this.kernels = init.kernels ?? (execution !== 'plain' && kernels.isWebGPUBackend());
    this.replays = execution === 'replayed' && this.kernels && kernels.isWebGPUBackend();
    this.execution = execution;
    this.runtime = this.method.create({
      config,
      targets: linearTargets(config),
      totalSteps: this.totalSteps,
      epochs: recipe.epochs,
      stepsPerEpoch: this.stepsPerEpoch,
      warmupSteps: this.warmupSteps,
      seed: recipe.seed,
      initial: init.initial,
      probe: (count) => this.createProbe(count),
    });
    try {
      const modelOptions = {
        trainBase: this.runtime.trainsBase,
        trainEmbeddings: this.runtime.trainsEmbeddings ?? false,
        seed: recipe.seed,
      };
      this.model = isDebertaV2Config(config)
        ? new DebertaV2Model(config, init.weights, modelOptions)
        : new BertModel(config, init.weights, modelOptions);
      if (init.initial) this.loadHead(init.initial);
    } catch (error) {
      this.runtime.dispose();
      this.probeBatches.splice(0).forEach(disposeBatch);
      throw error;
    }
    this.initNotes = this.model.initNotes;
    this.optimizer = new AdamW(adamWOptionsOf(recipe.optimizer));
    this.baseWeights = init.weights;
    this.initialValues = init.initial;
    this.keepLastGood();
  }

  /** Steps done when the last good adapter (what restoreLastGood() brings back) was kept. */
  get lastGoodStep(): number {
    return this.lastGood?.step ?? 0;
  }

  /** Index of the next optimizer step (= steps done). */
  get stepsDone(): number {
    return this.nextStep;
  }

  get finished(): boolean {
    return this.nextStep >= this.totalSteps;
  }

  /**
   * Variables that train at step `step` (default: the next one), with their group's lr, weight-decay rate and
   * their own schedule factor where the method gives one (resolved here only).
   */
  trainableEntries(step = this.nextStep): ParamEntry[] {
    const { adapterLr, classifierLr, weightDecay, classifierWeightDecay } = this.recipe;
    const toEntry = (v: MethodVariable): ParamEntry => {
      const classifier = v.lrGroup === 'classifier';
      const entry: ParamEntry = {
        name: v.name,
        variable: v.variable,
        lr: classifier ? classifierLr : adapterLr,
        weightDecay: v.decays ? (classifier ? classifierWeightDecay : weightDecay) : 0,
      };
      if (v.lrFactor) entry.lrFactor = v.lrFactor(step);
      return entry;
    };
    return [...this.runtime.trainable(), ...this.model.trainedParams()].map(toEntry);
  }

  /** lr and weight decay of every trainable variable, as the optimizer applies them (golden fixtures check this). */
  paramGroups(): Record<string, { lr: number; weightDecay: number }> {
    const groups: Record<string, { lr: number; weightDecay: number }> = {};
    for (const { name, lr, weightDecay } of this.trainableEntries()) groups[name] = { lr, weightDecay };
    return groups;
  }

  /** Trainable parameters as the user counts them (a method's switched-off rank slots excluded), classifier included. */
  trainableParamCount(entries = this.trainableEntries()): number {
    const sizes = (list: readonly ParamEntry[]) => list.reduce((total, e) => total + e.variable.size, 0);
    if (!this.runtime.activeParamCount) return sizes(entries);
    const own = new Set(this.runtime.trainable().map((v) => v.name));
    return this.runtime.activeParamCount() + sizes(entries.filter((e) => !own.has(e.name)));
  }

  /** Adapter-group learning rate of optimizer step `step`. */
  learningRate(step: number): number {
    return this.recipe.adapterLr * linearScheduleFactor(step, this.totalSteps, this.warmupSteps);
  }

  /**
   * One optimizer step; returns the method's events of this step (scores, schedule, freezes). A step that throws
   * leaves no tensors behind (tests/engine/trainer-faults.test.ts); the run ends there.
   */
  async step(): Promise<MethodEvent[]> {
    this.assertAlive();
    if (this.finished) throw new Error(`training finished after ${this.totalSteps} steps`);
    const step = this.nextStep;
    const entries = this.trainableEntries();
    const lrFactor = linearScheduleFactor(step, this.totalSteps, this.warmupSteps);
    const key = this.replayKeyOf(step, entries);
    if (this.plan && (!this.plan.valid || this.planKey !== key)) await this.dropPlan();
    if (this.plan?.ringFull) await this.readRing();
    const pending: PendingMetrics = {
      step,
      lr: this.recipe.adapterLr * lrFactor,
      trainableParams: this.trainableParamCount(entries),
    };
    if (this.plan) {
      pending.slot = this.replayStep(this.plan, step, entries, lrFactor);
      this.status.replayedSteps++;
      this.notReplayed = null;
    } else {
      const record = key !== null && (this.planAttempts.get(key) ?? 0) < PLAN_ATTEMPTS;
      this.notReplayed = this.whyNotReplayed(key, record);
      const recording = record ? new Recording() : null;
      try {
        const { loss, gradNorm } = this.runStep(step, entries, lrFactor);
        pending.loss = loss;
        pending.gradNorm = gradNorm;
      } finally {
        recording?.end();
      }
      if (recording) this.planFrom(key!, recording, pending);
    }
    this.pending.push(pending);
    this.nextStep++;

    const result = await this.runtime.afterStep?.(step);
    if (!result) return [];
    // A step that changed what trains cannot be paired with the next one.
    if (result.frozen.length > 0) this.recorded = null;
    this.optimizer.drop(result.frozen);
    return result.events;
  }

  /** Where replaying stands (benchmarks, the run's notes). */
  replayStatus(): ReplayStatus {
    return { ...this.status, stats: this.plan?.stats ?? this.status.stats };
  }

  /** How the last step ran and why it was not replayed (before any step: how the first one will run). */
  executionReport(): ExecutionReport {
    const replayed = this.nextStep > 0 && this.notReplayed === null && this.replays;
    const path: Execution = replayed ? 'replayed' : this.kernels ? 'engine' : 'plain';
    const reason = replayed ? null : (this.notReplayed ?? this.whyNotReplayed('', true));
    return { requested: this.execution, path, reason, replayedSteps: this.status.replayedSteps, steps: this.nextStep };
  }

  /** Why a step that is not replayed is not: `key` its plan key, `recording` whether it is recorded to plan. */
  private whyNotReplayed(key: string | null, recording: boolean): string {
    if (!this.replays) {
      if (!kernels.isWebGPUBackend()) return 'no WebGPU: TF.js runs every op';
      if (this.execution !== 'replayed') return `"${this.execution}" chosen in the advanced settings`;
      return 'the fused kernels are off';
    }
    if (key === null) return `${this.method.id} keeps host-side state in every step`;
    if (recording) return 'recording the step to replay (the first steps, and after a freeze or rank change)';
    return `the step could not be planned (${this.status.lastRefusal ?? 'no pair of recorded steps matched'})`;
  }

  /** The synchronous part of a step through TF.js: forward, backward, clip, update; loss and grad norm kept. */
  private runStep(
    step: number,
    entries: ParamEntry[],
    lrFactor: number,
  ): { loss: tf.Scalar; gradNorm: tf.Scalar } {
    const batch = uploadBatch(this.batchForStep(step), this.config.numLabels, true);
    const seed = this.kernels
      ? markStepInput(STEP_INPUT_DROPOUT, tf.tensor1d([this.dropoutSeedOf(step)], 'int32'))
      : undefined;
    let gradients: { loss: tf.Scalar; grads: Map<string, tf.Tensor> };
    try {
      gradients = this.gradientsOf(batch, entries, step, seed);
    } finally {
      disposeBatch(batch);
      seed?.dispose();
    }
    const { loss, grads } = gradients;
    let clip: tf.Tensor1D | null = null; // [norm, coefficient]
    try {
      const maxNorm = this.recipe.maxGradNorm > 0 ? this.recipe.maxGradNorm : Infinity;
      clip = kernels.withKernels(this.kernels, () => this.optimizer.clip(grads, maxNorm));
      this.runtime.observeGradients?.(step, grads, clip);
      kernels.withKernels(this.kernels, () => tf.tidy(() => this.optimizer.update(entries, grads, lrFactor, clip!)));
      this.runtime.observeUpdate?.(step, grads, clip);
      const gradNorm = tf.tidy(() => tf.reshape(tf.slice(clip!, [0], [1]), []) as tf.Scalar);
      return { loss, gradNorm };
    } catch (error) {
      loss.dispose();
      throw error;
    } finally {
      tf.dispose([...grads.values(), ...(clip ? [clip] : [])]);
    }
  }

  /** A replayed step: the host computes what changes (batch, AdamW coefficients, dropout seed, the method's inputs); the plan runs. */
  private replayStep(plan: StepPlan, step: number, entries: ParamEntry[], lrFactor: number): number {
    const inputs = new Map<string, ArrayBufferView>();
    for (const [field, { data }] of batchArrays(this.batchForStep(step), this.config.numLabels, true))
      inputs.set(stepInputOfBatch(field), data);
    inputs.set(STEP_INPUT_ADAMW, this.optimizer.advance(entries, lrFactor).table);
    inputs.set(STEP_INPUT_DROPOUT, Int32Array.of(this.dropoutSeedOf(step)));
    for (const [name, data] of this.runtime.replayInputs?.(step) ?? []) inputs.set(name, data);
    return plan.run(inputs);
  }

  /** Pairs a recorded step with the previous one of the same key; a matching pair becomes the plan. */
  private planFrom(key: string, recording: Recording, pending: PendingMetrics): void {
    this.status.recordedSteps++;
    const previous = this.recorded?.key === key ? this.recorded.recording : null;
    this.recorded = { key, recording };
    if (!previous) return;
    const plan = buildPlan(previous, recording, { loss: pending.loss!, gradNorm: pending.gradNorm! });
    if (typeof plan === 'string') {
      this.status.lastRefusal = plan;
      this.planAttempts.set(key, (this.planAttempts.get(key) ?? 0) + 1);
      return;
    }
    this.plan = plan;
    this.planKey = key;
    this.recorded = null;
    this.status.plans++;
    this.status.lastRefusal = null;
    pending.slot = plan.capture(pending.loss!, pending.gradNorm!);
    tf.dispose([pending.loss!, pending.gradNorm!]);
    delete pending.loss;
    delete pending.gradNorm;
  }

  /** null: this step is not replayed; else steps with the same key share a plan. */
  private replayKeyOf(step: number, entries: readonly ParamEntry[]): string | null {
    if (!this.replays) return null;
    const own = this.runtime.replayKey?.(step);
    if (own == null) return null;
    return `${own}|${entries.map((e) => e.name).join(',')}`;
  }

  /** Reads the plan's metric ring into the pending entries that point at it. */
  private async readRing(): Promise<void> {
    const plan = this.plan;
    if (!plan || plan.pendingSlots === 0) return;
    const values = await plan.readRing();
    for (const p of this.pending) {
      if (p.slot === undefined) continue;
      p.values = [values[2 * p.slot], values[2 * p.slot + 1]];
      delete p.slot;
    }
  }

  private async dropPlan(): Promise<void> {
    await this.readRing();
    this.status.stats = this.plan?.stats ?? this.status.stats;
    this.plan?.dispose();
    this.plan = null;
    this.planKey = null;
  }

  /** Per-step metrics since the last flush, in one device read (two when replayed and normal steps mix). */
  async flushMetrics(): Promise<StepMetrics[]> {
    this.assertAlive();
    await this.readRing();
    const pending = this.pending;
    if (pending.length === 0) return [];
    this.pending = [];
    const onDevice = pending.filter((p) => p.loss && p.gradNorm);
    if (onDevice.length > 0) {
      const scalars = onDevice.flatMap((p) => [p.loss!, p.gradNorm!]);
      const stacked = tf.tidy(() => tf.stack(scalars)); // [2 * n]
      tf.dispose(scalars);
      const values = await stacked.data();
      stacked.dispose();
      onDevice.forEach((p, i) => {
        p.values = [values[2 * i], values[2 * i + 1]];
        delete p.loss;
        delete p.gradNorm;
      });
    }
    const rows = pending.map((p) => ({
      step: p.step,
      epoch: (p.step + 1) / this.stepsPerEpoch,
      loss: p.values![0],
      gradNorm: p.values![1],
      lr: p.lr,
      trainableParams: p.trainableParams,
    }));
    // Finite loss and gradient norm through the last step mean finite updates: the weights now are good.
    if (this.pending.length === 0 && rows.every(isFiniteRow)) this.keepLastGood();
    return rows;
  }

  /** The first flushed row whose loss or gradient norm is NaN / Inf. */
  static firstNonFinite(rows: readonly StepMetrics[]): StepMetrics | undefined {
    return rows.find((r) => !isFiniteRow(r));
  }

  /**
   * After a non-finite row: writes the last good adapter back into the variables (what predictions and
   * adapterState() then use) and returns the typed error naming the likely cause. The trainer is not stepped
   * again (the optimizer's moments are past the restored point).
   */
  recoverFromNonFinite(row: StepMetrics): NumericalError {
    this.assertAlive();
    this.restoreLastGood();
    return nonFiniteError({
      step: row.step,
      loss: row.loss,
      gradNorm: row.gradNorm,
      lr: row.lr,
      restoredStep: this.lastGoodStep,
      config: this.config,
      targets: this.train.labels,
      regression: this.config.numLabels === 1,
      weights: this.baseWeights,
      initial: this.initialValues,
      adapterLr: this.recipe.adapterLr,
      classifierLr: this.recipe.classifierLr,
      maxGradNorm: this.recipe.maxGradNorm,
    });
  }

  /** Writes the last good adapter back into the trained variables. */
  restoreLastGood(): void {
    this.assertAlive();
    const kept = this.lastGood;
    if (!kept) throw new Error('no adapter state was kept');
    for (const v of this.keptVariables()) {
      const value = kept.tensors.get(v.name);
      if (!value || value.shape.join() !== v.variable.shape.join()) throw new Error(`the kept adapter has no [${v.variable.shape.join(', ')}] ${v.name}`);
      if (this.replays) tf.tidy(() => v.variable.assign(tf.mul(value, 1)));
      else v.variable.assign(value);
    }
  }

  /**
   * Loss, logits and raw gradients (before clipping) of the next step's batch at the current weights, without
   * updating anything: for golden-fixture checks and diagnostics.
   */
  async inspectNextStep(): Promise<{ loss: number; logits: TensorData; grads: StateDict }> {
    this.assertAlive();
    const step = this.nextStep;
    const entries = this.trainableEntries();
    const batch = uploadBatch(this.batchForStep(step), this.config.numLabels, true);
    let logits: tf.Tensor;
    let gradients: { loss: tf.Scalar; grads: Map<string, tf.Tensor> };
    try {
      logits = this.tidyForward(() => this.model.forward(batch, this.runtime, this.forwardOptions(step)));
      try {
        gradients = this.gradientsOf(batch, entries, step);
      } catch (error) {
        logits.dispose();
        throw error;
      }
    } finally {
      disposeBatch(batch);
    }
    const { loss, grads } = gradients;
    const grabbed = new Map<string, TensorData>();
    for (const [name, grad] of grads)
      grabbed.set(name, { shape: grad.shape, data: (await grad.data()) as Float32Array });
    const result = {
      loss: (await loss.data())[0],
      logits: { shape: logits.shape, data: (await logits.data()) as Float32Array },
      grads: grabbed,
    };
    tf.dispose([loss, logits, ...grads.values()]);
    return result;
  }

  /**
   * Raw logits [count, numLabels] in eval mode; `adapted: false` runs the bare base model. `between` runs after
   * each batch is queued (the worker yields there so a Stop can arrive; it may throw to abandon the pass).
   */
  async logits(examples: EncodedExamples, adapted = true, options: PassOptions = {}): Promise<Float32Array> {
    this.assertAlive();
    validateExamples(examples, 'examples');
    const batchSize = this.recipe.batchSize;
    const parts: tf.Tensor2D[] = [];
    try {
      for (let start = 0; start < examples.count; start += batchSize) {
        const indices = range(start, Math.min(start + batchSize, examples.count));
        const batch = uploadBatch(gatherBatch(examples, indices, batchSize), this.config.numLabels, false);
        parts.push(
          this.tidyForward(() =>
            this.model.forward(batch, adapted ? this.runtime : null, { training: false }),
          ),
        );
        disposeBatch(batch);
        if (options.between && start + batchSize < examples.count) await options.between();
      }
    } catch (error) {
      tf.dispose(parts);
      throw error;
    }
    const all = tf.tidy(() => tf.concat(parts)); // [batches * B, L]
    tf.dispose(parts);
    const values = (await all.data()) as Float32Array;
    all.dispose();
    return values.slice(0, examples.count * this.config.numLabels);
  }

  async evaluate(examples?: EncodedExamples, options: PassOptions = {}): Promise<EvaluationResult> {
    const data = examples ?? this.validationOrThrow();
    const logits = await this.logits(data, true, options);
    const labels = Array.from(data.labels);
    if (this.config.numLabels === 1) {
      const metrics = regressionMetrics(logits, labels);
      return { loss: metrics.mse ?? Number.NaN, count: data.count, metrics };
    }
    const probs = softmaxRows(logits, this.config.numLabels);
    let loss = 0;
    for (let i = 0; i < data.count; i++)
      loss -= Math.log(Math.max(probs[i * this.config.numLabels + labels[i]], 1e-30));
    return {
      loss: loss / data.count,
      count: data.count,
      metrics: classificationMetrics(probs, labels, this.config.numLabels),
    };
  }

  /** Class probabilities [count, numLabels] (softmax) or regression values [count]. */
  async predict(examples: EncodedExamples): Promise<Float32Array> {
    const logits = await this.logits(examples);
    return this.config.numLabels === 1 ? logits : softmaxRows(logits, this.config.numLabels);
  }

  /** Plain copies of every method variable, the classifier and (full fine-tuning) the trained base weights; one read. */
  async adapterState(): Promise<StateDict> {
    this.assertAlive();
    const all = this.keptVariables();
    const flat = tf.tidy(() => tf.concat(all.map((v) => tf.reshape(v.variable, [-1])))); // [total elements]
    const values = (await flat.data()) as Float32Array;
    flat.dispose();
    const state: StateDict = new Map();
    let offset = 0;
    for (const v of all) {
      state.set(v.name, {
        shape: [...v.variable.shape],
        data: values.slice(offset, offset + v.variable.size),
      });
      offset += v.variable.size;
    }
    return state;
  }

  /** Plain copies of model.initialisedConstants() (e.g. DeBERTa-v3's fresh pooler): what a PEFT export adds to adapterState(). */
  async initialisedWeights(): Promise<StateDict> {
    this.assertAlive();
    const state: StateDict = new Map();
    for (const { name, tensor } of this.model.initialisedConstants()) {
      state.set(name, { shape: [...tensor.shape], data: Float32Array.from((await tensor.data()) as Float32Array) });
    }
    return state;
  }

  /**
   * Everything a fresh Trainer of the same run needs to continue from here exactly (restore()): the step, every
   * variable's value, the optimizer's moments and step counts, the method's own state. Between steps, after the
   * metrics were flushed (their losses would otherwise be lost with the checkpoint).
   */
  async checkpoint(): Promise<TrainerCheckpoint> {
    this.assertAlive();
    if (this.pending.length > 0) throw new Error('checkpoint: flush the metrics first');
    return {
      version: CHECKPOINT_VERSION,
      step: this.nextStep,
      totalSteps: this.totalSteps,
      variables: await this.adapterState(),
      optimizer: await this.optimizer.saveState(),
      method: await this.runtime.saveState(),
    };
  }

  /**
   * Bytes checkpoint() would produce, before it reads anything: every kept value and at most two AdamW moments
   * each, 4 bytes apiece (the method's own state, a few scores per matrix, is left out).
   */
  checkpointBytes(): number {
    return 3 * 4 * this.keptVariables().reduce((total, v) => total + v.variable.size, 0);
  }

  /**
   * Continues a checkpointed run on this trainer, which must be new (no step taken) and built like the one that
   * saved it (same model, data, recipe and method options). Throws, changing nothing the caller keeps, when the
   * checkpoint does not fit.
   */
  restore(checkpoint: TrainerCheckpoint): void {
    this.assertAlive();
    if (this.nextStep !== 0) throw new Error('restore: the trainer has already trained');
    if (checkpoint.version !== CHECKPOINT_VERSION) throw new Error(`checkpoint version ${checkpoint.version}; this build reads version ${CHECKPOINT_VERSION}`);
    if (checkpoint.totalSteps !== this.totalSteps) throw new Error(`checkpoint of a ${checkpoint.totalSteps}-step run; this run has ${this.totalSteps} steps`);
    if (!(checkpoint.step >= 0 && checkpoint.step <= this.totalSteps)) throw new Error(`checkpoint at step ${checkpoint.step} of ${this.totalSteps}`);
    const all = [...this.runtime.variables(), ...this.model.trainedParams()];
    if (checkpoint.variables.size !== all.length) throw new Error(`checkpoint has ${checkpoint.variables.size} variables; this run has ${all.length}`);
    const values = all.map((v) => fromTensorData(v.name, checkpoint.variables.get(v.name), v.variable.size));
    tf.tidy(() => all.forEach((v, i) => v.variable.assign(tf.reshape(values[i], v.variable.shape))));
    tf.dispose(values);
    this.runtime.restoreState(checkpoint.method);
    this.optimizer.loadState(checkpoint.optimizer, new Map(all.map((v) => [v.name, v.variable.size])));
    this.nextStep = checkpoint.step;
    // The restored values are the last good adapter (a non-finite step rolls back to them).
    this.keepLastGood();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(this.pending.flatMap((p) => (p.loss && p.gradNorm ? [p.loss, p.gradNorm] : [])));
    this.pending = [];
    tf.dispose([...(this.lastGood?.tensors.values() ?? [])]);
    this.lastGood = null;
    this.plan?.dispose();
    this.plan = null;
    this.probeBatches.splice(0).forEach(disposeBatch);
    this.optimizer.dispose();
    this.runtime.dispose();
    this.model.dispose();
  }

  /** What adapterState() reads and the last good snapshot keeps: the method's variables and the trained model weights. */
  private keptVariables(): { name: string; variable: tf.Variable }[] {
    return [...this.runtime.variables(), ...this.model.trainedParams()];
  }

  private keepLastGood(): void {
    const variables = this.keptVariables();
    if (this.replays) {
      // A replayed step writes the variables' buffers in place (engine/replay.ts), which a clone would share:
      // the snapshot is a set of buffers of its own, refilled with one GPU copy per variable.
      const kept = this.lastGood?.tensors ?? new Map<string, tf.Tensor>();
      for (const [name, t] of kept) {
        const v = variables.find((x) => x.name === name);
        if (!v || !sameShape(v.variable.shape, t.shape)) {
          t.dispose();
          kept.delete(name);
        }
      }
      for (const v of variables)
        if (!kept.has(v.name)) kept.set(v.name, tf.keep(tf.zerosLike(v.variable)));
      copyTensors(variables.map((v) => [v.variable, kept.get(v.name)!] as const));
      this.lastGood = { step: this.nextStep, tensors: kept };
      return;
    }
    const tensors = new Map(variables.map((v) => [v.name, tf.keep(tf.clone(v.variable))] as const));
    tf.dispose([...(this.lastGood?.tensors.values() ?? [])]);
    this.lastGood = { step: this.nextStep, tensors };
  }


  /** MethodContext.probe: a fixed batch of validation rows (else training rows), uploaded now, kept for the run. */
  private createProbe(count: number): ModelProbe {
    this.assertAlive();
    const examples = this.validation ?? this.train;
    const n = Math.max(1, Math.min(Math.floor(count), examples.count));
    const batch = uploadBatch(gatherBatch(examples, range(0, n), n), this.config.numLabels, true);
    this.probeBatches.push(batch);
    return {
      source: this.validation ? 'validation' : 'training',
      count: n,
      loss: () => {
        this.assertAlive();
        return this.tidyForward(() => {
          const logits = this.model.forward(batch, this.runtime, { training: false });
          return this.config.numLabels === 1
            ? mseLoss(logits, batch.values!, batch.weights!)
            : crossEntropyLoss(logits, batch.targets!);
        });
      },
    };
  }

  /** fn inside tf.tidy, with this trainer's kernels setting. */
  private tidyForward<T extends tf.TensorContainer>(fn: () => T): T {
    return kernels.withKernels(this.kernels, () => tf.tidy(fn));
  }

  private validationOrThrow(): EncodedExamples {
    if (!this.validation) throw new Error('no validation examples given');
    return this.validation;
  }

  private dropoutSeedOf(step: number): number {
    return mixSeed(this.recipe.seed, 0xd20, step);
  }

  private forwardOptions(step: number, dropoutSeedTensor?: tf.Tensor1D) {
    return { training: true, dropoutSeed: this.dropoutSeedOf(step), dropoutSeedTensor };
  }

  /** Loss (kept) and raw gradients by variable name (kept); the caller disposes both. */
  private gradientsOf(
    batch: DeviceBatch,
    entries: ParamEntry[],
    step: number,
    seed?: tf.Tensor1D,
  ): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const varList = entries.map((e) => e.variable);
    let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      result = this.tidyForward(() => tf.variableGrads(() => this.lossOf(batch, step, seed), varList));
    } catch (error) {
      freeAbandonedTape();
      throw error;
    }
    const { value, grads } = result;
    const named = new Map<string, tf.Tensor>();
    for (const entry of entries) {
      const grad = grads[entry.variable.name];
      if (!grad) {
        tf.dispose([value, ...Object.values(grads)]);
        throw new Error(`${entry.name} does not influence the loss: no gradient`);
      }
      named.set(entry.name, grad);
    }
    return { loss: value, grads: named };
  }

  /** The step's training loss: the task loss plus the method's regularizer (inside the gradient scope). */
  private lossOf(batch: DeviceBatch, step: number, seed?: tf.Tensor1D): tf.Scalar {
    const logits = this.model.forward(batch, this.runtime, this.forwardOptions(step, seed));
    const task =
      this.config.numLabels === 1
        ? mseLoss(logits, batch.values!, batch.weights!)
        : crossEntropyLoss(logits, batch.targets!);
    const extra = this.runtime.regularizer?.(step);
    return extra ? tf.add(task, extra) : task;
  }

  /** Rows of optimizer step `step`: seeded per-epoch shuffle (or data order), the last batch padded. */
  private batchForStep(step: number) {
    const { batchSize } = this.recipe;
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const within = step % this.stepsPerEpoch;
    let order: ArrayLike<number>;
    if (this.recipe.shuffle === false) {
      order = range(0, this.train.count);
    } else {
      if (!this.epochOrder || this.epochOrder.epoch !== epoch) {
        this.epochOrder = {
          epoch,
          order: new Rng(mixSeed(this.recipe.seed, 0x5f1e, epoch)).permutation(this.train.count),
        };
      }
      order = this.epochOrder.order;
    }
    const start = within * batchSize;
    const indices = Array.prototype.slice.call(
      order,
      start,
      Math.min(start + batchSize, this.train.count),
    ) as number[];
    return gatherBatch(this.train, indices, batchSize);
  }

  /** Initial classifier values (e.g. a regression head from a fixture). */
  private loadHead(initial: StateDict): void {
    for (const entry of this.model.head) {
      const value = initial.get(entry.name);
      if (!value) continue;
      if (value.data.length !== entry.variable.size) throw new Error(`initial ${entry.name}: wrong size`);
      tf.tidy(() => entry.variable.assign(tf.tensor(value.data, entry.variable.shape)));
    }
    // A PEFT file exported from a run on a pooler-less checkpoint carries the pooler that run initialised.
    for (const { name } of this.model.initialisedConstants()) {
      const value = initial.get(name);
      if (value) this.model.setInitialisedConstant(name, value.data);
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('trainer was disposed');
  }
}

function isFiniteRow(row: StepMetrics): boolean {
  return Number.isFinite(row.loss) && Number.isFinite(row.gradNorm);
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/**
 * After a throw inside tf.variableGrads: TF.js keeps (tf.keep) the tensors its tape saved for the backward pass
 * and frees them only at the end of a backward that completes, so an exception in the forward or the backward
 * strands them (about 10 per layer); tidy cannot reach kept tensors. Outside any other gradient scope the tape is
 * ours alone: free what it saved.
 */
function freeAbandonedTape(): void {
  const state = tf.engine().state;
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) tf.dispose(node.saved ?? []);
  state.activeTape = [];
}

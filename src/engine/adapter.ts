/**
 * The plug-in contract between the engine and an adapter method (LoRA, AFLoRA, ...). The engine owns the base
 * model, the classifier head, the optimizer and the loop; a method owns its variables, how they change an adapted
 * linear's output, which of them train at each step, and the decisions it takes while training (freezes, ranks).
 * Methods (src/methods) implement this file; the engine never imports them: the Trainer takes an AdapterMethod.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LowRankModule } from './kernels';
import type { BertConfig, LinearTarget, ModuleKind, StateDict } from './types';

export type LrGroup = 'adapter' | 'classifier';

export interface MethodVariable {
  /** PyTorch-style name: `<modulePath>.lora_A` [r, in], `.lora_B` [out, r], `.lambda_d` [r], `.lambda_b` [out]. */
  name: string;
  variable: tf.Variable;
  lrGroup: LrGroup;
  /** In its group's weight-decay set (the engine applies the group's rate); false: never decayed. */
  decays: boolean;
  /**
   * This variable's own learning-rate schedule: the factor its group's lr is multiplied by at optimizer step
   * `step`, in place of the run's warm-up / decay (IncreLoRA restarts a warm-up for every parameter group it
   * adds). Absent: the run's schedule. Read when the step's trainable entries are built.
   */
  lrFactor?(step: number): number;
}

/** A cell of a method's live view: one adapted linear (layer x module), or with `matrix` one of its A/B matrices. */
export interface CellId {
  layer: number;
  kind: ModuleKind;
  matrix?: 'A' | 'B';
}

export interface ViewCell {
  /** Variable or module name the cell's values are reported under. */
  name: string;
  cell: CellId;
}

export interface CellValue {
  name: string;
  value: number;
}

export interface MethodContext {
  config: BertConfig;
  /** Every linear of the encoder; the method picks the ones it adapts. */
  targets: readonly LinearTarget[];
  totalSteps: number;
  epochs: number;
  /** Optimizer steps per epoch (ceil(rows / batch)): what an option given in epochs resolves against. */
  stepsPerEpoch: number;
  /** The run's warm-up steps (ceil(totalSteps x warmupRatio)): a method that restarts the warm-up uses the same. */
  warmupSteps: number;
  seed: number;
  /** Initial values by variable name (golden fixtures, imported adapters); overrides the random init. */
  initial?: StateDict;
  /**
   * A fixed held-out batch to score the model on (ALoRA's AB-LoRA importance): the first `count` validation rows
   * (training rows when the run has no validation set), uploaded when asked (call it in create()) and kept for the run.
   */
  probe?(count: number): ModelProbe;
}

/**
 * The task loss of the current model on the probe batch, in eval mode (no dropout, no regularizer), with the
 * method's variables as they are when loss() is called. Each call enqueues one forward pass and returns its mean
 * loss as a scalar the caller owns (read many together: one GPU sync for a whole round of ablations).
 */
export interface ModelProbe {
  /** Where the rows come from. */
  readonly source: 'validation' | 'training';
  /** Rows in the batch (the count asked for, at most the rows there are). */
  readonly count: number;
  loss(): tf.Scalar;
}

/**
 * What a method reports after a step. `values` is the generic live stream: one value per cell of the method's
 * view at a step, tagged with a series name (AFLoRA: 'score', its freezing scores); a rank method reports each
 * module's 'rank' and 'importance' the same way (methods/entry.ts names the series). `schedule` is the scheduled
 * vs actual fraction of the trainable budget (AFLoRA); `budget` is a rank method's total rank: what its schedule
 * allows at this step vs what the modules hold, with the total it ends at.
 */
export type MethodEvent =
  | { type: 'values'; step: number; series: string; values: CellValue[] }
  | { type: 'freeze'; step: number; name: string; cell: CellId }
  | {
      type: 'schedule';
      step: number;
      /** Scheduled remaining fraction r(t). */
      remaining: number;
      threshold: number;
      /** Actual fraction still trainable after this round (AFLoRA: of the A/B elements). */
      trainableFraction: number;
    }
  | {
      type: 'budget';
      step: number;
      /** Total rank the method's schedule allows after this step (AdaLoRA: the cubic budget). */
      scheduled: number;
      /** Total rank the modules hold after this step. */
      actual: number;
      /** The total rank the method ends at (AdaLoRA: target_r x modules; IncreLoRA: its target; ALoRA: R_target). */
      target: number;
    };

export interface AfterStepResult {
  events: MethodEvent[];
  /** Variables that stopped training at this step: the engine frees their optimizer state. */
  frozen: string[];
}

/**
 * The global-norm clip of a step's raw gradients, on the device: [2] = (pre-clip norm, coefficient
 * min(1, maxNorm / (norm + 1e-6)), 1 without clipping). raw gradient x coefficient is what torch holds in
 * p.grad after clip_grad_norm_, i.e. what the optimizer applies.
 */
export type GradientClip = tf.Tensor1D;

export interface AdapterRuntime {
  /** Paths of the linears this method wraps. */
  readonly adapted: ReadonlySet<string>;
  /** Full fine-tuning: the engine also trains the base weights. */
  readonly trainsBase: boolean;
  /** With trainsBase: also train the word/position/token-type embedding matrices (default false). */
  readonly trainsEmbeddings?: boolean;
  /** The cells of the method's live view, in a stable order (AFLoRA: its trainable A/B matrices); [] = none. */
  readonly cells: readonly ViewCell[];
  /**
   * The adapted layer's output. x: [tokens, in], base = W0 x + b0: [tokens, out] -> [tokens, out].
   * Runs inside the engine's tidy/gradient scope.
   */
  apply(target: LinearTarget, x: tf.Tensor2D, base: tf.Tensor2D): tf.Tensor2D;
  /** Dropout rate on the adapter's input x while training (PEFT's lora_dropout); the base layer sees x as is. */
  readonly inputDropout?: number;
  /**
   * The adapted linears as data, by path, when every one is a low-rank module whose apply() is the engine's
   * lowRankAdapter: lets the engine run them in its own programs. Absent: apply() is opaque to the engine.
   */
  readonly lowRank?: ReadonlyMap<string, LowRankModule>;
  /** Every variable the method owns, trainable or not. */
  variables(): MethodVariable[];
  /** The variables to differentiate at the next step (frozen ones excluded); may change after any step. */
  trainable(): MethodVariable[];
  /**
   * Trainable parameters as the user counts them, when the trainable tensors hold slots that are switched off
   * (gated or dormant ranks: their entries get no gradient). Absent: the sizes of trainable()'s tensors.
   */
  activeParamCount?(): number;
  /**
   * An extra loss term (a scalar), built inside the engine's gradient scope of every training step and added to the
   * task loss before differentiation: AdaLoRA's / IncreLoRA's orthogonal regulariser, as PEFT adds it in forward().
   * The step's reported loss includes it (as PEFT's outputs.loss does); evaluation never calls it.
   */
  regularizer?(step: number): tf.Scalar;
  /**
   * The step's raw gradients (before clipping), by variable name, and the step's clip, before the optimizer update
   * (variables still hold their old values). Must not read from the GPU and must not dispose them; may keep
   * tensors it derives.
   */
  observeGradients?(step: number, grads: ReadonlyMap<string, tf.Tensor>, clip: GradientClip): void;
  /**
   * After the optimizer update of `step`, before its gradients are freed: torch's point between optimizer.step()
   * and zero_grad(), where PEFT's AdaLoRA runs update_and_allocate. Variables hold their updated values, `grads`
   * are the raw gradients, `clip` the coefficient the update applied. Same rules as observeGradients.
   */
  observeUpdate?(step: number, grads: ReadonlyMap<string, tf.Tensor>, clip: GradientClip): void;
  /** After the optimizer update of `step`. May read from the GPU on the steps it needs to (masking rounds). */
  afterStep?(step: number): Promise<AfterStepResult>;
  /**
   * Whether step `step` may be replayed (engine/replay.ts): a key (steps with the same key do the same GPU work,
   * and the method's hooks above keep no host-side state in them), or null / absent: run through TF.js.
   */
  replayKey?(step: number): string | null;
  /**
   * A replayed step of this runtime: the values of the step inputs its hooks named with markStepInput
   * (engine/replay.ts) while the step was recorded, and the host-side bookkeeping those hooks would have done for
   * `step` (they are not called on a replayed step). Absent: its hooks upload nothing that changes.
   */
  replayInputs?(step: number): ReadonlyMap<string, ArrayBufferView>;
  /** The step each variable froze at (the method's own record of its freeze events), for the run's export. */
  freezeSteps?(): ReadonlyMap<string, number>;
  /**
   * The method's training state beyond its variables' values, between steps (a checkpoint): what it decided so far
   * and the running statistics behind its next decisions. May read from the GPU.
   */
  saveState(): Promise<MethodState>;
  /**
   * Puts a saveState() result back on a runtime freshly created for the same run (same model, options, seed and
   * length), after the engine has restored every variable's value: from here the run continues exactly as the
   * saved one would have. Throws on a state that does not fit this runtime.
   */
  restoreState(state: MethodState): void;
  dispose(): void;
}

/**
 * A method's checkpointed state: `meta` is plain JSON (the frozen set and its steps, rank patterns, optimizer groups
 * opened, counters), `tensors` the device statistics as plain data (score and importance EMAs). Variable values are
 * not in it: the engine keeps those, as it keeps the optimizer's moments, the step (schedule position, batch
 * position, shuffle order and dropout seeds all derive from the seed and the step).
 */
export interface MethodState {
  meta: JsonValue;
  tensors: StateDict;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The contract's saveState / restoreState for a method whose whole state is its variables' values (LoRA, ELoRA, full). */
export const STATELESS: Pick<AdapterRuntime, 'saveState' | 'restoreState'> = {
  saveState: async () => ({ meta: null, tensors: new Map() }),
  restoreState(state) {
    if (state.meta !== null || state.tensors.size > 0) throw new Error('checkpoint: this method keeps no state beyond its variables, but the checkpoint has some');
  },
};

/** A configured adapter method (its options bound): what the Trainer takes. */
export interface AdapterMethod {
  readonly id: string;
  create(ctx: MethodContext): AdapterRuntime;
  /** Closed-form count of the method's trainable parameters at step 0 (classifier head excluded). */
  countTrainable(config: BertConfig): number;
}

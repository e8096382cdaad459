/**
 * The contract between the engine and an adapter method (lora, aflora, elora, ...).
 * The engine owns the base model, the classifier head and the optimizer; a method owns its variables,
 * how they change a linear layer's output, which of them train, and (AFLoRA) when they freeze.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LowRankModule } from '../engine/kernels';
import type { BertConfig, LinearTarget, MatrixId, StateDict } from '../engine/types';

export type LrGroup = 'adapter' | 'classifier';

export interface MethodVariable {
  /** PyTorch-style name: `<modulePath>.lora_A` [r, in], `.lora_B` [out, r], `.lambda_d` [r], `.lambda_b` [out]. */
  name: string;
  variable: tf.Variable;
  lrGroup: LrGroup;
  /** false: excluded from weight decay. */
  weightDecay: boolean;
  /** Set for the A/B matrices a method may freeze (a heatmap cell). */
  matrix?: MatrixId;
}

export interface MethodContext {
  config: BertConfig;
  /** Every linear of the encoder; the method picks the ones it adapts. */
  targets: readonly LinearTarget[];
  totalSteps: number;
  epochs: number;
  seed: number;
  /** Initial values by variable name (golden fixtures, imported adapters); overrides the random init. */
  initial?: StateDict;
}

export interface MatrixScore {
  name: string;
  matrix: MatrixId;
  score: number;
  frozen: boolean;
}

export type MethodEvent =
  | { type: 'scores'; step: number; scores: MatrixScore[] }
  | { type: 'freeze'; step: number; name: string; matrix: MatrixId }
  | {
      type: 'schedule';
      step: number;
      /** Scheduled remaining fraction r(t). */
      remaining: number;
      threshold: number;
      /** Actual fraction of A/B elements still trainable after this masking round. */
      trainableFraction: number;
    };

export interface AfterStepResult {
  events: MethodEvent[];
  /** Variables that stopped training at this step: the engine frees their optimizer state. */
  frozen: string[];
}

export interface AdapterRuntime {
  /** Paths of the linears this method wraps. */
  readonly adapted: ReadonlySet<string>;
  /** Full fine-tuning: the engine also trains the base weights. */
  readonly trainsBase: boolean;
  /** With trainsBase: also train the word/position/token-type embedding matrices (default false). */
  readonly trainsEmbeddings?: boolean;
  /**
   * The adapted layer's output. x: [tokens, in], base = W0 x + b0: [tokens, out] -> [tokens, out].
   * Runs inside the engine's tidy/gradient scope.
   */
  apply(target: LinearTarget, x: tf.Tensor2D, base: tf.Tensor2D): tf.Tensor2D;
  /**
   * The adapted linears as data, by path, when every one is a low-rank module whose apply() is the engine's
   * lowRankAdapter: lets the engine run them in its own programs. Absent: apply() is opaque to the engine.
   */
  readonly lowRank?: ReadonlyMap<string, LowRankModule>;
  /** Every variable the method owns, trainable or not. */
  variables(): MethodVariable[];
  /** The variables to differentiate at the next step (frozen ones excluded). */
  trainable(): MethodVariable[];
  /**
   * The step's raw gradients (before clipping), by variable name. Must not read from the GPU and must not
   * dispose them; may keep tensors it derives.
   */
  observeGradients?(step: number, grads: ReadonlyMap<string, tf.Tensor>): void;
  /** After the optimizer update of `step`. May read from the GPU on the steps it needs to (masking rounds). */
  afterStep?(step: number): Promise<AfterStepResult>;
  dispose(): void;
}

export interface AdapterMethod<Options extends object = object> {
  id: string;
  label: string;
  description: string;
  defaults: Options;
  create(ctx: MethodContext, options: Options): AdapterRuntime;
  /** Closed-form count of the method's trainable parameters at step 0 (classifier head excluded). */
  countTrainable(config: BertConfig, options: Options): number;
}

/**
 * AdamW exactly as torch.optim.AdamW (decoupled decay p <- p - lr*wd*p, bias-corrected moments,
 * eps added after the bias-corrected sqrt), with per-variable lr group / decay flag, and global-norm clipping
 * as torch.nn.utils.clip_grad_norm_. Everything stays on the device: no reads.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const TORCH_ADAMW_DEFAULTS: Omit<AdamWOptions, 'weightDecay'> = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export interface ParamEntry {
  name: string;
  variable: tf.Variable;
  /** Base lr of this variable's group. */
  lr: number;
  /** false: excluded from weight decay (biases, LayerNorm, Λ per the reference groups). */
  weightDecay: boolean;
}

interface SlotState {
  m: tf.Variable;
  v: tf.Variable;
  /** torch's per-parameter `step` (1-based after the first update). */
  step: number;
}

export class AdamW {
  private readonly state = new Map<string, SlotState>();
  /** Scalar constants by value, created once: each fresh scalar would be an upload. */
  private readonly constants = new Map<number, tf.Scalar>();

  constructor(private readonly options: AdamWOptions) {}

  /**
   * One update of every entry. `grads` by entry name, already clipped; `lrFactor` from the schedule.
   * Call inside tf.tidy.
   */
  update(entries: readonly ParamEntry[], grads: ReadonlyMap<string, tf.Tensor>, lrFactor: number): void {
    const { beta1, beta2, eps, weightDecay } = this.options;
    // Step-dependent scalars, shared by the variables of one group: one upload each per update.
    const stepScalars = new Map<number, tf.Scalar>();
    const stepScalar = (value: number): tf.Scalar => {
      let scalar = stepScalars.get(value);
      if (!scalar) stepScalars.set(value, (scalar = tf.scalar(value)));
      return scalar;
    };
    for (const entry of entries) {
      const grad = grads.get(entry.name);
      if (!grad) throw new Error(`no gradient for trainable variable ${entry.name}`);
      const slot = this.slot(entry);
      slot.step += 1;
      const lr = entry.lr * lrFactor;
      const biasCorrection1 = 1 - beta1 ** slot.step;
      const biasCorrection2 = 1 - beta2 ** slot.step;

      const m = tf.add(tf.mul(slot.m, this.constant(beta1)), tf.mul(grad, this.constant(1 - beta1)));
      const v = tf.add(tf.mul(slot.v, this.constant(beta2)), tf.mul(tf.square(grad), this.constant(1 - beta2)));
      slot.m.assign(m);
      slot.v.assign(v);
      // denom = sqrt(v) / sqrt(bc2) + eps; p -= (lr / bc1) * m / denom, after p *= 1 - lr * wd.
      const denom = tf.add(tf.mul(tf.sqrt(v), stepScalar(1 / Math.sqrt(biasCorrection2))), this.constant(eps));
      const stepTensor = tf.mul(tf.div(m, denom), stepScalar(lr / biasCorrection1));
      const decay = entry.weightDecay && weightDecay !== 0 ? 1 - lr * weightDecay : 1;
      const decayed = decay === 1 ? entry.variable : tf.mul(entry.variable, stepScalar(decay));
      entry.variable.assign(tf.sub(decayed, stepTensor));
    }
  }

  /** Frees the moments of variables that stopped training (frozen). */
  drop(names: readonly string[]): void {
    for (const name of names) {
      const slot = this.state.get(name);
      if (!slot) continue;
      slot.m.dispose();
      slot.v.dispose();
      this.state.delete(name);
    }
  }

  has(name: string): boolean {
    return this.state.has(name);
  }

  /** torch-style per-variable step count (0 when the variable has no state). */
  stepOf(name: string): number {
    return this.state.get(name)?.step ?? 0;
  }

  dispose(): void {
    this.drop([...this.state.keys()]);
    for (const scalar of this.constants.values()) scalar.dispose();
    this.constants.clear();
  }

  private slot(entry: ParamEntry): SlotState {
    let slot = this.state.get(entry.name);
    if (!slot) {
      // Created outside the caller's tidy scope so the moments survive it.
      slot = tf.tidy(() => ({
        m: tf.variable(tf.zerosLike(entry.variable), false),
        v: tf.variable(tf.zerosLike(entry.variable), false),
        step: 0,
      }));
      this.state.set(entry.name, slot);
    }
    return slot;
  }

  private constant(value: number): tf.Scalar {
    let scalar = this.constants.get(value);
    if (!scalar) {
      scalar = tf.keep(tf.scalar(value));
      this.constants.set(value, scalar);
    }
    return scalar;
  }
}

/** Sums scalars in chunks of at most 7 inputs (tf.addN with more inputs fails silently on WebGPU). */
export function sumScalars(values: readonly tf.Tensor[]): tf.Tensor {
  if (values.length === 0) return tf.scalar(0);
  let level: tf.Tensor[] = [...values];
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 7) {
      const chunk = level.slice(i, i + 7);
      next.push(chunk.length === 1 ? chunk[0] : tf.addN(chunk));
    }
    level = next;
  }
  return level[0];
}

/**
 * Global L2 norm of all gradients and the clipped gradients, as torch.nn.utils.clip_grad_norm_:
 * coef = min(1, maxNorm / (norm + 1e-6)). Call inside tf.tidy. Returns the norm before clipping.
 */
export function clipByGlobalNorm(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): { clipped: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)));
  const norm = tf.sqrt(sumScalars(squares)) as tf.Scalar;
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return { clipped: new Map(grads), norm };
  const coef = tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6))), tf.scalar(1));
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, grad] of grads) clipped.set(name, tf.mul(grad, coef));
  return { clipped, norm };
}

/**
 * AdamW exactly as torch.optim.AdamW (decoupled decay p <- p - lr*wd*p, bias-corrected moments, eps added after
 * the bias-corrected sqrt), with a per-variable lr and decay rate and torch's per-parameter step count, and
 * global-norm clipping as torch.nn.utils.clip_grad_norm_. One optimizer, two backends: the math is
 * engine/kernels `clipCoefficients` + `adamWUpdate`, a WGSL program on WebGPU (2 dispatches per variable, the
 * clip scale applied inside) and its composite elsewhere or with the kernels off. Everything stays on the device.
 */
import * as tf from '@tensorflow/tfjs';
import { adamWState, adamWUpdate, clipCoefficients } from './kernels';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
}

export const TORCH_ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export interface ParamEntry {
  name: string;
  variable: tf.Variable;
  /** Base lr of this variable's group. */
  lr: number;
  /** This entry's own schedule factor at this step, in place of the step's (MethodVariable.lrFactor). */
  lrFactor?: number;
  /** Decoupled weight-decay rate of this variable's group (0: not decayed, e.g. biases and LayerNorm). */
  weightDecay: number;
}

interface SlotState {
  /** [2, n] = (m, v). */
  moments: tf.Tensor2D;
  /** torch's per-parameter `step` (1-based after the first update). */
  step: number;
}

export class AdamW {
  private readonly state = new Map<string, SlotState>();

  constructor(private readonly options: AdamWOptions) {}

  /**
   * The global-norm clip of the raw gradients (`grads` by entry name): [2] = (pre-clip norm, coefficient) on the
   * device, for update(). maxNorm <= 0 or Infinity: no clipping (coefficient 1). The caller disposes it.
   */
  clip(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): tf.Tensor1D {
    return clipCoefficients([...grads.values()], maxNorm);
  }

  /**
   * One update of every entry from its gradient times clip[1] (clip: from clip(), or null); `lrFactor` from the
   * schedule, unless the entry has its own.
   */
  update(entries: readonly ParamEntry[], grads: ReadonlyMap<string, tf.Tensor>, lrFactor: number, clip: tf.Tensor1D | null = null): void {
    const { beta1, beta2, eps } = this.options;
    for (const entry of entries) {
      const grad = grads.get(entry.name);
      if (!grad) throw new Error(`no gradient for trainable variable ${entry.name}`);
      let slot = this.state.get(entry.name);
      if (!slot) {
        slot = { moments: tf.keep(adamWState(entry.variable)), step: 0 };
        this.state.set(entry.name, slot);
      }
      slot.step += 1;
      const next = adamWUpdate(entry.variable, grad, slot.moments, clip, {
        lr: entry.lr * (entry.lrFactor ?? lrFactor),
        beta1,
        beta2,
        eps,
        weightDecay: entry.weightDecay,
        step: slot.step,
      });
      slot.moments.dispose();
      // Kept: update() may run inside the caller's tidy, the moments must outlive it.
      slot.moments = tf.keep(next);
    }
  }

  /** Frees the moments of variables that stopped training (frozen). */
  drop(names: readonly string[]): void {
    for (const name of names) {
      this.state.get(name)?.moments.dispose();
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
  }
}

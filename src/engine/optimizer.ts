/**
 * AdamW exactly as torch.optim.AdamW (decoupled decay p <- p - lr*wd*p before the update, eps added after the
 * bias-corrected sqrt) or, variant 'hf', as transformers 4.31's own AdamW (the Trainer's default `adamw_hf`, which
 * the official AFLoRA runs used: eps added to sqrt(v) before the bias correction folded into the step size, decay
 * after the update), with a per-variable lr and decay rate and a per-parameter step count, and
 * global-norm clipping as torch.nn.utils.clip_grad_norm_. One optimizer, two backends: the math is
 * engine/kernels `clipCoefficients` + `adamWUpdate`, a WGSL program on WebGPU (1 dispatch per variable updating
 * it and its moments in place, 2 where a clone shares them; the clip scale applied inside) and its composite elsewhere or with the kernels off. Everything stays on the device.
 */
import * as tf from '@tensorflow/tfjs';
import {
  adamWState,
  adamWUpdate,
  clipCoefficients,
  kernelsActive,
  type AdamWHyper,
  type AdamWVariant,
} from './kernels';
import { ADAMW_TABLE_COLUMNS, adamWCoefficientRow } from './kernels/adamw';
import { markStepInput } from './replay';
import { fromTensorData, tensorData, type OptimizerSlot } from './checkpoint';
import type { Recipe } from './recipe';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  variant?: AdamWVariant;
}

/** Both optimizers' constants as the Trainer passes them (TrainingArguments' adam_beta1/2, adam_epsilon). */
export const TORCH_ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** The optimizer a recipe names. */
export function adamWOptionsOf(optimizer: Recipe['optimizer']): AdamWOptions {
  return { ...TORCH_ADAMW_DEFAULTS, variant: optimizer === 'adamw_hf' ? 'hf' : 'torch' };
}

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

/** Name of the coefficient table among a step's per-step inputs (engine/replay.ts). */
export const STEP_INPUT_ADAMW = 'adamw-coefficients';

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
  update(
    entries: readonly ParamEntry[],
    grads: ReadonlyMap<string, tf.Tensor>,
    lrFactor: number,
    clip: tf.Tensor1D | null = null,
  ): void {
    const { hyper, table } = this.advance(entries, lrFactor);
    // Kernels: the step's coefficients travel as one [entries * 4] table, a per-step input of a replayed step.
    const coefs = kernelsActive() ? markStepInput(STEP_INPUT_ADAMW, tf.tensor1d(table)) : null;
    entries.forEach((entry, row) => {
      const grad = grads.get(entry.name);
      if (!grad) throw new Error(`no gradient for trainable variable ${entry.name}`);
      const slot = this.state.get(entry.name)!;
      const next = adamWUpdate(
        entry.variable,
        grad,
        slot.moments,
        clip,
        hyper[row],
        coefs ? { coefs, row } : undefined,
      );
      slot.moments.dispose();
      // Kept: update() may run inside the caller's tidy, the moments must outlive it.
      slot.moments = tf.keep(next);
    });
    coefs?.dispose();
  }

  /**
   * The host half of update(): counts the step of every entry (creating missing state) and returns each entry's
   * hyper-parameters and the coefficient table [entries * 4] the WGSL update reads. A replayed step calls only this.
   */
  advance(entries: readonly ParamEntry[], lrFactor: number): { hyper: AdamWHyper[]; table: Float32Array } {
    const { beta1, beta2, eps, variant } = this.options;
    const table = new Float32Array(entries.length * ADAMW_TABLE_COLUMNS);
    const hyper = entries.map((entry, row) => {
      let slot = this.state.get(entry.name);
      if (!slot) {
        slot = { moments: tf.keep(adamWState(entry.variable)), step: 0 };
        this.state.set(entry.name, slot);
      }
      slot.step += 1;
      const hp: AdamWHyper = {
        lr: entry.lr * (entry.lrFactor ?? lrFactor),
        beta1,
        beta2,
        eps,
        weightDecay: entry.weightDecay,
        step: slot.step,
        variant,
      };
      table.set(adamWCoefficientRow(hp), row * ADAMW_TABLE_COLUMNS);
      return hp;
    });
    return { hyper, table };
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

  /** Every variable's moments and step count, as plain data (a checkpoint). */
  async saveState(): Promise<OptimizerSlot[]> {
    const slots: OptimizerSlot[] = [];
    for (const [name, slot] of this.state) slots.push({ name, step: slot.step, moments: await tensorData(slot.moments) });
    return slots;
  }

  /** Replaces the whole state with a saved one; `sizes`: the element count of each variable it may name. */
  loadState(slots: readonly OptimizerSlot[], sizes: ReadonlyMap<string, number>): void {
    this.dispose();
    for (const { name, step, moments } of slots) {
      const size = sizes.get(name);
      if (size === undefined) throw new Error(`checkpoint: optimizer state for ${name}, which this run does not train`);
      const tensor = fromTensorData(`optimizer state of ${name}`, moments, 2 * size);
      this.state.set(name, { moments: tf.keep(tf.reshape(tensor, [2, size]) as tf.Tensor2D), step });
      tensor.dispose();
    }
  }

  dispose(): void {
    this.drop([...this.state.keys()]);
  }
}

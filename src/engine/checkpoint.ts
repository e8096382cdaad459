/**
 * Plain-data checkpoints of a running Trainer (Trainer.checkpoint / restore): what a resumed run needs to continue
 * exactly as if it had not been interrupted. Everything here is structured-clone data (Maps, typed arrays), so a
 * checkpoint crosses the worker boundary and goes into IndexedDB as it is.
 */
import * as tf from '@tensorflow/tfjs';
import type { MethodState } from './adapter';
import type { StateDict, TensorData } from './types';

/** Bumped when the layout changes: an older checkpoint is refused rather than misread. */
export const CHECKPOINT_VERSION = 1;

/** One variable's AdamW state: its moments [2, n] = (m, v) and torch's per-parameter step count. */
export interface OptimizerSlot {
  name: string;
  step: number;
  moments: TensorData;
}

export interface TrainerCheckpoint {
  version: number;
  /**
   * Optimizer steps done. The schedule position, the batch position, the epoch's shuffle order and every dropout
   * seed derive from the recipe's seed and this step, so no RNG state is kept.
   */
  step: number;
  totalSteps: number;
  /** Every method variable and every trained model parameter (classifier, base weights under full fine-tuning). */
  variables: StateDict;
  optimizer: OptimizerSlot[];
  method: MethodState;
}

/** A copy of `tensor` as plain data (one GPU read). */
export async function tensorData(tensor: tf.Tensor): Promise<TensorData> {
  return { shape: [...tensor.shape], data: Float32Array.from((await tensor.data()) as Float32Array) };
}

/** Plain data as a new tensor, checked against the size it must have. */
export function fromTensorData(what: string, value: TensorData | undefined, size?: number): tf.Tensor {
  if (!value) throw new Error(`checkpoint: ${what} is missing`);
  const count = value.shape.reduce((a, b) => a * b, 1);
  if (count !== value.data.length || (size !== undefined && count !== size)) {
    throw new Error(`checkpoint: ${what} has ${value.data.length} values, expected ${size ?? count}`);
  }
  return tf.tensor(value.data, value.shape);
}

/** Reads named tensors in one pass (skipping the absent ones). */
export async function tensorsData(tensors: Record<string, tf.Tensor | null | undefined>): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const [name, tensor] of Object.entries(tensors)) if (tensor) out.set(name, await tensorData(tensor));
  return out;
}

/** Tokenised examples -> fixed-shape host batches (the last one padded with weight-0 rows) -> device tensors. */
import * as tf from '@tensorflow/tfjs';
import { classificationTargets, regressionWeights } from './loss';
import { MASK_NEGATIVE, type ModelBatch } from './model';
import { markStepInput } from './replay';
import type { EncodedExamples } from './types';

export type { EncodedExamples } from './types';

export interface HostBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** [B * S]: 0 for real tokens, MASK_NEGATIVE for padding. */
  additiveMask: Float32Array;
  labels: Float32Array;
  /** 1 for real examples, 0 for padding rows. */
  weights: Float32Array;
  realCount: number;
}

export function validateExamples(examples: EncodedExamples, what: string): void {
  const cells = examples.count * examples.seqLen;
  for (const key of ['inputIds', 'tokenTypeIds', 'attentionMask'] as const) {
    if (examples[key].length !== cells) {
      throw new Error(
        `${what}: ${key} has ${examples[key].length} entries, expected count*seqLen = ${cells}`,
      );
    }
  }
  if (examples.labels.length !== examples.count) {
    throw new Error(`${what}: ${examples.labels.length} labels for ${examples.count} examples`);
  }
  if (examples.count === 0) throw new Error(`${what}: no examples`);
}

/**
 * Rows `indices` of `examples` as one batch of `batchSize` rows; missing rows repeat the first one with
 * weight 0 (fixed shapes keep the GPU buffer pool from growing).
 */
export function gatherBatch(
  examples: EncodedExamples,
  indices: ArrayLike<number>,
  batchSize: number,
): HostBatch {
  const s = examples.seqLen;
  if (indices.length === 0 || indices.length > batchSize)
    throw new Error(`batch of ${indices.length} rows, size ${batchSize}`);
  const batch: HostBatch = {
    batchSize,
    seqLen: s,
    inputIds: new Int32Array(batchSize * s),
    tokenTypeIds: new Int32Array(batchSize * s),
    additiveMask: new Float32Array(batchSize * s),
    labels: new Float32Array(batchSize),
    weights: new Float32Array(batchSize),
    realCount: indices.length,
  };
  for (let row = 0; row < batchSize; row++) {
    const real = row < indices.length;
    const source = real ? indices[row] : indices[0];
    const from = source * s;
    batch.inputIds.set(examples.inputIds.subarray(from, from + s), row * s);
    batch.tokenTypeIds.set(examples.tokenTypeIds.subarray(from, from + s), row * s);
    for (let j = 0; j < s; j++)
      batch.additiveMask[row * s + j] = examples.attentionMask[from + j] ? 0 : MASK_NEGATIVE;
    batch.labels[row] = examples.labels[source];
    batch.weights[row] = real ? 1 : 0;
  }
  return batch;
}

/** Device tensors of a batch plus its loss targets. */
export interface DeviceBatch extends ModelBatch {
  /** Classification: [B, L] from classificationTargets. */
  targets?: tf.Tensor2D;
  /** Regression: values [B] and normalised weights [B]. */
  values?: tf.Tensor1D;
  weights?: tf.Tensor1D;
}

type BatchField = 'inputIds' | 'tokenTypeIds' | 'additiveMask' | 'targets' | 'values' | 'weights';

/** The host arrays of a device batch by field, with their shapes: one source for uploads and replayed steps. */
export function batchArrays(
  batch: HostBatch,
  numLabels: number,
  withTargets: boolean,
): Map<BatchField, { data: Int32Array | Float32Array; shape: number[] }> {
  const { batchSize: b, seqLen: s } = batch;
  const out = new Map<BatchField, { data: Int32Array | Float32Array; shape: number[] }>([
    ['inputIds', { data: batch.inputIds, shape: [b, s] }],
    ['tokenTypeIds', { data: batch.tokenTypeIds, shape: [b, s] }],
    ['additiveMask', { data: batch.additiveMask, shape: [b, 1, 1, s] }],
  ]);
  if (!withTargets) return out;
  if (numLabels === 1) {
    out.set('values', { data: batch.labels, shape: [b] });
    out.set('weights', { data: Float32Array.from(regressionWeights(batch.weights)), shape: [b] });
  } else {
    out.set('targets', {
      data: Float32Array.from(classificationTargets(batch.labels, batch.weights, numLabels)),
      shape: [b, numLabels],
    });
  }
  return out;
}

/** Name of a batch field among a step's per-step inputs (engine/replay.ts). */
export const stepInputOfBatch = (field: string) => `batch.${field}`;

export function uploadBatch(batch: HostBatch, numLabels: number, withTargets: boolean): DeviceBatch {
  const device: Partial<Record<BatchField, tf.Tensor>> = {};
  for (const [field, { data, shape }] of batchArrays(batch, numLabels, withTargets)) {
    device[field] = markStepInput(
      stepInputOfBatch(field),
      tf.tensor(data, shape, data instanceof Int32Array ? 'int32' : 'float32'),
    );
  }
  return device as unknown as DeviceBatch;
}

export function disposeBatch(batch: DeviceBatch): void {
  const tensors: (tf.Tensor | undefined)[] = [
    batch.inputIds,
    batch.tokenTypeIds,
    batch.additiveMask,
    batch.targets,
    batch.values,
    batch.weights,
  ];
  tf.dispose(tensors.filter((t): t is tf.Tensor => t !== undefined));
}

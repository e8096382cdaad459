/** Tokenised examples -> fixed-shape host batches (the last one padded with weight-0 rows) -> device tensors. */
import * as tf from '@tensorflow/tfjs';
import { classificationTargets, regressionWeights } from './loss';
import { MASK_NEGATIVE, type ModelBatch } from './model';
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
      throw new Error(`${what}: ${key} has ${examples[key].length} entries, expected count*seqLen = ${cells}`);
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
export function gatherBatch(examples: EncodedExamples, indices: ArrayLike<number>, batchSize: number): HostBatch {
  const s = examples.seqLen;
  if (indices.length === 0 || indices.length > batchSize) throw new Error(`batch of ${indices.length} rows, size ${batchSize}`);
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
    for (let j = 0; j < s; j++) batch.additiveMask[row * s + j] = examples.attentionMask[from + j] ? 0 : MASK_NEGATIVE;
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

export function uploadBatch(batch: HostBatch, numLabels: number, withTargets: boolean): DeviceBatch {
  const { batchSize: b, seqLen: s } = batch;
  const device: DeviceBatch = {
    inputIds: tf.tensor2d(batch.inputIds, [b, s], 'int32'),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, [b, s], 'int32'),
    additiveMask: tf.tensor4d(batch.additiveMask, [b, 1, 1, s], 'float32'),
  };
  if (!withTargets) return device;
  if (numLabels === 1) {
    device.values = tf.tensor1d(batch.labels, 'float32');
    device.weights = tf.tensor1d(regressionWeights(batch.weights), 'float32');
  } else {
    device.targets = tf.tensor2d(classificationTargets(batch.labels, batch.weights, numLabels), [b, numLabels]);
  }
  return device;
}

export function disposeBatch(batch: DeviceBatch): void {
  const tensors: (tf.Tensor | undefined)[] = [batch.inputIds, batch.tokenTypeIds, batch.additiveMask, batch.targets, batch.values, batch.weights];
  tf.dispose(tensors.filter((t): t is tf.Tensor => t !== undefined));
}

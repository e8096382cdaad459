/**
 * Losses with fixed batch shapes: padded examples carry weight 0 and the mean runs over real examples only.
 * The per-example weights (and the one-hot targets) are built on the host so each loss is only a few ops.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Host-side loss targets. Classification: -onehot(label) * weight / realCount, [B, L], so that
 * sum(logSoftmax(logits) * targets) is the mean cross-entropy. Regression: value [B] and weight / realCount [B].
 */
export function classificationTargets(labels: ArrayLike<number>, weights: ArrayLike<number>, numLabels: number): Float32Array {
  const batch = labels.length;
  const realCount = sumOf(weights);
  const targets = new Float32Array(batch * numLabels);
  for (let i = 0; i < batch; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= numLabels) {
      throw new Error(`label ${label} of batch row ${i} is not a class index in [0, ${numLabels})`);
    }
    if (weights[i] !== 0) targets[i * numLabels + label] = -weights[i] / realCount;
  }
  return targets;
}

export function regressionWeights(weights: ArrayLike<number>): Float32Array {
  const realCount = sumOf(weights);
  return Float32Array.from(weights, (w) => w / realCount);
}

function sumOf(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  if (total <= 0) throw new Error('a batch needs at least one real example');
  return total;
}

/** Mean cross-entropy. logits [B, L], targets [B, L] from classificationTargets -> scalar. */
export function crossEntropyLoss(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.sum(tf.mul(tf.logSoftmax(logits), targets));
}

/** Mean squared error. predictions [B, 1], values [B], weights [B] from regressionWeights -> scalar. */
export function mseLoss(predictions: tf.Tensor2D, values: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  const errors = tf.sub(tf.reshape(predictions, [-1]), values);
  return tf.sum(tf.mul(tf.square(errors), weights));
}

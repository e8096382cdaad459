/**
 * The gather of disentangled attention: out[r, i, j] = scores[r, i, M[i, j]] for a position-score matrix
 * scores [R, S, 2 span] and the relative index M [S, S] (engine/deberta/config relativeIndex or its transpose).
 * TF.js's own gather gradient scatters with unsortedSegmentSum, which the cpu backend runs as one pass per
 * segment (R x S x 2 span of them: minutes for a small model). Here the backward uses that every row of M is
 * monotone (buckets grow with the distance), so the j with M[i, j] = p form one run [start, end): the gradient
 * for scores[r, i, p] is a difference of two prefix sums of dy[r, i, :], read with one small index per shape.
 */
import * as tf from '@tensorflow/tfjs';

export interface RelativeGatherIndex {
  seqLen: number;
  /** 2 x span: the position-score columns. */
  columns: number;
  /** int32 [S * S]: i * columns + M[i, j], the forward's gather into a row of [S * columns]. */
  forward: tf.Tensor1D;
  /** int32 [S * columns]: i * (S + 1) + start / end of the run of M[i, :] equal to p (start = end: no run). */
  runStart: tf.Tensor1D;
  runEnd: tf.Tensor1D;
}

/** Builds the index tensors for M (row-major [S, S], values in [0, columns)); they outlive any tidy. */
export function relativeGatherIndex(m: Int32Array, seqLen: number, columns: number): RelativeGatherIndex {
  const forward = new Int32Array(seqLen * seqLen);
  const start = new Int32Array(seqLen * columns);
  const end = new Int32Array(seqLen * columns);
  for (let i = 0; i < seqLen; i++) {
    const rowBase = i * (seqLen + 1);
    for (let p = 0; p < columns; p++) start[i * columns + p] = end[i * columns + p] = rowBase;
    let previous = -1;
    for (let j = 0; j < seqLen; j++) {
      const p = m[i * seqLen + j];
      forward[i * seqLen + j] = i * columns + p;
      if (p !== previous) {
        if (end[i * columns + p] !== rowBase) throw new Error(`relative index row ${i} is not monotone at column ${j}`);
        start[i * columns + p] = rowBase + j;
        previous = p;
      }
      end[i * columns + p] = rowBase + j + 1;
    }
  }
  return {
    seqLen,
    columns,
    forward: tf.keep(tf.tensor1d(forward, 'int32')),
    runStart: tf.keep(tf.tensor1d(start, 'int32')),
    runEnd: tf.keep(tf.tensor1d(end, 'int32')),
  };
}

export function disposeRelativeGatherIndex(index: RelativeGatherIndex): void {
  tf.dispose([index.forward, index.runStart, index.runEnd]);
}

/** scores [R, S * columns] (rows of [S, columns]) -> [R, S * S] (rows of [S, S]). */
export function relativeGather(scores: tf.Tensor2D, index: RelativeGatherIndex): tf.Tensor2D {
  const { seqLen: s } = index;
  const op = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const value = tf.gather(inputs[0] as tf.Tensor2D, index.forward, 1) as tf.Tensor2D;
    const gradFunc = (dy: tf.Tensor) => {
      const rows = dy.shape[0];
      const prefix = tf.pad(tf.cumsum(tf.reshape(dy, [rows, s, s]), 2), [[0, 0], [0, 0], [1, 0]]); // [R, S, S + 1]
      const flat = tf.reshape(prefix, [rows, s * (s + 1)]);
      return tf.sub(tf.gather(flat, index.runEnd, 1), tf.gather(flat, index.runStart, 1));
    };
    return { value, gradFunc };
  });
  return op(scores) as tf.Tensor2D;
}

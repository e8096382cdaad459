/**
 * Means of the contiguous segments of a flat vector (AFLoRA's per-matrix score means, every step).
 *
 * TF.js's webgpu unsortedSegmentSum adds every element into its segment's slot with a float compare-exchange
 * loop: with all of a model's A/B elements (~150K for BERT-small) contending for a few dozen addresses, the
 * atomics serialise, and the order of the additions (so the last bits of every mean) changes from run to run.
 * Here the segments are contiguous, so one workgroup per segment sums its range with a tree reduction: one
 * dispatch, no atomics, the same order every time.
 */
import * as tf from '@tensorflow/tfjs';
import { onDevice } from '../replay';
import { flatDispatch, kernelsActive, registerWebGPUKernel, runKernel, workgroupSumSnippet } from './program';

const SEGMENT_MEANS = 'AfloraSegmentMeans';
const THREADS = 256;

// values [N], bounds int32 [S + 1] (segment s = values[bounds[s] .. bounds[s + 1]]) -> means [S].
registerWebGPUKernel(SEGMENT_MEANS, (backend, { values, bounds }) => {
  const segments = bounds.shape[0] - 1;
  return backend.runWebGPUProgram(
    {
      variableNames: ['values', 'bounds'],
      outputShape: [segments],
      shaderKey: 'aflora_segment_means',
      ...flatDispatch([segments], segments, THREADS),
      uniforms: 'segments : i32,',
      getUserCode: () => `
      ${workgroupSumSnippet('segmentSum', THREADS)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        let item = index / ${THREADS};
        let s = min(item, uniforms.segments - 1);
        let begin = bounds[s];
        let end = bounds[s + 1];
        var partial = 0.0;
        for (var j = begin + i32(tid); j < end; j += ${THREADS}) { partial += values[j]; }
        let total = segmentSum(partial, tid);
        if (tid == 0u && item < uniforms.segments) { result[item] = total / f32(end - begin); }
      }`,
    },
    [values, bounds],
    'float32',
    [{ type: 'int32', data: [segments] }],
  );
});

/** The segment structure of a flat vector, on the device for the run (segments of `sizes` elements, in order). */
export class SegmentLayout {
  readonly count: number;
  readonly elements: number;
  /** int32 [S + 1]: where each segment starts, then the end. */
  private readonly bounds: tf.Tensor1D;
  /** The composite's: segment index of every element, int32 [N], and element counts [S]. */
  private readonly ids: tf.Tensor1D;
  private readonly sizes: tf.Tensor1D;

  constructor(sizes: readonly number[]) {
    if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1))
      throw new Error(`segment layout: sizes must be positive integers (${sizes.slice(0, 4).join(', ')}...)`);
    this.count = sizes.length;
    const bounds = new Int32Array(sizes.length + 1);
    sizes.forEach((n, s) => (bounds[s + 1] = bounds[s] + n));
    this.elements = bounds[sizes.length];
    const ids = new Int32Array(this.elements);
    sizes.forEach((_, s) => ids.fill(s, bounds[s], bounds[s + 1]));
    this.bounds = onDevice(tf.tensor1d(bounds, 'int32'));
    this.ids = onDevice(tf.tensor1d(ids, 'int32'));
    this.sizes = onDevice(tf.tensor1d([...sizes], 'float32'));
  }

  /** values [N] -> the mean of each segment [S]. */
  means(values: tf.Tensor1D): tf.Tensor1D {
    if (values.size !== this.elements) throw new Error(`segment means: ${values.size} values for ${this.elements} elements`);
    if (kernelsActive()) return runKernel<tf.Tensor1D>(SEGMENT_MEANS, { values, bounds: this.bounds });
    return tf.tidy(() => tf.div(tf.unsortedSegmentSum(values, this.ids, this.count), this.sizes) as tf.Tensor1D);
  }

  dispose(): void {
    tf.dispose([this.bounds, this.ids, this.sizes]);
  }
}

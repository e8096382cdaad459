/**
 * Σ |a_i| |b_i| / divisor over two equally sized tensors, as a scalar (IncreLoRA's score Σ |ΔW| |∂L/∂ΔW| / √(out·in),
 * every adapted linear, every step).
 *
 * TF.js's webgpu sum of a whole tensor runs one workgroup, whose 256 threads walk all of it: ~1 ms for a 3072 x 768
 * ΔW on the H200, and four dispatches with the abs and the product. Here the first pass spreads the products over
 * up to 256 workgroups (a partial sum each), the second adds the partials: two dispatches, in a fixed order.
 */
import * as tf from '@tensorflow/tfjs';
import { flatDispatch, kernelsActive, registerWebGPUKernel, runKernel, workgroupSumSnippet } from './program';

const PARTIALS = 'AfloraAbsDotPartials';
const FINISH = 'AfloraAbsDotFinish';
const THREADS = 256;
/** Elements per thread at least, before another workgroup is worth it. */
const PER_THREAD = 4;

export function absDotGroups(n: number): number {
  return Math.max(1, Math.min(THREADS, Math.ceil(n / (THREADS * PER_THREAD))));
}

// a, b [N] (any shape, same size) -> partial sums [G] of |a_i b_i|, workgroup g taking i = g·T + t, then every G·T.
registerWebGPUKernel(PARTIALS, (backend, { a, b }) => {
  const n = a.shape.reduce((x, y) => x * y, 1);
  const groups = absDotGroups(n);
  return backend.runWebGPUProgram(
    {
      variableNames: ['a', 'b'],
      outputShape: [groups],
      shaderKey: 'aflora_abs_dot_partials',
      ...flatDispatch([groups], groups, THREADS),
      uniforms: 'n : i32, groups : i32,',
      getUserCode: () => `
      ${workgroupSumSnippet('partialSum', THREADS)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        let group = index / ${THREADS};
        var partial = 0.0;
        for (var i = index; i < uniforms.n; i += uniforms.groups * ${THREADS}) { partial += abs(a[i] * b[i]); }
        let total = partialSum(partial, tid);
        if (tid == 0u) { result[group] = total; }
      }`,
    },
    [a, b],
    'float32',
    [
      { type: 'int32', data: [n] },
      { type: 'int32', data: [groups] },
    ],
  );
});

// partials [G] -> Σ partials / divisor, a scalar.
registerWebGPUKernel(FINISH, (backend, { partials }, { divisor }) => {
  const count = partials.shape[0];
  return backend.runWebGPUProgram(
    {
      variableNames: ['partials'],
      outputShape: [],
      shaderKey: 'aflora_abs_dot_finish',
      ...flatDispatch([1], 1, THREADS),
      uniforms: 'count : i32, divisor : f32,',
      getUserCode: () => `
      ${workgroupSumSnippet('finalSum', THREADS)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        var partial = 0.0;
        for (var i = i32(tid); i < uniforms.count; i += ${THREADS}) { partial += partials[i]; }
        let total = finalSum(partial, tid);
        if (tid == 0u) { result[0] = total / uniforms.divisor; }
      }`,
    },
    [partials],
    'float32',
    [
      { type: 'int32', data: [count] },
      { type: 'float32', data: [divisor] },
    ],
  );
});

/** Σ |a| |b| / divisor (same sizes): the two-pass kernel on WebGPU, TF.js's composite elsewhere. No gradient. */
export function absDot(a: tf.Tensor, b: tf.Tensor, divisor: number): tf.Scalar {
  if (a.size !== b.size) throw new Error(`absDot: ${a.size} and ${b.size} elements`);
  if (!kernelsActive()) return tf.tidy(() => tf.div(tf.sum(tf.mul(tf.abs(a), tf.abs(b))), divisor));
  return tf.tidy(() => runKernel<tf.Scalar>(FINISH, { partials: runKernel(PARTIALS, { a, b }) }, { divisor }));
}

/**
 * Inverted dropout with the random mask generated on the GPU: y = x * keep(i) / (1 - rate), keep(i) from a
 * PCG hash of (seed, element index). tf.dropout draws its uniforms in JavaScript and uploads them
 * (attention-prob dropout of BERT-mini at batch 32 x 128: 2M randoms per layer per step) and costs ~4
 * dispatches; this is 1 dispatch forward and 1 backward, the mask recomputed from the hash, nothing stored.
 * Masks differ from tf.dropout's (another RNG), the distribution is the same; off WebGPU it is tf.dropout.
 */
import * as tf from '@tensorflow/tfjs';
import { elementwiseProgram, registerGradientOnce, registerWebGPUKernel, runKernel, kernelsActive } from './program';

const FORWARD = 'AfloraDropout';
const GRAD = 'AfloraDropoutGrad';

const HASH_WGSL = `
  fn pcgHash(v : u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
  }
  // Uniform in [0, 1) from the top 24 bits (exact in f32).
  fn keepScale(index : i32) -> f32 {
    let bits = pcgHash(u32(index) ^ pcgHash(bitcast<u32>(uniforms.seed)));
    let uniform01 = f32(bits >> 8u) * (1.0 / 16777216.0);
    return select(0.0, 1.0 / (1.0 - uniforms.rate), uniform01 >= uniforms.rate);
  }`;

/** The seed travels as an int32 uniform; the shader reinterprets its bits as u32. */
function seedUniforms(rate: number, seed: number) {
  return [
    { type: 'float32' as const, data: [rate] },
    { type: 'int32' as const, data: [seed | 0] },
  ];
}

// The gradient is the same program on dy: the same hash gives the same mask, dx = dy * keep / (1 - rate).
function registerMasked(kernelName: string, input: 'x' | 'dy'): void {
  registerWebGPUKernel(kernelName, (backend, inputs, { rate, seed }) => {
    const shape = inputs[input].shape;
    const program = elementwiseProgram({
      shaderKey: 'aflora_dropout',
      variableNames: ['xIn'],
      outputShape: shape,
      uniforms: 'rate : f32, seed : i32,',
      snippets: HASH_WGSL,
      body: 'result[index] = xIn[index] * keepScale(index);',
    });
    return backend.runWebGPUProgram(program, [inputs[input]], 'float32', seedUniforms(rate, seed));
  });
}
registerMasked(FORWARD, 'x');
registerMasked(GRAD, 'dy');

registerGradientOnce({
  kernelName: FORWARD,
  gradFunc: (dy, _saved, attrs) => {
    const { rate, seed } = attrs as { rate: number; seed: number };
    return { x: () => runKernel(GRAD, { dy: dy as tf.Tensor }, { rate, seed }) };
  },
});

/** Inverted dropout of x with drop probability `rate`; `seed` (any 32-bit integer) fixes the mask. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  if (rate <= 0) return x;
  if (!(rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (!kernelsActive()) return tf.dropout(x, rate, undefined, seed) as T;
  return runKernel<T>(FORWARD, { x }, { rate, seed: seed | 0 });
}

/**
 * Inverted dropout with the random mask generated on the GPU: y = x * keep(i) / (1 - rate), keep(i) from a
 * PCG hash of (seed, element index). tf.dropout draws its uniforms in JavaScript and uploads them
 * (attention-prob dropout of BERT-mini at batch 32 x 128: 2M randoms per layer per step) and costs ~4
 * dispatches; this is 1 dispatch forward and 1 backward, the mask recomputed from the hash, nothing stored.
 * Masks differ from tf.dropout's (another RNG), the distribution is the same; off WebGPU it is tf.dropout.
 * With a step-seed tensor ([1] int32 on the device) the hash mixes it with the call's own seed on the GPU: the
 * uniforms are then the same every step and a replayed step (engine/replay.ts) only rewrites that tensor.
 */
import * as tf from '@tensorflow/tfjs';
import {
  elementwiseProgram,
  registerGradientOnce,
  registerWebGPUKernel,
  runKernel,
  kernelsActive,
} from './program';

const FORWARD = 'AfloraDropout';
const GRAD = 'AfloraDropoutGrad';
const FORWARD_STEP_SEED = 'AfloraDropoutStepSeed';
const GRAD_STEP_SEED = 'AfloraDropoutStepSeedGrad';

const HASH_WGSL = `
  fn pcgHash(v : u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
  }
  // Uniform in [0, 1) from the top 24 bits (exact in f32).
  fn keepScale(index : i32) -> f32 {
    let bits = pcgHash(u32(index) ^ pcgHash(STEP_MIX bitcast<u32>(uniforms.seed)));
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
    const stepSeed = inputs.stepSeed;
    const program = elementwiseProgram({
      shaderKey: stepSeed ? 'aflora_dropout_stepseed' : 'aflora_dropout',
      variableNames: stepSeed ? ['xIn', 'stepSeed'] : ['xIn'],
      outputShape: shape,
      uniforms: 'rate : f32, seed : i32,',
      snippets: HASH_WGSL.replace('STEP_MIX', stepSeed ? 'pcgHash(bitcast<u32>(stepSeed[0])) ^' : ''),
      body: 'result[index] = xIn[index] * keepScale(index);',
    });
    return backend.runWebGPUProgram(
      program,
      stepSeed ? [inputs[input], stepSeed] : [inputs[input]],
      'float32',
      seedUniforms(rate, seed),
    );
  });
}
registerMasked(FORWARD, 'x');
registerMasked(GRAD, 'dy');
registerMasked(FORWARD_STEP_SEED, 'x');
registerMasked(GRAD_STEP_SEED, 'dy');

registerGradientOnce({
  kernelName: FORWARD,
  gradFunc: (dy, _saved, attrs) => {
    const { rate, seed } = attrs as { rate: number; seed: number };
    return { x: () => runKernel(GRAD, { dy: dy as tf.Tensor }, { rate, seed }) };
  },
});

registerGradientOnce({
  kernelName: FORWARD_STEP_SEED,
  inputsToSave: ['stepSeed'],
  gradFunc: (dy, saved, attrs) => {
    const { rate, seed } = attrs as { rate: number; seed: number };
    const stepSeed = saved[0];
    return {
      x: () => runKernel(GRAD_STEP_SEED, { dy: dy as tf.Tensor, stepSeed }, { rate, seed }),
      stepSeed: () => tf.zerosLike(stepSeed),
    };
  },
});

/**
 * Inverted dropout of x with drop probability `rate`; `seed` (any 32-bit integer) fixes the mask. With kernels,
 * `gpuSeed` (the step's seed as [1] int32 on the device, and this call's own seed) replaces `seed`.
 */
export function dropout<T extends tf.Tensor>(
  x: T,
  rate: number,
  seed: number,
  gpuSeed?: { step: tf.Tensor; call: number },
): T {
  if (rate <= 0) return x;
  if (!(rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (!kernelsActive()) return tf.dropout(x, rate, undefined, seed) as T;
  if (gpuSeed)
    return runKernel<T>(FORWARD_STEP_SEED, { x, stepSeed: gpuSeed.step }, { rate, seed: gpuSeed.call | 0 });
  return runKernel<T>(FORWARD, { x }, { rate, seed: seed | 0 });
}

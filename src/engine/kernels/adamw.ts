/**
 * Fused gradient clipping and AdamW (torch.optim.AdamW + clip_grad_norm_ semantics).
 *
 * Plain TF.js spends ~4 dispatches per variable on the global norm and ~12 on the AdamW update. Here:
 *  - gradient norm: 1 dispatch per 6 variables, each adding their sums of squares to a running [1] total,
 *    the last one also writing [norm, clipScale] (clipScale = min(1, maxNorm / (norm + 1e-6)));
 *  - AdamW: 2 dispatches per variable, one for the moments (kept packed as [2, n] = m, v, since a program
 *    has a single output) and one for the parameter. The clip scale stays on the GPU: no readback.
 */
import * as tf from '@tensorflow/tfjs';
import {
  assertShape,
  elementwiseDispatch,
  flatDispatch,
  isWebGPUBackend,
  registerWebGPUKernel,
  runKernel,
  workgroupSumSnippet,
  type WebGPUProgramSpec,
} from './program';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based optimizer step, for bias correction. */
  step: number;
}

const SUM_SQUARES = 'AfloraSumSquares';
const MOMENTS = 'AfloraAdamWMoments';
const PARAM = 'AfloraAdamWParam';
const REDUCE_THREADS = 256;
const ELEMENT_THREADS = 128;
const CLIP_EPS = 1e-6;

// Up to SUM_SQUARES_INPUTS gradients x0..xk (+ running total [1]) -> [1] total, or [2] (norm, clip scale)
// when finalize = 1. The 8-storage-buffer limit per stage (output included) caps the inputs per dispatch.
const SUM_SQUARES_INPUTS = 6;
registerWebGPUKernel(SUM_SQUARES, (backend, inputs, { finalize, maxNorm }) => {
  const hasAcc = inputs.acc != null;
  const grads = Object.keys(inputs)
    .filter((name) => name !== 'acc')
    .sort();
  const outputShape = [finalize ? 2 : 1];
  const sizes = grads.map((name) => inputs[name].shape.reduce((a, b) => a * b, 1));
  const loops = grads
    .map(
      (name, i) => `
        for (var i = i32(tid); i < uniforms.n${i}; i += ${REDUCE_THREADS}) {
          let g = ${name}[i];
          partial += g * g;
        }`,
    )
    .join('');
  const program: WebGPUProgramSpec = {
    variableNames: hasAcc ? [...grads, 'acc'] : grads,
    outputShape,
    shaderKey: `aflora_sum_squares_${grads.length}_${hasAcc ? 'acc' : 'first'}_${finalize ? 'final' : 'partial'}`,
    ...flatDispatch(outputShape, 1, REDUCE_THREADS),
    uniforms: `${grads.map((_, i) => `n${i} : i32, `).join('')}maxNorm : f32,`,
    getUserCode: () => `
      ${workgroupSumSnippet('blockSum', REDUCE_THREADS)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        var partial = 0.0;
        ${loops}
        let total = blockSum(partial, tid)${hasAcc ? ' + acc[0]' : ''};
        if (tid == 0u) {
          ${
            finalize
              ? `let norm = sqrt(total);
          result[0] = norm;
          result[1] = min(1.0, uniforms.maxNorm / (norm + ${CLIP_EPS}));`
              : 'result[0] = total;'
          }
        }
      }`,
  };
  const programInputs = [...grads.map((name) => inputs[name]), ...(hasAcc ? [inputs.acc] : [])];
  return backend.runWebGPUProgram(program, programInputs, 'float32', [
    ...sizes.map((n) => ({ type: 'int32' as const, data: [n] })),
    { type: 'float32', data: [maxNorm] },
  ]);
});

// grad [n], moments [2, n] = (m, v), clip [2] -> new moments [2, n]; one thread per element of n.
registerWebGPUKernel(MOMENTS, (backend, { grad, moments, clip }, { beta1, beta2 }) => {
  const n = grad.shape.reduce((a, b) => a * b, 1);
  const hasClip = clip != null;
  const outputShape = [2, n];
  const program: WebGPUProgramSpec = {
    variableNames: hasClip ? ['grad', 'moments', 'clip'] : ['grad', 'moments'],
    outputShape,
    shaderKey: `aflora_adamw_moments_${hasClip ? 'clip' : 'noclip'}`,
    ...flatDispatch(outputShape, Math.ceil(n / ELEMENT_THREADS), ELEMENT_THREADS),
    uniforms: 'n : i32, beta1 : f32, beta2 : f32,',
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.n) {
          let g = grad[index]${hasClip ? ' * clip[1]' : ''};
          result[index] = uniforms.beta1 * moments[index] + (1.0 - uniforms.beta1) * g;
          let vIndex = index + uniforms.n;
          result[vIndex] = uniforms.beta2 * moments[vIndex] + (1.0 - uniforms.beta2) * g * g;
        }
      }`,
  };
  return backend.runWebGPUProgram(program, hasClip ? [grad, moments, clip] : [grad, moments], 'float32', [
    { type: 'int32', data: [n] },
    { type: 'float32', data: [beta1] },
    { type: 'float32', data: [beta2] },
  ]);
});

// param [n], new moments [2n] -> new param [n].
registerWebGPUKernel(PARAM, (backend, { param, moments }, { decayFactor, stepSize, invSqrtBc2, eps }) => {
  const n = param.shape.reduce((a, b) => a * b, 1);
  const program: WebGPUProgramSpec = {
    variableNames: ['param', 'moments'],
    outputShape: param.shape,
    shaderKey: 'aflora_adamw_param',
    ...elementwiseDispatch(param.shape),
    uniforms: 'decayFactor : f32, stepSize : f32, invSqrtBc2 : f32, eps : f32,',
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let m = moments[index];
          let v = moments[index + uniforms.size];
          result[index] = param[index] * uniforms.decayFactor - uniforms.stepSize * m / (sqrt(v) * uniforms.invSqrtBc2 + uniforms.eps);
        }
      }`,
  };
  assertShape(n > 0, () => 'adamW: empty parameter');
  return backend.runWebGPUProgram(program, [param, moments], 'float32', [
    { type: 'float32', data: [decayFactor] },
    { type: 'float32', data: [stepSize] },
    { type: 'float32', data: [invSqrtBc2] },
    { type: 'float32', data: [eps] },
  ]);
});

/**
 * [2] = (global L2 norm of all grads, clip scale min(1, maxNorm / (norm + 1e-6))), on the device.
 * maxNorm = Infinity gives scale 1.
 */
export function clipCoefficients(grads: readonly tf.Tensor[], maxNorm: number): tf.Tensor1D {
  assertShape(grads.length > 0, () => 'clipCoefficients: no gradients');
  if (!isWebGPUBackend()) return clipCoefficientsComposite(grads, maxNorm);
  const finiteMax = Number.isFinite(maxNorm) ? maxNorm : 3.0e38;
  return tf.tidy(() => {
    let acc: tf.Tensor | undefined;
    for (let first = 0; first < grads.length; first += SUM_SQUARES_INPUTS) {
      const chunk = grads.slice(first, first + SUM_SQUARES_INPUTS);
      const inputs: Record<string, tf.Tensor> = {};
      // Single-digit names (x0..x5): the kernel's sorted input order is the chunk order.
      chunk.forEach((grad, i) => (inputs[`x${i}`] = tf.reshape(grad, [-1])));
      if (acc) inputs.acc = acc;
      const last = first + SUM_SQUARES_INPUTS >= grads.length;
      acc = runKernel(SUM_SQUARES, inputs, { finalize: last ? 1 : 0, maxNorm: finiteMax });
    }
    return acc as tf.Tensor1D;
  });
}

export function clipCoefficientsComposite(grads: readonly tf.Tensor[], maxNorm: number): tf.Tensor1D {
  return tf.tidy(() => {
    let total: tf.Tensor = tf.scalar(0);
    for (const grad of grads) total = tf.add(total, tf.sum(tf.square(grad)));
    const norm = tf.sqrt(total);
    const scale = Number.isFinite(maxNorm)
      ? tf.minimum(1, tf.div(maxNorm, tf.add(norm, CLIP_EPS)))
      : tf.scalar(1);
    return tf.stack([norm, scale]) as tf.Tensor1D;
  });
}

/** Zeroed AdamW state for a variable: [2, n] = (m, v). */
export function adamWState(variable: tf.Tensor): tf.Tensor2D {
  return tf.zeros([2, variable.size]);
}

/**
 * One AdamW step on `variable` (assigned in place), from its raw gradient times clip[1].
 * Returns the new [2, n] moments; the caller disposes the old ones. clip: from clipCoefficients, or null.
 */
export function adamWUpdate(
  variable: tf.Variable,
  grad: tf.Tensor,
  moments: tf.Tensor2D,
  clip: tf.Tensor1D | null,
  hp: AdamWHyper,
): tf.Tensor2D {
  assertShape(
    grad.size === variable.size && moments.size === 2 * variable.size,
    () => `adamW: sizes of ${variable.name}`,
  );
  const decayFactor = 1 - hp.lr * hp.weightDecay;
  const stepSize = hp.lr / (1 - Math.pow(hp.beta1, hp.step));
  const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(hp.beta2, hp.step));
  const [newParam, newMoments] = tf.tidy(() => {
    if (!isWebGPUBackend()) {
      const g = clip ? tf.mul(grad, tf.slice(clip, [1], [1])) : grad;
      const [m, v] = tf.unstack(moments);
      const m2 = tf.add(tf.mul(m, hp.beta1), tf.mul(tf.reshape(g, [-1]), 1 - hp.beta1));
      const v2 = tf.add(tf.mul(v, hp.beta2), tf.mul(tf.square(tf.reshape(g, [-1])), 1 - hp.beta2));
      const update = tf.div(tf.mul(m2, stepSize), tf.add(tf.mul(tf.sqrt(v2), invSqrtBc2), hp.eps));
      const p = tf.sub(tf.mul(variable, decayFactor), tf.reshape(update, variable.shape));
      return [p, tf.stack([m2, v2]) as tf.Tensor2D];
    }
    const inputs: Record<string, tf.Tensor> = { grad: tf.reshape(grad, [-1]), moments };
    if (clip) inputs.clip = clip;
    const m2 = runKernel<tf.Tensor2D>(MOMENTS, inputs, { beta1: hp.beta1, beta2: hp.beta2 });
    const p = runKernel(
      PARAM,
      { param: variable, moments: m2 },
      { decayFactor, stepSize, invSqrtBc2, eps: hp.eps },
    );
    return [p, m2];
  });
  variable.assign(newParam);
  newParam.dispose();
  return newMoments;
}

/** What FusedAdamW needs of a trainable variable (structurally the engine's optimizer ParamEntry). */
export interface FusedParamEntry {
  name: string;
  variable: tf.Variable;
  /** Base lr of the variable's group. */
  lr: number;
  weightDecay: boolean;
}

/**
 * Drop-in for the engine's AdamW (same torch semantics, same per-variable step count, drop() on freeze),
 * taking the RAW gradients plus the on-device clip coefficients, so clipping costs no extra dispatch:
 *   const clip = clipCoefficients([...grads.values()], maxGradNorm);   // [norm, scale]
 *   optimizer.update(entries, grads, lrFactor, clip);
 * 2 dispatches per variable (plain TF.js: ~12, plus ~3 for clipping).
 */
export class FusedAdamW {
  private readonly state = new Map<string, { moments: tf.Tensor2D; step: number }>();

  constructor(private readonly options: { beta1: number; beta2: number; eps: number; weightDecay: number }) {}

  update(
    entries: readonly FusedParamEntry[],
    grads: ReadonlyMap<string, tf.Tensor>,
    lrFactor: number,
    clip: tf.Tensor1D | null,
  ): void {
    for (const entry of entries) {
      const grad = grads.get(entry.name);
      if (!grad) throw new Error(`no gradient for trainable variable ${entry.name}`);
      let slot = this.state.get(entry.name);
      if (!slot) {
        slot = { moments: tf.keep(adamWState(entry.variable)), step: 0 };
        this.state.set(entry.name, slot);
      }
      slot.step += 1;
      const next = adamWUpdate(entry.variable, grad, slot.moments, clip, {
        lr: entry.lr * lrFactor,
        beta1: this.options.beta1,
        beta2: this.options.beta2,
        eps: this.options.eps,
        weightDecay: entry.weightDecay ? this.options.weightDecay : 0,
        step: slot.step,
      });
      slot.moments.dispose();
      // Kept: update() may run inside the caller's tidy, the moments must outlive it.
      slot.moments = tf.keep(next);
    }
  }

  drop(names: readonly string[]): void {
    for (const name of names) {
      this.state.get(name)?.moments.dispose();
      this.state.delete(name);
    }
  }

  has(name: string): boolean {
    return this.state.has(name);
  }

  stepOf(name: string): number {
    return this.state.get(name)?.step ?? 0;
  }

  dispose(): void {
    this.drop([...this.state.keys()]);
  }
}

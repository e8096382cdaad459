/**
 * Fused gradient clipping and AdamW (clip_grad_norm_ semantics; torch.optim.AdamW or transformers' own AdamW,
 * `adamw_hf`, which differ only in where eps and the decay enter: see adamWUpdate).
 *
 * Plain TF.js spends ~4 dispatches per variable on the global norm and ~12 on the AdamW update. Here:
 *  - gradient norm: 1 dispatch per 6 variables, each adding their sums of squares to a running [1] total,
 *    the last one also writing [norm, clipScale] (clipScale = min(1, maxNorm / (norm + 1e-6)));
 *  - AdamW: 1 dispatch per variable, writing the parameter (its output) and its moments (kept packed as [2, n] =
 *    m, v; an input bound read_write: program.ts runUpdate) in place. Where another tensor shares either (a
 *    clone, a reshape), 2: the moments, then the parameter, each a new tensor unless it may be written in place.
 *    The clip scale stays on the GPU.
 */
import * as tf from '@tensorflow/tfjs';
import {
  assertShape,
  elementwiseDispatch,
  flatDispatch,
  registerWebGPUKernel,
  runKernel,
  runUpdate,
  kernelsActive,
  workgroupSumSnippet,
  writableInPlace,
  type ProgramUniform,
  type WebGPUBackendLike,
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
  /** 'torch' (torch.optim.AdamW, default) or 'hf' (transformers 4.31 optimization.AdamW, the Trainer's adamw_hf). */
  variant?: AdamWVariant;
}

export type AdamWVariant = 'torch' | 'hf';

/**
 * The update as p' = (p * decayBefore - stepSize * m / (sqrt(v) * sqrtScale + eps)) * decayAfter; both variants
 * are this one formula with their own coefficients.
 */
interface UpdateCoefficients {
  decayBefore: number;
  decayAfter: number;
  stepSize: number;
  sqrtScale: number;
}

/**
 * torch: decay first, eps after the bias-corrected sqrt: p(1 - lr wd) - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps).
 * hf (transformers 4.31): denom = sqrt(v) + eps, step size lr sqrt(bc2) / bc1, then p <- p - lr wd p after the update.
 */
function updateCoefficients(hp: AdamWHyper): UpdateCoefficients {
  const decay = hp.weightDecay > 0 ? 1 - hp.lr * hp.weightDecay : 1;
  const bc1 = 1 - Math.pow(hp.beta1, hp.step);
  const bc2 = 1 - Math.pow(hp.beta2, hp.step);
  if (hp.variant === 'hf')
    return { decayBefore: 1, decayAfter: decay, stepSize: (hp.lr * Math.sqrt(bc2)) / bc1, sqrtScale: 1 };
  return { decayBefore: decay, decayAfter: 1, stepSize: hp.lr / bc1, sqrtScale: 1 / Math.sqrt(bc2) };
}

const SUM_SQUARES = 'AfloraSumSquares';
const MOMENTS = 'AfloraAdamWMoments';
const PARAM = 'AfloraAdamWParam';
const STEP = 'AfloraAdamWStep';
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

/** The update's step coefficients in WGSL: row `row` of the table `coefs` (a replayed step rewrites it), else uniforms. */
function coefficientReader(table: boolean): (k: number, name: string) => string {
  return (k, name) => (table ? `coefs[uniforms.row * ${ADAMW_TABLE_COLUMNS} + ${k}]` : `uniforms.${name}`);
}

function coefficientUniforms(
  table: boolean,
  { decayBefore, decayAfter, stepSize, sqrtScale, eps, row }: Record<string, number>,
): { decl: string; values: ProgramUniform } {
  if (table)
    return {
      decl: 'eps : f32, row : i32,',
      values: [
        { type: 'float32', data: [eps] },
        { type: 'int32', data: [row] },
      ],
    };
  return {
    decl: 'decayBefore : f32, decayAfter : f32, stepSize : f32, sqrtScale : f32, eps : f32,',
    values: [decayBefore, decayAfter, stepSize, sqrtScale, eps].map((x) => ({ type: 'float32' as const, data: [x] })),
  };
}

/** WGSL: p' from the old parameter `p` and the new moments `m`, `v` (UpdateCoefficients' formula). */
function paramUpdate(p: string, read: (k: number, name: string) => string): string {
  return `(${p} * ${read(0, 'decayBefore')} - ${read(2, 'stepSize')} * m / (sqrt(v) * ${read(3, 'sqrtScale')} + uniforms.eps)) * ${read(1, 'decayAfter')}`;
}

// grad [n], moments [2, n] = (m, v), clip [2] -> new moments [2, n]; one thread per element of n. In place
// (the moments buffer read and written) unless another tensor shares it.
registerWebGPUKernel(MOMENTS, (backend, { grad, moments, clip }, { beta1, beta2 }) => {
  const n = grad.shape.reduce((a, b) => a * b, 1);
  const hasClip = clip != null;
  const inPlace = writableInPlace(backend, moments);
  const old = inPlace ? 'result' : 'moments';
  const outputShape = [2, n];
  const program: WebGPUProgramSpec = {
    variableNames: ['grad', ...(inPlace ? [] : ['moments']), ...(hasClip ? ['clip'] : [])],
    outputShape,
    shaderKey: `aflora_adamw_moments_${hasClip ? 'clip' : 'noclip'}${inPlace ? '_inplace' : ''}`,
    ...flatDispatch(outputShape, Math.ceil(n / ELEMENT_THREADS), ELEMENT_THREADS),
    uniforms: 'n : i32, beta1 : f32, beta2 : f32,',
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.n) {
          let g = grad[index]${hasClip ? ' * clip[1]' : ''};
          let vIndex = index + uniforms.n;
          let m = ${old}[index];
          let v = ${old}[vIndex];
          result[index] = uniforms.beta1 * m + (1.0 - uniforms.beta1) * g;
          result[vIndex] = uniforms.beta2 * v + (1.0 - uniforms.beta2) * g * g;
        }
      }`,
  };
  const inputs = [grad, ...(inPlace ? [] : [moments]), ...(hasClip ? [clip] : [])];
  const uniforms: ProgramUniform = [
    { type: 'int32', data: [n] },
    { type: 'float32', data: [beta1] },
    { type: 'float32', data: [beta2] },
  ];
  return runUpdate(backend, program, inputs, moments, uniforms, inPlace);
});

// param [n], new moments [2n] (+ coefficient table [rows, 4]) -> new param [n], in place unless another tensor
// shares the parameter's data. With the table, the step's coefficients (decayBefore, decayAfter, stepSize, sqrtScale)
// are read from row `row` on the GPU, so the uniforms are the same every step and a replayed step
// (engine/replay.ts) only rewrites the table.
registerWebGPUKernel(PARAM, (backend, { param, moments, coefs }, attrs) => {
  const n = param.shape.reduce((a, b) => a * b, 1);
  assertShape(n > 0, () => 'adamW: empty parameter');
  const table = coefs != null;
  const inPlace = writableInPlace(backend, param);
  const { decl, values } = coefficientUniforms(table, attrs as Record<string, number>);
  const program: WebGPUProgramSpec = {
    variableNames: [...(inPlace ? [] : ['param']), 'moments', ...(table ? ['coefs'] : [])],
    outputShape: param.shape,
    shaderKey: `aflora_adamw_param${table ? '_table' : ''}${inPlace ? '_inplace' : ''}`,
    ...elementwiseDispatch(param.shape),
    uniforms: decl,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let m = moments[index];
          let v = moments[index + uniforms.size];
          result[index] = ${paramUpdate(`${inPlace ? 'result' : 'param'}[index]`, coefficientReader(table))};
        }
      }`,
  };
  const inputs = [...(inPlace ? [] : [param]), moments, ...(table ? [coefs] : [])];
  return runUpdate(backend, program, inputs, param, values, inPlace);
});

// The whole update of one variable, both written in place (only then: adamWUpdate checks): param [n] is the
// output, moments [2, n] an input bound read_write; grad [n], clip [2] and the coefficient table as in the two
// programs above, whose arithmetic this repeats in the same order.
registerWebGPUKernel(STEP, (backend, { param, grad, moments, clip, coefs }, attrs) => {
  const n = param.shape.reduce((a, b) => a * b, 1);
  assertShape(n > 0, () => 'adamW: empty parameter');
  const hasClip = clip != null;
  const table = coefs != null;
  const { beta1, beta2 } = attrs as Record<string, number>;
  const { decl, values } = coefficientUniforms(table, attrs as Record<string, number>);
  const program: WebGPUProgramSpec = {
    variableNames: ['grad', 'moments', ...(hasClip ? ['clip'] : []), ...(table ? ['coefs'] : [])],
    outputShape: param.shape,
    shaderKey: `aflora_adamw_step${hasClip ? '_clip' : ''}${table ? '_table' : ''}`,
    ...elementwiseDispatch(param.shape),
    uniforms: `beta1 : f32, beta2 : f32, ${decl}`,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let g = grad[index]${hasClip ? ' * clip[1]' : ''};
          let vIndex = index + uniforms.size;
          let m = uniforms.beta1 * moments[index] + (1.0 - uniforms.beta1) * g;
          let v = uniforms.beta2 * moments[vIndex] + (1.0 - uniforms.beta2) * g * g;
          moments[index] = m;
          moments[vIndex] = v;
          result[index] = ${paramUpdate('result[index]', coefficientReader(table))};
        }
      }`,
  };
  const inputs = [grad, moments, ...(hasClip ? [clip] : []), ...(table ? [coefs] : [])];
  const uniforms: ProgramUniform = [
    { type: 'float32', data: [beta1] },
    { type: 'float32', data: [beta2] },
    ...values,
  ];
  return runUpdate(backend, program, inputs, param, uniforms, true, ['moments']);
});

/** Floats per row of the coefficient table (adamWCoefficientRow). */
export const ADAMW_TABLE_COLUMNS = 4;

/** One row of the coefficient table the WGSL update reads: (decayBefore, decayAfter, stepSize, sqrtScale). */
export function adamWCoefficientRow(hp: AdamWHyper): [number, number, number, number] {
  const c = updateCoefficients(hp);
  return [c.decayBefore, c.decayAfter, c.stepSize, c.sqrtScale];
}

/**
 * [2] = (global L2 norm of all grads, clip scale min(1, maxNorm / (norm + 1e-6))), on the device, as
 * torch.nn.utils.clip_grad_norm_. maxNorm = Infinity (or <= 0) gives scale 1: no clipping.
 */
export function clipCoefficients(grads: readonly tf.Tensor[], maxNorm: number): tf.Tensor1D {
  assertShape(grads.length > 0, () => 'clipCoefficients: no gradients');
  const clips = maxNorm > 0 && Number.isFinite(maxNorm);
  if (!kernelsActive()) return clipCoefficientsComposite(grads, clips ? maxNorm : Infinity);
  return tf.tidy(() => {
    let acc: tf.Tensor | undefined;
    for (let first = 0; first < grads.length; first += SUM_SQUARES_INPUTS) {
      const chunk = grads.slice(first, first + SUM_SQUARES_INPUTS);
      const inputs: Record<string, tf.Tensor> = {};
      // Single-digit names (x0..x5): the kernel's sorted input order is the chunk order.
      chunk.forEach((grad, i) => (inputs[`x${i}`] = tf.reshape(grad, [-1])));
      if (acc) inputs.acc = acc;
      const last = first + SUM_SQUARES_INPUTS >= grads.length;
      acc = runKernel(SUM_SQUARES, inputs, { finalize: last ? 1 : 0, maxNorm: clips ? maxNorm : 3.0e38 });
    }
    return acc as tf.Tensor1D;
  });
}

/** Sums scalars in chunks of at most 7 inputs (tf.addN with more inputs fails silently on WebGPU). */
export function sumScalars(values: readonly tf.Tensor[]): tf.Tensor {
  if (values.length === 0) return tf.scalar(0);
  let level: tf.Tensor[] = [...values];
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 7) {
      const chunk = level.slice(i, i + 7);
      next.push(chunk.length === 1 ? chunk[0] : tf.addN(chunk));
    }
    level = next;
  }
  return level[0];
}

/** The plain clipCoefficients, in the golden fixtures' order (chunked addN of per-tensor sums of squares). */
export function clipCoefficientsComposite(grads: readonly tf.Tensor[], maxNorm: number): tf.Tensor1D {
  return tf.tidy(() => {
    const norm = tf.sqrt(sumScalars(grads.map((g) => tf.sum(tf.square(g)))));
    const scale = Number.isFinite(maxNorm)
      ? tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(CLIP_EPS))), tf.scalar(1))
      : tf.scalar(1);
    return tf.stack([norm, scale]) as tf.Tensor1D;
  });
}

/** Zeroed AdamW state for a variable: [2, n] = (m, v). */
export function adamWState(variable: tf.Tensor): tf.Tensor2D {
  return tf.zeros([2, variable.size]);
}

/**
 * One AdamW step on `variable` (assigned in place), from its raw gradient times clip[1] (clip from
 * clipCoefficients, or null), in `hp.variant`'s form (updateCoefficients). Returns the new [2, n] moments; the
 * caller disposes the old ones.
 */
export function adamWUpdate(
  variable: tf.Variable,
  grad: tf.Tensor,
  moments: tf.Tensor2D,
  clip: tf.Tensor1D | null,
  hp: AdamWHyper,
  /** The step's coefficient table [rows * 4] on the device and this variable's row (kernels only). */
  table?: { coefs: tf.Tensor1D; row: number },
): tf.Tensor2D {
  assertShape(
    grad.size === variable.size && moments.size === 2 * variable.size,
    () => `adamW: sizes of ${variable.name}`,
  );
  const coefficients = updateCoefficients(hp);
  const [newParam, newMoments] = tf.tidy(() => {
    if (!kernelsActive()) return adamWComposite(variable, grad, moments, clip, hp, coefficients);
    const inputs: Record<string, tf.Tensor> = { grad: tf.reshape(grad, [-1]), moments };
    if (clip) inputs.clip = clip;
    const backend = tf.backend() as unknown as WebGPUBackendLike;
    if (writableInPlace(backend, variable) && writableInPlace(backend, moments)) {
      const attrs: Record<string, number> = table
        ? { beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps, row: table.row }
        : { beta1: hp.beta1, beta2: hp.beta2, ...coefficients, eps: hp.eps };
      const p = runKernel(STEP, { ...inputs, param: variable, ...(table ? { coefs: table.coefs } : {}) }, attrs);
      // The moments were updated where they are: the new state is a new reference to the same data.
      return [p, tf.clone(moments)];
    }
    const m2 = runKernel<tf.Tensor2D>(MOMENTS, inputs, { beta1: hp.beta1, beta2: hp.beta2 });
    const p = table
      ? runKernel(
          PARAM,
          { param: variable, moments: m2, coefs: table.coefs },
          { eps: hp.eps, row: table.row },
        )
      : runKernel(PARAM, { param: variable, moments: m2 }, { ...coefficients, eps: hp.eps });
    return [p, m2];
  });
  // Updated in place (the usual case on webgpu) the new value already is the variable's data.
  if (newParam.dataId !== variable.dataId) variable.assign(newParam);
  newParam.dispose();
  return newMoments;
}

/** The plain AdamW update, in the golden fixtures' order of operations. */
function adamWComposite(
  variable: tf.Variable,
  grad: tf.Tensor,
  moments: tf.Tensor2D,
  clip: tf.Tensor1D | null,
  hp: AdamWHyper,
  { decayBefore, decayAfter, stepSize, sqrtScale }: UpdateCoefficients,
): [tf.Tensor, tf.Tensor2D] {
  const g = tf.reshape(clip ? tf.mul(grad, tf.slice(clip, [1], [1])) : grad, [-1]);
  const [m, v] = tf.unstack(moments);
  const m2 = tf.add(tf.mul(m, hp.beta1), tf.mul(g, 1 - hp.beta1));
  const v2 = tf.add(tf.mul(v, hp.beta2), tf.mul(tf.square(g), 1 - hp.beta2));
  const root = tf.sqrt(v2);
  const denom = tf.add(sqrtScale === 1 ? root : tf.mul(root, sqrtScale), hp.eps);
  const update = tf.reshape(tf.mul(tf.div(m2, denom), stepSize), variable.shape);
  const decayed = decayBefore === 1 ? variable : tf.mul(variable, decayBefore);
  const stepped = tf.sub(decayed, update);
  return [decayAfter === 1 ? stepped : tf.mul(stepped, decayAfter), tf.stack([m2, v2]) as tf.Tensor2D];
}

/**
 * LayerNorm over the last axis: y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance, as torch).
 * WebGPU: 1 dispatch forward (plain TF.js: ~9), 1 dispatch for dx (plain: ~20); gamma/beta gradients
 * (only when they train, i.e. full fine-tuning) cost 2 more: the engine differentiates lazily per input.
 */
import * as tf from '@tensorflow/tfjs';
import {
  assertShape,
  registerGradientOnce,
  registerWebGPUKernel,
  rowProgram,
  runKernel,
  reductionProgram,
  kernelsActive,
  workgroupSumSnippet,
} from './program';

const ROW_THREADS = 64;

/** WGSL computing `mean` and `rstd` of row `base` of `xIn`. */
function rowStats(): string {
  return `
      var partial = 0.0;
      for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) { partial += xIn[base + c]; }
      let mean = rowSum(partial, tid) / f32(cols);
      var partialSq = 0.0;
      for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
        let d = xIn[base + c] - mean;
        partialSq += d * d;
      }
      let rstd = inverseSqrt(rowSum(partialSq, tid) / f32(cols) + uniforms.eps);`;
}

const FORWARD = 'AfloraLayerNorm';
const GRAD_X = 'AfloraLayerNormGradX';
const STATS = 'AfloraLayerNormStats';
const GRAD_GAMMA = 'AfloraLayerNormGradGamma';

/** A per-row LayerNorm kernel over x [rows, cols]: the row statistics, then `body`; inputs named as the program. */
function registerRowKernel(kernelName: string, shaderKey: string, inputs: string[], outCols: (cols: number) => number, body: string, snippets = ''): void {
  registerWebGPUKernel(kernelName, (backend, tensors, { eps }) => {
    const [rows, cols] = tensors.x.shape;
    const program = rowProgram({
      shaderKey,
      variableNames: inputs,
      outputShape: [rows, outCols(cols)],
      rows,
      threads: ROW_THREADS,
      uniforms: 'rows : i32, cols : i32, eps : f32,',
      snippets: workgroupSumSnippet('rowSum', ROW_THREADS) + snippets,
      body: rowStats() + body,
    });
    const programInputs = inputs.map((name) => tensors[name === 'xIn' ? 'x' : name]);
    return backend.runWebGPUProgram(program, programInputs, 'float32', [
      { type: 'int32', data: [rows] },
      { type: 'int32', data: [cols] },
      { type: 'float32', data: [eps] },
    ]);
  });
}

registerRowKernel(
  FORWARD,
  'aflora_layernorm',
  ['xIn', 'gamma', 'beta'],
  (cols) => cols,
  `
      if (rowValid) {
        for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
          result[base + c] = (xIn[base + c] - mean) * rstd * gamma[c] + beta[c];
        }
      }`,
);

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma.
registerRowKernel(
  GRAD_X,
  'aflora_layernorm_grad_x',
  ['dy', 'xIn', 'gamma'],
  (cols) => cols,
  `
      var sums = vec2<f32>(0.0, 0.0);
      for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
        let g = dy[base + c] * gamma[c];
        sums += vec2<f32>(g, g * (xIn[base + c] - mean) * rstd);
      }
      let means = rowSum2(sums, tid) / f32(cols);
      if (rowValid) {
        for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
          let g = dy[base + c] * gamma[c];
          let xhat = (xIn[base + c] - mean) * rstd;
          result[base + c] = rstd * (g - means.x - xhat * means.y);
        }
      }`,
  workgroupSumSnippet('rowSum2', ROW_THREADS, 2),
);

// [rows, 2] = (mean, rstd) per row, for the column-wise gamma gradient.
registerRowKernel(
  STATS,
  'aflora_layernorm_stats',
  ['xIn'],
  () => 2,
  `
      if (rowValid && tid == 0u) {
        result[row * 2] = mean;
        result[row * 2 + 1] = rstd;
      }`,
);

// dgamma[c] = sum over rows of dy * xhat: one workgroup per column.
registerWebGPUKernel(GRAD_GAMMA, (backend, { dy, x, stats }) => {
  const [rows, cols] = x.shape;
  const program = reductionProgram({
    shaderKey: 'aflora_layernorm_grad_gamma',
    variableNames: ['dy', 'xIn', 'stats'],
    outputShape: [cols],
    items: cols,
    itemCount: 'cols',
    loopCount: 'rows',
    threads: ROW_THREADS,
    lanes: 1,
    uniforms: 'rows : i32, cols : i32,',
    term: 'dy[j * uniforms.cols + i] * (xIn[j * uniforms.cols + i] - stats[j * 2]) * stats[j * 2 + 1]',
    finish: 'result[i] = acc[0];',
  });
  return backend.runWebGPUProgram(program, [dy, x, stats], 'float32', [
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [cols] },
  ]);
});

registerGradientOnce({
  kernelName: FORWARD,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma] = saved;
    const eps = (attrs as { eps: number }).eps;
    const dy2 = dy as tf.Tensor;
    return {
      x: () => runKernel(GRAD_X, { dy: dy2, x, gamma }, { eps }),
      gamma: () => runKernel(GRAD_GAMMA, { dy: dy2, x, stats: runKernel(STATS, { x }, { eps }) }),
      beta: () => tf.sum(dy2, 0),
    };
  },
});

/** Plain TF.js LayerNorm over the last axis: the reference semantics, and the path off WebGPU. */
export function layerNormComposite(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): tf.Tensor {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** LayerNorm of x [..., H] with gamma, beta [H]; same result (and gradients) as layerNormComposite. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  if (!kernelsActive()) return layerNormComposite(x, gamma, beta, eps);
  const cols = x.shape[x.shape.length - 1];
  assertShape(gamma.size === cols && beta.size === cols, () => `layerNorm: gamma/beta size != ${cols}`);
  return tf.tidy(() => {
    const x2 = tf.reshape(x, [-1, cols]);
    return tf.reshape(runKernel(FORWARD, { x: x2, gamma, beta }, { eps }), x.shape);
  });
}

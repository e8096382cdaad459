/**
 * LayerNorm over the last axis: y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance, as torch).
 * WebGPU: 1 dispatch forward (plain TF.js: ~9), 1 dispatch for dx (plain: ~20); gamma/beta gradients
 * (only when they train, i.e. full fine-tuning) cost 2 more: the engine differentiates lazily per input.
 */
import * as tf from '@tensorflow/tfjs';
import {
  assertShape,
  flatDispatch,
  isWebGPUBackend,
  registerGradientOnce,
  registerWebGPUKernel,
  runKernel,
  workgroupSumSnippet,
  type WebGPUProgramSpec,
} from './program';

const ROW_THREADS = 64;

/** Shared WGSL: row index of this workgroup (clamped: the backend may fold a large dispatch into 2-D). */
function rowPrelude(): string {
  return `
      let tid = u32(localId.x);
      let rows = uniforms.rows;
      let cols = uniforms.cols;
      let rowUnclamped = index / ${ROW_THREADS};
      let rowValid = rowUnclamped < rows;
      let row = min(rowUnclamped, rows - 1);
      let base = row * cols;`;
}

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

function rowProgram(
  shaderKey: string,
  variableNames: string[],
  outputShape: number[],
  rows: number,
  body: string,
  extraSnippets = '',
): WebGPUProgramSpec {
  return {
    variableNames,
    outputShape,
    shaderKey,
    ...flatDispatch(outputShape, rows, ROW_THREADS),
    uniforms: 'rows : i32, cols : i32, eps : f32,',
    getUserCode: () => `
      ${workgroupSumSnippet('rowSum', ROW_THREADS)}
      ${extraSnippets}
      fn main(index : i32) {
        ${rowPrelude()}
        ${body}
      }`,
  };
}

const FORWARD = 'AfloraLayerNorm';
const GRAD_X = 'AfloraLayerNormGradX';
const STATS = 'AfloraLayerNormStats';
const GRAD_GAMMA = 'AfloraLayerNormGradGamma';

registerWebGPUKernel(FORWARD, (backend, { x, gamma, beta }, { eps }) => {
  const [rows, cols] = x.shape;
  const program = rowProgram(
    'aflora_layernorm',
    ['xIn', 'gamma', 'beta'],
    [rows, cols],
    rows,
    `${rowStats()}
      if (rowValid) {
        for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
          result[base + c] = (xIn[base + c] - mean) * rstd * gamma[c] + beta[c];
        }
      }`,
  );
  return backend.runWebGPUProgram(program, [x, gamma, beta], 'float32', layerNormUniforms(rows, cols, eps));
});

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma.
registerWebGPUKernel(GRAD_X, (backend, { dy, x, gamma }, { eps }) => {
  const [rows, cols] = x.shape;
  const program = rowProgram(
    'aflora_layernorm_grad_x',
    ['dy', 'xIn', 'gamma'],
    [rows, cols],
    rows,
    `${rowStats()}
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
  return backend.runWebGPUProgram(program, [dy, x, gamma], 'float32', layerNormUniforms(rows, cols, eps));
});

// [rows, 2] = (mean, rstd) per row, for the column-wise gamma gradient.
registerWebGPUKernel(STATS, (backend, { x }, { eps }) => {
  const [rows, cols] = x.shape;
  const program = rowProgram(
    'aflora_layernorm_stats',
    ['xIn'],
    [rows, 2],
    rows,
    `${rowStats()}
      if (rowValid && tid == 0u) {
        result[row * 2] = mean;
        result[row * 2 + 1] = rstd;
      }`,
  );
  return backend.runWebGPUProgram(program, [x], 'float32', layerNormUniforms(rows, cols, eps));
});

// dgamma[c] = sum over rows of dy * xhat: one workgroup per column.
registerWebGPUKernel(GRAD_GAMMA, (backend, { dy, x, stats }) => {
  const [rows, cols] = x.shape;
  const program: WebGPUProgramSpec = {
    variableNames: ['dy', 'xIn', 'stats'],
    outputShape: [cols],
    shaderKey: 'aflora_layernorm_grad_gamma',
    ...flatDispatch([cols], cols, ROW_THREADS),
    uniforms: 'rows : i32, cols : i32,',
    getUserCode: () => `
      ${workgroupSumSnippet('colSum', ROW_THREADS)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        let colUnclamped = index / ${ROW_THREADS};
        let col = min(colUnclamped, uniforms.cols - 1);
        var partial = 0.0;
        for (var r = i32(tid); r < uniforms.rows; r += ${ROW_THREADS}) {
          let i = r * uniforms.cols + col;
          partial += dy[i] * (xIn[i] - stats[r * 2]) * stats[r * 2 + 1];
        }
        let total = colSum(partial, tid);
        if (colUnclamped < uniforms.cols && tid == 0u) { result[col] = total; }
      }`,
  };
  return backend.runWebGPUProgram(program, [dy, x, stats], 'float32', [
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [cols] },
  ]);
});

function layerNormUniforms(rows: number, cols: number, eps: number) {
  return [
    { type: 'int32' as const, data: [rows] },
    { type: 'int32' as const, data: [cols] },
    { type: 'float32' as const, data: [eps] },
  ];
}

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
  if (!isWebGPUBackend()) return layerNormComposite(x, gamma, beta, eps);
  const cols = x.shape[x.shape.length - 1];
  assertShape(gamma.size === cols && beta.size === cols, () => `layerNorm: gamma/beta size != ${cols}`);
  return tf.tidy(() => {
    const x2 = tf.reshape(x, [-1, cols]);
    return tf.reshape(runKernel(FORWARD, { x: x2, gamma, beta }, { eps }), x.shape);
  });
}

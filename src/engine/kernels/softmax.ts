/**
 * Attention probabilities: softmax(scores * scale + mask) over the last axis.
 * scores [B, heads, Sq, Sk]; mask additive [B, Sk] (0 keep, large negative drop; see webgpu-notes: no -Inf).
 * WebGPU: 1 dispatch forward (plain TF.js: mul + add + softmax = 3), 1 dispatch for the scores gradient
 * (plain: ~6). The mask gets no gradient.
 */
import * as tf from '@tensorflow/tfjs';
import { assertShape, registerGradientOnce, registerWebGPUKernel, rowProgram, runKernel, kernelsActive, workgroupSumSnippet } from './program';

const FORWARD = 'AfloraMaskedSoftmax';
const GRAD = 'AfloraMaskedSoftmaxGrad';
const ROW_THREADS = 64;

const MAX_WGSL = `
    var<workgroup> rowMaxBuf : array<f32, ${ROW_THREADS}>;
    fn rowMax(value : f32, tid : u32) -> f32 {
      rowMaxBuf[tid] = value;
      workgroupBarrier();
      for (var stride = ${ROW_THREADS / 2}u; stride > 0u; stride = stride >> 1u) {
        if (tid < stride) { rowMaxBuf[tid] = max(rowMaxBuf[tid], rowMaxBuf[tid + stride]); }
        workgroupBarrier();
      }
      let total = rowMaxBuf[0];
      workgroupBarrier();
      return total;
    }`;

function softmaxRows(shaderKey: string, variableNames: string[], shape: number[], body: string) {
  return rowProgram({
    shaderKey,
    variableNames,
    outputShape: shape,
    rows: shape[0],
    threads: ROW_THREADS,
    uniforms: 'rows : i32, cols : i32, rowsPerBatch : i32, scale : f32,',
    snippets: workgroupSumSnippet('rowSum', ROW_THREADS) + MAX_WGSL,
    body,
  });
}

function uniformsFor(rows: number, cols: number, rowsPerBatch: number, scale: number) {
  return [
    { type: 'int32' as const, data: [rows] },
    { type: 'int32' as const, data: [cols] },
    { type: 'int32' as const, data: [rowsPerBatch] },
    { type: 'float32' as const, data: [scale] },
  ];
}

// scores viewed as [rows, Sk]; mask row = row / rowsPerBatch (rowsPerBatch = heads * Sq).
registerWebGPUKernel(FORWARD, (backend, { scores, mask }, { scale, rowsPerBatch }) => {
  const [rows, cols] = scores.shape;
  const program = softmaxRows(
    'aflora_masked_softmax',
    ['scores', 'mask'],
    [rows, cols],
    `let maskBase = (row / uniforms.rowsPerBatch) * cols;
        var localMax = -3.0e38;
        for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
          localMax = max(localMax, scores[base + c] * uniforms.scale + mask[maskBase + c]);
        }
        let m = rowMax(localMax, tid);
        var localSum = 0.0;
        for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
          localSum += exp(scores[base + c] * uniforms.scale + mask[maskBase + c] - m);
        }
        let total = rowSum(localSum, tid);
        if (rowValid) {
          for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
            result[base + c] = exp(scores[base + c] * uniforms.scale + mask[maskBase + c] - m) / total;
          }
        }`,
  );
  return backend.runWebGPUProgram(
    program,
    [scores, mask],
    'float32',
    uniformsFor(rows, cols, rowsPerBatch, scale),
  );
});

// d scores = scale * y * (dy - sum(dy * y)).
registerWebGPUKernel(GRAD, (backend, { dy, y }, { scale }) => {
  const [rows, cols] = y.shape;
  const program = softmaxRows(
    'aflora_masked_softmax_grad',
    ['dy', 'probs'],
    [rows, cols],
    `var localDot = 0.0;
        for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) { localDot += dy[base + c] * probs[base + c]; }
        let dot = rowSum(localDot, tid);
        if (rowValid) {
          for (var c = i32(tid); c < cols; c += ${ROW_THREADS}) {
            result[base + c] = uniforms.scale * probs[base + c] * (dy[base + c] - dot);
          }
        }`,
  );
  return backend.runWebGPUProgram(program, [dy, y], 'float32', uniformsFor(rows, cols, 1, scale));
});

registerGradientOnce({
  kernelName: FORWARD,
  inputsToSave: ['mask'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [mask, y] = saved;
    const { scale } = attrs as { scale: number };
    return {
      scores: () => runKernel(GRAD, { dy: dy as tf.Tensor, y }, { scale }),
      // Never on the path from trainable variables; defined for completeness.
      mask: () => tf.zerosLike(mask),
    };
  },
});

function maskAs4D(mask: tf.Tensor, batch: number, keys: number): tf.Tensor {
  return tf.reshape(mask, [batch, 1, 1, keys]);
}

/** Plain TF.js softmax(scores * scale + mask): the reference semantics, and the path off WebGPU. */
export function maskedSoftmaxComposite(scores: tf.Tensor4D, mask: tf.Tensor, scale: number): tf.Tensor4D {
  const [batch, , , keys] = scores.shape;
  return tf.tidy(() => tf.softmax(tf.add(tf.mul(scores, scale), maskAs4D(mask, batch, keys))) as tf.Tensor4D);
}

/** softmax(scores * scale + mask) over the last axis; scores [B, h, Sq, Sk], mask [B, Sk] or [B, 1, 1, Sk]. */
export function maskedSoftmax(scores: tf.Tensor4D, mask: tf.Tensor, scale: number): tf.Tensor4D {
  if (!kernelsActive()) return maskedSoftmaxComposite(scores, mask, scale);
  const [batch, heads, queries, keys] = scores.shape;
  assertShape(mask.size === batch * keys, () => `maskedSoftmax: mask must hold ${batch}x${keys} values`);
  return tf.tidy(() => {
    const rows = tf.reshape(scores, [batch * heads * queries, keys]);
    const mask2 = tf.reshape(mask, [batch, keys]);
    const probs = runKernel(FORWARD, { scores: rows, mask: mask2 }, { scale, rowsPerBatch: heads * queries });
    return tf.reshape(probs, scores.shape) as tf.Tensor4D;
  });
}

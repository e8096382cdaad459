/**
 * y = x W^T + b with W in PyTorch layout [out, in]: tf.fused.matMul's forward (1 dispatch), but gradients
 * computed per input only when needed. tf.fused.matMul differentiates through tf.customGrad, which always
 * computes dW (a T x in x out matMul) and db (a reduction) even for frozen base weights: with adapters,
 * a third of the backward matMul FLOPs and 2 dispatches per linear are thrown away.
 */
import * as tf from '@tensorflow/tfjs';
import { matMul, tiledMatMulSupported } from './matmul';
import { assertShape, registerGradientOnce, runKernel, kernelsActive } from './program';

const LINEAR = 'AfloraLinear';

// Forward: the webgpu backend's own fused matMul kernel (bias fused in its epilogue).
function registerForward(): void {
  if (tf.getKernel(LINEAR, 'webgpu') != null) return;
  tf.registerKernel({
    kernelName: LINEAR,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => {
      const fused = tf.getKernel('_FusedMatMul', 'webgpu');
      if (!fused) throw new Error('webgpu backend has no _FusedMatMul kernel');
      const { x, weight, bias } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo; bias: tf.TensorInfo };
      return fused.kernelFunc({
        inputs: { a: x, b: weight, bias },
        backend,
        attrs: { transposeA: false, transposeB: true, activation: 'linear', leakyreluAlpha: 0 },
      }) as tf.TensorInfo;
    },
  });
}
registerForward();

registerGradientOnce({
  kernelName: LINEAR,
  inputsToSave: ['x', 'weight'],
  gradFunc: (dy, [x, weight]) => {
    const g = dy as tf.Tensor2D;
    return {
      x: () => tf.matMul(g, weight as tf.Tensor2D), // [T, out] x [out, in] -> [T, in]
      weight: () => tf.matMul(g, x as tf.Tensor2D, true, false), // [out, T] x [T, in] -> [out, in]
      bias: () => tf.sum(g, 0), // [out]
    };
  },
});

/** Plain TF.js linear with lazily differentiated inputs: the path off WebGPU. */
export function linearComposite(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight, false, true), bias);
}

/** x [T, in], weight [out, in], bias [out] -> [T, out]. */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (!kernelsActive()) return linearComposite(x, weight, bias);
  assertShape(
    x.shape[1] === weight.shape[1] && bias.size === weight.shape[0],
    () => 'linear: shape mismatch',
  );
  const [tokens, inputs] = x.shape;
  const outputs = weight.shape[0];
  // The tiled matmul (bias in its epilogue, same lazy gradients) where it applies; small or odd shapes (a
  // classifier's few labels) keep TF.js's fused matMul.
  if (tiledMatMulSupported({ batch: 1, m: tokens, n: outputs, k: inputs, transposeA: false, transposeB: true }))
    return matMul(x, weight, false, true, bias);
  return runKernel<tf.Tensor2D>(LINEAR, { x, weight, bias });
}

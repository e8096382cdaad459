/**
 * Exact (erf) GELU with an optional fused bias add: y = gelu(x + bias), x [..., C], bias [C].
 * WebGPU: 1 dispatch forward (plain TF.js: add + 5), 1 dispatch for dx (plain: ~8); the bias gradient
 * (a column sum, 1 more dispatch) is only computed when the bias trains.
 */
import * as tf from '@tensorflow/tfjs';
import { assertShape, elementwiseProgram, registerGradientOnce, registerWebGPUKernel, runKernel, kernelsActive } from './program';

const FORWARD_BIAS = 'AfloraBiasGelu';
const GRAD_BIAS = 'AfloraBiasGeluGrad';
const FORWARD_PLAIN = 'AfloraGelu';
const GRAD_PLAIN = 'AfloraGeluGrad';

// erf with Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), the same approximation TF.js's Erf kernels use.
const ERF_WGSL = `
  fn erfApprox(v : f32) -> f32 {
    let a = abs(v);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
    return sign(v) * (1.0 - poly * exp(-a * a));
  }`;

function geluProgram(shaderKey: string, variableNames: string[], outputShape: number[], body: string) {
  return elementwiseProgram({ shaderKey, variableNames, outputShape, uniforms: 'cols : i32,', snippets: ERF_WGSL, body });
}

function registerForward(kernelName: string, hasBias: boolean): void {
  registerWebGPUKernel(kernelName, (backend, { x, bias }) => {
    const cols = x.shape[x.shape.length - 1];
    const u = hasBias ? 'xIn[index] + bias[index % uniforms.cols]' : 'xIn[index]';
    const program = geluProgram(
      `aflora_gelu_${hasBias ? 'bias' : 'plain'}`,
      hasBias ? ['xIn', 'bias'] : ['xIn'],
      x.shape,
      `let u = ${u};
          result[index] = 0.5 * u * (1.0 + erfApprox(u * 0.7071067811865476));`,
    );
    return backend.runWebGPUProgram(program, hasBias ? [x, bias] : [x], 'float32', [
      { type: 'int32', data: [cols] },
    ]);
  });
}

// d/du gelu(u) = Phi(u) + u * phi(u).
function registerGrad(kernelName: string, hasBias: boolean): void {
  registerWebGPUKernel(kernelName, (backend, { dy, x, bias }) => {
    const cols = x.shape[x.shape.length - 1];
    const u = hasBias ? 'xIn[index] + bias[index % uniforms.cols]' : 'xIn[index]';
    const program = geluProgram(
      `aflora_gelu_grad_${hasBias ? 'bias' : 'plain'}`,
      hasBias ? ['dy', 'xIn', 'bias'] : ['dy', 'xIn'],
      x.shape,
      `let u = ${u};
          let cdf = 0.5 * (1.0 + erfApprox(u * 0.7071067811865476));
          let pdf = 0.3989422804014327 * exp(-0.5 * u * u);
          result[index] = dy[index] * (cdf + u * pdf);`,
    );
    return backend.runWebGPUProgram(program, hasBias ? [dy, x, bias] : [dy, x], 'float32', [
      { type: 'int32', data: [cols] },
    ]);
  });
}

registerForward(FORWARD_BIAS, true);
registerForward(FORWARD_PLAIN, false);
registerGrad(GRAD_BIAS, true);
registerGrad(GRAD_PLAIN, false);

registerGradientOnce({
  kernelName: FORWARD_BIAS,
  inputsToSave: ['x', 'bias'],
  gradFunc: (dy, [x, bias]) => {
    // Each closure runs only if its input is on the path to a trainable variable (frozen bias: no sum).
    const dPre = () => runKernel(GRAD_BIAS, { dy: dy as tf.Tensor, x, bias });
    return { x: dPre, bias: () => tf.sum(dPre(), 0) };
  },
});

registerGradientOnce({
  kernelName: FORWARD_PLAIN,
  inputsToSave: ['x'],
  gradFunc: (dy, [x]) => ({ x: () => runKernel(GRAD_PLAIN, { dy: dy as tf.Tensor, x }) }),
});

/** Plain TF.js gelu(x + bias): the reference semantics, and the path off WebGPU. */
export function biasGeluComposite(x: tf.Tensor, bias?: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => {
    const u = bias ? tf.add(x, bias) : x;
    return tf.mul(tf.mul(u, 0.5), tf.add(1, tf.erf(tf.mul(u, Math.SQRT1_2))));
  });
}

/** gelu(x + bias) for x [..., C] (bias [C] optional), same result and gradients as biasGeluComposite. */
export function biasGelu(x: tf.Tensor, bias?: tf.Tensor1D): tf.Tensor {
  if (!kernelsActive()) return biasGeluComposite(x, bias);
  const cols = x.shape[x.shape.length - 1];
  assertShape(bias == null || bias.size === cols, () => `biasGelu: bias size != ${cols}`);
  return tf.tidy(() => {
    const x2 = tf.reshape(x, [-1, cols]);
    const y = bias ? runKernel(FORWARD_BIAS, { x: x2, bias }) : runKernel(FORWARD_PLAIN, { x: x2 });
    return tf.reshape(y, x.shape);
  });
}

/**
 * Low-rank adapter on top of a base linear output, for LoRA, AFLoRA and ELoRA/VeRA:
 *   y = base + scale * Λb ⊙ ( B ( Λd ⊙ (A x) ) )      (Λd, Λb optional: LoRA has neither)
 * x [T, in], base [T, out], A [r, in], B [out, r], Λd [r], Λb [out].
 *
 * WebGPU: u = x A^T is one program forward (dx = du A the tiled matMul, dA a token sum); everything after u is one
 * program forward (plain: 4 dispatches) and one program per needed input gradient backward (du: 1; dB, dΛb: a
 * token sum and its finish; dΛd: 2), instead of ~11 plain dispatches. At step size the rank-r products run the
 * programs of lowRankProducts.ts; small ones (toy models) keep the tiled matMul and per-row reductions. Ranks above
 * MAX_FUSED_RANK (ELoRA's large shared ranks) take the composite path, where tiled matMuls win.
 */
import * as tf from '@tensorflow/tfjs';
import { matMul } from './matmul';
import {
  narrowProgram,
  productUniforms,
  runTokenSum,
  isStepSizedProduct,
  upProgram,
} from './lowRankProducts';
import {
  assertShape,
  flatDispatch,
  reductionProgram,
  registerGradientOnce,
  registerWebGPUKernel,
  runKernel,
  kernelsActive,
  type WebGPUProgramSpec,
} from './program';

export const MAX_FUSED_RANK = 32;
const THREADS = 64;

const DOWN = 'AfloraLowRankDown';
const DOWN_GRAD_A = 'AfloraLowRankDownGradA';
const UP = 'AfloraLowRankUp';
const UP_SCALED = 'AfloraLowRankUpScaled';
const GRAD_U = 'AfloraLowRankGradU';
const GRAD_COLUMN = 'AfloraLowRankGradColumn';
const COLUMN_DOT = 'AfloraLowRankColumnDot';

interface Lambdas {
  /** Whether Λd / Λb inputs are present (else taken as 1). */
  hasLambdas: boolean;
}

const lambdaD = ({ hasLambdas }: Lambdas, k: string) => (hasLambdas ? `lambdaD[${k}]` : '1.0');
const lambdaB = ({ hasLambdas }: Lambdas, o: string) => (hasLambdas ? `lambdaB[${o}]` : '1.0');

/** Program variable names -> kernel inputs. Only pass what the shader reads: layout 'auto' drops unused bindings. */
const INPUT_OF: Record<string, string> = {
  u: 'u',
  upB: 'b',
  base: 'base',
  lambdaD: 'lambdaD',
  lambdaB: 'lambdaB',
  dy: 'dy',
};
function pick(names: string[], inputs: Record<string, tf.TensorInfo>): tf.TensorInfo[] {
  return names.map((name) => {
    const input = inputs[INPUT_OF[name]];
    if (!input) throw new Error(`lowRank kernel: missing input ${INPUT_OF[name]}`);
    return input;
  });
}

function uniforms(tokens: number, out: number, scale: number) {
  return [
    { type: 'int32' as const, data: [tokens] },
    { type: 'int32' as const, data: [out] },
    { type: 'float32' as const, data: [scale] },
  ];
}
const UNIFORM_DECL = 'tokens : i32, outFeatures : i32, scale : f32,';

// y[t, o] = base[t, o] + scale * Λb[o] * sum_k u[t, k] Λd[k] B[o, k]: the tiled upProgram at step size, else one
// thread per output element.
function registerUp(kernelName: string, lambdas: Lambdas): void {
  registerWebGPUKernel(kernelName, (backend, inputs, { scale }) => {
    const { u, b } = inputs;
    const [tokens, rank] = u.shape;
    const out = b.shape[0];
    const names = lambdas.hasLambdas ? ['u', 'upB', 'base', 'lambdaD', 'lambdaB'] : ['u', 'upB', 'base'];
    if (isStepSizedProduct(tokens, out, rank)) {
      const tiled = upProgram(tokens, out, rank, lambdas.hasLambdas);
      return backend.runWebGPUProgram(tiled, pick(names, inputs), 'float32', productUniforms(scale));
    }
    const program: WebGPUProgramSpec = {
      variableNames: names,
      outputShape: [tokens, out],
      shaderKey: `aflora_lowrank_up_${lambdas.hasLambdas ? 'lambda' : 'plain'}_r${rank}`,
      ...flatDispatch([tokens, out], Math.ceil((tokens * out) / 128), 128),
      uniforms: UNIFORM_DECL,
      getUserCode: () => `
        fn main(index : i32) {
          if (index < uniforms.tokens * uniforms.outFeatures) {
            let t = index / uniforms.outFeatures;
            let o = index - t * uniforms.outFeatures;
            var acc = 0.0;
            for (var k = 0; k < ${rank}; k++) {
              acc += u[t * ${rank} + k] * ${lambdaD(lambdas, 'k')} * upB[o * ${rank} + k];
            }
            result[index] = base[index] + uniforms.scale * ${lambdaB(lambdas, 'o')} * acc;
          }
        }`,
    };
    return backend.runWebGPUProgram(program, pick(names, inputs), 'float32', uniforms(tokens, out, scale));
  });
}
registerUp(UP, { hasLambdas: true });
registerUp(UP_SCALED, { hasLambdas: false });

// du[t, k] = scale * Λd[k] * sum_o dy[t, o] Λb[o] B[o, k]  (withLambdaD = 0: without the Λd factor).
// One workgroup per token t, threads striding over o.
registerWebGPUKernel(GRAD_U, (backend, inputs, { scale, hasLambdas, withLambdaD }) => {
  const { dy, b } = inputs;
  const [tokens, out] = dy.shape;
  const rank = b.shape[1];
  const lambdas = { hasLambdas: hasLambdas === 1 };
  const useLambdaD = lambdas.hasLambdas && withLambdaD === 1;
  if (isStepSizedProduct(tokens, out, rank)) {
    const spec = {
      tokens,
      features: out,
      rank,
      weight: 'cols' as const,
      pre: lambdas.hasLambdas,
      post: useLambdaD,
    };
    const ins = [
      dy,
      b,
      ...(lambdas.hasLambdas ? [inputs.lambdaB] : []),
      ...(useLambdaD ? [inputs.lambdaD] : []),
    ];
    return backend.runWebGPUProgram(narrowProgram(spec), ins, 'float32', productUniforms(scale));
  }
  const names = ['dy', 'upB', ...(lambdas.hasLambdas ? ['lambdaB'] : []), ...(useLambdaD ? ['lambdaD'] : [])];
  const program = reductionProgram({
    shaderKey: `aflora_lowrank_grad_u_${lambdas.hasLambdas ? 'lambda' : 'plain'}_${useLambdaD ? 'd' : 'nod'}_r${rank}`,
    variableNames: names,
    outputShape: [tokens, rank],
    items: tokens,
    itemCount: 'tokens',
    threads: THREADS,
    lanes: rank,
    uniforms: UNIFORM_DECL,
    loopCount: 'outFeatures',
    load: `dy[i * uniforms.outFeatures + j] * ${lambdaB(lambdas, 'j')}`,
    term: `g * upB[j * ${rank} + k]`,
    finish: `for (var k = 0; k < ${rank}; k++) {
            result[i * ${rank} + k] = uniforms.scale * ${useLambdaD ? 'lambdaD[k] * ' : ''}acc[k];
          }`,
  });
  return backend.runWebGPUProgram(program, pick(names, inputs), 'float32', uniforms(tokens, out, scale));
});

// Per output feature o, sums over tokens t of dy[t, o] * u[t, k] * Λd[k] (one workgroup per o):
//   mode 0 (dB):  dB[o, k] = scale * Λb[o] * sum_t dy[t, o] u[t, k] Λd[k]          -> [out, r]
//   mode 1 (dΛb): dΛb[o]   = scale * sum_k B[o, k] * sum_t dy[t, o] u[t, k] Λd[k]  -> [out]
registerWebGPUKernel(GRAD_COLUMN, (backend, inputs, { scale, hasLambdas, mode }) => {
  const { dy, u } = inputs;
  const [tokens, out] = dy.shape;
  const rank = u.shape[1];
  const lambdas = { hasLambdas: hasLambdas === 1 };
  if (isStepSizedProduct(tokens, out, rank)) {
    const lambdaDIn = lambdas.hasLambdas ? inputs.lambdaD : undefined;
    return mode === 0
      ? runTokenSum(backend, 'rows', dy, u, scale, lambdaDIn, lambdas.hasLambdas ? inputs.lambdaB : undefined)
      : runTokenSum(backend, 'dot', dy, u, scale, lambdaDIn, inputs.b);
  }
  const names =
    mode === 0
      ? ['dy', 'u', ...(lambdas.hasLambdas ? ['lambdaD', 'lambdaB'] : [])]
      : ['dy', 'u', 'upB', ...(lambdas.hasLambdas ? ['lambdaD'] : [])];
  const program = reductionProgram({
    shaderKey: `aflora_lowrank_grad_col${mode}_${lambdas.hasLambdas ? 'lambda' : 'plain'}_r${rank}`,
    variableNames: names,
    outputShape: mode === 0 ? [out, rank] : [out],
    items: out,
    itemCount: 'outFeatures',
    threads: THREADS,
    lanes: rank,
    uniforms: UNIFORM_DECL,
    loopCount: 'tokens',
    load: 'dy[j * uniforms.outFeatures + i]',
    term: `g * u[j * ${rank} + k] * ${lambdaD(lambdas, 'k')}`,
    finish:
      mode === 0
        ? `for (var k = 0; k < ${rank}; k++) {
            result[i * ${rank} + k] = uniforms.scale * ${lambdaB(lambdas, 'i')} * acc[k];
          }`
        : `var total = 0.0;
          for (var k = 0; k < ${rank}; k++) { total += upB[i * ${rank} + k] * acc[k]; }
          result[i] = uniforms.scale * total;`,
  });
  return backend.runWebGPUProgram(program, pick(names, inputs), 'float32', uniforms(tokens, out, scale));
});

// dΛd[k] = sum_t w[t, k] * u[t, k] ([T, r] x [T, r] -> [r]); one workgroup per k.
registerWebGPUKernel(COLUMN_DOT, (backend, { w, u }) => {
  const [tokens, rank] = u.shape;
  const program = reductionProgram({
    shaderKey: 'aflora_lowrank_column_dot',
    variableNames: ['w', 'u'],
    outputShape: [rank],
    items: rank,
    itemCount: 'rank',
    loopCount: 'tokens',
    threads: THREADS,
    lanes: 1,
    uniforms: 'tokens : i32, rank : i32,',
    term: 'w[j * uniforms.rank + i] * u[j * uniforms.rank + i]',
    finish: 'result[i] = acc[0];',
  });
  return backend.runWebGPUProgram(program, [w, u], 'float32', [
    { type: 'int32', data: [tokens] },
    { type: 'int32', data: [rank] },
  ]);
});

// u[t, k] = sum_j x[t, j] A[k, j]: x A^T without the tiled matmul's idle 64-wide tiles (lowRankProducts.ts).
registerWebGPUKernel(DOWN, (backend, { x, a }) => {
  const spec = {
    tokens: x.shape[0],
    features: x.shape[1],
    rank: a.shape[0],
    weight: 'rows' as const,
    pre: false,
    post: false,
  };
  return backend.runWebGPUProgram(narrowProgram(spec), [x, a], 'float32', productUniforms(1));
});
// dx = du A (a tiled matmul, K = r); dA[k, j] = sum_t du[t, k] x[t, j] (a token sum).
registerWebGPUKernel(DOWN_GRAD_A, (backend, { x, du }) => runTokenSum(backend, 'cols', x, du, 1));
registerGradientOnce({
  kernelName: DOWN,
  inputsToSave: ['x', 'a'],
  gradFunc: (dy, [x, a]) => ({
    x: () => matMul(dy as tf.Tensor2D, a as tf.Tensor2D),
    a: () => runKernel(DOWN_GRAD_A, { x, du: dy as tf.Tensor }),
  }),
});

/** u = x A^T [T, r]: the narrow product at step size, else the matmul. */
function downProjection(x: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor2D {
  const [tokens, features] = x.shape;
  return isStepSizedProduct(tokens, features, a.shape[0])
    ? runKernel<tf.Tensor2D>(DOWN, { x, a })
    : matMul(x, a, false, true);
}

function registerUpGradient(kernelName: string, hasLambdas: boolean): void {
  registerGradientOnce({
    kernelName,
    inputsToSave: hasLambdas ? ['u', 'b', 'lambdaD', 'lambdaB'] : ['u', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [u, b, lambdaDIn, lambdaBIn] = saved;
      const { scale } = attrs as { scale: number };
      const g = dy as tf.Tensor2D;
      const flags = { scale, hasLambdas: hasLambdas ? 1 : 0 };
      const withLambdas = (inputs: Record<string, tf.Tensor>) =>
        hasLambdas ? { ...inputs, lambdaD: lambdaDIn, lambdaB: lambdaBIn } : inputs;
      const grads: Record<string, () => tf.Tensor> = {
        u: () => runKernel(GRAD_U, withLambdas({ dy: g, b }), { ...flags, withLambdaD: 1 }),
        b: () => runKernel(GRAD_COLUMN, withLambdas({ dy: g, u, b }), { ...flags, mode: 0 }),
        base: () => g,
      };
      if (hasLambdas) {
        grads.lambdaB = () => runKernel(GRAD_COLUMN, withLambdas({ dy: g, u, b }), { ...flags, mode: 1 });
        grads.lambdaD = () =>
          runKernel(COLUMN_DOT, {
            w: runKernel(GRAD_U, withLambdas({ dy: g, b }), { ...flags, withLambdaD: 0 }),
            u,
          });
      }
      return grads;
    },
  });
}
registerUpGradient(UP, true);
registerUpGradient(UP_SCALED, false);

/** One adapted linear as data: y = base + scale * Λb ⊙ (B (Λd ⊙ (A x))); what both execution paths run. */
export interface LowRankModule {
  /** A [r, in]. */
  a: tf.Tensor2D;
  /** B [out, r]. */
  b: tf.Tensor2D;
  /** Λd [r] (AFLoRA, ELoRA); with lambdaB, or neither. */
  lambdaD?: tf.Tensor1D;
  /** Λb [out]. */
  lambdaB?: tf.Tensor1D;
  /** alpha / r for LoRA; 1 (default) for AFLoRA / ELoRA. */
  scale?: number;
}

/** Plain TF.js low-rank adapter in the golden fixtures' order (B, then Λb, then scale, then add): the path off WebGPU. */
export function lowRankAdapterComposite(
  x: tf.Tensor2D,
  base: tf.Tensor2D,
  module: LowRankModule,
): tf.Tensor2D {
  const { a, b, lambdaD: ld, lambdaB: lb, scale = 1 } = module;
  let down = tf.matMul(x, a, false, true); // [T, r]
  if (ld) down = tf.mul(down, ld);
  let up = tf.matMul(down, b, false, true); // [T, out]
  if (lb) up = tf.mul(up, lb);
  if (scale !== 1) up = tf.mul(up, scale);
  return tf.add(base, up);
}

/** x [T, in], base [T, out] -> base + scale * Λb ⊙ (B (Λd ⊙ (A x))); same result and gradients as the composite. */
export function lowRankAdapter(x: tf.Tensor2D, base: tf.Tensor2D, module: LowRankModule): tf.Tensor2D {
  const { a, b, lambdaD: ld, lambdaB: lb, scale = 1 } = module;
  const rank = a.shape[0];
  assertShape(
    (ld == null) === (lb == null),
    () => 'lowRankAdapter: pass both lambdaD and lambdaB, or neither',
  );
  if (!kernelsActive() || rank > MAX_FUSED_RANK) return lowRankAdapterComposite(x, base, module);
  assertShape(b.shape[1] === rank && base.shape[1] === b.shape[0], () => 'lowRankAdapter: shape mismatch');
  const u = downProjection(x, a); // [T, r]
  return ld && lb
    ? runKernel<tf.Tensor2D>(UP, { u, b, base, lambdaD: ld, lambdaB: lb }, { scale })
    : runKernel<tf.Tensor2D>(UP_SCALED, { u, b, base }, { scale });
}

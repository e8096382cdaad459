/**
 * Low-rank adapter on top of a base linear output, for LoRA, AFLoRA and ELoRA/VeRA:
 *   y = base + scale * Λb ⊙ ( B ( Λd ⊙ (A x) ) )      (Λd, Λb optional: LoRA has neither)
 * x [T, in], base [T, out], A [r, in], B [out, r], Λd [r], Λb [out].
 *
 * WebGPU: u = x A^T is a TF.js matMul (its own lazy gradients give dx and dA from du); everything after u
 * is one program forward (plain: 4 dispatches) and one program per needed input gradient backward
 * (du, dB, dΛb: 1 each; dΛd: 2), instead of ~11 plain dispatches. Ranks above MAX_FUSED_RANK (ELoRA's
 * large shared ranks) take the composite path, where tiled matMuls win.
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

export const MAX_FUSED_RANK = 32;
const THREADS = 64;

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

/** Reduction of R partial sums across the workgroup, leaving totals in acc of thread 0. */
function reduceRanks(rank: number): string {
  return `
    var<workgroup> partials : array<f32, ${THREADS * rank}>;
    fn reduceRanks(acc : ptr<function, array<f32, ${rank}>>, tid : u32) {
      for (var k = 0u; k < ${rank}u; k++) { partials[tid * ${rank}u + k] = (*acc)[k]; }
      workgroupBarrier();
      for (var stride = ${THREADS / 2}u; stride > 0u; stride = stride >> 1u) {
        if (tid < stride) {
          for (var k = 0u; k < ${rank}u; k++) {
            partials[tid * ${rank}u + k] += partials[(tid + stride) * ${rank}u + k];
          }
        }
        workgroupBarrier();
      }
      for (var k = 0u; k < ${rank}u; k++) { (*acc)[k] = partials[k]; }
    }`;
}

// y[t, o] = base[t, o] + scale * Λb[o] * sum_k u[t, k] Λd[k] B[o, k]; one thread per output element.
function registerUp(kernelName: string, lambdas: Lambdas): void {
  registerWebGPUKernel(kernelName, (backend, inputs, { scale }) => {
    const { u, b } = inputs;
    const [tokens, rank] = u.shape;
    const out = b.shape[0];
    const names = lambdas.hasLambdas ? ['u', 'upB', 'base', 'lambdaD', 'lambdaB'] : ['u', 'upB', 'base'];
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
  const names = ['dy', 'upB', ...(lambdas.hasLambdas ? ['lambdaB'] : []), ...(useLambdaD ? ['lambdaD'] : [])];
  const program: WebGPUProgramSpec = {
    variableNames: names,
    outputShape: [tokens, rank],
    shaderKey: `aflora_lowrank_grad_u_${lambdas.hasLambdas ? 'lambda' : 'plain'}_${useLambdaD ? 'd' : 'nod'}_r${rank}`,
    ...flatDispatch([tokens, rank], tokens, THREADS),
    uniforms: UNIFORM_DECL,
    getUserCode: () => `
      ${reduceRanks(rank)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        let tUnclamped = index / ${THREADS};
        let t = min(tUnclamped, uniforms.tokens - 1);
        var acc : array<f32, ${rank}>;
        for (var o = i32(tid); o < uniforms.outFeatures; o += ${THREADS}) {
          let g = dy[t * uniforms.outFeatures + o] * ${lambdaB(lambdas, 'o')};
          for (var k = 0; k < ${rank}; k++) { acc[k] += g * upB[o * ${rank} + k]; }
        }
        reduceRanks(&acc, tid);
        if (tid == 0u && tUnclamped < uniforms.tokens) {
          for (var k = 0; k < ${rank}; k++) {
            result[t * ${rank} + k] = uniforms.scale * ${useLambdaD ? 'lambdaD[k] * ' : ''}acc[k];
          }
        }
      }`,
  };
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
  const names =
    mode === 0
      ? ['dy', 'u', ...(lambdas.hasLambdas ? ['lambdaD', 'lambdaB'] : [])]
      : ['dy', 'u', 'upB', ...(lambdas.hasLambdas ? ['lambdaD'] : [])];
  const outputShape = mode === 0 ? [out, rank] : [out];
  const finish =
    mode === 0
      ? `for (var k = 0; k < ${rank}; k++) {
              result[o * ${rank} + k] = uniforms.scale * ${lambdaB(lambdas, 'o')} * acc[k];
            }`
      : `var total = 0.0;
            for (var k = 0; k < ${rank}; k++) { total += upB[o * ${rank} + k] * acc[k]; }
            result[o] = uniforms.scale * total;`;
  const program: WebGPUProgramSpec = {
    variableNames: names,
    outputShape,
    shaderKey: `aflora_lowrank_grad_col${mode}_${lambdas.hasLambdas ? 'lambda' : 'plain'}_r${rank}`,
    ...flatDispatch(outputShape, out, THREADS),
    uniforms: UNIFORM_DECL,
    getUserCode: () => `
      ${reduceRanks(rank)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        let oUnclamped = index / ${THREADS};
        let o = min(oUnclamped, uniforms.outFeatures - 1);
        var acc : array<f32, ${rank}>;
        for (var t = i32(tid); t < uniforms.tokens; t += ${THREADS}) {
          let g = dy[t * uniforms.outFeatures + o];
          for (var k = 0; k < ${rank}; k++) { acc[k] += g * u[t * ${rank} + k] * ${lambdaD(lambdas, 'k')}; }
        }
        reduceRanks(&acc, tid);
        if (tid == 0u && oUnclamped < uniforms.outFeatures) {
          ${finish}
        }
      }`,
  };
  return backend.runWebGPUProgram(program, pick(names, inputs), 'float32', uniforms(tokens, out, scale));
});

// dΛd[k] = sum_t w[t, k] * u[t, k] ([T, r] x [T, r] -> [r]); one workgroup per k.
registerWebGPUKernel(COLUMN_DOT, (backend, { w, u }) => {
  const [tokens, rank] = u.shape;
  const program: WebGPUProgramSpec = {
    variableNames: ['w', 'u'],
    outputShape: [rank],
    shaderKey: 'aflora_lowrank_column_dot',
    ...flatDispatch([rank], rank, THREADS),
    uniforms: 'tokens : i32, rank : i32,',
    getUserCode: () => `
      ${workgroupSumSnippet('columnSum', THREADS)}
      fn main(index : i32) {
        let tid = u32(localId.x);
        let kUnclamped = index / ${THREADS};
        let k = min(kUnclamped, uniforms.rank - 1);
        var partial = 0.0;
        for (var t = i32(tid); t < uniforms.tokens; t += ${THREADS}) {
          partial += w[t * uniforms.rank + k] * u[t * uniforms.rank + k];
        }
        let total = columnSum(partial, tid);
        if (tid == 0u && kUnclamped < uniforms.rank) { result[k] = total; }
      }`,
  };
  return backend.runWebGPUProgram(program, [w, u], 'float32', [
    { type: 'int32', data: [tokens] },
    { type: 'int32', data: [rank] },
  ]);
});

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

export interface LowRankOptions {
  /** Λd [r] (AFLoRA, ELoRA); with lambdaB, or neither. */
  lambdaD?: tf.Tensor1D;
  /** Λb [out]. */
  lambdaB?: tf.Tensor1D;
  /** alpha / r for LoRA; 1 for AFLoRA / ELoRA. */
  scale?: number;
}

/** Plain TF.js low-rank adapter: the reference semantics, and the path off WebGPU. */
export function lowRankAdapterComposite(
  x: tf.Tensor2D,
  base: tf.Tensor2D,
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  options: LowRankOptions = {},
): tf.Tensor2D {
  const { lambdaD: ld, lambdaB: lb, scale = 1 } = options;
  let down = tf.matMul(x, a, false, true); // [T, r]
  if (ld) down = tf.mul(down, ld);
  let up = tf.matMul(down, b, false, true); // [T, out]
  if (lb) up = tf.mul(up, lb);
  if (scale !== 1) up = tf.mul(up, scale);
  return tf.add(base, up);
}

/** base + scale * Λb ⊙ (B (Λd ⊙ (A x))); same result and gradients as lowRankAdapterComposite. */
export function lowRankAdapter(
  x: tf.Tensor2D,
  base: tf.Tensor2D,
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  options: LowRankOptions = {},
): tf.Tensor2D {
  const rank = a.shape[0];
  const { lambdaD: ld, lambdaB: lb, scale = 1 } = options;
  assertShape(
    (ld == null) === (lb == null),
    () => 'lowRankAdapter: pass both lambdaD and lambdaB, or neither',
  );
  if (!isWebGPUBackend() || rank > MAX_FUSED_RANK) return lowRankAdapterComposite(x, base, a, b, options);
  assertShape(b.shape[1] === rank && base.shape[1] === b.shape[0], () => 'lowRankAdapter: shape mismatch');
  const u = tf.matMul(x, a, false, true); // [T, r]
  return ld && lb
    ? runKernel<tf.Tensor2D>(UP, { u, b, base, lambdaD: ld, lambdaB: lb }, { scale })
    : runKernel<tf.Tensor2D>(UP_SCALED, { u, b, base }, { scale });
}

/**
 * The rank-r products of a low-rank adapter at step size (T = batch x seq tokens, J features, r ≤ 32), which
 * neither the tiled matmul nor one-workgroup-per-row reductions run well: a 64-wide output tile is 7/8 idle at
 * N = r = 8, and a workgroup per output feature reads dy down a column (one cache line per token). Profiled on the
 * H200 (small, LoRA r 8), these products took ~5 of the step's ~18 GPU ms for ~2 % of its multiply-adds.
 *
 *   narrow:   C [T, r] = post[k] * sum_j X[t, j] pre[j] W[j, k]         u = x A^T, du = s Λd ⊙ (dy (Λb ⊙ B))
 *   tokenSum: G [J, r] = sum_t P[t, j] Q[t, k] pre[k], then a finish  dB = s Λb ⊙ G, dΛb = s rowsum(B ⊙ G),
 *                                                                      dA = G^T (P = x, Q = du)
 *   up:       y [T, out] = base + s Λb ⊙ (u Λd) B^T                     (B's rows shared, not re-read per output)
 *
 * narrow stages a [16 tokens x 64 features] tile of X (vec4 loads along J) and the matching W tile in shared
 * memory; 4 threads per token each keep ceil(r / 4) sums. tokenSum cuts T into slices (one workgroup row each,
 * 256 threads = 64 vec4 columns of P x 4 token lanes) writing [slices, r, J] partial sums; the finish adds the
 * slices in a fixed order, so results do not depend on scheduling.
 */
import * as tf from '@tensorflow/tfjs';
import { MIN_TILED_WORK } from './matmul';
import type { ProgramUniform, WebGPUBackendLike, WebGPUProgramSpec } from './program';

/** Largest rank these programs take (registers per thread grow with it). */
export const MAX_PRODUCT_RANK = 32;

const NARROW_TOKENS = 16;
const NARROW_FEATURES = 64;
const NARROW_THREADS = 64;
/** Threads sharing one token in narrow, each with every 4th k. */
const K_LANES = 4;
/** tokenSum: vec4 columns per workgroup, threads per column (each every 4th token), tokens per staged Q chunk. */
const SUM_COLUMNS4 = 64;
const TOKEN_LANES = 4;
const SUM_CHUNK = 64;
const MAX_SLICES = 64;
/** Workgroups a tokenSum aims for (~2 per SM of a large GPU); slices make up what the columns do not. */
const TARGET_WORKGROUPS = 264;

/** How W is stored: 'rows' = [r, J] (A, read as A^T), 'cols' = [J, r] (B). */
export type WeightLayout = 'rows' | 'cols';

export interface NarrowSpec {
  tokens: number;
  features: number;
  rank: number;
  weight: WeightLayout;
  /** Multiplies W's row j by pre[j] (Λb in du). */
  pre: boolean;
  /** Multiplies output column k by post[k] (Λd in du). */
  post: boolean;
}

/**
 * Whether the product programs run these sizes: vec4 loads along the feature axis, and (as for the tiled matmul)
 * products too small to gain stay on the earlier programs, whose summation order the toy-model tests were pinned on.
 */
export function isStepSizedProduct(tokens: number, features: number, rank: number): boolean {
  return (
    features % 4 === 0 && rank >= 1 && rank <= MAX_PRODUCT_RANK && tokens * features * rank >= MIN_TILED_WORK
  );
}

const lanesOf = (rank: number) => Math.ceil(rank / K_LANES);

/** Program-defined uniforms of every program here (`scale : f32,`). */
export function productUniforms(scale: number): ProgramUniform {
  return [{ type: 'float32', data: [scale] }];
}

/** X [T, J] (vec4), W, optional pre [J] and post [r] -> C [T, r], times uniforms.scale. */
export function narrowProgram(s: NarrowSpec): WebGPUProgramSpec & Record<string, unknown> {
  const { tokens: T, features: J, rank: r } = s;
  const TB = NARROW_TOKENS;
  const JB = NARROW_FEATURES;
  const lanes = lanesOf(r);
  const stride = JB + 1; // padded rows: the 8 tokens of a warp read 8 different banks
  const xLoads = (TB * JB) / 4 / NARROW_THREADS;
  const tiles = Math.ceil(J / JB);
  const names = ['X', 'W', ...(s.pre ? ['pre'] : []), ...(s.post ? ['post'] : [])];
  // Global -> registers (the next tile's loads are issued before this tile's FMAs), then registers -> shared.
  const wFetch =
    s.weight === 'rows'
      ? `let k = idx / ${JB};
            let j = idx % ${JB};
            rw[l] = 0.0;
            if (j0 + j < ${J}) { rw[l] = W[k * ${J} + j0 + j]; }`
      : `let j = idx / ${r};
            rw[l] = 0.0;
            if (j0 + j < ${J}) { rw[l] = W[j0 * ${r} + idx]${s.pre ? ' * pre[j0 + j]' : ''}; }`;
  const wStore = s.weight === 'rows' ? `ws[(idx % ${JB}) * ${r} + idx / ${JB}] = rw[l];` : 'ws[idx] = rw[l];';
  const fetch = `for (var l = 0; l < ${xLoads}; l++) {
            let idx = tid + l * ${NARROW_THREADS};
            let c = (idx % ${JB / 4}) * 4;
            rx[l] = vec4<f32>(0.0);
            if (t0 + idx / ${JB / 4} < ${T} && j0 + c < ${J}) { rx[l] = X[((t0 + idx / ${JB / 4}) * ${J} + j0 + c) / 4]; }
          }
          for (var l = 0; l < ${r}; l++) {
            let idx = tid + l * ${NARROW_THREADS};
            ${wFetch}
          }`;
  const body: string[] = [];
  for (let i = 0; i < lanes; i++)
    body.push(`acc[${i}] = fma(x, ws[j * ${r} + min(slot + ${i * K_LANES}, ${r - 1})], acc[${i}]);`);
  return {
    variableNames: names,
    variableComponents: names.map((n) => (n === 'X' ? 4 : 1)),
    outputShape: [T, r],
    shaderKey: `aflora_lowrank_narrow_${T}_${J}_${r}_${s.weight}_${+s.pre}${+s.post}`,
    uniforms: 'scale : f32,',
    dispatchLayout: { x: [0], y: [1] },
    dispatch: [Math.ceil(T / TB), 1, 1],
    workgroupSize: [NARROW_THREADS, 1, 1],
    getUserCode: () => `
      var<workgroup> xs : array<f32, ${TB * stride}>;
      var<workgroup> ws : array<f32, ${JB * r}>;
      fn main() {
        let tid = i32(localId.x);
        let t0 = i32(workgroupId.x) * ${TB};
        let row = tid / ${K_LANES};
        let slot = tid % ${K_LANES};
        var acc : array<f32, ${lanes}>;
        var rx : array<vec4<f32>, ${xLoads}>;
        var rw : array<f32, ${r}>;
        var j0 = 0;
        ${fetch}
        for (var tile = 0; tile < ${tiles}; tile++) {
          for (var l = 0; l < ${xLoads}; l++) {
            let idx = tid + l * ${NARROW_THREADS};
            let at = (idx / ${JB / 4}) * ${stride} + (idx % ${JB / 4}) * 4;
            xs[at] = rx[l].x;
            xs[at + 1] = rx[l].y;
            xs[at + 2] = rx[l].z;
            xs[at + 3] = rx[l].w;
          }
          for (var l = 0; l < ${r}; l++) {
            let idx = tid + l * ${NARROW_THREADS};
            ${wStore}
          }
          workgroupBarrier();
          j0 = (tile + 1) * ${JB};
          if (tile + 1 < ${tiles}) {
            ${fetch}
          }
          for (var j = 0; j < ${JB}; j++) {
            let x = xs[row * ${stride} + j];
            ${body.join('\n            ')}
          }
          workgroupBarrier();
        }
        let t = t0 + row;
        if (t < ${T}) {
          for (var i = 0; i < ${lanes}; i++) {
            let k = slot + i * ${K_LANES};
            if (k < ${r}) { result[t * ${r} + k] = uniforms.scale * ${s.post ? 'post[k] * ' : ''}acc[i]; }
          }
        }
      }`,
  };
}

export interface TokenSumSpec {
  tokens: number;
  /** Columns of P (J). */
  features: number;
  rank: number;
  /** Multiplies Q's column k by pre[k] (Λd in dB). */
  pre: boolean;
}

/** Token slices of a tokenSum: enough workgroups to fill the GPU, few enough partial planes to add. */
export function tokenSlices(tokens: number, features: number): { slices: number; perSlice: number } {
  const columnBlocks = Math.ceil(features / 4 / SUM_COLUMNS4);
  const wanted = Math.min(
    MAX_SLICES,
    Math.ceil(TARGET_WORKGROUPS / columnBlocks),
    Math.ceil(tokens / SUM_CHUNK),
  );
  const perSlice = Math.ceil(Math.ceil(tokens / wanted) / SUM_CHUNK) * SUM_CHUNK;
  return { slices: Math.ceil(tokens / perSlice), perSlice };
}

/**
 * P [T, J] (vec4), Q [T, r], optional pre [r] -> partial sums [slices, r, J] (vec4 along J), times uniforms.scale
 * (which the shader must read: layout 'auto' drops an unread uniform binding). A workgroup is 64 vec4 columns x 4
 * token lanes (a warp reads 32 consecutive vec4 of one token row); the lanes are added in shared memory, k by k.
 */
export function tokenSumProgram(s: TokenSumSpec): WebGPUProgramSpec & Record<string, unknown> {
  const { tokens: T, features: J, rank: r } = s;
  const J4 = J / 4;
  const { slices, perSlice } = tokenSlices(T, J);
  const threads = SUM_COLUMNS4 * TOKEN_LANES;
  const qLoads = Math.ceil((SUM_CHUNK * r) / threads);
  const names = ['P', 'Q', ...(s.pre ? ['pre'] : [])];
  return {
    variableNames: names,
    variableComponents: names.map((n) => (n === 'P' ? 4 : 1)),
    outputComponent: 4,
    outputShape: [slices, r, J],
    shaderKey: `aflora_lowrank_tokensum_${T}_${J}_${r}_${+s.pre}`,
    uniforms: 'scale : f32,',
    dispatchLayout: { x: [0], y: [1], z: [2] },
    dispatch: [Math.ceil(J4 / SUM_COLUMNS4), slices, 1],
    workgroupSize: [threads, 1, 1],
    getUserCode: () => `
      var<workgroup> qs : array<f32, ${SUM_CHUNK * r}>;
      var<workgroup> lanesSum : array<vec4<f32>, ${threads}>;
      fn main() {
        let tid = i32(localId.x);
        let a4 = i32(workgroupId.x) * ${SUM_COLUMNS4} + tid % ${SUM_COLUMNS4};
        let lane = tid / ${SUM_COLUMNS4};
        let slice = i32(workgroupId.y);
        var acc : array<vec4<f32>, ${r}>;
        for (var c = 0; c < ${perSlice / SUM_CHUNK}; c++) {
          let t0 = slice * ${perSlice} + c * ${SUM_CHUNK};
          for (var l = 0; l < ${qLoads}; l++) {
            let idx = tid + l * ${threads};
            if (idx < ${SUM_CHUNK * r}) {
              var q = 0.0;
              if (t0 + idx / ${r} < ${T}) { q = Q[t0 * ${r} + idx]${s.pre ? ` * pre[idx % ${r}]` : ''}; }
              qs[idx] = q;
            }
          }
          workgroupBarrier();
          for (var i = 0; i < ${SUM_CHUNK / TOKEN_LANES}; i++) {
            let tt = lane + i * ${TOKEN_LANES};
            var p = vec4<f32>(0.0);
            if (t0 + tt < ${T} && a4 < ${J4}) { p = P[(t0 + tt) * ${J4} + a4]; }
            for (var k = 0; k < ${r}; k++) { acc[k] = fma(p, vec4<f32>(qs[tt * ${r} + k]), acc[k]); }
          }
          workgroupBarrier();
        }
        for (var k = 0; k < ${r}; k++) {
          lanesSum[tid] = acc[k];
          workgroupBarrier();
          if (lane < 2) { lanesSum[tid] += lanesSum[tid + ${2 * SUM_COLUMNS4}]; }
          workgroupBarrier();
          if (lane == 0 && a4 < ${J4}) {
            result[(slice * ${r} + k) * ${J4} + a4] = uniforms.scale * (lanesSum[tid] + lanesSum[tid + ${SUM_COLUMNS4}]);
          }
          workgroupBarrier();
        }
      }`,
  };
}

/**
 * What a tokenSum's partials become (G[j, k] = sum over slices), times uniforms.scale:
 *   'rows': [J, r], G (times pre[j]: Λb in dB);  'cols': [r, J], G^T (dA);  'dot': [J], sum_k B[j, k] G[j, k] (dΛb).
 */
export type TokenSumFinish = 'rows' | 'cols' | 'dot';

/** Partials [slices, r, J] (+ pre [J] for 'rows', B [J, r] for 'dot') -> the finish's output; one thread per element. */
export function tokenSumFinishProgram(
  finish: TokenSumFinish,
  slices: number,
  features: number,
  rank: number,
  pre: boolean,
): WebGPUProgramSpec & Record<string, unknown> {
  const J = features;
  const r = rank;
  // Four running sums (four loads in flight per thread), added in a fixed order.
  const total = (k: string, j: string) =>
    `var g4 = vec4<f32>(0.0);
          for (var s = 0; s + 3 < ${slices}; s += 4) {
            let at = (s * ${r} + ${k}) * ${J} + ${j};
            g4 += vec4<f32>(partials[at], partials[at + ${r * J}], partials[at + ${2 * r * J}], partials[at + ${3 * r * J}]);
          }
          var g = (g4.x + g4.y) + (g4.z + g4.w);
          for (var s = ${slices - (slices % 4)}; s < ${slices}; s++) { g += partials[(s * ${r} + ${k}) * ${J} + ${j}]; }`;
  const names = ['partials', ...(finish === 'dot' ? ['B'] : pre ? ['pre'] : [])];
  const outputShape = finish === 'rows' ? [J, r] : finish === 'cols' ? [r, J] : [J];
  const size = outputShape.reduce((a, b) => a * b, 1);
  const code =
    finish === 'rows'
      ? `let j = index / ${r};
          let k = index % ${r};
          ${total('k', 'j')}
          result[index] = uniforms.scale * ${pre ? 'pre[j] * ' : ''}g;`
      : finish === 'cols'
        ? `let k = index / ${J};
          let j = index % ${J};
          ${total('k', 'j')}
          result[index] = uniforms.scale * g;`
        : `var dot = 0.0;
          for (var k = 0; k < ${r}; k++) {
            ${total('k', 'index')}
            dot += B[index * ${r} + k] * g;
          }
          result[index] = uniforms.scale * dot;`;
  return {
    variableNames: names,
    outputShape,
    shaderKey: `aflora_lowrank_tokensum_${finish}_${slices}_${J}_${r}_${+pre}`,
    uniforms: 'scale : f32,',
    size: true,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / 128), 1, 1],
    workgroupSize: [128, 1, 1],
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${code}
        }
      }`,
  };
}

/** Runs a tokenSum and its finish: P [T, J], Q [T, r] (times qPre [r]), `extra` = pre [J] ('rows') or B [J, r] ('dot'). */
export function runTokenSum(
  gpu: WebGPUBackendLike,
  finish: TokenSumFinish,
  p: tf.TensorInfo,
  q: tf.TensorInfo,
  scale: number,
  qPre?: tf.TensorInfo,
  extra?: tf.TensorInfo,
): tf.TensorInfo {
  const [tokens, features] = p.shape;
  const rank = q.shape[1];
  const spec = { tokens, features, rank, pre: qPre != null };
  const partials = gpu.runWebGPUProgram(
    tokenSumProgram(spec),
    qPre ? [p, q, qPre] : [p, q],
    'float32',
    productUniforms(1),
  );
  const { slices } = tokenSlices(tokens, features);
  const program = tokenSumFinishProgram(finish, slices, features, rank, finish === 'rows' && extra != null);
  const out = gpu.runWebGPUProgram(
    program,
    extra ? [partials, extra] : [partials],
    'float32',
    productUniforms(scale),
  );
  gpu.disposeData(partials.dataId);
  return out;
}

const UP_COLUMNS = 64;
const UP_ROWS = 4;
const UP_TOKENS = 16;

/**
 * y [T, out] = base + scale * Λb ⊙ (u Λd) B^T at step size: a workgroup of 64 output columns x 4 token rows covers 16
 * tokens, with B's 64 rows (as [r][64]) and the 16 tokens' u Λd in shared memory, so a warp reads and writes 32
 * consecutive floats of base and y. Inputs as the up kernels name them: u [T, r], upB [out, r], base, Λd, Λb;
 * uniforms productUniforms(scale).
 */
export function upProgram(
  tokens: number,
  out: number,
  rank: number,
  lambdas: boolean,
): WebGPUProgramSpec & Record<string, unknown> {
  const T = tokens;
  const r = rank;
  const threads = UP_COLUMNS * UP_ROWS;
  const names = lambdas ? ['u', 'upB', 'base', 'lambdaD', 'lambdaB'] : ['u', 'upB', 'base'];
  return {
    variableNames: names,
    outputShape: [T, out],
    shaderKey: `aflora_lowrank_up_tiled_${T}_${out}_${r}_${+lambdas}`,
    uniforms: 'scale : f32,',
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [Math.ceil(out / UP_COLUMNS), Math.ceil(T / UP_TOKENS), 1],
    workgroupSize: [threads, 1, 1],
    getUserCode: () => `
      var<workgroup> bs : array<f32, ${r * UP_COLUMNS}>;
      var<workgroup> us : array<f32, ${UP_TOKENS * r}>;
      fn main() {
        let tid = i32(localId.x);
        let col = tid % ${UP_COLUMNS};
        let row = tid / ${UP_COLUMNS};
        let o0 = i32(workgroupId.x) * ${UP_COLUMNS};
        let t0 = i32(workgroupId.y) * ${UP_TOKENS};
        for (var idx = tid; idx < ${r * UP_COLUMNS}; idx += ${threads}) {
          let c = idx / ${r};
          var w = 0.0;
          if (o0 + c < ${out}) { w = upB[o0 * ${r} + idx]; }
          bs[(idx % ${r}) * ${UP_COLUMNS} + c] = w;
        }
        for (var idx = tid; idx < ${UP_TOKENS * r}; idx += ${threads}) {
          var v = 0.0;
          if (t0 + idx / ${r} < ${T}) { v = u[t0 * ${r} + idx]${lambdas ? ` * lambdaD[idx % ${r}]` : ''}; }
          us[idx] = v;
        }
        workgroupBarrier();
        let o = o0 + col;
        if (o < ${out}) {
          for (var i = 0; i < ${UP_TOKENS / UP_ROWS}; i++) {
            let tt = row + i * ${UP_ROWS};
            let t = t0 + tt;
            if (t < ${T}) {
              var acc = 0.0;
              for (var k = 0; k < ${r}; k++) { acc += us[tt * ${r} + k] * bs[k * ${UP_COLUMNS} + col]; }
              result[t * ${out} + o] = base[t * ${out} + o] + uniforms.scale * ${lambdas ? 'lambdaB[o] * ' : ''}acc;
            }
          }
        }
      }`,
  };
}

/**
 * Tiled fp32 matmul C = op(A) op(B) (+ bias), 2-D or batched 3-D, for the step's big matmuls (linears and
 * attention). TF.js's webgpu matmul (MatMulPackedProgram) uses 32x32 output tiles on 64 threads and drops to
 * scalar loads whenever B is transposed, which is every forward linear (W is [out, in]) and Q K^T.
 * Here a workgroup of 128-256 threads computes a BM x BN tile (each thread TM rows x 4*CN columns) from shared
 * tiles [BK][BM] and [BK][BN] filled with vec4 loads in either layout, the next tile's loads issued before the
 * current tile's FMAs (register prefetch). Sizes are baked into the shader: a run has few distinct shapes.
 *
 * Accumulation runs over k in order, like TF.js's (a split-K product sums its slices after), so results agree
 * to float rounding. Shapes it does not handle (a dimension not a multiple of 4, both operands transposed) take
 * tf.matMul.
 */
import * as tf from '@tensorflow/tfjs';
import { flatDispatch, kernelsActive, registerGradientOnce, registerWebGPUKernel, runKernel, type ProgramUniform, type WebGPUProgramSpec } from './program';

const MATMUL = 'AfloraMatMul';
const MATMUL_BIAS = 'AfloraMatMulBias';

export interface MatMulTiling {
  /** Output rows per workgroup. */
  bm: number;
  /** Output columns per workgroup. */
  bn: number;
  /** Shared dimension per tile. */
  bk: number;
  /** Rows per thread (a multiple of 4). */
  tm: number;
  /** vec4 columns per thread. */
  cn: number;
}

/** What one program computes: [batch,] M x N from K, A [M,K] (or [K,M] if transposeA), B [K,N] (or [N,K]). */
export interface MatMulShape {
  /** 1 for rank-2 operands. */
  rank: 2 | 3;
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  bias: boolean;
}

// The tilings chooseTiling picks from. Also measured on the H200 and not kept (bench/matmul.ts, BENCHMARKS.md):
// 64x128, 128x128 (8x8 per thread, bk 8 and 16), 64x128 with 8x8 per thread, 128x64 with bk 32.
export const TILINGS = {
  t64x64: { bm: 64, bn: 64, bk: 16, tm: 4, cn: 1 },
  t128x64: { bm: 128, bn: 64, bk: 16, tm: 8, cn: 1 },
  t32x64: { bm: 32, bn: 64, bk: 32, tm: 4, cn: 1 },
} satisfies Record<string, MatMulTiling>;

/** Multiply-adds below which a product stays on tf.matMul (see tiledMatMulSupported). */
export const MIN_TILED_WORK = 1 << 14;

/** Whether the tiled program handles this product (else tf.matMul runs it). */
export function tiledMatMulSupported(s: Omit<MatMulShape, 'bias' | 'rank'>): boolean {
  if (s.transposeA && s.transposeB) return false;
  // vec4 loads along each operand's contiguous axis and vec4 stores along N.
  if (!(s.n % 4 === 0 && s.k % 4 === 0 && s.m % 4 === 0 && s.m > 0 && s.n > 0 && s.k > 0)) return false;
  // Tiny products (toy models) gain nothing from 32-deep tiles and stay on TF.js's program, whose summation order the
  // small cpu-vs-webgpu tests were pinned against: ALoRA's near-tied probe importances flip a cut otherwise.
  return Math.max(1, s.batch) * s.m * s.n * s.k >= MIN_TILED_WORK;
}

/** The tiling for a product: fewer, larger tiles once there are enough workgroups to fill the GPU. */
export function chooseTiling(s: Omit<MatMulShape, 'bias' | 'rank'>): MatMulTiling {
  const groups = (t: MatMulTiling) => s.batch * Math.ceil(s.m / t.bm) * Math.ceil(s.n / t.bn);
  // dW = dY^T X (K = tokens): the smaller tile kept more of the H200 busy (bench/matmul.ts, call 1).
  if (s.transposeA && s.batch === 1) return TILINGS.t32x64;
  if (groups(TILINGS.t128x64) >= 256) return TILINGS.t128x64;
  return TILINGS.t64x64;
}

/**
 * K slices for a product with too few output tiles to fill the GPU (a LoRA dA = du^T x is [r, in] from 4096
 * tokens): each slice's partial product goes to its own [M, N] plane and one more program sums the planes.
 */
export function chooseSplits(s: Omit<MatMulShape, 'bias' | 'rank'>, t: MatMulTiling): number {
  const groups = s.batch * Math.ceil(s.m / t.bm) * Math.ceil(s.n / t.bn);
  const tiles = Math.ceil(s.k / t.bk);
  if (s.batch !== 1 || groups >= 96 || tiles < 16) return 1;
  return Math.max(1, Math.min(Math.ceil(192 / groups), Math.floor(tiles / 8), 32));
}

/** Threads along x (vec4 columns) and y (row groups) of a tiling. */
function threadsOf(t: MatMulTiling): [number, number] {
  return [t.bn / (4 * t.cn), t.bm / t.tm];
}

/** The program-defined uniforms tiledMatMulProgram declares. */
export function tiledMatMulUniforms(s: MatMulShape): ProgramUniform {
  return [{ type: 'int32', data: [(s.m * s.k) / 4, (s.n * s.k) / 4, (s.m * s.n) / 4] }];
}

/** `splits` > 1: K is cut into that many slices, slice z writing plane z of an [splits, M, N] output (no bias). */
export function tiledMatMulProgram(s: MatMulShape, t: MatMulTiling, splits = 1): WebGPUProgramSpec & Record<string, unknown> {
  if (splits > 1 && (s.bias || s.batch !== 1)) throw new Error('fused kernel: split-K matmul takes no bias and no batch');
  const [wx, wy] = threadsOf(t);
  const threads = wx * wy;
  const { m, n, k, batch, transposeA, transposeB } = s;
  const bm4 = t.bm / 4;
  const bn4 = t.bn / 4;
  const loadsA = (t.bm * t.bk) / 4 / threads;
  const loadsB = (t.bn * t.bk) / 4 / threads;
  if (!Number.isInteger(loadsA) || !Number.isInteger(loadsB) || loadsA < 1 || loadsB < 1)
    throw new Error(`matmul tiling ${JSON.stringify(t)}: tile loads do not split over ${threads} threads`);
  const tiles = Math.ceil(k / t.bk);
  const tilesPerSplit = Math.ceil(tiles / splits);
  const fitM = m % t.bm === 0;
  const fitN = n % t.bn === 0;
  // The last slice may run past K (tiles not divisible by splits): its loads are guarded to zeros.
  const fitK = k % t.bk === 0 && tiles % splits === 0;

  // Global -> registers for one operand's tile. `rowMajorK`: the operand is stored with k contiguous.
  // Shared layout is always [bk][outer/4] vec4s, outer = m (A) or n (B).
  const loadSnippet = (name: 'A' | 'B', outer: number, outerTile: number, outer0: string, kContig: boolean, loads: number) => {
    const outerTile4 = outerTile / 4;
    const fitOuter = outer % outerTile === 0;
    const lines: string[] = [];
    for (let l = 0; l < loads; l++) {
      if (kContig) {
        // [outer, k] row-major: vec4 along k.
        const conds = [fitOuter ? '' : `o < ${outer}`, fitK ? '' : `kk < ${k}`].filter(Boolean).join(' && ');
        lines.push(`{
          let idx = tid + ${l * threads};
          let o = ${outer0} + idx / ${t.bk / 4};
          let kk = k0 + (idx % ${t.bk / 4}) * 4;
          ${conds ? `if (${conds}) {` : '{'}
            r${name}[${l}] = ${name}[${name === 'A' ? 'aBase' : 'bBase'} + (o * ${k} + kk) / 4];
          } ${conds ? `else { r${name}[${l}] = vec4<f32>(0.0); }` : ''}
        }`);
      } else {
        // [k, outer] row-major: vec4 along outer.
        const conds = [fitOuter ? '' : `o < ${outer}`, fitK ? '' : `kk < ${k}`].filter(Boolean).join(' && ');
        lines.push(`{
          let idx = tid + ${l * threads};
          let kk = k0 + idx / ${outerTile4};
          let o = ${outer0} + (idx % ${outerTile4}) * 4;
          ${conds ? `if (${conds}) {` : '{'}
            r${name}[${l}] = ${name}[${name === 'A' ? 'aBase' : 'bBase'} + (kk * ${outer} + o) / 4];
          } ${conds ? `else { r${name}[${l}] = vec4<f32>(0.0); }` : ''}
        }`);
      }
    }
    return lines.join('\n');
  };
  // Registers -> shared.
  const storeSnippet = (name: 'A' | 'B', outerTile: number, kContig: boolean, loads: number) => {
    const outerTile4 = outerTile / 4;
    const shared = `${name}s`;
    const lines: string[] = [];
    for (let l = 0; l < loads; l++) {
      if (kContig) {
        lines.push(`{
          let idx = tid + ${l * threads};
          let o = idx / ${t.bk / 4};
          let kq = (idx % ${t.bk / 4}) * 4;
          let v = r${name}[${l}];
          ${shared}[kq * ${outerTile4} + o / 4][o % 4] = v.x;
          ${shared}[(kq + 1) * ${outerTile4} + o / 4][o % 4] = v.y;
          ${shared}[(kq + 2) * ${outerTile4} + o / 4][o % 4] = v.z;
          ${shared}[(kq + 3) * ${outerTile4} + o / 4][o % 4] = v.w;
        }`);
      } else {
        lines.push(`${shared}[tid + ${l * threads}] = r${name}[${l}];`);
      }
    }
    return lines.join('\n');
  };

  const aKContig = !transposeA; // A [M, K]
  const bKContig = transposeB; // B [N, K]
  const tm4 = t.tm / 4;
  const colStride4 = bn4 / t.cn; // vec4 columns between a thread's column groups

  const compute = (() => {
    const lines: string[] = [];
    lines.push(`for (var kk = 0; kk < ${t.bk}; kk++) {`);
    for (let q = 0; q < tm4; q++) lines.push(`let a${q} = As[kk * ${bm4} + ty * ${tm4} + ${q}];`);
    for (let c = 0; c < t.cn; c++) lines.push(`let b${c} = Bs[kk * ${bn4} + tx + ${c * colStride4}];`);
    for (let i = 0; i < t.tm; i++) {
      const comp = 'xyzw'[i % 4];
      for (let c = 0; c < t.cn; c++) lines.push(`acc[${i * t.cn + c}] = fma(vec4<f32>(a${Math.floor(i / 4)}.${comp}), b${c}, acc[${i * t.cn + c}]);`);
    }
    lines.push('}');
    return lines.join('\n');
  })();

  const epilogue = (() => {
    const lines: string[] = [];
    for (let i = 0; i < t.tm; i++) {
      for (let c = 0; c < t.cn; c++) {
        const conds = [fitM ? '' : `row < ${m}`, fitN ? '' : `col < ${n}`].filter(Boolean).join(' && ');
        lines.push(`{
          let row = m0 + ty * ${t.tm} + ${i};
          let col = n0 + (tx + ${c * colStride4}) * 4;
          ${conds ? `if (${conds})` : ''} {
            result[cBase + (row * ${n} + col) / 4] = acc[${i * t.cn + c}]${s.bias ? ' + bias[col / 4]' : ''};
          }
        }`);
      }
    }
    return lines.join('\n');
  })();

  const key = `aflora_mm_${m}_${n}_${k}_${batch}_${+transposeA}${+transposeB}${+s.bias}_${t.bm}x${t.bn}x${t.bk}_${t.tm}_${t.cn}_${splits}`;
  return {
    variableNames: s.bias ? ['A', 'B', 'bias'] : ['A', 'B'],
    variableComponents: s.bias ? [4, 4, 4] : [4, 4],
    outputComponent: 4,
    outputShape: splits > 1 ? [splits, m, n] : s.rank === 3 ? [batch, m, n] : [m, n],
    shaderKey: key,
    // Batch strides in vec4s (A, B, C): a uniform the shader reads, else layout 'auto' drops the binding.
    uniforms: 'batchStrides : vec3<i32>,',
    dispatchLayout: { x: [0], y: [1], z: [2] },
    dispatch: [Math.ceil(n / t.bn), Math.ceil(m / t.bm), batch * splits],
    workgroupSize: [wx, wy, 1],
    getUserCode: () => `
      var<workgroup> As : array<vec4<f32>, ${t.bk * bm4}>;
      var<workgroup> Bs : array<vec4<f32>, ${t.bk * bn4}>;
      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let tid = ty * ${wx} + tx;
        let n0 = i32(workgroupId.x) * ${t.bn};
        let m0 = i32(workgroupId.y) * ${t.bm};
        let bz = i32(workgroupId.z) / ${splits};
        let firstTile = (i32(workgroupId.z) % ${splits}) * ${tilesPerSplit};
        let aBase = bz * uniforms.batchStrides.x;
        let bBase = bz * uniforms.batchStrides.y;
        let cBase = i32(workgroupId.z) * uniforms.batchStrides.z;
        var acc : array<vec4<f32>, ${t.tm * t.cn}>;
        var rA : array<vec4<f32>, ${loadsA}>;
        var rB : array<vec4<f32>, ${loadsB}>;
        var k0 = firstTile * ${t.bk};
        ${loadSnippet('A', m, t.bm, 'm0', aKContig, loadsA)}
        ${loadSnippet('B', n, t.bn, 'n0', bKContig, loadsB)}
        // A constant trip count: workgroupBarrier needs uniform control flow.
        for (var tile = 0; tile < ${tilesPerSplit}; tile++) {
          ${storeSnippet('A', t.bm, aKContig, loadsA)}
          ${storeSnippet('B', t.bn, bKContig, loadsB)}
          workgroupBarrier();
          k0 = (firstTile + tile + 1) * ${t.bk};
          if (tile + 1 < ${tilesPerSplit}) {
            ${loadSnippet('A', m, t.bm, 'm0', aKContig, loadsA)}
            ${loadSnippet('B', n, t.bn, 'n0', bKContig, loadsB)}
          }
          ${compute}
          workgroupBarrier();
        }
        ${epilogue}
      }`,
  };
}

/** Sums the [splits, M, N] planes of a split-K product into [M, N] (vec4 per thread). */
export function splitSumProgram(splits: number, m: number, n: number): WebGPUProgramSpec & Record<string, unknown> {
  const plane4 = (m * n) / 4;
  return {
    variableNames: ['P'],
    variableComponents: [4],
    outputComponent: 4,
    outputShape: [m, n],
    shaderKey: `aflora_mm_splitsum_${splits}_${plane4}`,
    ...flatDispatch([m, n], Math.ceil(plane4 / 128), 128),
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var total = P[index];
          for (var z = 1; z < ${splits}; z++) { total += P[index + z * ${plane4}]; }
          result[index] = total;
        }
      }`,
  };
}

/** Shape of op(a) op(b) for rank-2 or equal-batch rank-3 operands; null when the tiled program cannot run it. */
function productShape(a: readonly number[], b: readonly number[], transposeA: boolean, transposeB: boolean): Omit<MatMulShape, 'bias'> | null {
  if (a.length !== b.length || (a.length !== 2 && a.length !== 3)) return null;
  const batch = a.length === 3 ? a[0] : 1;
  if (a.length === 3 && b[0] !== batch) return null;
  const r = a.length - 2;
  const m = transposeA ? a[r + 1] : a[r];
  const ka = transposeA ? a[r] : a[r + 1];
  const kb = transposeB ? b[r + 1] : b[r];
  const n = transposeB ? b[r] : b[r + 1];
  if (ka !== kb) return null;
  const s = { rank: a.length as 2 | 3, batch, m, n, k: ka, transposeA, transposeB };
  return tiledMatMulSupported(s) ? s : null;
}

function register(kernelName: string, bias: boolean): void {
  registerWebGPUKernel(kernelName, (backend, inputs, attrs) => {
    const transposeA = Boolean(attrs.transposeA);
    const transposeB = Boolean(attrs.transposeB);
    const shape = productShape(inputs.a.shape, inputs.b.shape, transposeA, transposeB);
    if (!shape) throw new Error(`fused kernel: matmul of [${inputs.a.shape}] and [${inputs.b.shape}] is not supported`);
    const spec = { ...shape, bias };
    const tiling = chooseTiling(shape);
    const splits = bias ? 1 : chooseSplits(shape, tiling);
    const ins = bias ? [inputs.a, inputs.b, inputs.bias] : [inputs.a, inputs.b];
    const product = backend.runWebGPUProgram(tiledMatMulProgram(spec, tiling, splits), ins, 'float32', tiledMatMulUniforms(spec));
    if (splits === 1) return product;
    const total = backend.runWebGPUProgram(splitSumProgram(splits, shape.m, shape.n), [product], 'float32');
    backend.disposeData(product.dataId);
    return total;
  });
}
register(MATMUL, false);
register(MATMUL_BIAS, true);

/** Sum of dy over every axis but the last: a bias gradient. */
function biasGrad(dy: tf.Tensor): tf.Tensor1D {
  const cols = dy.shape[dy.shape.length - 1];
  return tf.sum(tf.reshape(dy, [-1, cols]), 0);
}

function gradients(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) {
  // C = op(A) op(B); dC -> dA, dB in A's and B's own layouts.
  if (!transposeA && !transposeB)
    return { a: () => matMul(dy, b, false, true), b: () => matMul(a, dy, true, false) };
  if (!transposeA && transposeB)
    return { a: () => matMul(dy, b, false, false), b: () => matMul(dy, a, true, false) };
  // transposeA (A is [K, M]), B [K, N].
  return { a: () => matMul(b, dy, false, true), b: () => matMul(a, dy, false, false) };
}

registerGradientOnce({
  kernelName: MATMUL,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, [a, b], attrs) => {
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    return gradients(dy as tf.Tensor, a, b, transposeA, transposeB);
  },
});

registerGradientOnce({
  kernelName: MATMUL_BIAS,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, [a, b], attrs) => {
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    return { ...gradients(dy as tf.Tensor, a, b, transposeA, transposeB), bias: () => biasGrad(dy as tf.Tensor) };
  },
});

/**
 * op(a) op(b) (+ bias over the last axis) for rank-2 or rank-3 (same batch) operands: the tiled program on
 * WebGPU where it applies, tf.matMul otherwise. Gradients run through the same function.
 */
export function matMul<T extends tf.Tensor>(a: T, b: T, transposeA = false, transposeB = false, bias?: tf.Tensor1D): T {
  const shape = kernelsActive() ? productShape(a.shape, b.shape, transposeA, transposeB) : null;
  if (!shape) {
    const product = tf.matMul(a, b, transposeA, transposeB) as T;
    return bias ? (tf.add(product, bias) as T) : product;
  }
  const attrs = { transposeA, transposeB };
  return bias ? runKernel<T>(MATMUL_BIAS, { a, b, bias }, attrs) : runKernel<T>(MATMUL, { a, b }, attrs);
}

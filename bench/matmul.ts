/**
 * GPU time of the training step's matmul shapes (batch 32 x seq 128), TF.js's webgpu matmul programs against the
 * engine's tiled matmul (src/engine/kernels/matmul.ts) in each tiling. Times come from timestamp queries around
 * each program (tf.time: one compute pass per program), mean of --reps run back to back; without the feature, wall time of
 * --reps back-to-back runs after queue.onSubmittedWorkDone.
 *   ENTRY=bench/matmul.ts sh bench/bundle.sh .carry/NAME/matmul.mjs   (then on the device, or here on SwiftShader:)
 *   node .carry/NAME/matmul.mjs --models small,base --reps 20 --tilings t64x64,t128x64 --json out.json
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { MODEL_SHAPES } from './methods';
import { setupWebGPU } from './webgpu-node';
import { TILINGS, tiledMatMulProgram, tiledMatMulUniforms, type MatMulShape, type MatMulTiling } from '../src/engine/kernels/matmul';

/** Tilings tried on the H200 besides the engine's own (8x8 per thread, longer K tiles). */
const EXTRA_TILINGS: Record<string, MatMulTiling> = {
  t64x128: { bm: 64, bn: 128, bk: 16, tm: 4, cn: 2 },
  t128x128: { bm: 128, bn: 128, bk: 8, tm: 8, cn: 2 },
  t128x128k16: { bm: 128, bn: 128, bk: 16, tm: 8, cn: 2 },
  t64x128r8: { bm: 64, bn: 128, bk: 16, tm: 8, cn: 2 },
  t128x64k32: { bm: 128, bn: 64, bk: 32, tm: 8, cn: 1 },
};

/** One product of the step, and how many of it one step runs (per layer x layers). */
type Product = Omit<MatMulShape, 'rank'> & { label: string; perStep: number };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** The step's products for a BERT shape: the six linears' forward, dX, dW and attention's batched matmuls. */
function products(hidden: number, inter: number, heads: number, layers: number, tokens: number, batch: number, seq: number): Product[] {
  const dh = hidden / heads;
  const bh = batch * heads;
  const lin = (name: string, inF: number, outF: number, count: number): Product[] => [
    { label: `${name} fwd x W^T`, batch: 1, m: tokens, n: outF, k: inF, transposeA: false, transposeB: true, bias: true, perStep: count * layers },
    { label: `${name} dX = dY W`, batch: 1, m: tokens, n: inF, k: outF, transposeA: false, transposeB: false, bias: false, perStep: count * layers },
    { label: `${name} dW = dY^T X`, batch: 1, m: outF, n: inF, k: tokens, transposeA: true, transposeB: false, bias: false, perStep: count * layers },
  ];
  return [
    ...lin(`HxH`, hidden, hidden, 4),
    ...lin(`HxI`, hidden, inter, 1),
    ...lin(`IxH`, inter, hidden, 1),
    { label: 'attn Q K^T (and dP = dC V^T)', batch: bh, m: seq, n: seq, k: dh, transposeA: false, transposeB: true, bias: false, perStep: 2 * layers },
    { label: 'attn P V (and dQ = dS K)', batch: bh, m: seq, n: dh, k: seq, transposeA: false, transposeB: false, bias: false, perStep: 2 * layers },
    { label: 'attn dV = P^T dC (and dK = dS^T Q)', batch: bh, m: seq, n: dh, k: seq, transposeA: true, transposeB: false, bias: false, perStep: 2 * layers },
  ];
}

function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

interface Backend {
  device: GPUDevice;
  supportTimestampQuery: boolean;
  submitQueue(): void;
  endComputePassEncoder(): void;
  runWebGPUProgram(p: unknown, inputs: tf.TensorInfo[], dtype: string, uniforms?: unknown): tf.TensorInfo;
}

async function timeIt(run: () => tf.Tensor, reps: number): Promise<{ gpuMs: number; wallMs: number; sample: Float32Array }> {
  const backend = tf.backend() as unknown as Backend;
  // Warm-up (pipeline compile), and one output kept to check against the reference.
  const first = run();
  const sample = (await first.data()) as Float32Array;
  first.dispose();
  // All reps inside one tf.time: the programs run back to back (awaiting each rep let the GPU idle and clock
  // down between them, which made call 2's numbers of the same kernel 1.5-4x those of call 1).
  let gpuMs = Number.NaN;
  if (backend.supportTimestampQuery) {
    const info = await tf.time(() => {
      for (let r = 0; r < reps; r++) run().dispose();
    });
    gpuMs = (info.kernelMs as number) / reps;
  }
  const start = performance.now();
  for (let r = 0; r < reps; r++) run().dispose();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
  const wallMs = (performance.now() - start) / reps;
  return { gpuMs, wallMs, sample };
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let scale = 1e-12;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}

async function main(): Promise<void> {
  const models = arg('models', 'small,base').split(',');
  const reps = Number(arg('reps', '10'));
  const tilings = arg('tilings', [...Object.keys(TILINGS), ...Object.keys(EXTRA_TILINGS)].join(',')).split(',');
  // WEBGPU_MATMUL_PROGRAM_TYPE values besides the default: 2 = MatMulSmallOutputSizeProgram (3-4x slower here).
  const tfjsTypes = arg('tfjs-types', 'default').split(',');
  const jsonPath = arg('json', '');
  const batch = 32;
  const seq = 128;
  const gpu = await setupWebGPU(['enable-dawn-features=allow_unsafe_apis', 'disable-dawn-features=timestamp_quantization']);
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const backend = tf.backend() as unknown as Backend;
  console.log(`adapter ${gpu.adapterInfo}; timestamp-query ${backend.supportTimestampQuery}; reps ${reps}`);
  const rows: Array<Record<string, unknown>> = [];
  for (const model of models) {
    const shape = MODEL_SHAPES[model as keyof typeof MODEL_SHAPES];
    if (!shape) throw new Error(`unknown model ${model}`);
    const list = products(shape.hiddenSize, shape.intermediateSize, shape.numHeads, shape.numLayers, batch * seq, batch, seq);
    let stepTfjs = 0;
    let stepBest = 0;
    for (const p of list) {
      const aShape = p.transposeA ? [p.k, p.m] : [p.m, p.k];
      const bShape = p.transposeB ? [p.n, p.k] : [p.k, p.n];
      const a = tf.tensor(values(p.batch * p.m * p.k, 1), p.batch > 1 ? [p.batch, ...aShape] : aShape);
      const b = tf.tensor(values(p.batch * p.n * p.k, 2), p.batch > 1 ? [p.batch, ...bShape] : bShape);
      const bias = tf.tensor1d(values(p.n, 3));
      const flops = 2 * p.batch * p.m * p.n * p.k;
      const results: Record<string, { gpuMs: number; wallMs: number; tflops: number; relErr: number }> = {};
      let reference: Float32Array | null = null;
      for (const type of tfjsTypes) {
        tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', type === 'default' ? -1 : Number(type));
        const run = () =>
          p.bias
            ? tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: p.transposeA, transposeB: p.transposeB, bias })
            : tf.matMul(a, b, p.transposeA, p.transposeB);
        try {
          const t = await timeIt(run, reps);
          reference ??= t.sample;
          results[`tfjs:${type}`] = { gpuMs: t.gpuMs, wallMs: t.wallMs, tflops: flops / ((t.gpuMs || t.wallMs) * 1e9), relErr: maxRel(t.sample, reference) };
        } catch (error) {
          console.log(`  tfjs:${type} failed: ${String(error).slice(0, 120)}`);
        }
      }
      tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', -1);
      for (const name of tilings) {
        const tiling = { ...TILINGS, ...EXTRA_TILINGS }[name];
        if (!tiling) throw new Error(`unknown tiling ${name}`);
        const spec: MatMulShape = { rank: p.batch > 1 ? 3 : 2, batch: p.batch, m: p.m, n: p.n, k: p.k, transposeA: p.transposeA, transposeB: p.transposeB, bias: p.bias };
        const run = () => {
          const info = backend.runWebGPUProgram(tiledMatMulProgram(spec, tiling), p.bias ? [a, b, bias] : [a, b], 'float32', tiledMatMulUniforms(spec));
          return tf.engine().makeTensorFromTensorInfo(info);
        };
        try {
          const t = await timeIt(run, reps);
          results[name] = { gpuMs: t.gpuMs, wallMs: t.wallMs, tflops: flops / ((t.gpuMs || t.wallMs) * 1e9), relErr: reference ? maxRel(t.sample, reference) : Number.NaN };
        } catch (error) {
          console.log(`  ${name} failed: ${String(error).slice(0, 120)}`);
        }
      }
      tf.dispose([a, b, bias]);
      const time = (r: { gpuMs: number; wallMs: number }) => (Number.isNaN(r.gpuMs) ? r.wallMs : r.gpuMs);
      const tfjs = results['tfjs:default'];
      const best = Object.entries(results)
        .filter(([k]) => !k.startsWith('tfjs'))
        .sort((x, y) => time(x[1]) - time(y[1]))[0];
      if (tfjs) stepTfjs += time(tfjs) * p.perStep;
      if (best) stepBest += time(best[1]) * p.perStep;
      const cells = Object.entries(results).map(([k, r]) => `${k} ${time(r).toFixed(3)}ms ${r.tflops.toFixed(1)}TF${r.relErr > 1e-5 ? ` ERR ${r.relErr.toExponential(1)}` : ''}`);
      console.log(`${model} ${p.label} [${p.batch}] ${p.m}x${p.n}x${p.k} x${p.perStep}: ${cells.join(' | ')}`);
      rows.push({ model, ...p, flops, results, best: best?.[0] });
      if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ adapter: gpu.adapterInfo, reps, rows }, null, 2));
    }
    console.log(`${model}: step matmul GPU ms (x perStep, fwd counted once, bwd dX+dW as if every weight trained): tfjs ${stepTfjs.toFixed(2)}, best tiled ${stepBest.toFixed(2)}`);
  }
  if (gpu.uncapturedErrors.length) console.log(`uncaptured errors: ${gpu.uncapturedErrors.slice(0, 3).join(' | ')}`);
  await gpu.teardown();
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

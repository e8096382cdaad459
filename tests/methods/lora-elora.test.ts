/** LoRA / ELoRA / full: the adapted output against a plain-JS computation, init, naming, groups, options. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MethodContext } from '../../src/engine/adapter';
import { linearTargets } from '../../src/engine/types';
import { eloraEffectiveRank } from '../../src/methods/elora';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig } from '../helpers/tinyBert';

const CONFIG = tinyConfig({
  vocabSize: 30,
  hiddenSize: 4,
  numLayers: 1,
  intermediateSize: 6,
  maxPositions: 8,
});
const TARGETS = linearTargets(CONFIG);
const INTER = TARGETS.find((t) => t.kind === 'inter')!; // 4 -> 6

function context(initial?: MethodContext['initial']): MethodContext {
  return { config: CONFIG, targets: TARGETS, totalSteps: 10, epochs: 1, stepsPerEpoch: 10, warmupSteps: 0, seed: 3, initial };
}

/** Row-major [rows, cols] product of plain arrays. */
function matmul(a: number[], b: number[], rows: number, inner: number, cols: number): number[] {
  const out = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++)
    for (let k = 0; k < inner; k++)
      for (let j = 0; j < cols; j++) out[i * cols + j] += a[i * inner + k] * b[k * cols + j];
  return out;
}
function transpose(a: number[], rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

const X = [0.5, -1, 2, 0.25, -0.75, 1.5, 0, 1]; // [2 tokens, 4]
const BASE = [1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6]; // [2, 6]

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('lora', () => {
  it('computes base + (alpha / r) x A^T B^T', async () => {
    const r = 2;
    const a = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]; // [r=2, in=4]
    const b = [1, 0, 0, 1, 1, 1, -1, 0, 0, -1, 2, 0.5]; // [out=6, r=2]
    const initial = new Map([
      [`${INTER.path}.lora_A`, { shape: [r, 4], data: Float32Array.from(a) }],
      [`${INTER.path}.lora_B`, { shape: [6, r], data: Float32Array.from(b) }],
    ]);
    const runtime = adapterMethod('lora', { r, alpha: 6, targetModules: ['inter'] }).create(context(initial));
    const y = tf.tidy(() => runtime.apply(INTER, tf.tensor2d(X, [2, 4]), tf.tensor2d(BASE, [2, 6])));
    const values = Array.from(await y.data());
    y.dispose();
    runtime.dispose();
    const down = matmul(X, transpose(a, r, 4), 2, 4, r);
    const up = matmul(down, transpose(b, 6, r), 2, r, 6);
    const expected = BASE.map((v, i) => v + 3 * up[i]); // alpha / r = 6 / 2
    values.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('initialises A ~ U(-1/sqrt(in), 1/sqrt(in)) seeded and B = 0, with PEFT names and the adapter group', async () => {
    const make = () => adapterMethod('lora', { r: 8, alpha: 16, targetModules: ['query', 'value'] }).create(context());
    const first = make();
    const second = make();
    const vars = first.variables();
    expect(vars.map((v) => v.name)).toEqual([
      'bert.encoder.layer.0.attention.self.query.lora_A',
      'bert.encoder.layer.0.attention.self.query.lora_B',
      'bert.encoder.layer.0.attention.self.value.lora_A',
      'bert.encoder.layer.0.attention.self.value.lora_B',
    ]);
    expect(vars.every((v) => v.lrGroup === 'adapter' && v.decays)).toBe(true);
    expect(vars[0].variable.shape).toEqual([8, 4]);
    expect(vars[1].variable.shape).toEqual([4, 8]);
    const a = Array.from(await vars[0].variable.data());
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(0.5); // 1 / sqrt(4)
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.25);
    expect(Array.from(await vars[1].variable.data()).every((v) => v === 0)).toBe(true);
    expect(a).toEqual(Array.from(await second.variables()[0].variable.data()));
    expect(first.adapted).toEqual(
      new Set(['bert.encoder.layer.0.attention.self.query', 'bert.encoder.layer.0.attention.self.value']),
    );
    first.dispose();
    second.dispose();
  });

  it('counts r (in + out) per adapted linear and rejects bad options', () => {
    // query, value: 4 -> 4; inter: 4 -> 6
    expect(
      adapterMethod('lora', { r: 2, alpha: 4, targetModules: ['query', 'value', 'inter'] }).countTrainable(CONFIG),
    ).toBe(2 * 8 + 2 * 8 + 2 * 10);
    expect(() => adapterMethod('lora', { r: 0, alpha: 1, targetModules: ['query'] }).create(context())).toThrow(/r must be in \[1, 256\]/);
    expect(() =>
      adapterMethod('lora', { r: 2, alpha: 1, targetModules: ['qkv' as never] }).countTrainable(CONFIG),
    ).toThrow(/targetModules has unknown entries qkv/);
  });
});

describe('elora', () => {
  it('computes base + Λb ⊙ (B (Λd ⊙ (A x))) and trains only the vectors', async () => {
    const r = 2;
    const a = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8];
    const b = [1, 0, 0, 1, 1, 1, -1, 0, 0, -1, 2, 0.5];
    const d = [0.5, -2];
    const bVec = [1, -1, 0.5, 2, 0, 3];
    const initial = new Map([
      [`${INTER.path}.lora_A`, { shape: [r, 4], data: Float32Array.from(a) }],
      [`${INTER.path}.lora_B`, { shape: [6, r], data: Float32Array.from(b) }],
      [`${INTER.path}.lambda_d`, { shape: [r], data: Float32Array.from(d) }],
      [`${INTER.path}.lambda_b`, { shape: [6], data: Float32Array.from(bVec) }],
    ]);
    const runtime = adapterMethod('elora', { rank: r, targetModules: ['inter'] }).create(context(initial));
    expect(runtime.trainable().map((v) => v.name)).toEqual([
      `${INTER.path}.lambda_d`,
      `${INTER.path}.lambda_b`,
    ]);
    expect(runtime.trainable().every((v) => v.decays && v.lrGroup === 'adapter')).toBe(true);
    expect(runtime.variables()).toHaveLength(4);
    const y = tf.tidy(() => runtime.apply(INTER, tf.tensor2d(X, [2, 4]), tf.tensor2d(BASE, [2, 6])));
    const values = Array.from(await y.data());
    y.dispose();
    runtime.dispose();
    const down = matmul(X, transpose(a, r, 4), 2, 4, r).map((v, i) => v * d[i % r]);
    const up = matmul(down, transpose(b, 6, r), 2, r, 6);
    const expected = BASE.map((v, i) => v + bVec[i % 6] * up[i]);
    values.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('initialises Λd = 0.1 and Λb = 0, caps the rank at 4 x hidden and counts r + out per linear', async () => {
    expect(eloraEffectiveRank(CONFIG, 1024)).toBe(16);
    expect(eloraEffectiveRank(CONFIG, 8)).toBe(8);
    const runtime = adapterMethod('elora', { rank: 1024, targetModules: ['inter'] }).create(context());
    const [a, b, d, bVec] = runtime.variables();
    expect(a.variable.shape).toEqual([16, 4]);
    expect(b.variable.shape).toEqual([6, 16]);
    expect(Array.from(await d.variable.data()).every((v) => Math.abs(v - 0.1) < 1e-7)).toBe(true);
    expect(Array.from(await bVec.variable.data()).every((v) => v === 0)).toBe(true);
    runtime.dispose();
    expect(adapterMethod('elora', { rank: 1024, targetModules: ['inter', 'query'] }).countTrainable(CONFIG)).toBe(
      16 + 6 + 16 + 4,
    );
  });
});

describe('full', () => {
  it('trains the base, adapts nothing, and counts every weight but the embedding tables and the head', () => {
    const runtime = adapterMethod('full', { trainEmbeddings: false }).create(context());
    expect(runtime.trainsBase).toBe(true);
    expect(runtime.adapted.size).toBe(0);
    expect(runtime.trainable()).toEqual([]);
    // embeddings LN 2*4; per layer: q,k,v,attn_out 4*(16+4), inter 24+6, out 24+4, two LNs 4*4; pooler 16+4
    const encoder = 4 * 20 + 30 + 28 + 16;
    expect(adapterMethod('full', { trainEmbeddings: false }).countTrainable(CONFIG)).toBe(8 + encoder + 20);
    expect(adapterMethod('full', { trainEmbeddings: true }).countTrainable(CONFIG)).toBe(
      8 + encoder + 20 + (30 + 8 + 2) * 4,
    );
  });
});

/**
 * The plain composites (the reference the fused kernels are checked against) against scalar loops written
 * from the textbook / torch definitions, on the cpu backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  adamWState,
  adamWUpdate,
  biasGeluComposite,
  clipCoefficientsComposite,
  layerNormComposite,
  maskedSoftmaxComposite,
} from '../../src/engine/kernels';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.sin(seed * 12.9898 + i * 78.233) * 2;
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThan(tol);
}

// erf by its Maclaurin series (converges fast for |x| < 3), independent of the A&S approximation.
function erfSeries(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('plain composites follow the torch definitions', () => {
  it('layerNorm uses the biased variance and eps inside the sqrt', () => {
    const [rows, cols, eps] = [3, 7, 1e-3];
    const x = values(rows * cols, 1);
    const gamma = values(cols, 2);
    const beta = values(cols, 3);
    const expected: number[] = [];
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const mean = row.reduce((a, b) => a + b) / cols;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
      row.forEach((v, c) => expected.push(((v - mean) / Math.sqrt(variance + eps)) * gamma[c] + beta[c]));
    }
    const y = layerNormComposite(tf.tensor2d(x, [rows, cols]), tf.tensor1d(gamma), tf.tensor1d(beta), eps);
    expectClose(y.dataSync(), expected, 1e-5);
  });

  it('biasGelu is the erf GELU of x + bias', () => {
    const x = values(12, 4);
    const bias = values(4, 5);
    const y = biasGeluComposite(tf.tensor2d(x, [3, 4]), tf.tensor1d(bias)).dataSync();
    const expected = Array.from(x, (v, i) => {
      const u = v + bias[i % 4];
      return 0.5 * u * (1 + erfSeries(u / Math.SQRT2));
    });
    expectClose(y, expected, 1e-5);
  });

  it('maskedSoftmax scales, masks per batch row and normalises', () => {
    const scores = values(2 * 1 * 2 * 3, 6);
    const mask = [0, 0, -1e9, 0, 0, 0];
    const y = maskedSoftmaxComposite(
      tf.tensor4d(scores, [2, 1, 2, 3]),
      tf.tensor2d(mask, [2, 3]),
      0.5,
    ).dataSync();
    const expected: number[] = [];
    for (let row = 0; row < 4; row++) {
      const batch = Math.floor(row / 2);
      const logits = [0, 1, 2].map((k) => scores[row * 3 + k] * 0.5 + mask[batch * 3 + k]);
      const m = Math.max(...logits);
      const z = logits.reduce((a, l) => a + Math.exp(l - m), 0);
      logits.forEach((l) => expected.push(Math.exp(l - m) / z));
    }
    expectClose(y, expected, 1e-6);
    expect(y[2]).toBeLessThan(1e-12);
  });

  it('clip + adamWUpdate follow clip_grad_norm_ and torch.optim.AdamW for two steps', () => {
    const hp = { lr: 0.05, beta1: 0.8, beta2: 0.9, eps: 1e-8, weightDecay: 0.1 };
    const p0 = values(5, 7);
    const grads = [values(5, 8), values(5, 9)];
    const variable = tf.variable(tf.tensor1d(p0));
    let state = adamWState(variable);
    const p = Array.from(p0);
    const m = new Array(5).fill(0);
    const v = new Array(5).fill(0);
    for (let step = 1; step <= 2; step++) {
      const g = grads[step - 1];
      const clip = clipCoefficientsComposite([tf.tensor1d(g)], 1.0);
      state = adamWUpdate(variable, tf.tensor1d(g), state, clip, { ...hp, step });
      const norm = Math.sqrt(g.reduce((a, b) => a + b * b, 0));
      const scale = Math.min(1, 1.0 / (norm + 1e-6));
      expectClose(clip.dataSync(), [norm, scale], 1e-5);
      for (let i = 0; i < 5; i++) {
        const gi = g[i] * scale;
        p[i] *= 1 - hp.lr * hp.weightDecay;
        m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * gi;
        v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * gi * gi;
        const denom = Math.sqrt(v[i]) / Math.sqrt(1 - hp.beta2 ** step) + hp.eps;
        p[i] -= (hp.lr / (1 - hp.beta1 ** step)) * (m[i] / denom);
      }
    }
    expectClose(variable.dataSync(), p, 1e-6);
    expectClose(state.dataSync(), [...m, ...v], 1e-6);
  });

  it("adamWUpdate variant 'hf' follows transformers 4.31 AdamW: eps on sqrt(v) before bias correction, decay after the update", () => {
    const hp = { lr: 0.05, beta1: 0.8, beta2: 0.9, eps: 1e-3, weightDecay: 0.1, variant: 'hf' as const };
    const p0 = values(5, 11);
    const grads = [values(5, 12), values(5, 13)];
    const variable = tf.variable(tf.tensor1d(p0));
    let state = adamWState(variable);
    const p = Array.from(p0);
    const torchLike = Array.from(p0);
    const m = new Array(5).fill(0);
    const v = new Array(5).fill(0);
    for (let step = 1; step <= 2; step++) {
      const g = grads[step - 1];
      state = adamWUpdate(variable, tf.tensor1d(g), state, null, { ...hp, step });
      const stepSize = (hp.lr * Math.sqrt(1 - hp.beta2 ** step)) / (1 - hp.beta1 ** step);
      for (let i = 0; i < 5; i++) {
        m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * g[i];
        v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * g[i] * g[i];
        p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) + hp.eps);
        p[i] -= hp.lr * hp.weightDecay * p[i];
        const denom = Math.sqrt(v[i]) / Math.sqrt(1 - hp.beta2 ** step) + hp.eps;
        torchLike[i] = torchLike[i] * (1 - hp.lr * hp.weightDecay) - (hp.lr / (1 - hp.beta1 ** step)) * (m[i] / denom);
      }
    }
    expectClose(variable.dataSync(), p, 1e-6);
    expectClose(state.dataSync(), [...m, ...v], 1e-6);
    // With eps this large the two variants are far apart: the test tells them apart.
    const gap = Math.max(...p.map((x, i) => Math.abs(x - torchLike[i])));
    expect(gap).toBeGreaterThan(1e-4);
  });
});

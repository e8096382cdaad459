/** Losses, AdamW, clipping, schedule and metrics against small hand-worked numbers. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { classificationTargets, crossEntropyLoss, mseLoss, regressionWeights } from '../../src/engine/loss';
import { accuracy, averageRanks, f1Score, matthewsCorrelation, pearson, spearman } from '../../src/engine/metrics';
import { clipCoefficients, sumScalars } from '../../src/engine/kernels';
import { AdamW, TORCH_ADAMW_DEFAULTS } from '../../src/engine/optimizer';
import { linearScheduleFactor, warmupSteps } from '../../src/engine/schedule';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('losses', () => {
  it('cross-entropy is the mean over real rows only', async () => {
    // Row 0: log(1 + e^-1) = 0.3132617; row 1: log 2 = 0.6931472; row 2 is padding (weight 0).
    const logits = tf.tensor2d([1, 2, 0, 0, 5, -5], [3, 2]);
    const targets = tf.tensor2d(classificationTargets([1, 0, 1], [1, 1, 0], 2), [3, 2]);
    const loss = crossEntropyLoss(logits, targets);
    expect((await loss.data())[0]).toBeCloseTo((0.3132617 + 0.6931472) / 2, 6);
    tf.dispose([logits, targets, loss]);
  });

  it('rejects labels outside the classes', () => {
    expect(() => classificationTargets([2], [1], 2)).toThrow(/label 2/);
  });

  it('MSE is the mean squared error over real rows only', async () => {
    const predictions = tf.tensor2d([1, 3, 100], [3, 1]);
    const values = tf.tensor1d([2, 1, 0]);
    const weights = tf.tensor1d(regressionWeights([1, 1, 0]));
    const loss = mseLoss(predictions, values, weights);
    expect((await loss.data())[0]).toBeCloseTo((1 + 4) / 2, 6);
    tf.dispose([predictions, values, weights, loss]);
  });
});

describe('AdamW (torch.optim.AdamW semantics)', () => {
  it('first step moves by lr * sign(g) after decoupled decay; second step matches the torch recurrence', async () => {
    const p = tf.variable(tf.tensor1d([1, -2]), true);
    const q = tf.variable(tf.tensor1d([3]), true);
    const optimizer = new AdamW(TORCH_ADAMW_DEFAULTS);
    const entries = [
      { name: 'p', variable: p, lr: 0.1, weightDecay: 0.01 },
      { name: 'q', variable: q, lr: 0.1, weightDecay: 0 },
    ];
    const g1p = [0.5, -1];
    const g2p = [0.1, 0.3];
    tf.tidy(() => optimizer.update(entries, new Map([['p', tf.tensor1d(g1p)], ['q', tf.tensor1d([2])]]), 1));
    // m_hat = g, v_hat = g^2: p1 = p0 (1 - lr wd) - lr g / (|g| + eps).
    expect(Array.from(await p.data())).toEqual([expect.closeTo(0.899, 6), expect.closeTo(-1.898, 6)]);
    expect((await q.data())[0]).toBeCloseTo(2.9, 6); // no decay

    tf.tidy(() => optimizer.update(entries, new Map([['p', tf.tensor1d(g2p)], ['q', tf.tensor1d([2])]]), 0.5));
    // Step 2 by hand with lr = 0.1 * 0.5.
    const lr = 0.05;
    const expected = [0.899, -1.898].map((p1, i) => {
      const m = 0.9 * 0.1 * g1p[i] + 0.1 * g2p[i];
      const v = 0.999 * 0.001 * g1p[i] ** 2 + 0.001 * g2p[i] ** 2;
      const mHat = m / (1 - 0.9 ** 2);
      const denom = Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8;
      return p1 * (1 - lr * 0.01) - (lr * mHat) / denom;
    });
    const actual = await p.data();
    expect(actual[0]).toBeCloseTo(expected[0], 5);
    expect(actual[1]).toBeCloseTo(expected[1], 5);
    expect(optimizer.stepOf('p')).toBe(2);

    const before = tf.memory().numTensors;
    optimizer.drop(['p']);
    expect(optimizer.has('p')).toBe(false);
    expect(tf.memory().numTensors).toBe(before - 1); // its [2, n] moments
    optimizer.dispose();
    tf.dispose([p, q]);
  });
});

describe('global-norm clipping (clip_grad_norm_)', () => {
  it('scales all gradients by maxNorm / (norm + 1e-6) when the norm is larger', async () => {
    const grads = new Map([
      ['a', tf.tensor1d([3, 4])],
      ['b', tf.tensor1d([12])],
    ]);
    const [norm, scale] = await clipCoefficients([...grads.values()], 1).data();
    expect(norm).toBeCloseTo(13, 5);
    expect(scale).toBeCloseTo(1 / (13 + 1e-6), 6);
    expect((await clipCoefficients([...grads.values()], 100).data())[1]).toBe(1);
    expect((await clipCoefficients([...grads.values()], Infinity).data())[1]).toBe(1);
  });

  it('sums more than 7 scalars (WebGPU addN limit) correctly', async () => {
    const values = Array.from({ length: 23 }, (_, i) => tf.scalar(i + 1));
    expect((await sumScalars(values).data())[0]).toBe((23 * 24) / 2);
  });
});

describe('linear schedule with warm-up (Hugging Face)', () => {
  it('rounds warm-up steps up and ramps linearly to 1 then down to 0', () => {
    expect(warmupSteps(100, 0.06)).toBe(6);
    expect(warmupSteps(10, 0.06)).toBe(1);
    expect(warmupSteps(50, 0)).toBe(0);
    expect([0, 3, 6, 53, 100].map((t) => linearScheduleFactor(t, 100, 6))).toEqual([0, 0.5, 1, 0.5, 0]);
    expect(linearScheduleFactor(0, 10, 0)).toBe(1);
  });
});

describe('metrics', () => {
  const predicted = [1, 1, 0, 0, 1];
  const labels = [1, 0, 0, 1, 1];
  it('accuracy, binary F1 (class 1) and MCC by hand', () => {
    // tp 2, tn 1, fp 1, fn 1.
    expect(accuracy(predicted, labels)).toBeCloseTo(3 / 5, 10);
    expect(f1Score(predicted, labels, 2)).toBeCloseTo(2 / 3, 10);
    expect(matthewsCorrelation(predicted, labels, 2)).toBeCloseTo((2 * 1 - 1 * 1) / Math.sqrt(3 * 3 * 2 * 2), 10);
  });

  it('macro F1 and multi-class MCC', () => {
    // Per-class F1: 1, 2/3, 2/3.
    expect(f1Score([0, 1, 2, 2], [0, 1, 1, 2], 3)).toBeCloseTo(7 / 9, 10);
    expect(matthewsCorrelation([0, 1, 2], [0, 1, 2], 3)).toBeCloseTo(1, 10);
    expect(matthewsCorrelation([0, 0, 0], [0, 1, 2], 3)).toBe(0);
    expect(matthewsCorrelation([1, 0], [0, 1], 2)).toBeCloseTo(-1, 10);
  });

  it('Pearson by hand, Spearman with averaged ties and its invariance to monotone maps', () => {
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(5 / Math.sqrt(2 * (114 / 9)), 10);
    expect(averageRanks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    const x = [0.3, -1, 2, 5, 0.1];
    expect(spearman(x, x.map((v) => v ** 3))).toBeCloseTo(1, 10);
    expect(spearman(x, x.map((v) => -Math.exp(v)))).toBeCloseTo(-1, 10);
    // Ties: ranks x [1, 2.5, 2.5, 4], y [1, 2, 3, 4] -> Pearson of the ranks.
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4]), 10);
    expect(pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 10);
  });
});

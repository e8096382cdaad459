/**
 * The Trainer when a step goes wrong (cpu backend): a step that throws, wherever it throws, leaves no tensors
 * behind; a NaN in the loss is found at the next flush, the adapter of the last clean flush is restored (the
 * snapshot kept on the device), and the diagnosis names the likely cause from what it checked.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AdapterMethod, AdapterRuntime } from '../../src/engine/adapter';
import { Trainer } from '../../src/engine/trainer';
import { randomBertWeights } from '../../src/engine/weights';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig, toyExamples, toyRecipe } from '../helpers/tinyBert';

const recipe = toyRecipe;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type FaultPoint = 'apply' | 'regularizer' | 'observeGradients' | 'observeUpdate' | 'afterStep';

/** LoRA whose runtime throws at `point` during step `at`. */
function faulty(point: FaultPoint, at: number): AdapterMethod {
  const lora = adapterMethod('lora');
  return {
    ...lora,
    create(ctx): AdapterRuntime {
      const inner = lora.create(ctx);
      let current = 0; // the step being run (afterStep moves it on)
      const boom = (s: number) => {
        if (s === at) throw new Error(`fault in ${point} at step ${s}`);
      };
      return {
        ...inner,
        apply: (target, x, base) => {
          if (point === 'apply') boom(current);
          return inner.apply(target, x, base);
        },
        regularizer: (s) => {
          if (point === 'regularizer') boom(s);
          return tf.scalar(0);
        },
        observeGradients: (s) => point === 'observeGradients' && boom(s),
        observeUpdate: (s) => point === 'observeUpdate' && boom(s),
        afterStep: async (s) => {
          current = s + 1;
          if (point === 'afterStep') boom(s);
          return { events: [], frozen: [] };
        },
      };
    },
  };
}

function trainer(method: AdapterMethod): Trainer {
  const config = tinyConfig();
  return new Trainer({ config, weights: randomBertWeights(config, 1), method, train: toyExamples(20, 12, 5), recipe });
}

describe('a step that throws', () => {
  for (const point of ['apply', 'regularizer', 'observeGradients', 'observeUpdate', 'afterStep'] as const) {
    it(`leaves the tensor count as it was (thrown in ${point})`, async () => {
      const t = trainer(faulty(point, 2));
      await t.step();
      await t.step();
      await t.flushMetrics();
      const before = tf.memory().numTensors;
      await expect(t.step()).rejects.toThrow(`fault in ${point} at step 2`);
      await t.flushMetrics();
      expect(tf.memory().numTensors).toBe(before);
      t.dispose();
    });
  }
});

/** LoRA whose adapted outputs turn NaN from step `from` on (the forward pass, as a diverged weight would). */
function poisonedFrom(from: number): AdapterMethod {
  const lora = adapterMethod('lora');
  return {
    ...lora,
    create(ctx): AdapterRuntime {
      const inner = lora.create(ctx);
      let current = 0;
      return {
        ...inner,
        apply: (target, x, base) => {
          const out = inner.apply(target, x, base);
          return current >= from ? tf.mul(out, Number.NaN) : out;
        },
        afterStep: async (s) => {
          current = s + 1;
          return (await inner.afterStep?.(s)) ?? { events: [], frozen: [] };
        },
      };
    },
  };
}

function allFinite(state: Map<string, { data: Float32Array }>): boolean {
  return [...state.values()].every((t) => t.data.every(Number.isFinite));
}

describe('a NaN in training', () => {
  it('is found at the next flush; the adapter of the last clean flush comes back, bit for bit, and the cause is the optimisation', async () => {
    const t = trainer(poisonedFrom(6));
    for (let i = 0; i < 6; i++) {
      await t.step();
      if (i % 2 === 1) expect(Trainer.firstNonFinite(await t.flushMetrics())).toBeUndefined();
    }
    expect(t.lastGoodStep).toBe(6);
    const good = await t.adapterState();
    await t.step();
    await t.step();
    const rows = await t.flushMetrics();
    const bad = Trainer.firstNonFinite(rows)!;
    expect(bad.step).toBe(6);
    // The NaN went through the update into the variables; the kept state is not touched by it.
    expect(allFinite(await t.adapterState())).toBe(false);
    expect(t.lastGoodStep).toBe(6);
    const before = tf.memory().numTensors;
    const error = t.recoverFromNonFinite(bad);
    expect(tf.memory().numTensors).toBe(before);
    const restored = await t.adapterState();
    expect([...restored.keys()]).toEqual([...good.keys()]);
    for (const [name, tensor] of good) expect(restored.get(name)!.data).toEqual(tensor.data);
    expect(error.kind).toBe('numerical');
    expect(error.message).toBe('The loss became NaN at step 6. Training stopped; the adapter after 6 steps (the last state checked finite) is restored: Export writes it.');
    expect(error.hint).toMatch(/training diverged: lower the adapter learning rate \(0\.01\) or the classifier's \(0\.04\)/);
    t.dispose();
  });

  it('at the first step with NaN in the base weights: restores the initial adapter and names the tensor', async () => {
    const config = tinyConfig();
    const weights = randomBertWeights(config, 1);
    const name = 'bert.encoder.layer.1.intermediate.dense.weight';
    weights.get(name)!.data.fill(Number.NaN, 0, 3);
    const t = new Trainer({ config, weights, method: adapterMethod('lora'), train: toyExamples(20, 12, 5), recipe });
    const initial = await t.adapterState();
    await t.step();
    const bad = Trainer.firstNonFinite(await t.flushMetrics())!;
    expect(bad.step).toBe(0);
    const error = t.recoverFromNonFinite(bad);
    expect(error.message).toMatch(/the adapter as it was before the first step is restored: Export writes it/);
    expect(error.hint).toBe(`The model's weights hold non-finite values (3 in ${name}): the weights file is corrupt or was saved after training diverged. Use the original checkpoint.`);
    const restored = await t.adapterState();
    for (const [key, tensor] of initial) expect(restored.get(key)!.data).toEqual(tensor.data);
    expect(allFinite(restored)).toBe(true);
    t.dispose();
  });

  it('names regression targets out of range as the cause', async () => {
    const config = tinyConfig({ numLabels: 1 });
    const train = toyExamples(20, 12, 5, 1);
    const labels = train.labels as Float32Array;
    labels.forEach((y, i) => (labels[i] = y * 3e19)); // squares overflow float32
    const t = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train, recipe });
    await t.step();
    const bad = Trainer.firstNonFinite(await t.flushMetrics())!;
    expect(bad).toBeDefined();
    expect(t.recoverFromNonFinite(bad).hint).toMatch(/^The regression targets span -3\.00e\+19 to 3\.00e\+19: the squared error of such values overflows\. Rescale the targets/);
    t.dispose();
  });

  it('names a config value as the cause (layer_norm_eps not a number)', async () => {
    const config = tinyConfig({ layerNormEps: Number.NaN });
    const t = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train: toyExamples(20, 12, 5), recipe });
    await t.step();
    const bad = Trainer.firstNonFinite(await t.flushMetrics())!;
    expect(bad).toBeDefined();
    expect(t.recoverFromNonFinite(bad).hint).toBe("config.json's layer_norm_eps is NaN: LayerNorm divides by zero on a constant row. Use BERT's 1e-12.");
    t.dispose();
  });
});

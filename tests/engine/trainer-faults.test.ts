/**
 * The Trainer when a step goes wrong (cpu backend): a step that throws, wherever it throws, leaves no tensors
 * behind; a NaN in the loss is found at the next flush, the adapter of the last clean flush is restored (the
 * snapshot kept on the device), and the diagnosis names the likely cause from what it checked.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AdapterMethod, AdapterRuntime } from '../../src/engine/adapter';
import { Trainer, type TrainingRecipe } from '../../src/engine/trainer';
import { randomBertWeights } from '../../src/engine/weights';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

const recipe: TrainingRecipe = {
  epochs: 4,
  batchSize: 8,
  maxLength: 12,
  adapterLr: 1e-2,
  classifierLr: 4e-2,
  weightDecay: 0.1,
  classifierWeightDecay: 0.1,
  warmupRatio: 0.06,
  maxGradNorm: 0.1,
  optimizer: 'adamw_torch',
  seed: 3,
  logEvery: 5,
};

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

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Trainer, type TrainingRecipe } from '../../src/engine/trainer';
import { randomBertWeights } from '../../src/engine/weights';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

const recipe: TrainingRecipe = {
  epochs: 4,
  batchSize: 8,
  maxLength: 12,
  adapterLr: 1e-2,
  classifierLr: 4e-2,
  weightDecay: 0.1,
  warmupRatio: 0.06,
  maxGradNorm: 0.1,
  seed: 3,
  logEvery: 5,
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Trainer', () => {
  it('runs lora steps with flat tensor count and reports metrics in one flush', async () => {
    const config = tinyConfig();
    const trainer = new Trainer({
      config,
      weights: randomBertWeights(config, 1),
      method: 'lora',
      train: toyExamples(20, 12, 5),
      recipe,
    });
    expect(trainer.totalSteps).toBe(12); // ceil(20 / 8) * 4
    const counts: number[] = [];
    for (let i = 0; i < 8; i++) {
      await trainer.step();
      if (i % 2 === 1) {
        const metrics = await trainer.flushMetrics();
        expect(metrics.map((m) => m.step)).toEqual([i - 1, i]);
        counts.push(tf.memory().numTensors);
      }
    }
    expect(new Set(counts.slice(1)).size).toBe(1);
    trainer.dispose();
  });
});

/**
 * A checkpointed run resumes exactly (cpu backend): N steps straight vs N/2, checkpoint, a fresh trainer restored from
 * it, N/2 more. Losses, the methods' events (freezes, scores, ranks, budgets) and the final variables must be
 * identical, with dropout on, shuffling on and the checkpoint mid-epoch and mid-score-window.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MethodEvent } from '../../src/engine/adapter';
import type { TrainerCheckpoint } from '../../src/engine/checkpoint';
import { DEFAULT_RECIPE, Trainer, type TrainingRecipe } from '../../src/engine/trainer';
import { randomBertWeights } from '../../src/engine/weights';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

const STEPS = 24;
/** Mid-epoch (4 steps per epoch) and mid-window (AFLoRA's ΔT = 3, AdaLoRA's 3). */
const HALF = 10;

/** Options that make each method decide in both halves of the 24-step run. */
const ROWS: Record<string, object> = {
  // Masking rounds every 3 steps from step 3 to 15: freezes before and after the checkpoint.
  aflora: { rank: 2, deltaT: 3, initialWarmup: 3, finalWarmup: 9, trainableMatrices: 'both' },
  adalora: { initR: 4, targetR: 2, loraAlpha: 8, targetModules: ['query', 'value', 'inter'], tinit: 2, tfinal: 6, deltaT: 3 },
  alora: { rInit: 2, maxRank: 4, alpha: 4, superEpochs: { value: 6, unit: 'steps' }, roundEvery: { value: 4, unit: 'steps' }, rounds: 4, pruneCount: 3, probeSize: 8 },
  increlora: { targetRank: 4, topH: 2, initWarmup: 2, increInterval: 3, targetModules: ['query', 'value', 'inter'] },
  lora: { r: 2, alpha: 4, loraDropout: 0.1 },
  full: { trainEmbeddings: false },
};

const CONFIG = tinyConfig({ hiddenDropout: 0.1, attentionDropout: 0.1 });
const WEIGHTS = randomBertWeights(CONFIG, 5);
const TRAIN = toyExamples(16, 10, 3);
const RECIPE: TrainingRecipe = {
  ...DEFAULT_RECIPE,
  epochs: 6,
  batchSize: 4,
  maxLength: 10,
  adapterLr: 1e-2,
  classifierLr: 4e-2,
  warmupRatio: 0.1,
  maxGradNorm: 1,
  seed: 21,
  shuffle: true,
};

function trainer(id: string): Trainer {
  return new Trainer({ config: CONFIG, weights: WEIGHTS, method: adapterMethod(id, ROWS[id]), train: TRAIN, validation: toyExamples(8, 10, 4), recipe: RECIPE });
}

interface Trace {
  losses: number[];
  events: MethodEvent[];
}

async function steps(t: Trainer, count: number, trace: Trace): Promise<void> {
  for (let i = 0; i < count; i++) {
    trace.events.push(...(await t.step()));
    for (const m of await t.flushMetrics()) trace.losses.push(m.loss);
  }
}

async function variables(t: Trainer): Promise<Record<string, number[]>> {
  return Object.fromEntries([...(await t.adapterState())].map(([name, v]) => [name, Array.from(v.data)]));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(Object.keys(ROWS))('checkpoint of %s', (id) => {
  it('resumes in a fresh trainer exactly as the run would have gone on', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const straight = trainer(id);
    const full: Trace = { losses: [], events: [] };
    await steps(straight, STEPS, full);
    const straightEnd = await variables(straight);
    const freezeSteps = straight.runtime.freezeSteps?.();
    straight.dispose();

    const first = trainer(id);
    const head: Trace = { losses: [], events: [] };
    await steps(first, HALF, head);
    const checkpoint = structuredClone(await first.checkpoint()); // as it comes back from IndexedDB
    first.dispose();
    const resumed = trainer(id);
    resumed.restore(checkpoint);
    expect(resumed.stepsDone).toBe(HALF);
    const tail: Trace = { losses: [], events: [] };
    await steps(resumed, STEPS - HALF, tail);

    expect([...head.losses, ...tail.losses]).toEqual(full.losses);
    expect(JSON.stringify([...head.events, ...tail.events])).toBe(JSON.stringify(full.events));
    expect(await variables(resumed)).toEqual(straightEnd);
    if (freezeSteps) expect(new Map(resumed.runtime.freezeSteps!())).toEqual(new Map(freezeSteps));
    resumed.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    // The methods decide on both sides of the checkpoint (else this would not test their state).
    const decisions = (events: MethodEvent[]) => events.filter((e) => e.type === 'freeze' || e.type === 'budget').length;
    if (['aflora', 'adalora', 'alora', 'increlora'].includes(id)) {
      expect(decisions(head.events), 'decisions before the checkpoint').toBeGreaterThan(0);
      expect(decisions(tail.events), 'decisions after the checkpoint').toBeGreaterThan(0);
    }
  });
});

describe('checkpoint checks', () => {
  it('refuses a checkpoint of another method, another run length, or a trainer that has trained', async () => {
    const source = trainer('aflora');
    await source.step();
    await source.flushMetrics();
    const checkpoint: TrainerCheckpoint = await source.checkpoint();
    await source.step();
    await expect(source.checkpoint()).rejects.toThrow(/flush the metrics first/);
    source.dispose();

    const other = trainer('lora');
    expect(() => other.restore(checkpoint)).toThrow(/variables|missing/);
    other.dispose();
    const longer = new Trainer({ config: CONFIG, weights: WEIGHTS, method: adapterMethod('aflora', ROWS.aflora), train: TRAIN, recipe: { ...RECIPE, epochs: 7 } });
    expect(() => longer.restore(checkpoint)).toThrow(/24-step run; this run has 28 steps/);
    longer.dispose();
    const trained = trainer('aflora');
    await trained.step();
    expect(() => trained.restore(checkpoint)).toThrow(/already trained/);
    trained.dispose();
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { STATELESS, type AdapterMethod, type AdapterRuntime, type MethodVariable } from '../../src/engine/adapter';
import { Trainer } from '../../src/engine/trainer';
import { softmaxRows } from '../../src/engine/metrics';
import { randomBertWeights } from '../../src/engine/weights';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig, toyExamples, toyRecipe } from '../helpers/tinyBert';

const recipe = toyRecipe;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A minimal method for engine tests: a trainable additive vector on each FFN 'inter' output; freezes layer 0's at step 2. */
const freezeAtTwo: AdapterMethod = {
  id: 'test-freeze',
  countTrainable: (config) => config.numLayers * config.intermediateSize,
  create(ctx): AdapterRuntime {
    const targets = ctx.targets.filter((t) => t.kind === 'inter');
    const vars: MethodVariable[] = targets.map((t) => ({
      name: `${t.path}.delta`,
      variable: tf.variable(tf.fill([t.outFeatures], 0.01), true),
      lrGroup: 'adapter',
      decays: false,
    }));
    const cells = targets.map((t, i) => ({ name: vars[i].name, cell: { layer: t.layer, kind: t.kind } }));
    const frozen = new Set<string>();
    return {
      adapted: new Set(targets.map((t) => t.path)),
      trainsBase: false,
      cells,
      apply: (target, _x, base) => tf.add(base, vars.find((v) => v.name === `${target.path}.delta`)!.variable),
      variables: () => vars,
      trainable: () => vars.filter((v) => !frozen.has(v.name)),
      async afterStep(step) {
        if (step !== 2) return { events: [], frozen: [] };
        const victim = vars[0];
        frozen.add(victim.name);
        return { events: [{ type: 'freeze', step, name: victim.name, cell: cells[0].cell }], frozen: [victim.name] };
      },
      ...STATELESS,
      dispose: () => vars.forEach((v) => v.variable.dispose()),
    };
  },
};

async function losses(seed: number, dropout: number, steps: number, kernels = false): Promise<number[]> {
  const config = tinyConfig({ hiddenDropout: dropout, attentionDropout: dropout });
  const trainer = new Trainer({
    config,
    weights: randomBertWeights(config, 1),
    method: adapterMethod('lora'),
    train: toyExamples(20, 12, 5),
    recipe: { ...recipe, seed },
    kernels,
  });
  for (let i = 0; i < steps; i++) await trainer.step();
  const metrics = await trainer.flushMetrics();
  trainer.dispose();
  return metrics.map((m) => m.loss);
}

describe('Trainer', () => {
  it('runs lora steps with a flat tensor count and reports metrics in one flush', async () => {
    const config = tinyConfig();
    const trainer = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train: toyExamples(20, 12, 5), recipe });
    expect(trainer.totalSteps).toBe(12); // ceil(20 / 8) * 4
    expect(trainer.warmupSteps).toBe(1); // ceil(12 * 0.06)
    const counts: number[] = [];
    for (let i = 0; i < 8; i++) {
      await trainer.step();
      if (i % 2 === 1) {
        const metrics = await trainer.flushMetrics();
        expect(metrics.map((m) => m.step)).toEqual([i - 1, i]);
        expect(metrics.every((m) => Number.isFinite(m.loss) && m.gradNorm > 0)).toBe(true);
        counts.push(tf.memory().numTensors);
      }
    }
    expect(new Set(counts).size).toBe(1);
    trainer.dispose();
  });

  it('logs the scheduled lr (0 at step 0 during warm-up) and the fractional epoch', async () => {
    const config = tinyConfig();
    const trainer = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train: toyExamples(20, 12, 5), recipe });
    for (let i = 0; i < 4; i++) await trainer.step();
    const metrics = await trainer.flushMetrics();
    expect(metrics.map((m) => m.lr)).toEqual([0, 1e-2, 1e-2 * (10 / 11), 1e-2 * (9 / 11)].map((v) => expect.closeTo(v, 12)));
    expect(metrics.map((m) => m.epoch)).toEqual([1 / 3, 2 / 3, 1, 4 / 3].map((v) => expect.closeTo(v, 12)));
    expect(metrics[0].trainableParams).toBe(trainer.trainableParamCount());
    trainer.dispose();
  });

  it('is reproducible for a seed (dropout on) and differs across seeds', async () => {
    const a = await losses(7, 0.1, 4);
    const b = await losses(7, 0.1, 4);
    const c = await losses(8, 0.1, 4);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('gives the same losses with the kernel path (composite fallbacks off WebGPU), dropout included', async () => {
    const plain = await losses(4, 0, 6);
    const fused = await losses(4, 0, 6, true);
    fused.forEach((loss, i) => expect(loss).toBeCloseTo(plain[i], 5));
    // Off WebGPU the kernels' dropout is tf.dropout with the same per-call seeds.
    const plainDropout = await losses(4, 0.1, 3);
    const fusedDropout = await losses(4, 0.1, 3, true);
    expect(plainDropout).not.toEqual(plain.slice(0, 3));
    fusedDropout.forEach((loss, i) => expect(loss).toBeCloseTo(plainDropout[i], 5));
  });

  it('keeps the kernels off by default on cpu (the golden path)', () => {
    const config = tinyConfig();
    const trainer = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train: toyExamples(4, 12, 5), recipe });
    expect(trainer.kernels).toBe(false);
    trainer.dispose();
  });

  it('drops a frozen variable from training and the optimizer; tensor count stays flat across the freeze', async () => {
    const config = tinyConfig();
    const trainer = new Trainer({ config, weights: randomBertWeights(config, 1), method: freezeAtTwo, train: toyExamples(20, 12, 5), recipe });
    const frozenVar = trainer.runtime.variables()[0];
    const countBefore = trainer.trainableParamCount();
    const counts: number[] = [];
    let freezeEvents = 0;
    let valueAtFreeze: number[] = [];
    for (let step = 0; step < 8; step++) {
      const events = await trainer.step();
      freezeEvents += events.filter((e) => e.type === 'freeze').length;
      await trainer.flushMetrics();
      counts.push(tf.memory().numTensors);
      if (step === 2) valueAtFreeze = Array.from(await frozenVar.variable.data());
    }
    expect(freezeEvents).toBe(1);
    expect(trainer.trainableParamCount()).toBe(countBefore - config.intermediateSize);
    expect(Array.from(await frozenVar.variable.data())).toEqual(valueAtFreeze);
    // Adam's [2, n] moments of the frozen variable are freed at step 2, then nothing grows.
    expect(counts[2]).toBe(counts[1] - 1);
    expect(new Set(counts.slice(2)).size).toBe(1);
    // The other one keeps training.
    expect(trainer.paramGroups()).not.toHaveProperty(frozenVar.name);
    expect(trainer.paramGroups()).toHaveProperty(trainer.runtime.variables()[1].name);
    trainer.dispose();
  });

  it('pads the last batch with weight-0 rows: the loss is the mean over real examples', async () => {
    const config = tinyConfig();
    const examples = toyExamples(11, 12, 6); // batches of 8: the second has 3 real rows
    const trainer = new Trainer({
      config,
      weights: randomBertWeights(config, 2),
      method: adapterMethod('lora'),
      train: examples,
      recipe: { ...recipe, shuffle: false },
    });
    await trainer.step();
    const inspected = await trainer.inspectNextStep();
    const probs = softmaxRows(inspected.logits.data, 2);
    let expected = 0;
    for (let row = 0; row < 3; row++) expected -= Math.log(probs[row * 2 + examples.labels[8 + row]]);
    expect(inspected.loss).toBeCloseTo(expected / 3, 5);
    expect(inspected.logits.shape).toEqual([8, 2]);
    trainer.dispose();
  });

  it('groups parameters as the reference trainer: adapter lr + decay, classifier lr, no decay on classifier.bias', () => {
    const config = tinyConfig();
    const trainer = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train: toyExamples(20, 12, 5), recipe });
    const groups = trainer.paramGroups();
    expect(groups['classifier.weight']).toEqual({ lr: 4e-2, weightDecay: 0.1 });
    expect(groups['classifier.bias']).toEqual({ lr: 4e-2, weightDecay: 0 });
    const adapterNames = Object.keys(groups).filter((n) => !n.startsWith('classifier.'));
    expect(adapterNames.length).toBeGreaterThan(0);
    for (const name of adapterNames) expect(groups[name].lr).toBe(1e-2);
    trainer.dispose();
  });

  it('decays classifier.weight at classifierWeightDecay, not the adapter rate, with either optimizer', async () => {
    const config = tinyConfig();
    const firstStep = async (classifierWeightDecay: number, kernels: boolean) => {
      const trainer = new Trainer({
        config,
        weights: randomBertWeights(config, 1),
        method: adapterMethod('lora'),
        train: toyExamples(20, 12, 5),
        recipe: { ...recipe, warmupRatio: 0, classifierWeightDecay },
        kernels,
      });
      const w0 = (await trainer.adapterState()).get('classifier.weight')!.data;
      await trainer.step();
      const w1 = (await trainer.adapterState()).get('classifier.weight')!.data;
      const groups = trainer.paramGroups();
      trainer.dispose();
      return { w0, w1, groups };
    };
    for (const kernels of [false, true]) {
      const low = await firstStep(0.1, kernels);
      const high = await firstStep(0.9, kernels);
      expect(low.groups['classifier.weight'].weightDecay).toBe(0.1);
      expect(high.groups['classifier.weight'].weightDecay).toBe(0.9);
      expect(high.groups['classifier.bias'].weightDecay).toBe(0);
      // Decoupled decay, same gradient: p1 = p0 (1 - lr wd) - update, so the runs differ by exactly lr (0.9 - 0.1) p0.
      const lr = recipe.classifierLr; // step 0 without warm-up runs at the full rate
      let worst = 0;
      low.w0.forEach((p0, i) => (worst = Math.max(worst, Math.abs(low.w1[i] - high.w1[i] - lr * 0.8 * p0))));
      expect(worst, `kernels ${kernels}`).toBeLessThan(1e-7);
      expect(Array.from(low.w1)).not.toEqual(Array.from(high.w1));
    }
  });

  it('full fine-tuning opted out of the embeddings trains the other base weights, without decay on biases and LayerNorm', async () => {
    const config = tinyConfig();
    const weights = randomBertWeights(config, 1);
    const method = adapterMethod('full', { trainEmbeddings: false });
    const trainer = new Trainer({ config, weights, method, train: toyExamples(20, 12, 5), recipe });
    const groups = trainer.paramGroups();
    expect(groups).not.toHaveProperty('bert.embeddings.word_embeddings.weight');
    expect(groups['bert.embeddings.LayerNorm.weight']).toEqual({ lr: 1e-2, weightDecay: 0 });
    expect(groups['bert.encoder.layer.1.output.dense.weight']).toEqual({ lr: 1e-2, weightDecay: 0.1 });
    expect(groups['bert.encoder.layer.1.output.dense.bias']).toEqual({ lr: 1e-2, weightDecay: 0 });
    expect(groups['bert.pooler.dense.weight']).toEqual({ lr: 1e-2, weightDecay: 0.1 });
    await trainer.step();
    await trainer.step();
    const state = await trainer.adapterState();
    const before = weights.get('bert.encoder.layer.0.intermediate.dense.weight')!.data;
    const after = state.get('bert.encoder.layer.0.intermediate.dense.weight')!.data;
    expect(Array.from(after)).not.toEqual(Array.from(before));
    expect(state.has('bert.embeddings.word_embeddings.weight')).toBe(false);
    trainer.dispose();
  });

  it('evaluates and predicts on plain arrays', async () => {
    const config = tinyConfig();
    const validation = toyExamples(10, 12, 8);
    const trainer = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train: toyExamples(20, 12, 5), validation, recipe });
    const result = await trainer.evaluate();
    expect(result.count).toBe(10);
    const probs = await trainer.predict(validation);
    expect(probs.length).toBe(20);
    for (let i = 0; i < 10; i++) expect(probs[2 * i] + probs[2 * i + 1]).toBeCloseTo(1, 5);
    // evaluate() agrees with predict(): accuracy of the argmax, loss = mean -log p(label).
    const labels = Array.from(validation.labels);
    const correct = labels.filter((label, i) => (probs[2 * i + 1] > probs[2 * i] ? 1 : 0) === label).length;
    expect(result.metrics.accuracy).toBe(correct / 10);
    const loss = -labels.reduce((sum, label, i) => sum + Math.log(probs[2 * i + label]), 0) / 10;
    expect(result.loss).toBeCloseTo(loss, 5);
    trainer.dispose();
  });

  it('regression (num_labels = 1) trains with MSE and reports Pearson/Spearman', async () => {
    const config = tinyConfig({ numLabels: 1 });
    const train = toyExamples(16, 12, 5, 1);
    const trainer = new Trainer({ config, weights: randomBertWeights(config, 1), method: adapterMethod('lora'), train, validation: train, recipe });
    const inspected = await trainer.inspectNextStep();
    expect(inspected.logits.shape).toEqual([8, 1]);
    for (let i = 0; i < 6; i++) await trainer.step();
    const metrics = await trainer.flushMetrics();
    expect(metrics.every((m) => Number.isFinite(m.loss))).toBe(true);
    const result = await trainer.evaluate();
    expect(result.metrics).toHaveProperty('pearson');
    expect(result.metrics).toHaveProperty('spearman');
    trainer.dispose();
  });
});

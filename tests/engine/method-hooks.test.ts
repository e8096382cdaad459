/**
 * The engine's hooks for adaptive-rank methods (engine/adapter.ts): a regularizer inside the gradient scope,
 * a per-variable lr schedule, and the gradients + clip before and after the optimizer update. A fake method on a
 * tiny BERT, cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  STATELESS,
  type AdapterMethod,
  type AdapterRuntime,
  type GradientClip,
  type MethodVariable,
  type ModelProbe,
} from '../../src/engine/adapter';
import type { EncodedExamples } from '../../src/engine/batches';
import { Trainer, type TrainingRecipe } from '../../src/engine/trainer';
import { randomBertWeights } from '../../src/engine/weights';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

const CONFIG = tinyConfig();
const recipe: TrainingRecipe = {
  epochs: 2,
  batchSize: 8,
  maxLength: 12,
  adapterLr: 1e-2,
  classifierLr: 4e-2,
  weightDecay: 0,
  classifierWeightDecay: 0,
  warmupRatio: 0.25,
  maxGradNorm: 0.1,
  optimizer: 'adamw_torch',
  seed: 3,
  logEvery: 5,
  shuffle: false,
};

interface Seen {
  step: number;
  when: 'before' | 'after';
  value: Float32Array;
  grad: Float32Array;
  clip: Float32Array;
}

interface FakeOptions {
  /** c in c * sum(delta^2), or none. */
  regularizer?: number;
  /** lrFactor of the second variable. */
  ownSchedule?: (step: number) => number;
  /** Record what the hooks see (reads happen after the step, from kept copies). */
  seen?: Seen[];
}

/** An additive vector on each 'inter' output; the second one may carry its own lr schedule. */
function fakeMethod(options: FakeOptions): AdapterMethod {
  return {
    id: 'test-hooks',
    countTrainable: (config) => config.numLayers * config.intermediateSize,
    create(ctx): AdapterRuntime {
      const targets = ctx.targets.filter((t) => t.kind === 'inter');
      const vars: MethodVariable[] = targets.map((t, i) => ({
        name: `${t.path}.delta`,
        variable: tf.variable(tf.fill([t.outFeatures], 0.05 * (i + 1)), true),
        lrGroup: 'adapter',
        decays: false,
        ...(i === 1 && options.ownSchedule ? { lrFactor: options.ownSchedule } : {}),
      }));
      const pending: {
        step: number;
        when: 'before' | 'after';
        value: tf.Tensor;
        grad: tf.Tensor;
        clip: tf.Tensor;
      }[] = [];
      const record =
        (when: 'before' | 'after') =>
        (step: number, grads: ReadonlyMap<string, tf.Tensor>, clip: GradientClip) => {
          if (!options.seen) return;
          const first = vars[0];
          // Copies: the engine frees the gradients and the clip after the step.
          pending.push({
            step,
            when,
            value: tf.clone(first.variable),
            grad: tf.clone(grads.get(first.name)!),
            clip: tf.clone(clip),
          });
        };
      return {
        adapted: new Set(targets.map((t) => t.path)),
        trainsBase: false,
        cells: [],
        apply: (target, _x, base) =>
          tf.add(base, vars.find((v) => v.name === `${target.path}.delta`)!.variable),
        variables: () => vars,
        trainable: () => vars,
        regularizer:
          options.regularizer === undefined
            ? undefined
            : () =>
                tf.mul(
                  options.regularizer!,
                  tf.addN(vars.map((v) => tf.sum(tf.square(v.variable)))),
                ) as tf.Scalar,
        observeGradients: record('before'),
        observeUpdate: record('after'),
        async afterStep() {
          for (const p of pending.splice(0)) {
            options.seen?.push({
              step: p.step,
              when: p.when,
              value: (await p.value.data()) as Float32Array,
              grad: (await p.grad.data()) as Float32Array,
              clip: (await p.clip.data()) as Float32Array,
            });
            tf.dispose([p.value, p.grad, p.clip]);
          }
          return { events: [], frozen: [] };
        },
        ...STATELESS,
      dispose: () => vars.forEach((v) => v.variable.dispose()),
      };
    },
  };
}

function trainer(options: FakeOptions, overrides: Partial<TrainingRecipe> = {}): Trainer {
  return new Trainer({
    config: CONFIG,
    weights: randomBertWeights(CONFIG, 1),
    method: fakeMethod(options),
    train: toyExamples(16, 12, 5),
    recipe: { ...recipe, ...overrides },
  });
}

async function values(t: Trainer, index: number): Promise<Float32Array> {
  return (await t.runtime.variables()[index].variable.data()) as Float32Array;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('regularizer (extra loss term inside the gradient scope)', () => {
  it('adds c * sum(delta^2) to the loss and 2 c delta to the gradients', async () => {
    const c = 0.3;
    const plain = trainer({});
    const regular = trainer({ regularizer: c });
    const a = await plain.inspectNextStep();
    const b = await regular.inspectNextStep();
    const deltas = [await values(regular, 0), await values(regular, 1)];
    const expectedTerm = c * deltas.reduce((sum, d) => sum + d.reduce((s, v) => s + v * v, 0), 0);
    expect(b.loss - a.loss).toBeCloseTo(expectedTerm, 5);
    regular.runtime.variables().forEach((v, i) => {
      const ga = a.grads.get(v.name)!.data;
      const gb = b.grads.get(v.name)!.data;
      for (let k = 0; k < ga.length; k++) expect(gb[k] - ga[k]).toBeCloseTo(2 * c * deltas[i][k], 5);
    });
    // The classifier's gradient does not depend on the term.
    const head = 'classifier.weight';
    expect(Array.from(b.grads.get(head)!.data)).toEqual(Array.from(a.grads.get(head)!.data));
    // The tensor count stays flat over steps.
    await regular.step();
    await regular.flushMetrics();
    const before = tf.memory().numTensors;
    await regular.step();
    await regular.step();
    await regular.flushMetrics();
    expect(tf.memory().numTensors).toBe(before);
    plain.dispose();
    regular.dispose();
  });
});

describe('per-variable lr schedule (MethodVariable.lrFactor)', () => {
  it('replaces the run schedule for that variable only', async () => {
    // Step 0 of the run's warm-up has lr factor 0: only a variable with its own factor moves.
    const t = trainer({ ownSchedule: (step) => (step === 0 ? 1 : 0) });
    const before = [await values(t, 0), await values(t, 1)];
    const { grads } = await t.inspectNextStep();
    const g = grads.get(t.runtime.variables()[1].name)!.data;
    const entries = t.trainableEntries();
    expect(entries.map((e) => e.lrFactor)).toEqual([undefined, 1, undefined, undefined]);
    expect(t.trainableEntries(1)[1].lrFactor).toBe(0);
    await t.step();
    const afterStep0 = [await values(t, 0), await values(t, 1)];
    expect(Array.from(afterStep0[0])).toEqual(Array.from(before[0]));
    // Adam's first step moves an element by lr * |g| / (|g| + eps) (no clipping at these gradient sizes).
    afterStep0[1].forEach((v, k) => {
      const expected = (recipe.adapterLr * Math.abs(g[k])) / (Math.abs(g[k]) + 1e-8);
      expect(Math.abs(v - before[1][k])).toBeCloseTo(expected, 6);
    });
    await t.step();
    await t.step();
    const later = [await values(t, 0), await values(t, 1)];
    expect(Array.from(later[1])).toEqual(Array.from(afterStep0[1])); // its factor is 0 from step 1 on
    expect(later[0].some((v, k) => v !== afterStep0[0][k])).toBe(true); // the run schedule is > 0 by then
    t.dispose();
  });
});

describe('gradients and clip before and after the optimizer update', () => {
  it('observeGradients sees the old values, observeUpdate the new ones; both get the same raw gradient and clip', async () => {
    const seen: Seen[] = [];
    const maxGradNorm = 1e-4; // below the toy gradients' norm: the clip is active
    const t = trainer({ seen }, { maxGradNorm });
    const start = await values(t, 0);
    await t.step();
    const afterFirst = await values(t, 0);
    await t.step();
    const metrics = await t.flushMetrics();
    t.dispose();

    expect(seen.map((s) => `${s.step}:${s.when}`)).toEqual(['0:before', '0:after', '1:before', '1:after']);
    expect(Array.from(seen[0].value)).toEqual(Array.from(start));
    expect(Array.from(seen[2].value)).toEqual(Array.from(afterFirst));
    expect(Array.from(seen[1].value)).toEqual(Array.from(afterFirst));
    for (const step of [0, 1]) {
      const [before, after] = [seen[2 * step], seen[2 * step + 1]];
      expect(Array.from(after.grad)).toEqual(Array.from(before.grad));
      expect(Array.from(after.clip)).toEqual(Array.from(before.clip));
      const [norm, coefficient] = before.clip;
      expect(norm).toBeCloseTo(metrics[step].gradNorm, 6);
      // torch clip_grad_norm_: min(1, maxNorm / (norm + 1e-6)).
      expect(norm).toBeGreaterThan(maxGradNorm);
      expect(coefficient).toBeCloseTo(maxGradNorm / (norm + 1e-6), 6);
    }
  });

  it('passes coefficient 1 without clipping', async () => {
    const seen: Seen[] = [];
    const t = trainer({ seen }, { maxGradNorm: 0 });
    await t.step();
    t.dispose();
    expect(seen[0].clip[1]).toBe(1);
  });
});

describe('probe (MethodContext.probe: the loss of a fixed held-out batch)', () => {
  /** The fake method asking for probes of these sizes in create(). */
  function withProbes(counts: number[], validation?: EncodedExamples) {
    const probes: ModelProbe[] = [];
    const base = fakeMethod({});
    const method: AdapterMethod = {
      ...base,
      create(ctx) {
        expect(ctx.stepsPerEpoch).toBe(2); // 16 rows / batch 8
        for (const n of counts) probes.push(ctx.probe!(n));
        return base.create(ctx);
      },
    };
    const t = new Trainer({
      config: CONFIG,
      weights: randomBertWeights(CONFIG, 1),
      method,
      train: toyExamples(16, 12, 5),
      validation,
      recipe,
    });
    return { t, probes };
  }
  const read = async (probe: ModelProbe) => {
    const loss = probe.loss();
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };

  it('is the eval-mode validation loss of the first n rows, follows the variables, and leaks nothing', async () => {
    const validation = toyExamples(12, 12, 9);
    const { t, probes } = withProbes([5, 1000], validation);
    const [five, all] = probes;
    expect([five.source, five.count, all.count]).toEqual(['validation', 5, 12]); // 1000 is clamped to the 12 rows
    const n = 5 * validation.seqLen;
    const first5: EncodedExamples = {
      count: 5,
      seqLen: validation.seqLen,
      inputIds: validation.inputIds.slice(0, n),
      tokenTypeIds: validation.tokenTypeIds.slice(0, n),
      attentionMask: validation.attentionMask.slice(0, n),
      labels: Array.prototype.slice.call(validation.labels, 0, 5) as number[],
    };
    expect(await read(five)).toBeCloseTo((await t.evaluate(first5)).loss, 5);
    expect(await read(all)).toBeCloseTo((await t.evaluate()).loss, 5);
    // The probe sees the variables as they are at the call (a large head makes the loss sensitive to them).
    tf.tidy(() =>
      t.model.head.forEach((h, i) =>
        h.variable.assign(tf.randomNormal(h.variable.shape, 0, 5, 'float32', 3 + i)),
      ),
    );
    const before = await read(all);
    tf.tidy(() =>
      t.runtime
        .variables()
        .forEach((v, i) => v.variable.assign(tf.randomNormal(v.variable.shape, 0, 3, 'float32', 7 + i))),
    );
    const after = await read(all);
    expect(Math.abs(after - before)).toBeGreaterThan(1e-3);
    expect(after).toBeCloseTo((await t.evaluate()).loss, 4);
    await t.step(); // the optimizer's state is made lazily at the first step
    await t.flushMetrics();
    const count = tf.memory().numTensors;
    await read(all);
    await read(five);
    await t.step();
    await t.flushMetrics();
    expect(tf.memory().numTensors).toBe(count);
    const beforeDispose = tf.memory().numTensors;
    t.dispose();
    expect(tf.memory().numTensors).toBeLessThan(beforeDispose);
  });

  it('falls back to the training rows without a validation set', () => {
    const { t, probes } = withProbes([64]);
    expect([probes[0].source, probes[0].count]).toEqual(['training', 16]);
    t.dispose();
  });
});

describe('activeParamCount (a method whose tensors hold switched-off slots)', () => {
  it('replaces the method part of the trainable count; the classifier is still counted', async () => {
    const base = fakeMethod({});
    const method: AdapterMethod = {
      ...base,
      create: (ctx) => ({ ...base.create(ctx), activeParamCount: () => 7 }),
    };
    const t = new Trainer({
      config: CONFIG,
      weights: randomBertWeights(CONFIG, 1),
      method,
      train: toyExamples(16, 12, 5),
      recipe,
    });
    const head = t.model.trainedParams().reduce((n, p) => n + p.variable.size, 0);
    expect(head).toBeGreaterThan(0);
    expect(t.trainableParamCount()).toBe(7 + head);
    await t.step();
    expect((await t.flushMetrics())[0].trainableParams).toBe(7 + head);
    t.dispose();
  });
});

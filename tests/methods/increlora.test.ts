/**
 * IncreLoRA: golden replays of the PyTorch reference (scripts/reference/increlora_golden.py, itself checked against
 * the official code: docs/proofs.md) and the growth rules (ties, overshoot, clamp, restarted warm-up, limits).
 *
 * Tolerances, each relative to the largest magnitude of the compared tensor: step-0 logits, loss and gradients 1e-4;
 * per-step losses and grad norms 1e-3 of each value; lr 1e-9; every round's scores and threshold 1e-3; final
 * variables 1e-3. Rank patterns after every round, round steps and total ranks: identical.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MethodEvent, MethodVariable } from '../../src/engine/adapter';
import type { EncodedExamples } from '../../src/engine/batches';
import { InputError, LimitError } from '../../src/engine/errors';
import { DEFAULT_RECIPE, Trainer, type StepMetrics } from '../../src/engine/trainer';
import { randomBertWeights } from '../../src/engine/weights';
import { methodOptions } from '../../src/methods/catalog';
import { decideGrowth, growthPlan } from '../../src/methods/increlora/plan';
import { isGrowthStep } from '../../src/methods/increlora/schedule';
import { adapterMethod } from '../../src/methods/registry';
import { expectEachRelClose, expectScaledClose as expectScaledCloseFrom, expectStep0, fixtureExamples, floats, initialState, readFixture, readGoldenModel } from '../helpers/golden';
import { tinyConfig } from '../helpers/tinyBert';

const FIXTURES = join(__dirname, '..', 'fixtures', 'increlora');
const MODEL = join(__dirname, '..', 'fixtures', 'golden', 'model');

interface Round {
  step: number;
  k: number;
  threshold: number;
  scores: Record<string, number>;
  grown: string[];
  ranks: Record<string, number>;
  totalRank: number;
  finished: boolean;
}

interface CaseJson {
  options: Record<string, unknown>;
  seed: number;
  recipe: Record<string, number>;
  losses: number[];
  gradNorm: number[];
  lr: number[];
  groupLrFactors: number[][];
  groupStarts: number[];
  rounds: Round[];
  finalRanks: Record<string, number>;
  totalRank: number;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// IncreLoRA's module scores here are 1e-15..5e-9: scale tolerances from a floor far below the shared default.
const SCORE_FLOOR = 1e-12;
const expectScaledClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string) =>
  expectScaledCloseFrom(actual, expected, tolerance, what, SCORE_FLOOR);

function valuesAt(events: MethodEvent[], series: string): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const e of events) if (e.type === 'values' && e.series === series) out.set(e.step, Object.fromEntries(e.values.map((v) => [v.name, v.value])));
  return out;
}

describe.each(['increlora', 'increlora_overshoot', 'increlora_plain'])('golden case %s (PyTorch reference)', (name) => {
  it('replays every step, round and final value', { timeout: 300_000 }, async () => {
    const info = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as CaseJson;
    const fixture = readFixture(join(FIXTURES, `${name}.safetensors`));
    const { get, tensors } = fixture;
    const { weights, config } = readGoldenModel(MODEL);
    const train = fixtureExamples(fixture, 'input');
    const initial = initialState(fixture);
    const r = info.recipe;
    const options = Object.fromEntries(Object.entries(info.options).filter(([, v]) => v !== null));
    const trainer = new Trainer({
      config,
      weights,
      method: adapterMethod('increlora', options),
      train,
      initial,
      kernels: false,
      recipe: {
        ...DEFAULT_RECIPE,
        epochs: r.epochs,
        batchSize: r.batchSize,
        maxLength: r.seqLen,
        adapterLr: r.adapterLr,
        classifierLr: r.classifierLr,
        weightDecay: r.weightDecay,
        classifierWeightDecay: r.classifierWeightDecay,
        warmupRatio: r.warmupRatio,
        maxGradNorm: r.maxGradNorm,
        seed: info.seed,
        shuffle: false,
        totalSteps: r.totalSteps,
      },
    });
    try {
      const state0 = await trainer.adapterState();
      for (const [key, value] of initial) {
        expect(state0.has(key), `trainer has no variable ${key}`).toBe(true);
        expectScaledClose(state0.get(key)!.data, value.data, 0, `init ${key}`);
      }
      await expectStep0(trainer, fixture, 1e-4, SCORE_FLOOR);

      const events: MethodEvent[] = [];
      const metrics: StepMetrics[] = [];
      while (!trainer.finished) {
        // The restarted warm-up: every group's own lr factor at this step (the group opened at this step is not
        // trainable yet here, it is in the reference's list at its base lr).
        const step = trainer.stepsDone;
        const ours = [...new Set(trainer.trainableEntries().flatMap((e) => (e.lrFactor === undefined ? [] : [e.lrFactor])))].sort();
        const started = info.groupStarts.filter((s) => s < step).length;
        const want = [...new Set(info.groupLrFactors[step].slice(0, started))].sort();
        expectEachRelClose(ours, want, 1e-9, `group lr factors @${step}`);
        events.push(...(await trainer.step()));
        if (trainer.stepsDone % 10 === 0) metrics.push(...(await trainer.flushMetrics()));
      }
      metrics.push(...(await trainer.flushMetrics()));
      expectEachRelClose(metrics.map((m) => m.lr), info.lr, 1e-9, 'lr');
      expectEachRelClose(metrics.map((m) => m.loss), info.losses, 1e-3, 'losses');
      expectEachRelClose(metrics.map((m) => m.gradNorm), info.gradNorm, 1e-3, 'gradNorm');

      // Rounds: the same steps, identical rank patterns, scores and thresholds within 1e-3.
      const budgets = events.filter((e) => e.type === 'budget');
      expect(budgets.map((e) => e.step)).toEqual([0, ...info.rounds.map((x) => x.step)]);
      expect(budgets.map((e) => (e.type === 'budget' ? e.actual : 0))).toEqual([12, ...info.rounds.map((x) => x.totalRank)]);
      const ranks = valuesAt(events, 'rank');
      const importance = valuesAt(events, 'importance');
      for (const round of info.rounds) {
        expect(ranks.get(round.step), `rank pattern @${round.step}`).toEqual(round.ranks);
        const got = importance.get(round.step)!;
        const paths = Object.keys(round.scores);
        expectScaledClose(paths.map((p) => got[p]), paths.map((p) => round.scores[p]), 1e-3, `scores @${round.step}`);
      }
      expect(Object.values(ranks.get(0)!).every((v) => v === info.options.loraR)).toBe(true);

      const final = await trainer.adapterState();
      for (const key of tensors.keys()) {
        if (!key.startsWith('final.')) continue;
        const varName = key.slice('final.'.length);
        expect(final.has(varName), `trainer has no variable ${varName}`).toBe(true);
        expectScaledClose(final.get(varName)!.data, floats(get(key)), 1e-3, `final ${varName}`);
      }
      for (const [path, rank] of Object.entries(info.finalRanks)) expect(final.get(`${path}.ranknum`)!.data[0]).toBe(rank);
    } finally {
      trainer.dispose();
    }
  });
});

describe('IncreLoRA growth rules', () => {
  it('takes every module tied at the threshold (ties included) and overshoots the budget with them', () => {
    const d = decideGrowth(Float32Array.of(3, 2, 2, 1), 2, 10);
    expect(d).toEqual({ k: 2, threshold: 2, grown: [0, 1, 2] });
  });

  it('clamps k to the remaining budget and to the module count (the official topk would raise)', () => {
    expect(decideGrowth(Float32Array.of(5, 4, 3, 2), 3, 1)).toMatchObject({ k: 1, threshold: 5, grown: [0] });
    expect(decideGrowth(Float32Array.of(5, 4, 3, 2), 10, 100)).toMatchObject({ k: 4, threshold: 2, grown: [0, 1, 2, 3] });
  });

  it('plans the official rounds: add_r from target_rank, k modules x add_r per round, so the last one overshoots', () => {
    const o = methodOptions('increlora', { targetRank: 8, topH: 9, initWarmup: 100, increInterval: 100 });
    const plan = growthPlan(o, 12, 10_000);
    expect(plan.addRank).toBe(4);
    expect(plan.targetTotal).toBe(96);
    expect(plan.maxRounds).toBe(Math.ceil((96 - 12) / 36));
    expect(plan.plannedTotal(2)).toBe(12 + 72);
    expect(plan.plannedTotal(3)).toBe(96);
    expect(plan.blockSizes).toEqual([1, 4, 4, 4, 4]);
    // 84 left: 36 + 36, then k = min(9, 12) modules x 4 = 36 more -> 120 > 96 at worst.
    expect([isGrowthStep(100, o), isGrowthStep(101, o), isGrowthStep(200, o)]).toEqual([false, false, true]);
    // Rounds are bounded by the steps that qualify too.
    expect(growthPlan(o, 12, 250).maxRounds).toBe(1);
  });

  it('rejects a target_rank without an incre_rank_num default and plans that would allocate without bound', () => {
    expect(() => growthPlan(methodOptions('increlora', { targetRank: 3 }), 12, 1000)).toThrow(InputError);
    expect(growthPlan(methodOptions('increlora', { targetRank: 3, increRankNum: 1 }), 12, 1000).addRank).toBe(1);
    const huge = methodOptions('increlora', { targetRank: 2, topH: 1, initWarmup: 0, increInterval: 1, targetTotalRank: 10_000 });
    expect(() => growthPlan(huge, 12, 100_000)).toThrow(LimitError);
  });
});

describe('IncreLoRA runtime on a tiny model', () => {
  const CONFIG = tinyConfig();
  function toy(count: number, seq = 8): EncodedExamples {
    const inputIds = new Int32Array(count * seq).map((_, i) => 5 + ((i * 7) % 20));
    return { count, seqLen: seq, inputIds, tokenTypeIds: new Int32Array(count * seq), attentionMask: new Int32Array(count * seq).fill(1), labels: new Int32Array(count).map((_, i) => i % 2) };
  }
  const make = (options: object, totalSteps = 12) =>
    new Trainer({
      config: CONFIG,
      weights: randomBertWeights(CONFIG, 5),
      method: adapterMethod('increlora', { targetRank: 2, topH: 2, initWarmup: 2, increInterval: 4, targetModules: ['query', 'value'], ...options }),
      train: toy(16),
      recipe: { ...DEFAULT_RECIPE, batchSize: 8, maxLength: 8, warmupRatio: 0.25, totalSteps, shuffle: false },
    });

  it('restarts the warm-up for every group it adds, and keeps the tensor count flat apart from the new components', async () => {
    const trainer = make({});
    const warmup = trainer.warmupSteps;
    expect(warmup).toBe(3);
    const counts: number[] = [];
    const events: MethodEvent[][] = [];
    let fresh: MethodVariable | undefined;
    for (let s = 0; s < 12; s++) {
      events.push(await trainer.step());
      await trainer.flushMetrics();
      counts.push(tf.memory().numTensors);
      if (s === 4) fresh = trainer.runtime.trainable().find((v) => v.name.endsWith('.lora_A.2'));
    }
    // Round at step 4: 2 modules grow (E of the reserve + a new reserve A, B each) -> 6 moment tensors at step 5.
    const grown = events[4].flatMap((e) => (e.type === 'values' && e.series === 'rank' ? e.values.filter((v) => v.value === 2) : []));
    expect(grown).toHaveLength(2);
    expect(counts[5] - counts[4]).toBe(3 * grown.length);
    for (const s of [2, 3, 6, 7]) expect(counts[s], `step ${s}`).toBe(counts[s - 1]);
    // A variable of the step-4 group: lambda'(s - 5) with warm-up 3 and 12 - 5 steps.
    expect([5, 6, 7, 8, 9, 11].map((s) => fresh!.lrFactor!(s))).toEqual([0, 1 / 3, 2 / 3, 1, 3 / 4, 1 / 4]);
    // The step-0 reserve group: lambda'(s - 1) over 11 steps.
    const reserve = trainer.runtime.trainable().find((v) => v.name.endsWith('.lora_A.1'))!;
    expect([1, 2, 4].map((s) => reserve.lrFactor!(s))).toEqual([0, 1 / 3, 1]);
    // The run's own variables keep the run's schedule.
    expect(trainer.runtime.trainable().find((v) => v.name.endsWith('.lora_A.0'))!.lrFactor).toBeUndefined();
    trainer.dispose();
  });

  it('without multi_lr new groups train at the base lr from their first step', async () => {
    const trainer = make({ multiLr: false });
    for (let s = 0; s < 2; s++) await trainer.step();
    const reserve = trainer.runtime.trainable().find((v) => v.name.endsWith('.lora_A.1'))!;
    expect([1, 5, 11].map((s) => reserve.lrFactor!(s))).toEqual([1, 1, 1]);
    trainer.dispose();
  });
});

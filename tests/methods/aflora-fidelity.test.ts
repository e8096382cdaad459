/**
 * AFLoRA against the official code beyond the freezing core (issue #11): the epoch -> step schedule replayed against
 * scripts/reference/schedule_golden.py (the reference's schedule_threshold_comb), the short-run warning, r_f,
 * β2 = 1, the paper-text threshold rule, adapter dropout, and the edge cases that used to go silently wrong.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AdapterRuntime, MethodContext, MethodEvent } from '../../src/engine/adapter';
import { InputError } from '../../src/engine/errors';
import { OptionError } from '../../src/engine/options';
import { linearTargets } from '../../src/engine/types';
import type { AfloraOptions } from '../../src/methods/aflora/schema';
import {
  isMaskingStep,
  remainingFraction,
  resolveSchedule,
  summarizeSchedule,
} from '../../src/methods/aflora/schedule';
import { ScoreState } from '../../src/methods/aflora/scores';
import { methodEntry, methodOptions } from '../../src/methods/catalog';
import { MIN_RAMP_ROUNDS, runShape } from '../../src/methods/entry';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig } from '../helpers/tinyBert';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface OfficialCase {
  totalSteps: number;
  epochs: number;
  tiEpochs: number;
  tfEpochs: number;
  deltaT: number;
  finalRatio: number;
  remaining: number[];
  masking: number[];
}

const OFFICIAL = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'schedule', 'official.json'), 'utf8'),
) as { cases: OfficialCase[] };

describe('schedule vs the reference (schedule_golden.py)', () => {
  for (const c of OFFICIAL.cases) {
    it(`${c.epochs} epochs x ${c.totalSteps / c.epochs} steps, t_i ${c.tiEpochs}, t_f ${c.tfEpochs} epochs, r_f ${c.finalRatio}`, () => {
      const options = methodOptions('aflora', {
        tiEpochs: c.tiEpochs,
        tfFraction: c.tfEpochs / c.epochs,
        deltaT: c.deltaT,
        finalRatio: c.finalRatio,
      });
      const s = resolveSchedule(options, c.totalSteps, c.epochs);
      const steps = Array.from({ length: c.totalSteps }, (_, t) => t);
      expect(steps.filter((t) => isMaskingStep(t, s))).toEqual(c.masking);
      steps.forEach((t) =>
        expect(Math.abs(remainingFraction(t, s) - c.remaining[t]), `r(${t})`).toBeLessThanOrEqual(1e-12),
      );
    });
  }

  it('summarizes the resolved schedule and warns when the ramp has fewer than 5 masking rounds', () => {
    const summary = (epochs: number, perEpoch: number, extra: Partial<AfloraOptions> = {}) =>
      summarizeSchedule(resolveSchedule(methodOptions('aflora', extra), epochs * perEpoch, epochs));
    const long = summary(20, 37); // t_i 37, t_f 518: ramp 38..222, rounds at 40..220
    expect([long.initialWarmup, long.rampEnd, long.rampRounds, long.warning]).toEqual([37, 222, 19, null]);
    const three = summary(3, 40); // t_i 40, t_f 84 -> ramp end 36 < t_i: empty
    expect(three.rampRounds).toBe(0);
    expect(three.warning).toMatch(/no masking round.*freezes together at step 41/);
    const one = summary(1, 50); // t_i = the whole run
    expect(one.warning).toMatch(/nothing will freeze/);
    // The same 3-epoch run with t_i / t_f in steps has a real ramp.
    const fixed = summary(3, 40, { initialWarmup: 10, finalWarmup: 20 });
    expect(fixed.rampRounds).toBeGreaterThanOrEqual(MIN_RAMP_ROUNDS);
    expect(fixed.warning).toBeNull();
  });
});

const CONFIG = tinyConfig({
  vocabSize: 10,
  hiddenSize: 4,
  numLayers: 1,
  numHeads: 1,
  intermediateSize: 8,
  maxPositions: 8,
});
const PATH = 'bert.encoder.layer.0';
const INTER_A = `${PATH}.intermediate.dense.lora_A`;
const INTER_B = `${PATH}.intermediate.dense.lora_B`;
const OUT_A = `${PATH}.output.dense.lora_A`;
const OUT_B = `${PATH}.output.dense.lora_B`;
const MAGNITUDE: Record<string, number> = { [INTER_A]: 1, [OUT_A]: 2, [OUT_B]: 3, [INTER_B]: 4 };
const h = (step: number) => 1 + 0.5 * Math.sin(1.3 * step);

function context(initial?: MethodContext['initial']): MethodContext {
  return {
    config: CONFIG,
    targets: linearTargets(CONFIG),
    totalSteps: 100,
    epochs: 10,
    stepsPerEpoch: 10,
    warmupSteps: 0,
    seed: 3,
    initial,
  };
}

function create(options: Partial<AfloraOptions>, initial?: MethodContext['initial']): AdapterRuntime {
  return adapterMethod('aflora', { rank: 2, initialWarmup: 10, finalWarmup: 30, ...options }).create(
    context(initial),
  );
}

async function run(
  runtime: AdapterRuntime,
  steps: number,
  grad: (name: string, step: number, i: number) => number,
): Promise<MethodEvent[]> {
  const events: MethodEvent[] = [];
  for (let step = 0; step < steps; step++) {
    const grads = new Map<string, tf.Tensor>();
    for (const v of runtime.trainable())
      grads.set(
        v.name,
        tf.tensor(
          new Float32Array(v.variable.size).map((_, i) => grad(v.name, step, i)),
          v.variable.shape,
        ),
      );
    const clip = tf.tensor1d([0, 1]);
    runtime.observeGradients!(step, grads, clip);
    tf.dispose([...grads.values(), clip]);
    events.push(...(await runtime.afterStep!(step)).events);
  }
  return events;
}

const freezeSteps = (events: MethodEvent[]) =>
  Object.fromEntries(events.flatMap((e) => (e.type === 'freeze' ? [[e.name, e.step]] : [])));
const flat = (name: string, step: number) => (MAGNITUDE[name] ?? 1) * h(step);

describe('threshold rule', () => {
  it("'matrices' (paper text) freezes the lowest-scoring matrices until floor(M (1 - r)) are frozen", async () => {
    // M = 4. r(20) = (5/6)^3 -> 1 frozen; r(30) = (2/3)^3 -> 2; r(40) = 1/8 -> 3; r(50), r(60) -> 3; r(71) = 0 -> 4.
    const runtime = create({ thresholdRule: 'matrices' });
    const events = await run(runtime, 80, flat);
    expect(freezeSteps(events)).toEqual({ [INTER_A]: 20, [OUT_A]: 30, [OUT_B]: 40, [INTER_B]: 70 });
    const schedule = events.filter((e) => e.type === 'schedule');
    expect(schedule[0].trainableFraction).toBe(40 / 48);
    runtime.dispose();
    // The official element quantile decides differently on the same scores (tests/methods/aflora.test.ts).
    const official = create({});
    expect(freezeSteps(await run(official, 80, flat))).toEqual({ [INTER_A]: 20, [OUT_A]: 30, [OUT_B]: 30 });
    official.dispose();
  });
});

describe('final ratio r_f and β2 = 1', () => {
  it('r_f: the ramp ends at r_f, and the last phase keeps that share', async () => {
    const s = resolveSchedule(
      methodOptions('aflora', { initialWarmup: 10, finalWarmup: 30, finalRatio: 0.5 }),
      100,
      10,
    );
    expect(remainingFraction(40, s)).toBeCloseTo(0.5 + 0.5 * 0.125, 12);
    expect(remainingFraction(80, s)).toBe(0.5);
    // r = 0.5 for ever after step 70: with these scores inter-B (the top quarter of the elements... and more) stays.
    const runtime = create({ finalRatio: 0.5 });
    const frozen = freezeSteps(await run(runtime, 100, flat));
    expect(frozen[INTER_B]).toBeUndefined();
    runtime.dispose();
  });

  it('β2 = 1 scores by Ī alone (the reference: is_dict = exp_avg_ipt)', async () => {
    const runtime = create({});
    const matrices = runtime.trainable().filter((v) => /lora_[AB]$/.test(v.name));
    const state = new ScoreState(
      matrices.map((v) => ({ name: v.name, variable: v.variable, size: v.variable.size })),
      { sensitivity: 'grad', beta1: 0.85, beta2: 1, deltaT: 10 },
      3, // window starts 0, 10, 20 before the read
    );
    const ibar = new Map<string, number>(); // every element of a tensor is equal: track one
    const window = new Map<string, number>();
    for (let step = 0; step <= 20; step++) {
      const grads = new Map(
        matrices.map((v) => [v.name, tf.fill(v.variable.shape, flat(v.name, step))] as const),
      );
      state.observe(step, grads);
      tf.dispose([...grads.values()]);
      for (const v of matrices) {
        const g = Math.abs(flat(v.name, step));
        const local = step % 10;
        if (local === 0) {
          ibar.set(v.name, 0.85 * (ibar.get(v.name) ?? 0) + 0.15 * (window.get(v.name) ?? 0));
          window.set(v.name, g);
        } else window.set(v.name, ((window.get(v.name) ?? 0) * local + g) / (local + 1));
      }
    }
    const read = await state.read(true);
    const last = read.rows[read.rows.length - 1];
    for (const v of matrices) expect(last.scores.get(v.name)!).toBeCloseTo(ibar.get(v.name)!, 5);
    expect(ibar.get(INTER_A)!).toBeGreaterThan(0);
    state.dispose();
    runtime.dispose();
  });
});

describe('edge cases', () => {
  it('|g/p| with p = 0 counts 0 (not NaN), so that matrix can still freeze', async () => {
    const zeroA = { shape: [2, 4], data: new Float32Array(8) }; // inter-A all zeros
    const runtime = create({ sensitivity: 'gradOverParam' }, new Map([[INTER_A, zeroA]]));
    const events = await run(runtime, 21, flat);
    const scores = events
      .filter((e) => e.type === 'values')
      .flatMap((e) => (e.type === 'values' ? e.values : []));
    expect(scores.every((s) => Number.isFinite(s.value))).toBe(true);
    expect(freezeSteps(events)[INTER_A]).toBe(20);
    runtime.dispose();
  });

  it('NaN gradients stop the run at the next masking round with a message that says what to do', async () => {
    const runtime = create({});
    const error = await run(runtime, 21, (name, step) => (step === 15 ? Number.NaN : flat(name, step))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/freezing score became NaN at step 20/);
    expect((error as InputError).hint).toMatch(/lower the adapter learning rate/);
    runtime.dispose();
  });

  it('Λd init 0 is refused: with Λb = 0 no adapter variable would ever get a gradient', () => {
    for (const id of ['aflora', 'pm-trainable', 'pm-frozen']) {
      expect(() => methodOptions(id, { lambdaDInit: 0 }), id).toThrow(OptionError);
    }
  });
});

describe('adapter dropout (lora_dropout)', () => {
  it('the runtimes hand their rate to the engine, which drops the adapter input only', () => {
    for (const id of ['aflora', 'pm-trainable', 'pm-frozen', 'lora']) {
      const runtime = adapterMethod(id, { loraDropout: 0.3 }).create(context());
      expect(runtime.inputDropout, id).toBe(0.3);
      runtime.dispose();
    }
  });

  it("the PEFT export's adapter_config.json carries the run's lora_dropout (0 when unset)", () => {
    const m = 'bert.encoder.layer.0.intermediate.dense';
    const t = (shape: number[]) => ({
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5),
    });
    const head: [string, ReturnType<typeof t>][] = [
      ['classifier.weight', t([2, 3])],
      ['classifier.bias', t([2])],
    ];
    const lora = new Map([[`${m}.lora_A`, t([2, 3])], [`${m}.lora_B`, t([3, 2])], ...head]);
    const scaled = new Map([...lora, [`${m}.lambda_d`, t([2])], [`${m}.lambda_b`, t([3])]]);
    for (const id of ['aflora', 'pm-trainable', 'pm-frozen', 'lora']) {
      const state = id === 'lora' ? lora : scaled;
      const exported = (dropout?: number) =>
        adapterMethod(id, dropout === undefined ? {} : { loraDropout: dropout }).exportPeft!(state, 'm', {
          totalSteps: 10,
        });
      expect(exported(0.3).config.lora_dropout, id).toBe(0.3);
      expect(JSON.parse(exported(0.3).files['adapter_config.json']).lora_dropout, id).toBe(0.3);
      expect(exported().config.lora_dropout, id).toBe(0);
    }
  });
});

describe("the settings form's resolved schedule (catalog entry, tensor-free)", () => {
  it('states t_i, the ramp and its rounds in steps, and carries the short-run warning', () => {
    const entry = methodEntry('aflora');
    const short = entry.resolved!(methodOptions('aflora'), runShape(1500, 32, 3)); // 47 steps/epoch
    expect(short.text).toMatch(/141 steps, 47 per epoch.*until step 47.*0 masking rounds/);
    expect(short.warning).toMatch(/no masking round/);
    const long = entry.resolved!(methodOptions('aflora'), runShape(1500, 32, 20));
    expect(long.warning).toBeNull();
    expect(methodEntry('lora').resolved).toBeUndefined();
  });
});

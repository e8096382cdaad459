/**
 * Golden fixtures from PyTorch (scripts/reference/make_golden.py, format docs/fixture-format.md): every case file in
 * tests/fixtures/golden is replayed through the Trainer on the cpu backend and compared with the recorded run.
 *
 * Tolerances (each relative to the largest magnitude of the compared tensor, so elements near 0 do not dominate):
 *   step-0 logits, loss and raw gradients: 1e-4; per-step losses and pre-clip gradient norms: 1e-3 of each value;
 *   learning rates: 1e-9; final variables after all steps: 1e-3; AFLoRA scores: 1e-3 of each score, thresholds 1e-3;
 *   scheduled remaining fraction / trainable fraction: 1e-9; parameter groups and freeze steps: identical.
 * aflora_adamw_hf is the aflora problem under transformers 4.31's AdamW (the recipe's optimizer); its freeze steps
 * differ from aflora's (layer 0 inter-B: 20 instead of 30), so a replay with the wrong optimizer fails.
 * tests/fixtures/golden-{distilbert,roberta,electra,deberta} replay the aflora and lora cases on those families
 * (scripts/reference/make_golden.py --family, deberta_golden.py).
 * Missing fixtures FAIL this file: run `python3 scripts/reference/make_golden.py tests/fixtures/golden` (needs torch).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TORCH_ADAMW_DEFAULTS } from '../../src/engine/optimizer';
import { Trainer, type StepMetrics } from '../../src/engine/trainer';
import { expectEachRelClose, expectScaledClose, expectStep0, fixtureExamples, floats, initialState, readFixture, readGoldenModel } from '../helpers/golden';
import { FAMILY_FIXTURES } from '../helpers/encoder-pass';
import type { MethodEvent } from '../../src/engine/adapter';
import { adapterMethod } from '../../src/methods/registry';

// GOLDEN_FIXTURES points elsewhere, e.g. at a fresh make_golden.py output before it is copied in.
// The other families' aflora and lora cases (make_golden.py --family, deberta_golden.py) are replayed too.
const FIXTURE_DIRS = process.env.GOLDEN_FIXTURES
  ? [process.env.GOLDEN_FIXTURES]
  : [join(__dirname, '..', 'fixtures', 'golden'), ...Object.values(FAMILY_FIXTURES)];
const casesOf = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -'.json'.length))
        .sort()
    : [];


interface CaseJson {
  method: string;
  options: Record<string, unknown>;
  recipe: {
    totalSteps: number;
    epochs: number;
    batchSize: number;
    seqLen: number;
    numBatches: number;
    adapterLr: number;
    classifierLr: number;
    weightDecay: number;
    classifierWeightDecay?: number;
    warmupRatio: number;
    maxGradNorm: number;
    adamBeta1?: number;
    adamBeta2?: number;
    adamEps?: number;
    /** The recipe's optimizer (absent in older fixtures: adamw_torch). */
    optimizer?: 'adamw_torch' | 'adamw_hf';
  };
  seed?: number;
  paramGroups: Record<string, { lr: number; weightDecay: number }>;
  lr: number[];
  losses: number[];
  gradNorm: number[];
  scores?: { step: number; values: Record<string, number> }[];
  schedule?: { step: number; remaining: number; threshold: number; trainableFraction: number }[];
  freezeSteps?: Record<string, number | null>;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

for (const FIXTURES of FIXTURE_DIRS) {
  const caseNames = casesOf(FIXTURES);
  describe(`golden fixtures (PyTorch reference): ${basename(FIXTURES)}`, () => {
    it('are present', () => {
      expect(
        existsSync(join(FIXTURES, 'model', 'config.json')) && caseNames.length > 0,
        `no golden fixtures in ${FIXTURES}: run python3 scripts/reference/make_golden.py tests/fixtures/golden on a machine with torch`,
      ).toBe(true);
    });

    for (const name of caseNames) {
      it(`replays case ${name}`, { timeout: 300_000 }, async () => {
        const info = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as CaseJson;
        const fixture = readFixture(join(FIXTURES, `${name}.safetensors`));
        const { get, tensors } = fixture;

        // The optimizer constants the fixture was made with must be the engine's.
        const r = info.recipe;
        expect([r.adamBeta1 ?? 0.9, r.adamBeta2 ?? 0.999, r.adamEps ?? 1e-8]).toEqual([
          TORCH_ADAMW_DEFAULTS.beta1,
          TORCH_ADAMW_DEFAULTS.beta2,
          TORCH_ADAMW_DEFAULTS.eps,
        ]);

        const labelsRaw = get('input.labels');
        const regression = labelsRaw.dtype !== 'I32' && labelsRaw.dtype !== 'I64';
        const { weights, config } = readGoldenModel(join(FIXTURES, 'model'), regression ? 1 : undefined);
        expect(get('input.input_ids').shape).toEqual([r.numBatches, r.batchSize, r.seqLen]);
        const train = fixtureExamples(fixture, 'input');
        const initial = initialState(fixture);

        const trainer = new Trainer({
          config,
          weights,
          method: adapterMethod(info.method, info.options),
          train,
          initial,
          recipe: {
            epochs: r.epochs,
            batchSize: r.batchSize,
            maxLength: r.seqLen,
            adapterLr: r.adapterLr,
            classifierLr: r.classifierLr,
            weightDecay: r.weightDecay,
            classifierWeightDecay: r.classifierWeightDecay ?? r.weightDecay,
            optimizer: r.optimizer ?? 'adamw_torch',
            warmupRatio: r.warmupRatio,
            maxGradNorm: r.maxGradNorm,
            seed: info.seed ?? 0,
            logEvery: 10,
            shuffle: false, // step t uses batch t % numBatches
            totalSteps: r.totalSteps,
          },
        });
        try {
          expect(trainer.totalSteps).toBe(r.totalSteps);
          // Every initial value the fixture lists was taken (adapter variables and head).
          const state0 = await trainer.adapterState();
          for (const [key, value] of initial) {
            expect(state0.has(key), `trainer has no variable ${key}`).toBe(true);
            expectScaledClose(state0.get(key)!.data, value.data, 0, `init ${key}`);
          }
          expect(trainer.paramGroups()).toEqual(info.paramGroups);

          // Step 0 before any update.
          await expectStep0(trainer, fixture);

          // The whole run.
          const events: MethodEvent[] = [];
          const metrics: StepMetrics[] = [];
          while (!trainer.finished) {
            events.push(...(await trainer.step()));
            if (trainer.stepsDone % 10 === 0) metrics.push(...(await trainer.flushMetrics()));
          }
          metrics.push(...(await trainer.flushMetrics()));
          expect(metrics.map((m) => m.step)).toEqual(info.losses.map((_, i) => i));
          expectEachRelClose(metrics.map((m) => m.lr), info.lr, 1e-9, 'lr');
          expectEachRelClose(metrics.map((m) => m.loss), info.losses, 1e-3, 'losses');
          expectEachRelClose(metrics.map((m) => m.gradNorm), info.gradNorm, 1e-3, 'gradNorm');

          const finalState = await trainer.adapterState();
          for (const key of tensors.keys()) {
            if (!key.startsWith('final.')) continue;
            const varName = key.slice('final.'.length);
            expect(finalState.has(varName), `trainer has no variable ${varName}`).toBe(true);
            expectScaledClose(finalState.get(varName)!.data, floats(get(key)), 1e-3, `final ${varName}`);
          }

          if (info.freezeSteps) {
            const frozenAt: Record<string, number | null> = Object.fromEntries(Object.keys(info.freezeSteps).map((k) => [k, null]));
            for (const event of events) if (event.type === 'freeze') frozenAt[event.name] = event.step;
            expect(frozenAt).toEqual(info.freezeSteps);
          }
          if (info.schedule) {
            const ours = events.filter((e) => e.type === 'schedule');
            expect(ours.map((e) => e.step)).toEqual(info.schedule.map((s) => s.step));
            info.schedule.forEach((want, i) => {
              const got = ours[i];
              expectEachRelClose([got.remaining, got.trainableFraction], [want.remaining, want.trainableFraction], 1e-9, `schedule@${want.step}`);
              expectEachRelClose([got.threshold], [want.threshold], 1e-3, `threshold@${want.step}`);
            });
          }
          if (info.scores) {
            const ours = new Map<number, Map<string, number>>();
            for (const event of events) {
              if (event.type === 'values') ours.set(event.step, new Map(event.values.map((s) => [s.name, s.value])));
            }
            // Every masking round's scores must be there; other scoring steps are compared when the method emitted them.
            const maskingSteps = new Set((info.schedule ?? []).map((s) => s.step));
            let compared = 0;
            for (const entry of info.scores) {
              const got = ours.get(entry.step);
              if (!got) {
                expect(maskingSteps.has(entry.step), `no scores event at masking step ${entry.step}`).toBe(false);
                continue;
              }
              for (const [scoreName, want] of Object.entries(entry.values)) {
                if (!got.has(scoreName)) continue; // frozen tensors may be left out of a round
                expectEachRelClose([got.get(scoreName)!], [want], 1e-3, `score ${scoreName}@${entry.step}`);
                compared++;
              }
            }
            expect(compared, 'no AFLoRA score was compared').toBeGreaterThan(0);
          }
        } finally {
          trainer.dispose();
        }
      });
    }
  });
}

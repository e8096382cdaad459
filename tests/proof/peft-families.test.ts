/**
 * The PEFT export proof's TS half on every other family (scripts/proof/peft-export.ts --model
 * tests/fixtures/golden-<family>/model; the Python half, PeftModel.from_pretrained on the family's transformers
 * model, is docs/proofs.md §1): AFLoRA and LoRA trained with the real Trainer on DistilBERT, RoBERTa, ELECTRA and
 * DeBERTa-v2 (its checkpoint without a pooler, as deberta-v3's: the engine initialises one, so the export must carry
 * it), exported, read back and applied as plain LoRA or merged into the base weights: the app's logits within 1e-4.
 * The files name each family's own modules and its head (modules_to_save); BERT without its pooler (MLM-only
 * checkpoints) exports the pooler the engine initialised, as DeBERTa does.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAMILIES, type FamilyId } from '../../src/engine/families';
import { writeSafetensors } from '../../src/io/safetensors';
import { loadModelDir, type ModelDir } from '../../scripts/proof/model-dir';
import { PROOF_CASES, maxAbsDiff, mergedLogits, plainLoraLogits, readBack, tokenIdExamples, trainAndExport, type ProofRun } from '../../scripts/proof/peft-proof';
import { FAMILY_FIXTURES } from '../helpers/encoder-pass';

const TOLERANCE = 1e-4;
const METHODS = ['aflora', 'lora'] as const;
/** modules_to_save per family: its trained head, plus DeBERTa's pooler that the engine initialised. */
const HEAD_MODULES: Record<Exclude<FamilyId, 'bert'>, string[]> = {
  distilbert: ['classifier', 'pre_classifier'],
  roberta: ['classifier'],
  electra: ['classifier'],
  'deberta-v2': ['classifier', 'pooler'],
};

const models = new Map<string, ModelDir>();
const runs = new Map<string, ProofRun>();

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const [family, dir] of Object.entries(FAMILY_FIXTURES)) {
    const model = await loadModelDir(join(dir, 'model'));
    // deberta-v3 checkpoints are pre-trained with an LM head: they have no pooler (ContextPooler) either.
    if (family === 'deberta-v2') model.weights = new Map([...model.weights].filter(([name]) => !name.startsWith('pooler.')));
    models.set(family, model);
    const seqLen = PROOF_CASES[0].recipe.maxLength;
    const train = tokenIdExamples(model.config, 32, seqLen, 1);
    const inputs = tokenIdExamples(model.config, 24, seqLen, 2);
    for (const proof of PROOF_CASES.filter((c) => (METHODS as readonly string[]).includes(c.method))) {
      runs.set(`${family} ${proof.method}`, await trainAndExport(model, proof, train, inputs, `${family}-base`));
    }
  }
  // Eight trained cases on hidden-32 models: ~3 min on the 2-core box with other jobs; room for more load.
}, 1_200_000);

describe.each(Object.keys(FAMILY_FIXTURES).flatMap((family) => METHODS.map((method) => [family, method] as const)))(
  'PEFT export proof on %s: %s',
  (family, method) => {
    it('trained an adapter that moves the logits far beyond the tolerance', () => {
      const run = runs.get(`${family} ${method}`)!;
      // Epoch means (4 steps each): a single batch's loss is noisy.
      const epoch = (from: number) => run.losses.slice(from, from + 4).reduce((a, b) => a + b, 0) / 4;
      expect(epoch(run.losses.length - 4)).toBeLessThan(epoch(0));
      expect(maxAbsDiff(run.logits, run.baseLogits)).toBeGreaterThan(0.05);
    });

    it("names the family's modules and head", () => {
      const run = runs.get(`${family} ${method}`)!;
      const layout = FAMILIES[family as FamilyId];
      const back = readBack(run.adapter);
      expect(back.modules).toHaveLength(12);
      expect(back.modules.every((m) => m.startsWith(layout.layerPrefix(0).replace(/0$/, '')))).toBe(true);
      expect(run.adapter.config.modules_to_save).toEqual(HEAD_MODULES[family as keyof typeof HEAD_MODULES]);
      if (family === 'deberta-v2') {
        // The engine's seeded pooler, exactly: PEFT loads it over the one transformers would draw.
        const pooler = run.adapter.tensors.get('base_model.model.pooler.dense.weight');
        expect(pooler?.shape).toEqual([32, 32]);
      }
    });

    it('exported files applied as plain LoRA, and merged into the base weights, reproduce the app logits', async () => {
      const run = runs.get(`${family} ${method}`)!;
      const model = models.get(family)!;
      expect(maxAbsDiff(await plainLoraLogits(model, run.adapter, run.inputs, run.recipe.batchSize), run.logits)).toBeLessThan(TOLERANCE);
      expect(maxAbsDiff(await mergedLogits(model, run.adapter, run.inputs, run.recipe.batchSize), run.logits)).toBeLessThan(TOLERANCE);
    });
  },
);

describe('BERT without its pooler (an MLM-only checkpoint)', () => {
  it('exports the pooler the engine initialised (modules_to_save bert.pooler.dense), and the file reproduces the logits', { timeout: 600_000 }, async () => {
    const model = await loadModelDir('tests/fixtures/golden/model');
    model.weights = new Map([...model.weights].filter(([name]) => !name.startsWith('bert.pooler.')));
    const proof = PROOF_CASES.find((c) => c.method === 'lora')!;
    const inputs = tokenIdExamples(model.config, 24, proof.recipe.maxLength, 2);
    const run = await trainAndExport(model, proof, tokenIdExamples(model.config, 32, proof.recipe.maxLength, 1), inputs, 'bert-base');
    expect(run.adapter.config.modules_to_save).toEqual(['bert.pooler.dense', 'classifier']);
    expect(run.adapter.tensors.get('base_model.model.bert.pooler.dense.weight')?.shape).toEqual([64, 64]);
    expect(maxAbsDiff(await plainLoraLogits(model, run.adapter, inputs, proof.recipe.batchSize), run.logits)).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(await mergedLogits(model, run.adapter, inputs, proof.recipe.batchSize), run.logits)).toBeLessThan(TOLERANCE);
  });
});

describe('negative control', () => {
  it('a DeBERTa export without the initialised pooler does not reproduce the app logits', async () => {
    const run = runs.get('deberta-v2 aflora')!;
    const tensors = new Map([...run.adapter.tensors].filter(([name]) => !name.includes('.pooler.')));
    expect(tensors.size).toBe(run.adapter.tensors.size - 2);
    const config = { ...run.adapter.config, modules_to_save: ['classifier'] };
    const files = { 'adapter_config.json': JSON.stringify(config), 'adapter_model.safetensors': writeSafetensors(tensors) };
    // Merged into the pooler-less base, whose pooler the Trainer then draws itself (another seed than the run's),
    // as transformers draws its own.
    const logits = await mergedLogits(models.get('deberta-v2')!, { config, tensors, files }, run.inputs, run.recipe.batchSize);
    expect(maxAbsDiff(logits, run.logits)).toBeGreaterThan(100 * TOLERANCE);
  });
});

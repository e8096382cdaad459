/**
 * Each family's forward pass against transformers: tiny seeded random DistilBERT / RoBERTa / ELECTRA
 * (*ForSequenceClassification, eval mode) from scripts/reference/family_golden.py, loaded through io's checkpoint
 * renaming, logits within 1e-4 (cpu backend).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBertConfig } from '../../src/engine/config';
import { BertModel, MASK_NEGATIVE } from '../../src/engine/model';
import { linearTargets } from '../../src/engine/types';
import { normalizeBertWeights } from '../../src/io/model/weights';
import { parseSafetensors, toStateDict } from '../../src/io/safetensors';

const DIR = join(__dirname, '..', 'fixtures', 'families');

interface Golden {
  config: Record<string, unknown>;
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  logits: number[][];
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(['distilbert', 'roberta', 'electra'])('%s forward (transformers reference)', (family) => {
  const golden = JSON.parse(readFileSync(join(DIR, `${family}.json`), 'utf8')) as Golden;
  const checkpoint = toStateDict(parseSafetensors(new Uint8Array(readFileSync(join(DIR, `${family}.safetensors`))), `${family}.safetensors`).tensors);

  it('reads the config and every weight under its own names', () => {
    const config = parseBertConfig(golden.config);
    expect(config.family).toBe(family);
    const normalized = normalizeBertWeights(checkpoint, config, 'model.safetensors');
    expect(normalized.missing).toEqual([]);
    expect(normalized.dropped).toEqual([]);
    expect(linearTargets(config)[0].path).toBe(
      { distilbert: 'distilbert.transformer.layer.0.attention.q_lin', roberta: 'roberta.encoder.layer.0.attention.self.query', electra: 'electra.encoder.layer.0.attention.self.query' }[family],
    );
  });

  it('gives the logits of transformers within 1e-4', () => {
    const config = parseBertConfig(golden.config);
    const { weights } = normalizeBertWeights(checkpoint, config, 'model.safetensors');
    const model = new BertModel(config, weights, { trainBase: false, trainEmbeddings: false, seed: 0 });
    expect(model.initNotes).toEqual([]);
    const [b, s] = [golden.input_ids.length, golden.input_ids[0].length];
    const logits = tf.tidy(() => {
      const mask = tf.tensor2d(golden.attention_mask, [b, s], 'float32');
      const batch = {
        inputIds: tf.tensor2d(golden.input_ids, [b, s], 'int32'),
        tokenTypeIds: tf.tensor2d(golden.token_type_ids, [b, s], 'int32'),
        additiveMask: tf.reshape(tf.mul(tf.sub(1, mask), MASK_NEGATIVE), [b, 1, 1, s]) as tf.Tensor4D,
      };
      return model.forward(batch, null, { training: false });
    });
    const got = logits.arraySync() as number[][];
    logits.dispose();
    model.dispose();
    let worst = 0;
    got.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - golden.logits[i][j])))));
    expect(worst).toBeLessThan(1e-4);
  });
});

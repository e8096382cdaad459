/**
 * DeBERTa-v2/v3 encoder against transformers (fixtures: scripts/reference/deberta_golden.py, cpu backend).
 * Tolerances relative to the largest magnitude of each compared tensor: logits and loss 1e-4; position buckets
 * exact. Cases: the variant config (the branches v3 does not take) without adapters, config parsing, loading. The
 * v3-like model's AFLoRA and PEFT LoRA steps are tests/engine/family-steps.test.ts (with the other families').
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionScale,
  debertaWeightShapes,
  logBucketPosition,
  parseDebertaV2Config,
  relativeIndex,
  type DebertaV2Config,
} from '../../src/engine/deberta/config';
import { DebertaV2Model } from '../../src/engine/deberta/model';
import { UnsupportedModelError } from '../../src/engine/errors';
import { expectScaledClose, floats, readSafetensors } from '../helpers/golden';
import { DEBERTA_FIXTURES, batchOf, encoderPass, readJson, readStateDict } from '../helpers/encoder-pass';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** microsoft/deberta-v3-xsmall's config.json (pos_att_type in its "p2c|c2p" string form). */
const V3_XSMALL = {
  model_type: 'deberta-v2',
  attention_probs_dropout_prob: 0.1,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 384,
  initializer_range: 0.02,
  intermediate_size: 1536,
  max_position_embeddings: 512,
  relative_attention: true,
  position_buckets: 256,
  norm_rel_ebd: 'layer_norm',
  share_att_key: true,
  pos_att_type: 'p2c|c2p',
  layer_norm_eps: 1e-7,
  max_relative_positions: -1,
  position_biased_input: false,
  num_attention_heads: 6,
  num_hidden_layers: 12,
  type_vocab_size: 0,
  vocab_size: 128100,
};

describe('DeBERTa-v2 config', () => {
  it('reads deberta-v3-xsmall as transformers resolves it', () => {
    const c = parseDebertaV2Config(V3_XSMALL);
    expect([c.c2p, c.p2c, c.shareAttKey, c.normRelEmbeddings, c.positionBiasedInput, c.relativeAttention]).toEqual([true, true, true, true, false, true]);
    expect([c.positionBuckets, c.maxRelativePositions, c.typeVocabSize, c.embeddingSize, c.poolerAct, c.classifierDropout]).toEqual([256, 512, 0, 384, 'gelu', 0.1]);
    expect(attentionScale(c)).toBeCloseTo(Math.sqrt(64 * 3), 12);
    const shapes = debertaWeightShapes(c);
    expect(shapes.get('deberta.encoder.rel_embeddings.weight')).toEqual([512, 384]);
    expect(shapes.has('deberta.embeddings.position_embeddings.weight')).toBe(false);
    expect(shapes.has('deberta.embeddings.token_type_embeddings.weight')).toBe(false);
    // 70.8M parameters with the 128k-word embedding, as the model card says (22M backbone + 48M embedding).
    let total = 0;
    for (const shape of shapes.values()) total += shape.reduce((a, b) => a * b, 1);
    expect(Math.round(total / 1e5) / 10).toBe(70.8);
  });

  it('refuses what it cannot run, naming what to pick instead', () => {
    expect(() => parseDebertaV2Config({ ...V3_XSMALL, conv_kernel_size: 3 })).toThrow(/deberta-v3-xsmall/);
    expect(() => parseDebertaV2Config({ ...V3_XSMALL, pos_att_type: 'p2c|p2p' })).toThrow(UnsupportedModelError);
    expect(() => parseDebertaV2Config({ ...V3_XSMALL, pooler_hidden_size: 100 })).toThrow(/pooler_hidden_size/);
    expect(() => parseDebertaV2Config({ ...V3_XSMALL, hidden_size: 100 })).toThrow(/multiple/);
  });
});

describe('relative position buckets', () => {
  const tables = readSafetensors(join(DEBERTA_FIXTURES, 'buckets.safetensors'));
  for (const [buckets, positions] of [
    [256, 512],
    [8, 64],
  ]) {
    it(`match make_log_bucket_position for ${buckets} buckets over ${positions} positions, every distance`, () => {
      const want = Array.from(tables.get(`buckets.${buckets}.${positions}`)!.data as ArrayLike<number>);
      const got = want.map((_, i) => logBucketPosition(i - (positions - 1), buckets, positions));
      expect(got).toEqual(want);
    });
  }

  it('index c2p and p2c alike: the bucket of -d is minus the bucket of d', () => {
    const config = { positionBuckets: 8, maxRelativePositions: 64 } as DebertaV2Config;
    const index = relativeIndex(config, 16);
    for (let q = 0; q < 16; q++) for (let k = 0; k < 16; k++) expect(index[q * 16 + k] + index[k * 16 + q]).toBe(16);
  });
});

describe('DeBERTa-v2 forward (transformers reference)', () => {
  const modelDir = join(DEBERTA_FIXTURES, 'model');
  it('variant config (separate position projections, c2p only, absolute positions, token types, embed_proj)', async () => {
    const tensors = readSafetensors(join(DEBERTA_FIXTURES, 'variant.safetensors'));
    const result = await encoderPass(join(DEBERTA_FIXTURES, 'variant'), batchOf(tensors, null), null, false);
    expectScaledClose(result.logits, floats(tensors.get('logits')!), 1e-4, 'logits');
    expectScaledClose([result.loss], floats(tensors.get('loss')!), 1e-4, 'loss');
  });

  it('refuses a checkpoint that lacks encoder weights, and frees what it loaded', () => {
    const config = parseDebertaV2Config(readJson(join(modelDir, 'config.json')));
    const weights = readStateDict(join(modelDir, 'model.safetensors'));
    weights.delete('deberta.encoder.rel_embeddings.weight');
    const before = tf.memory().numTensors;
    expect(() => new DebertaV2Model(config, weights, { trainBase: false, trainEmbeddings: false, seed: 0 })).toThrow(/rel_embeddings/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('initialises a missing pooler and classifier (deberta-v3 checkpoints have neither) and reports it', () => {
    const config = parseDebertaV2Config(readJson(join(modelDir, 'config.json')));
    const weights = readStateDict(join(modelDir, 'model.safetensors'));
    for (const key of ['pooler.dense.weight', 'pooler.dense.bias', 'classifier.weight', 'classifier.bias']) weights.delete(key);
    const model = new DebertaV2Model(config, weights, { trainBase: false, trainEmbeddings: false, seed: 1 });
    expect(model.initNotes.map((n) => n.name).sort()).toEqual(['classifier.bias', 'classifier.weight', 'pooler.dense.bias', 'pooler.dense.weight']);
    expect(model.head.map((v) => v.name)).toEqual(['classifier.weight', 'classifier.bias']);
    model.dispose();
  });
});

describe('relativeGather', () => {
  it("equals tf.gather's values and gradients on a monotone index with clamped runs, and leaks nothing", async () => {
    const { relativeGather, relativeGatherIndex, disposeRelativeGatherIndex } = await import('../../src/engine/deberta/relativeGather');
    const s = 6;
    const columns = 6; // span 3: distances beyond +-2 clamp onto the edge columns
    const m = new Int32Array(s * s);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) m[i * s + j] = Math.min(Math.max(i - j + 3, 0), columns - 1);
    const index = relativeGatherIndex(m, s, columns);
    const x = tf.randomNormal([5, s * columns], 0, 1, 'float32', 7) as tf.Tensor2D;
    const dy = tf.randomNormal([5, s * s], 0, 1, 'float32', 8);
    const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(relativeGather(v as tf.Tensor2D, index), dy)));
    const plain = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v as tf.Tensor2D, index.forward, 1), dy)));
    const before = tf.memory().numTensors;
    const [value, grad, wantValue, wantGrad] = [relativeGather(x, index), ours(x), tf.gather(x, index.forward, 1), plain(x)];
    expectScaledClose(await value.data(), await wantValue.data(), 0, 'value');
    expectScaledClose(await grad.data(), await wantGrad.data(), 1e-6, 'gradient');
    tf.dispose([value, grad, wantValue, wantGrad]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy]);
    disposeRelativeGatherIndex(index);
  });

  it('refuses an index whose rows are not monotone', async () => {
    const { relativeGatherIndex } = await import('../../src/engine/deberta/relativeGather');
    expect(() => relativeGatherIndex(Int32Array.from([0, 1, 0, 1]), 2, 2)).not.toThrow();
    expect(() => relativeGatherIndex(Int32Array.from([0, 1, 0, 0, 1, 2, 2, 1, 0]), 3, 3)).toThrow(/not monotone/);
  });
});

// The built-in pretrained model folder (made on the GPU machine by scripts/reference/pretrain_builtin.py).
// These checks fail, on purpose, until the model files are in public/models/builtin.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODULE_KINDS, linearTargets, modulePath, type BertConfig } from '../../src/engine/types';
import { loadTokenizer } from '../../src/io/tokenizer/load';

const MODEL = join(import.meta.dirname, '..', '..', 'public', 'models', 'builtin');
const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

function readJson(name: string): Record<string, unknown> {
  const path = join(MODEL, name);
  expect(existsSync(path), `${path} is missing: run the pretraining on the GPU machine (see the card)`).toBe(
    true,
  );
  return JSON.parse(readFileSync(path, 'utf8'));
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** safetensors: 8-byte little-endian header length, then a JSON header, then the raw tensor bytes. */
function readSafetensorsHeader(path: string): { header: Record<string, HeaderEntry>; dataBytes: number } {
  expect(existsSync(path), `${path} is missing`).toBe(true);
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const json = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  delete json.__metadata__;
  return { header: json, dataBytes: bytes.length - 8 - headerLength };
}

describe('public/models/builtin', () => {
  it('has a BERT config of the L=2 H=128 A=2 I=512 shape', () => {
    const config = readJson('config.json');
    expect(config).toMatchObject({
      model_type: 'bert',
      architectures: ['BertForPreTraining'],
      hidden_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 512,
      max_position_embeddings: 128,
      type_vocab_size: 2,
      pad_token_id: 0,
    });
  });

  it('has an uncased WordPiece vocabulary that starts with the special tokens and matches vocab_size', () => {
    const path = join(MODEL, 'vocab.txt');
    expect(existsSync(path), `${path} is missing`).toBe(true);
    const vocab = readFileSync(path, 'utf8').replace(/\n$/, '').split('\n');
    expect(vocab.slice(0, SPECIAL_TOKENS.length)).toEqual(SPECIAL_TOKENS);
    expect(new Set(vocab).size).toBe(vocab.length);
    expect(vocab.length).toBeGreaterThan(5000);
    expect(vocab.length).toBeLessThanOrEqual(8000);
    expect(vocab.some((t) => t.startsWith('##'))).toBe(true);
    // Uncased: no upper-case piece apart from the bracketed special tokens.
    expect(vocab.slice(SPECIAL_TOKENS.length).filter((t) => /[A-Z]/.test(t))).toEqual([]);
    expect(readJson('config.json').vocab_size).toBe(vocab.length);
    expect(readJson('tokenizer_config.json').do_lower_case).toBe(true);
    const tokenizer = readJson('tokenizer.json') as {
      model?: { type?: string; vocab?: Record<string, number> };
    };
    expect(tokenizer.model?.type).toBe('WordPiece');
    // The whole vocabulary, ids = vocab.txt line numbers (a transformers 5.x save once kept only the specials).
    expect(tokenizer.model?.vocab).toEqual(Object.fromEntries(vocab.map((token, id) => [token, id])));
  });

  it("is tokenised by the app's loader like the report's self-test tokeniser (an independent Python WordPiece)", () => {
    const read = (name: string) => readFileSync(join(MODEL, name), 'utf8');
    const tokenizer = loadTokenizer({
      vocabTxt: read('vocab.txt'),
      tokenizerJson: read('tokenizer.json'),
      tokenizerConfigJson: read('tokenizer_config.json'),
    });
    const vocab = read('vocab.txt').replace(/\n$/, '').split('\n');
    const report = readJson('pretrain_report.json') as { self_test: { tokenizer_example: string[] } };
    const ids = tokenizer.encode('The Jury said it did find irregularities.').ids;
    expect(ids.map((id) => vocab[id])).toEqual(report.self_test.tokenizer_example);
  });

  it('stores float32 BertForPreTraining weights with the expected names and shapes, under 10 MB', () => {
    const config = readJson('config.json');
    const { header, dataBytes } = readSafetensorsHeader(join(MODEL, 'model.safetensors'));
    const vocabSize = config.vocab_size as number;
    const bert: BertConfig = {
      family: 'bert',
      vocabSize,
      embeddingSize: 128,
      hiddenSize: 128,
      numLayers: 2,
      numHeads: 2,
      intermediateSize: 512,
      maxPositions: 128,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
      hiddenAct: 'gelu',
      hiddenDropout: 0.1,
      attentionDropout: 0.1,
      classifierDropout: 0.1,
      numLabels: 2,
      padTokenId: 0,
    };
    const h = 128;
    const expected: Record<string, number[]> = {
      'bert.embeddings.word_embeddings.weight': [vocabSize, h],
      'bert.embeddings.position_embeddings.weight': [128, h],
      'bert.embeddings.token_type_embeddings.weight': [2, h],
      'bert.embeddings.LayerNorm.weight': [h],
      'bert.embeddings.LayerNorm.bias': [h],
      'bert.pooler.dense.weight': [h, h],
      'bert.pooler.dense.bias': [h],
      'cls.predictions.bias': [vocabSize],
      'cls.predictions.transform.dense.weight': [h, h],
      'cls.predictions.transform.dense.bias': [h],
      'cls.predictions.transform.LayerNorm.weight': [h],
      'cls.predictions.transform.LayerNorm.bias': [h],
      'cls.seq_relationship.weight': [2, h],
      'cls.seq_relationship.bias': [2],
    };
    // The six adaptable linears per layer, named through the shared engine contract.
    for (const t of linearTargets(bert)) {
      expected[`${t.path}.weight`] = [t.outFeatures, t.inFeatures];
      expected[`${t.path}.bias`] = [t.outFeatures];
    }
    for (let layer = 0; layer < bert.numLayers; layer++) {
      for (const ln of ['attention.output.LayerNorm', 'output.LayerNorm']) {
        expected[`bert.encoder.layer.${layer}.${ln}.weight`] = [h];
        expected[`bert.encoder.layer.${layer}.${ln}.bias`] = [h];
      }
    }
    expect(Object.keys(expected)).toHaveLength(14 + 2 * (MODULE_KINDS.length * 2 + 4));
    expect(modulePath(1, 'inter')).toBe('bert.encoder.layer.1.intermediate.dense');

    const shapes = Object.fromEntries(Object.entries(header).map(([name, e]) => [name, e.shape]));
    expect(shapes).toEqual(expected);
    let covered = 0;
    for (const [name, entry] of Object.entries(header)) {
      expect(entry.dtype, name).toBe('F32');
      const [begin, end] = entry.data_offsets;
      expect(end - begin, name).toBe(4 * entry.shape.reduce((a, b) => a * b, 1));
      covered += end - begin;
    }
    expect(covered).toBe(dataBytes);
    expect(statSync(join(MODEL, 'model.safetensors')).size).toBeLessThan(10 * 1024 * 1024);
  });

  it('has a pretraining report and a filled-in card', () => {
    const report = readJson('pretrain_report.json') as {
      steps: number;
      heldout: { mlm_loss: number; mlm_accuracy: number };
      heldout_curve: { mlm_loss: number }[];
      self_test: {
        error?: string;
        seqcls_missing_keys?: string[];
        tokenizer_example?: string[];
        fill_mask?: { text: string; top5: { token: string | null; p: number }[] }[];
      };
    };
    expect(report.steps).toBeGreaterThan(0);
    expect(report.self_test.error).toBeUndefined();
    expect(report.self_test.seqcls_missing_keys?.every((k) => k.startsWith('classifier.'))).toBe(true);
    // The self-test must have tokenised real words: no [UNK] in its example, real tokens in every fill-mask top 5.
    expect(report.self_test.tokenizer_example?.length).toBeGreaterThan(3);
    expect(report.self_test.tokenizer_example).not.toContain('[UNK]');
    expect(report.self_test.fill_mask).toHaveLength(5);
    for (const fill of report.self_test.fill_mask ?? []) {
      expect(fill.top5.map((t) => typeof t.token)).toEqual(Array(5).fill('string'));
      expect(fill.top5[0].p).toBeGreaterThan(fill.top5[4].p);
    }
    // Pretraining must have learned something: held-out loss well below the untrained model's.
    expect(report.heldout.mlm_loss).toBeLessThan(report.heldout_curve[0].mlm_loss - 2);
    const card = readFileSync(join(MODEL, 'README.md'), 'utf8');
    expect(card).not.toContain('PLACEHOLDER');
    expect(card).toContain(`held-out MLM loss | ${report.heldout.mlm_loss} `);
  });
});

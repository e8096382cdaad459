/**
 * A randomly initialised BERT (2 layers, hidden 128) in the built-in model's file layout, for running the
 * browser test before the pretrained built-in model exists (E2E_RANDOM_MODEL=1, see app.e2e.test.ts).
 * Random weights train fine mechanically; only the accuracy is meaningless.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBertConfig } from '../../src/engine/config';
import { randomBertWeights } from '../../src/engine/weights';
import { writeSafetensors } from '../../src/io/safetensors';

export function writeRandomModel(dir: string, corpusFiles: string[]): void {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789.,!?\'"-:;()'.split('');
  const words = new Set<string>();
  for (const file of corpusFiles) for (const w of readFileSync(file, 'utf8').toLowerCase().match(/[a-z]+/g) ?? []) words.add(w);
  const vocab = [...specials, ...chars, ...chars.map((c) => `##${c}`), ...[...words].sort()];
  const configJson = {
    model_type: 'bert',
    architectures: ['BertForPreTraining'],
    vocab_size: vocab.length,
    hidden_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 512,
    max_position_embeddings: 128,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
  };
  const weights = randomBertWeights(parseBertConfig(configJson), 1234);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson, null, 2));
  writeFileSync(join(dir, 'vocab.txt'), vocab.join('\n') + '\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(weights));
}

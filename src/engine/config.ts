/** Hugging Face config.json -> BertConfig, with errors that say what is unsupported and what to do. */
import { InputError, UnsupportedModelError } from './errors';
import type { BertConfig, HiddenAct } from './types';

export { UnsupportedModelError };

/** Encoders with BERT's module layout and state-dict names (post-LN, absolute positions, token types). */
const SUPPORTED_MODEL_TYPES = new Set(['bert']);
const SUPPORTED_ACTS: readonly HiddenAct[] = ['gelu', 'gelu_new', 'relu'];

type Json = Record<string, unknown>;

function requireInt(json: Json, key: string): number {
  const value = json[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new UnsupportedModelError(
      `config.json: "${key}" is missing or not a positive integer (got ${JSON.stringify(value)}). ` +
        'Use a complete Hugging Face BERT config.json.',
    );
  }
  return value;
}

function optionalNumber(json: Json, key: string, fallback: number): number {
  const value = json[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new UnsupportedModelError(`config.json: "${key}" must be a number (got ${JSON.stringify(value)}).`);
  }
  return value;
}

function bad(key: string, value: unknown, expected: string): never {
  throw new InputError(`config.json: "${key}" is ${JSON.stringify(value)}; it must be ${expected}.`, 'Use the config.json that came with the model (hand edits may have broken it).');
}

function labelCount(json: Json): number {
  if (typeof json.num_labels === 'number') return json.num_labels;
  if (json.id2label && typeof json.id2label === 'object') return Object.keys(json.id2label).length;
  // Hugging Face's PretrainedConfig default.
  return 2;
}

/**
 * Parses a Hugging Face BERT config.json. `numLabels` overrides the config's label count (the dataset decides
 * it; pretrained checkpoints usually carry the default 2).
 */
export function parseBertConfig(input: unknown, numLabels?: number): BertConfig {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new UnsupportedModelError('config.json is not a JSON object.');
  }
  const json = input as Json;
  const modelType = json.model_type;
  if (typeof modelType !== 'string') {
    throw new UnsupportedModelError('config.json has no "model_type". Only BERT checkpoints (model_type "bert") are supported.');
  }
  if (!SUPPORTED_MODEL_TYPES.has(modelType)) {
    throw new UnsupportedModelError(
      `model_type "${modelType}" is not supported: only BERT-architecture encoders (model_type "bert") are. ` +
        'Pick a BERT checkpoint, e.g. google/bert_uncased_L-4_H-256_A-4 or prajjwal1/bert-mini.',
    );
  }
  const act = json.hidden_act ?? 'gelu';
  if (typeof act !== 'string' || !SUPPORTED_ACTS.includes(act as HiddenAct)) {
    throw new UnsupportedModelError(
      `hidden_act ${JSON.stringify(act)} is not supported (supported: ${SUPPORTED_ACTS.join(', ')}).`,
    );
  }
  const positionType = json.position_embedding_type;
  if (positionType !== undefined && positionType !== 'absolute') {
    throw new UnsupportedModelError(
      `position_embedding_type "${String(positionType)}" is not supported: only absolute position embeddings are.`,
    );
  }
  const hiddenSize = requireInt(json, 'hidden_size');
  const numHeads = requireInt(json, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0) {
    throw new UnsupportedModelError(
      `hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}: the config is inconsistent.`,
    );
  }
  const labels = numLabels ?? labelCount(json);
  if (!Number.isInteger(labels) || labels < 1) {
    throw new UnsupportedModelError(`num_labels must be a positive integer (got ${labels}).`);
  }
  const layerNormEps = optionalNumber(json, 'layer_norm_eps', 1e-12);
  // eps <= 0 divides by zero on a constant row (NaN from step 0); dropout must be a probability below 1.
  if (!(layerNormEps > 0 && layerNormEps < 1)) bad('layer_norm_eps', layerNormEps, 'a small positive number (BERT uses 1e-12)');
  const hiddenDropout = optionalNumber(json, 'hidden_dropout_prob', 0.1);
  const attentionDropout = optionalNumber(json, 'attention_probs_dropout_prob', 0.1);
  for (const [key, p] of [['hidden_dropout_prob', hiddenDropout], ['attention_probs_dropout_prob', attentionDropout]] as const) {
    if (!(p >= 0 && p < 1)) bad(key, p, 'a probability in [0, 1)');
  }
  const vocabSize = requireInt(json, 'vocab_size');
  const typeVocabSize = optionalNumber(json, 'type_vocab_size', 2);
  if (!Number.isInteger(typeVocabSize) || typeVocabSize < 1) bad('type_vocab_size', typeVocabSize, 'a positive integer');
  const padTokenId = optionalNumber(json, 'pad_token_id', 0);
  if (!Number.isInteger(padTokenId) || padTokenId < 0 || padTokenId >= vocabSize) bad('pad_token_id', padTokenId, `an id below vocab_size ${vocabSize}`);
  return {
    vocabSize,
    hiddenSize,
    numLayers: requireInt(json, 'num_hidden_layers'),
    numHeads,
    intermediateSize: requireInt(json, 'intermediate_size'),
    maxPositions: requireInt(json, 'max_position_embeddings'),
    typeVocabSize,
    layerNormEps,
    hiddenAct: act as HiddenAct,
    hiddenDropout,
    attentionDropout,
    numLabels: labels,
    padTokenId,
  };
}

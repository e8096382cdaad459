/**
 * Hugging Face config.json -> BertConfig for every family of families.ts (each has its own key names: DistilBERT
 * says dim / n_layers / hidden_dim), with errors that say what is unsupported and what to do.
 */
import { InputError, UnsupportedModelError } from './errors';
import { parseDebertaV2Config } from './deberta/config';
import { familyOfModelType, supportedFamiliesText, type FamilyLayout } from './families';
import type { BertConfig, HiddenAct } from './types';

export { UnsupportedModelError };

const SUPPORTED_ACTS: readonly HiddenAct[] = ['gelu', 'gelu_new', 'relu'];

type Json = Record<string, unknown>;

function requireInt(json: Json, key: string): number {
  const value = json[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new UnsupportedModelError(
      `config.json: "${key}" is missing or not a positive integer (got ${JSON.stringify(value)}). ` +
        'Use the complete config.json that came with the model.',
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

/** The config keys a family spells its own way (DistilBERT), with transformers' defaults for the optional ones. */
interface ConfigKeys {
  hidden: string;
  layers: string;
  heads: string;
  intermediate: string;
  act: string;
  hiddenDropout: string;
  attentionDropout: string;
  /** null: the family's classifier dropout is the hidden dropout unless classifier_dropout says otherwise. */
  classifierDropout: string | null;
  defaults: { padTokenId: number; typeVocabSize: number; classifierDropout?: number };
}

const BERT_KEYS: ConfigKeys = {
  hidden: 'hidden_size',
  layers: 'num_hidden_layers',
  heads: 'num_attention_heads',
  intermediate: 'intermediate_size',
  act: 'hidden_act',
  hiddenDropout: 'hidden_dropout_prob',
  attentionDropout: 'attention_probs_dropout_prob',
  classifierDropout: null,
  defaults: { padTokenId: 0, typeVocabSize: 2 },
};

const KEYS: Record<Exclude<FamilyLayout['id'], 'deberta-v2'>, ConfigKeys> = {
  bert: BERT_KEYS,
  electra: BERT_KEYS,
  // RobertaConfig's pad_token_id is 1 (<pad>); checkpoints have type_vocab_size 1.
  roberta: { ...BERT_KEYS, defaults: { padTokenId: 1, typeVocabSize: 1 } },
  distilbert: {
    hidden: 'dim',
    layers: 'n_layers',
    heads: 'n_heads',
    intermediate: 'hidden_dim',
    act: 'activation',
    hiddenDropout: 'dropout',
    attentionDropout: 'attention_dropout',
    classifierDropout: 'seq_classif_dropout',
    defaults: { padTokenId: 0, typeVocabSize: 0, classifierDropout: 0.2 },
  },
};

/** The family a config.json belongs to, or an error naming the supported ones. */
export function configFamily(input: unknown): FamilyLayout {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new UnsupportedModelError('config.json is not a JSON object.');
  }
  const modelType = (input as Json).model_type;
  if (typeof modelType !== 'string') {
    throw new UnsupportedModelError(`config.json has no "model_type". Supported: ${supportedFamiliesText()}.`);
  }
  const family = familyOfModelType(modelType);
  if (!family) {
    throw new UnsupportedModelError(
      `model_type "${modelType}" is not supported. Supported architectures: ${supportedFamiliesText()}. ` +
        'Pick a checkpoint of one of them, e.g. prajjwal1/bert-mini or distilbert/distilbert-base-uncased.',
    );
  }
  return family;
}

/**
 * Parses a Hugging Face config.json of any supported family (the name stays from when BERT was the only one).
 * `numLabels` overrides the config's label count (the dataset decides it; pretrained checkpoints usually carry
 * the default 2).
 */
export function parseBertConfig(input: unknown, numLabels?: number): BertConfig {
  const family = configFamily(input);
  const json = input as Json;
  if (family.id === 'deberta-v2') return parseDebertaV2Config(json, numLabels);
  const keys = KEYS[family.id];
  const act = json[keys.act] ?? 'gelu';
  if (typeof act !== 'string' || !SUPPORTED_ACTS.includes(act as HiddenAct)) {
    throw new UnsupportedModelError(
      `${keys.act} ${JSON.stringify(act)} is not supported (supported: ${SUPPORTED_ACTS.join(', ')}).`,
    );
  }
  const positionType = json.position_embedding_type;
  if (positionType !== undefined && positionType !== 'absolute') {
    throw new UnsupportedModelError(
      `position_embedding_type "${String(positionType)}" is not supported: only absolute position embeddings are.`,
    );
  }
  const hiddenSize = requireInt(json, keys.hidden);
  const numHeads = requireInt(json, keys.heads);
  if (hiddenSize % numHeads !== 0) {
    throw new UnsupportedModelError(
      `${keys.hidden} ${hiddenSize} is not a multiple of ${keys.heads} ${numHeads}: the config is inconsistent.`,
    );
  }
  const labels = numLabels ?? labelCount(json);
  if (!Number.isInteger(labels) || labels < 1) {
    throw new UnsupportedModelError(`num_labels must be a positive integer (got ${labels}).`);
  }
  // DistilBERT's LayerNorms are built with eps 1e-12 whatever the config says.
  const layerNormEps = family.id === 'distilbert' ? 1e-12 : optionalNumber(json, 'layer_norm_eps', 1e-12);
  // eps <= 0 divides by zero on a constant row (NaN from step 0); dropout must be a probability below 1.
  if (!(layerNormEps > 0 && layerNormEps < 1)) bad('layer_norm_eps', layerNormEps, 'a small positive number (BERT uses 1e-12)');
  const hiddenDropout = optionalNumber(json, keys.hiddenDropout, 0.1);
  const attentionDropout = optionalNumber(json, keys.attentionDropout, 0.1);
  const classifierDropout =
    keys.classifierDropout !== null
      ? optionalNumber(json, keys.classifierDropout, keys.defaults.classifierDropout ?? hiddenDropout)
      : optionalNumber(json, 'classifier_dropout', hiddenDropout);
  for (const [key, p] of [[keys.hiddenDropout, hiddenDropout], [keys.attentionDropout, attentionDropout], [keys.classifierDropout ?? 'classifier_dropout', classifierDropout]] as const) {
    if (!(p >= 0 && p < 1)) bad(key, p, 'a probability in [0, 1)');
  }
  const vocabSize = requireInt(json, 'vocab_size');
  const typeVocabSize = family.embeddings.tokenType === null ? 0 : optionalNumber(json, 'type_vocab_size', keys.defaults.typeVocabSize);
  if (family.embeddings.tokenType !== null && (!Number.isInteger(typeVocabSize) || typeVocabSize < 1)) bad('type_vocab_size', typeVocabSize, 'a positive integer');
  const padTokenId = optionalNumber(json, 'pad_token_id', keys.defaults.padTokenId);
  if (!Number.isInteger(padTokenId) || padTokenId < 0 || padTokenId >= vocabSize) bad('pad_token_id', padTokenId, `an id below vocab_size ${vocabSize}`);
  // ElectraConfig's default embedding_size is 128; the other families embed at the hidden width.
  const embeddingSize = family.embeddings.project !== null ? optionalNumber(json, 'embedding_size', 128) : hiddenSize;
  if (!Number.isInteger(embeddingSize) || embeddingSize < 1) bad('embedding_size', embeddingSize, 'a positive integer');
  const maxPositions = requireInt(json, 'max_position_embeddings');
  if (family.positions === 'padding_offset' && maxPositions <= padTokenId + 1) {
    bad('max_position_embeddings', maxPositions, `larger than pad_token_id + 1 = ${padTokenId + 1} (RoBERTa's positions start there)`);
  }
  return {
    family: family.id,
    vocabSize,
    embeddingSize,
    hiddenSize,
    numLayers: requireInt(json, keys.layers),
    numHeads,
    intermediateSize: requireInt(json, keys.intermediate),
    maxPositions,
    typeVocabSize,
    layerNormEps,
    hiddenAct: act as HiddenAct,
    hiddenDropout,
    attentionDropout,
    classifierDropout,
    numLabels: labels,
    padTokenId,
  };
}

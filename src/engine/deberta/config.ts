/**
 * DeBERTa-v2/v3 (model_type "deberta-v2"): config.json -> DebertaV2Config, its state-dict names and shapes, and
 * the relative-position buckets. Tensor-free. Defaults are transformers' DebertaV2Config (5.x) and the modules'
 * getattr fallbacks, so a config.json that omits a key means what it means there.
 */
import { InputError, UnsupportedModelError } from '../errors';
import { FAMILIES } from '../families';
import { Rng, hashString, mixSeed } from '../random';
import { MODULE_KINDS, type BertConfig, type HiddenAct, type LinearTarget, type StateDict } from '../types';

export const DEBERTA_MODEL_TYPE = 'deberta-v2';

export type PoolerAct = HiddenAct | 'tanh';

/** BertConfig's fields mean what they do for BERT; typeVocabSize may be 0 (no token-type embeddings). */
export interface DebertaV2Config extends BertConfig {
  family: 'deberta-v2';
  /** Width of the word (and position / type) embeddings; embed_proj maps it to hiddenSize when they differ. */
  embeddingSize: number;
  /** Absolute position embeddings added to the input (DeBERTa-v3: false). */
  positionBiasedInput: boolean;
  relativeAttention: boolean;
  /** Log-bucketed relative distances when > 0 (make_log_bucket_position), else clamped raw distances. */
  positionBuckets: number;
  /** max_relative_positions, or max_position_embeddings when that is < 1 (as the attention resolves it). */
  maxRelativePositions: number;
  /** Content-to-position and position-to-content terms (pos_att_type). */
  c2p: boolean;
  p2c: boolean;
  /** Positions projected by the content query_proj / key_proj (v3) instead of pos_key_proj / pos_query_proj. */
  shareAttKey: boolean;
  /** LayerNorm over the relative embeddings (norm_rel_ebd "layer_norm"). */
  normRelEmbeddings: boolean;
  poolerAct: PoolerAct;
  /** Dropout on the [CLS] state before the pooler's dense. */
  poolerDropout: number;
  /** Dropout between pooler and classifier: cls_dropout, else hidden_dropout_prob. */
  classifierDropout: number;
}

export function isDebertaV2Config(config: BertConfig): config is DebertaV2Config {
  return (config as Partial<DebertaV2Config>).family === 'deberta-v2';
}

/** Relative embedding rows on each side: the attention span (2 x span rows in rel_embeddings). */
export function attentionSpan(config: DebertaV2Config): number {
  return config.positionBuckets > 0 ? config.positionBuckets : config.maxRelativePositions;
}

/** Divisor of every attention logit: sqrt(head size x (1 + number of position terms)). */
export function attentionScale(config: DebertaV2Config): number {
  return Math.sqrt((config.hiddenSize / config.numHeads) * (1 + Number(config.c2p) + Number(config.p2c)));
}

const f32 = Math.fround;

/**
 * transformers' make_log_bucket_position for one distance, in its float32 arithmetic (torch computes the log
 * ratio in float32; fround keeps a ceil at an integer boundary on the same side): distances within
 * bucket/2 stay as they are, longer ones share log-spaced buckets up to maxPosition.
 */
export function logBucketPosition(distance: number, bucketSize: number, maxPosition: number): number {
  const mid = Math.floor(bucketSize / 2);
  const abs = distance < mid && distance > -mid ? mid - 1 : Math.abs(distance);
  if (abs <= mid) return distance;
  const ratio = f32(f32(Math.log(f32(abs / mid))) / f32(Math.log(f32((maxPosition - 1) / mid))));
  return Math.sign(distance) * (Math.ceil(f32(ratio * (mid - 1))) + mid);
}

/**
 * The rel_embeddings row each (query, key) pair reads, as the attention's gather does: clamp(bucket(q - k) +
 * span, 0, 2 span - 1). int32 [S * S], row-major [query, key]. c2p uses it at (q, k) and p2c at (k, q)
 * transposed, which is the same index because the bucket of -d is minus the bucket of d.
 */
export function relativeIndex(config: DebertaV2Config, seqLen: number): Int32Array {
  const span = attentionSpan(config);
  const index = new Int32Array(seqLen * seqLen);
  for (let q = 0; q < seqLen; q++) {
    for (let k = 0; k < seqLen; k++) {
      const d = q - k;
      const bucket = config.positionBuckets > 0 ? logBucketPosition(d, config.positionBuckets, config.maxRelativePositions) : d;
      index[q * seqLen + k] = Math.min(Math.max(bucket + span, 0), 2 * span - 1);
    }
  }
  return index;
}

// ------------------------------------------------------------------------------------------------ config.json

type Json = Record<string, unknown>;
const HIDDEN_ACTS: readonly HiddenAct[] = ['gelu', 'gelu_new', 'relu'];
const POOLER_ACTS: readonly PoolerAct[] = [...HIDDEN_ACTS, 'tanh'];
const HINT = 'Use the config.json that came with the model (hand edits may have broken it).';

function int(json: Json, key: string, fallback?: number, min = 1): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new UnsupportedModelError(
      `config.json: "${key}" is ${JSON.stringify(json[key])}; it must be an integer >= ${min}. Use a complete DeBERTa-v2/v3 config.json.`,
    );
  }
  return value;
}

function num(json: Json, key: string, fallback: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InputError(`config.json: "${key}" must be a number (got ${JSON.stringify(value)}).`, HINT);
  return value;
}

function bool(json: Json, key: string, fallback: boolean): boolean {
  const value = json[key] ?? fallback;
  if (typeof value !== 'boolean') throw new InputError(`config.json: "${key}" must be true or false (got ${JSON.stringify(value)}).`, HINT);
  return value;
}

function probability(json: Json, key: string, fallback: number): number {
  const p = num(json, key, fallback);
  if (!(p >= 0 && p < 1)) throw new InputError(`config.json: "${key}" is ${p}; it must be a probability in [0, 1).`, HINT);
  return p;
}

/** pos_att_type as a list or transformers' "p2c|c2p" string form. */
function positionTerms(value: unknown): { c2p: boolean; p2c: boolean } {
  const list = value === undefined || value === null ? [] : typeof value === 'string' ? value.toLowerCase().split('|') : value;
  if (!Array.isArray(list) || !list.every((t) => typeof t === 'string')) {
    throw new InputError(`config.json: "pos_att_type" must be a list like ["p2c", "c2p"] or "p2c|c2p" (got ${JSON.stringify(value)}).`, HINT);
  }
  const terms = list.map((t: string) => t.trim()).filter((t) => t !== '');
  const unknown = terms.filter((t) => t !== 'c2p' && t !== 'p2c');
  if (unknown.length > 0) {
    throw new UnsupportedModelError(`pos_att_type ${JSON.stringify(unknown)} is not supported: DeBERTa-v2/v3 use "c2p" and "p2c".`);
  }
  return { c2p: terms.includes('c2p'), p2c: terms.includes('p2c') };
}

function act<T extends string>(json: Json, key: string, allowed: readonly T[]): T {
  const value = json[key] ?? 'gelu';
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new UnsupportedModelError(`${key} ${JSON.stringify(value)} is not supported (supported: ${allowed.join(', ')}).`);
  }
  return value as T;
}

/** Parses a Hugging Face DeBERTa-v2/v3 config.json; `numLabels` overrides its label count (the dataset decides). */
export function parseDebertaV2Config(input: unknown, numLabels?: number): DebertaV2Config {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new UnsupportedModelError('config.json is not a JSON object.');
  const json = input as Json;
  if (json.model_type !== DEBERTA_MODEL_TYPE) {
    throw new UnsupportedModelError(`model_type ${JSON.stringify(json.model_type)} is not "${DEBERTA_MODEL_TYPE}".`);
  }
  if (int(json, 'conv_kernel_size', 0, 0) > 0) {
    throw new UnsupportedModelError(
      'DeBERTa-v2 checkpoints with a convolution layer (conv_kernel_size > 0, e.g. deberta-v2-xlarge) are not supported. ' +
        'Pick a DeBERTa-v3 checkpoint such as microsoft/deberta-v3-xsmall or microsoft/deberta-v3-small.',
    );
  }
  const hiddenSize = int(json, 'hidden_size', 1536);
  const numHeads = int(json, 'num_attention_heads', 24);
  if (hiddenSize % numHeads !== 0) {
    throw new UnsupportedModelError(`hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}: the config is inconsistent.`);
  }
  if (json.attention_head_size !== undefined && json.attention_head_size !== hiddenSize / numHeads) {
    throw new UnsupportedModelError(`attention_head_size ${JSON.stringify(json.attention_head_size)} other than hidden_size / num_attention_heads is not supported.`);
  }
  const poolerSize = int(json, 'pooler_hidden_size', hiddenSize);
  if (poolerSize !== hiddenSize) {
    // ContextPooler's output feeds a classifier of hidden_size inputs: transformers itself fails on this config.
    throw new UnsupportedModelError(`pooler_hidden_size ${poolerSize} differs from hidden_size ${hiddenSize}; transformers cannot run such a classifier either.`);
  }
  const vocabSize = int(json, 'vocab_size', 128100);
  const maxPositions = int(json, 'max_position_embeddings', 512);
  const layerNormEps = num(json, 'layer_norm_eps', 1e-7);
  if (!(layerNormEps > 0 && layerNormEps < 1)) throw new InputError(`config.json: "layer_norm_eps" is ${layerNormEps}; it must be a small positive number (DeBERTa uses 1e-7).`, HINT);
  const labels = numLabels ?? (json.id2label && typeof json.id2label === 'object' ? Object.keys(json.id2label).length : int(json, 'num_labels', 2));
  if (!Number.isInteger(labels) || labels < 1) throw new UnsupportedModelError(`num_labels must be a positive integer (got ${labels}).`);
  const padTokenId = int(json, 'pad_token_id', 0, 0);
  if (padTokenId >= vocabSize) throw new InputError(`config.json: "pad_token_id" ${padTokenId} is not below vocab_size ${vocabSize}.`, HINT);
  const relativeAttention = bool(json, 'relative_attention', false);
  const maxRelative = int(json, 'max_relative_positions', -1, -Infinity);
  const hiddenDropout = probability(json, 'hidden_dropout_prob', 0.1);
  const normRel = String(json.norm_rel_ebd ?? 'none').toLowerCase().split('|').map((s) => s.trim());
  const config: DebertaV2Config = {
    family: 'deberta-v2',
    vocabSize,
    hiddenSize,
    numLayers: int(json, 'num_hidden_layers', 24),
    numHeads,
    intermediateSize: int(json, 'intermediate_size', 6144),
    maxPositions,
    typeVocabSize: int(json, 'type_vocab_size', 0, 0),
    layerNormEps,
    hiddenAct: act(json, 'hidden_act', HIDDEN_ACTS),
    hiddenDropout,
    attentionDropout: probability(json, 'attention_probs_dropout_prob', 0.1),
    numLabels: labels,
    padTokenId,
    embeddingSize: int(json, 'embedding_size', hiddenSize),
    positionBiasedInput: bool(json, 'position_biased_input', true),
    relativeAttention,
    positionBuckets: int(json, 'position_buckets', -1, -Infinity),
    maxRelativePositions: maxRelative < 1 ? maxPositions : maxRelative,
    ...positionTerms(json.pos_att_type),
    shareAttKey: bool(json, 'share_att_key', false),
    normRelEmbeddings: normRel.includes('layer_norm'),
    poolerAct: act(json, 'pooler_hidden_act', POOLER_ACTS),
    poolerDropout: probability(json, 'pooler_dropout', 0),
    classifierDropout: json.cls_dropout === undefined || json.cls_dropout === null ? hiddenDropout : probability(json, 'cls_dropout', 0),
  };
  return config;
}

// ------------------------------------------------------------------------------------------------ weights

export const DEBERTA = {
  words: 'deberta.embeddings.word_embeddings.weight',
  positions: 'deberta.embeddings.position_embeddings.weight',
  tokenTypes: 'deberta.embeddings.token_type_embeddings.weight',
  embedProj: 'deberta.embeddings.embed_proj.weight',
  embeddingNorm: 'deberta.embeddings.LayerNorm',
  relEmbeddings: 'deberta.encoder.rel_embeddings.weight',
  relNorm: 'deberta.encoder.LayerNorm',
  pooler: 'pooler.dense',
  classifier: 'classifier',
  layer: (layer: number) => `deberta.encoder.layer.${layer}`,
} as const;

/** The embedding matrices (trained by full fine-tuning only with trainEmbeddings). */
export function debertaEmbeddingNames(config: DebertaV2Config): string[] {
  return [DEBERTA.words, ...(config.positionBiasedInput ? [DEBERTA.positions] : []), ...(config.typeVocabSize > 0 ? [DEBERTA.tokenTypes] : [])];
}

export function debertaTargets(config: DebertaV2Config): LinearTarget[] {
  const targets: LinearTarget[] = [];
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const kind of MODULE_KINDS) {
      const inFeatures = kind === 'out' ? config.intermediateSize : config.hiddenSize;
      const outFeatures = kind === 'inter' ? config.intermediateSize : config.hiddenSize;
      targets.push({ layer, kind, path: `${DEBERTA.layer(layer)}.${FAMILIES['deberta-v2'].moduleSuffix[kind]}`, inFeatures, outFeatures });
    }
  }
  return targets;
}

/** Every tensor of DebertaV2ForSequenceClassification with its shape, for this config. */
export function debertaWeightShapes(config: DebertaV2Config): Map<string, number[]> {
  const h = config.hiddenSize;
  const e = config.embeddingSize;
  const shapes = new Map<string, number[]>();
  const norm = (prefix: string) => {
    shapes.set(`${prefix}.weight`, [h]);
    shapes.set(`${prefix}.bias`, [h]);
  };
  shapes.set(DEBERTA.words, [config.vocabSize, e]);
  if (config.positionBiasedInput) shapes.set(DEBERTA.positions, [config.maxPositions, e]);
  if (config.typeVocabSize > 0) shapes.set(DEBERTA.tokenTypes, [config.typeVocabSize, e]);
  if (e !== h) shapes.set(DEBERTA.embedProj, [h, e]);
  norm(DEBERTA.embeddingNorm);
  for (const target of debertaTargets(config)) {
    shapes.set(`${target.path}.weight`, [target.outFeatures, target.inFeatures]);
    shapes.set(`${target.path}.bias`, [target.outFeatures]);
    if (target.kind === 'key' && config.relativeAttention && !config.shareAttKey) {
      const self = `${DEBERTA.layer(target.layer)}.attention.self`;
      for (const [term, name] of [[config.c2p, 'pos_key_proj'], [config.p2c, 'pos_query_proj']] as const) {
        if (!term) continue;
        shapes.set(`${self}.${name}.weight`, [h, h]);
        shapes.set(`${self}.${name}.bias`, [h]);
      }
    }
    if (target.kind === 'attn_out') norm(`${DEBERTA.layer(target.layer)}.attention.output.LayerNorm`);
    if (target.kind === 'out') norm(`${DEBERTA.layer(target.layer)}.output.LayerNorm`);
  }
  if (config.relativeAttention) {
    shapes.set(DEBERTA.relEmbeddings, [2 * attentionSpan(config), h]);
    if (config.normRelEmbeddings) norm(DEBERTA.relNorm);
  }
  shapes.set(`${DEBERTA.pooler}.weight`, [h, h]);
  shapes.set(`${DEBERTA.pooler}.bias`, [h]);
  shapes.set(`${DEBERTA.classifier}.weight`, [config.numLabels, h]);
  shapes.set(`${DEBERTA.classifier}.bias`, [config.numLabels]);
  return shapes;
}

/** Seeded random weights for tests and benchmarks (as randomBertWeights: N(0, 0.02), LayerNorm weights near 1). */
export function randomDebertaWeights(config: DebertaV2Config, seed: number): StateDict {
  const weights: StateDict = new Map();
  for (const [name, shape] of debertaWeightShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Rng(mixSeed(seed, hashString(name))).normalArray(size, 0.02);
    if (name.includes('LayerNorm') && name.endsWith('.weight')) for (let i = 0; i < size; i++) data[i] += 1;
    weights.set(name, { shape, data });
  }
  return weights;
}

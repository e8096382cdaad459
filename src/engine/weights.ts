/** BERT state-dict names and shapes (PyTorch BertForSequenceClassification layout), and seeded random weights. */
import { Rng, hashString, mixSeed } from './random';
import { linearTargets, type BertConfig, type StateDict, type TensorData } from './types';

export const CLASSIFIER_WEIGHT = 'classifier.weight';
export const CLASSIFIER_BIAS = 'classifier.bias';
export const POOLER_WEIGHT = 'bert.pooler.dense.weight';
export const POOLER_BIAS = 'bert.pooler.dense.bias';

export const EMBEDDING_NAMES = [
  'bert.embeddings.word_embeddings.weight',
  'bert.embeddings.position_embeddings.weight',
  'bert.embeddings.token_type_embeddings.weight',
] as const;
export const EMBEDDING_LN_WEIGHT = 'bert.embeddings.LayerNorm.weight';
export const EMBEDDING_LN_BIAS = 'bert.embeddings.LayerNorm.bias';

export function attentionLayerNorm(layer: number): string {
  return `bert.encoder.layer.${layer}.attention.output.LayerNorm`;
}
export function outputLayerNorm(layer: number): string {
  return `bert.encoder.layer.${layer}.output.LayerNorm`;
}

/** Every tensor of BertForSequenceClassification with its shape. */
export function bertWeightShapes(config: BertConfig): Map<string, number[]> {
  const h = config.hiddenSize;
  const shapes = new Map<string, number[]>();
  shapes.set(EMBEDDING_NAMES[0], [config.vocabSize, h]);
  shapes.set(EMBEDDING_NAMES[1], [config.maxPositions, h]);
  shapes.set(EMBEDDING_NAMES[2], [config.typeVocabSize, h]);
  shapes.set(EMBEDDING_LN_WEIGHT, [h]);
  shapes.set(EMBEDDING_LN_BIAS, [h]);
  for (const target of linearTargets(config)) {
    shapes.set(`${target.path}.weight`, [target.outFeatures, target.inFeatures]);
    shapes.set(`${target.path}.bias`, [target.outFeatures]);
    if (target.kind === 'attn_out' || target.kind === 'out') {
      const ln = target.kind === 'attn_out' ? attentionLayerNorm(target.layer) : outputLayerNorm(target.layer);
      shapes.set(`${ln}.weight`, [h]);
      shapes.set(`${ln}.bias`, [h]);
    }
  }
  shapes.set(POOLER_WEIGHT, [h, h]);
  shapes.set(POOLER_BIAS, [h]);
  shapes.set(CLASSIFIER_WEIGHT, [config.numLabels, h]);
  shapes.set(CLASSIFIER_BIAS, [config.numLabels]);
  return shapes;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function isLayerNormName(name: string): boolean {
  return name.includes('LayerNorm');
}

/** Hugging Face's init of a fresh head: weight ~ N(0, 0.02), bias 0 (BertPreTrainedModel._init_weights). */
export function initHeadTensor(name: string, shape: number[], seed: number): TensorData {
  const size = sizeOf(shape);
  if (name.endsWith('.bias')) return { shape, data: new Float32Array(size) };
  return { shape, data: new Rng(mixSeed(seed, hashString(name))).normalArray(size, 0.02) };
}

/**
 * Seeded random weights for tests and benchmarks: N(0, 0.02) for matrices and biases (non-zero biases
 * exercise the bias paths), LayerNorm weight 1 + small noise.
 */
export function randomBertWeights(config: BertConfig, seed: number): StateDict {
  const weights: StateDict = new Map();
  for (const [name, shape] of bertWeightShapes(config)) {
    const rng = new Rng(mixSeed(seed, hashString(name)));
    const size = sizeOf(shape);
    const data = rng.normalArray(size, 0.02);
    if (isLayerNormName(name) && name.endsWith('.weight')) for (let i = 0; i < size; i++) data[i] += 1;
    weights.set(name, { shape, data });
  }
  return weights;
}

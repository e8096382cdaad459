/** State-dict names and shapes of each family's *ForSequenceClassification (PyTorch layout), and seeded random weights. */
import { debertaWeightShapes, isDebertaV2Config } from './deberta/config';
import { FAMILIES, type FamilyId } from './families';
import { Rng, hashString, mixSeed } from './random';
import { linearTargets, type BertConfig, type StateDict, type TensorData } from './types';

/** BERT's names (tests and the built-in model use them; other families: families.ts). */
export const CLASSIFIER_WEIGHT = 'classifier.weight';
export const CLASSIFIER_BIAS = 'classifier.bias';
export const POOLER_WEIGHT = 'bert.pooler.dense.weight';
export const POOLER_BIAS = 'bert.pooler.dense.bias';

/** The embedding matrices of a config's family (word, position, token type when it has them): frozen unless trainEmbeddings. */
export function embeddingMatrixNames(config: BertConfig): string[] {
  const { word, position, tokenType } = FAMILIES[config.family].embeddings;
  return [word, position, ...(tokenType ? [tokenType] : [])].map((module) => `${module}.weight`);
}

/** The LayerNorm after a layer's attention block / after its feed-forward block (module path). */
export function attentionLayerNorm(layer: number, family: FamilyId = 'bert'): string {
  return `${FAMILIES[family].layerPrefix(layer)}.${FAMILIES[family].attentionNorm}`;
}
export function outputLayerNorm(layer: number, family: FamilyId = 'bert'): string {
  return `${FAMILIES[family].layerPrefix(layer)}.${FAMILIES[family].outputNorm}`;
}

/** The head's linears, [out, in] by module path, in forward order (the last writes the logits). */
export function headLinears(config: BertConfig): [string, number[]][] {
  const family = FAMILIES[config.family];
  const h = config.hiddenSize;
  const logits: [string, number[]] = [family.logitsModule, [config.numLabels, h]];
  switch (family.head) {
    case 'pooler':
      return [['bert.pooler.dense', [h, h]], logits];
    case 'pre_classifier':
      return [['pre_classifier', [h, h]], logits];
    case 'context_pooler':
      return [['pooler.dense', [h, h]], logits];
    case 'dense_tanh':
    case 'dense_gelu':
      return [['classifier.dense', [h, h]], logits];
  }
}

/** A name of the task head (trained, initialised fresh when missing) in this config's family. */
export function isHeadWeight(config: BertConfig, name: string): boolean {
  return FAMILIES[config.family].headModules.some((module) => name.startsWith(`${module}.`));
}

/** A frozen base weight the checkpoint may lack (BERT's pooler): initialised fresh, with a warning. */
export function isOptionalWeight(config: BertConfig, name: string): boolean {
  return FAMILIES[config.family].optionalModules.some((module) => name.startsWith(`${module}.`));
}

/** Every tensor of the family's *ForSequenceClassification with its shape (the name stays from BERT-only days). */
export function bertWeightShapes(config: BertConfig): Map<string, number[]> {
  if (isDebertaV2Config(config)) return debertaWeightShapes(config);
  const family = FAMILIES[config.family];
  const { word, position, tokenType, norm, project } = family.embeddings;
  const h = config.hiddenSize;
  const e = config.embeddingSize;
  const shapes = new Map<string, number[]>();
  shapes.set(`${word}.weight`, [config.vocabSize, e]);
  shapes.set(`${position}.weight`, [config.maxPositions, e]);
  if (tokenType) shapes.set(`${tokenType}.weight`, [config.typeVocabSize, e]);
  shapes.set(`${norm}.weight`, [e]);
  shapes.set(`${norm}.bias`, [e]);
  if (project && e !== h) {
    shapes.set(`${project}.weight`, [h, e]);
    shapes.set(`${project}.bias`, [h]);
  }
  for (const target of linearTargets(config)) {
    shapes.set(`${target.path}.weight`, [target.outFeatures, target.inFeatures]);
    shapes.set(`${target.path}.bias`, [target.outFeatures]);
    if (target.kind === 'attn_out' || target.kind === 'out') {
      const ln = target.kind === 'attn_out' ? attentionLayerNorm(target.layer, config.family) : outputLayerNorm(target.layer, config.family);
      shapes.set(`${ln}.weight`, [h]);
      shapes.set(`${ln}.bias`, [h]);
    }
  }
  for (const [module, shape] of headLinears(config)) {
    shapes.set(`${module}.weight`, shape);
    shapes.set(`${module}.bias`, [shape[0]]);
  }
  return shapes;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** LayerNorm parameters in every family's spelling (`LayerNorm`, DistilBERT's `sa_layer_norm` / `output_layer_norm`). */
export function isLayerNormName(name: string): boolean {
  return name.includes('LayerNorm') || name.includes('layer_norm');
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

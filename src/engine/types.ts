/** Shared, tensor-free types of the engine: model config, adapted linears, plain tensor data. */

export type HiddenAct = 'gelu' | 'gelu_new' | 'relu';

/** A BERT-family encoder, from a Hugging Face config.json (see parseBertConfig). */
export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenAct: HiddenAct;
  hiddenDropout: number;
  attentionDropout: number;
  /** 1 = regression (MSE), otherwise classification (cross-entropy). */
  numLabels: number;
  padTokenId: number;
}

/** The six linear layers of a BERT layer that adapters may wrap. */
export const MODULE_KINDS = ['query', 'key', 'value', 'attn_out', 'inter', 'out'] as const;
export type ModuleKind = (typeof MODULE_KINDS)[number];

/** PyTorch module path of each kind inside `bert.encoder.layer.{i}`. */
export const MODULE_SUFFIX: Record<ModuleKind, string> = {
  query: 'attention.self.query',
  key: 'attention.self.key',
  value: 'attention.self.value',
  attn_out: 'attention.output.dense',
  inter: 'intermediate.dense',
  out: 'output.dense',
};

export const FFN_KINDS: readonly ModuleKind[] = ['inter', 'out'];
export const ATTENTION_KINDS: readonly ModuleKind[] = ['query', 'key', 'value', 'attn_out'];

export function modulePath(layer: number, kind: ModuleKind): string {
  return `bert.encoder.layer.${layer}.${MODULE_SUFFIX[kind]}`;
}

/** One adaptable linear layer W0: in -> out (PyTorch weight layout [out, in]). */
export interface LinearTarget {
  layer: number;
  kind: ModuleKind;
  /** e.g. `bert.encoder.layer.0.intermediate.dense` */
  path: string;
  inFeatures: number;
  outFeatures: number;
}

export function linearTargets(config: BertConfig): LinearTarget[] {
  const targets: LinearTarget[] = [];
  const h = config.hiddenSize;
  const ffn = config.intermediateSize;
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const kind of MODULE_KINDS) {
      const inFeatures = kind === 'out' ? ffn : h;
      const outFeatures = kind === 'inter' ? ffn : h;
      targets.push({ layer, kind, path: modulePath(layer, kind), inFeatures, outFeatures });
    }
  }
  return targets;
}

/** Tokenised examples, row-major [count, seqLen]: what io's encoder returns and the Trainer takes. */
export interface EncodedExamples {
  count: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** 1 = real token, 0 = padding. */
  attentionMask: Int32Array | Uint8Array;
  /** Class index (classification) or target value (regression), one per example. */
  labels: ArrayLike<number>;
}

/** Plain tensor data (no TF.js): what io reads and writes and what crosses the worker boundary. */
export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** Tensors by PyTorch name, e.g. `bert.encoder.layer.0.attention.self.query.weight`. */
export type StateDict = Map<string, TensorData>;

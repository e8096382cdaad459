/** Shared, tensor-free types of the engine: model config, adapted linears, plain tensor data. */
import { FAMILIES, familyModulePath, type FamilyId } from './families';

export type HiddenAct = 'gelu' | 'gelu_new' | 'relu';

/** A BERT-family encoder (BERT, DistilBERT, RoBERTa, ELECTRA: families.ts), from a Hugging Face config.json (see parseBertConfig). */
export interface BertConfig {
  /** Which layout the weights, the forward and the tokenizer follow. */
  family: FamilyId;
  vocabSize: number;
  /** Width of the embedding tables: hiddenSize except in ELECTRA (embedding_size, projected to hiddenSize). */
  embeddingSize: number;
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
  /** Dropout inside the classification head (classifier_dropout, else the hidden dropout; DistilBERT: seq_classif_dropout). */
  classifierDropout: number;
  /** 1 = regression (MSE), otherwise classification (cross-entropy). */
  numLabels: number;
  padTokenId: number;
}

/** The six linear layers of an encoder layer that adapters may wrap (every family maps its own names onto them). */
export const MODULE_KINDS = ['query', 'key', 'value', 'attn_out', 'inter', 'out'] as const;
export type ModuleKind = (typeof MODULE_KINDS)[number];


export const FFN_KINDS: readonly ModuleKind[] = ['inter', 'out'];
export const ATTENTION_KINDS: readonly ModuleKind[] = ['query', 'key', 'value', 'attn_out'];

/** PyTorch module path of a linear, e.g. `bert.encoder.layer.0.intermediate.dense` (BERT unless a family is given). */
export function modulePath(layer: number, kind: ModuleKind, family: FamilyId = 'bert'): string {
  return familyModulePath(FAMILIES[family], layer, kind);
}

/** One adaptable linear layer W0: in -> out (PyTorch weight layout [out, in]). */
export interface LinearTarget {
  layer: number;
  kind: ModuleKind;
  /** e.g. `bert.encoder.layer.0.intermediate.dense`, `distilbert.transformer.layer.0.ffn.lin1` */
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
      targets.push({ layer, kind, path: modulePath(layer, kind, config.family), inFeatures, outFeatures });
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

/**
 * Model families: every encoder architecture the engine runs, described as data (config.json keys, state-dict
 * names, where dropout sits, which head) so that the config parser, the model, the checkpoint loader, the methods
 * and the PEFT export read one description. Every family maps its encoder linears onto the same six roles
 * (types.ts MODULE_KINDS), so every method, the Fig-5 heatmap and the rank heatmap work unchanged.
 * Tensor-free: io and the worker read it too.
 *
 * Adding a family = one FamilyLayout here (+ its config keys in config.ts, its forward differences in model.ts
 * where the layout's flags cannot say them, its tokenizer in io/tokenizer).
 */
import type { BertConfig, ModuleKind } from './types';

export const FAMILY_IDS = ['bert', 'distilbert', 'roberta', 'electra', 'deberta-v2'] as const;
export type FamilyId = (typeof FAMILY_IDS)[number];

/** What sits between the encoder's first token and the logits (HF's *ForSequenceClassification). */
export type HeadKind =
  /** BERT: tanh(pooler.dense(h[CLS])) -> dropout -> classifier. The pooler is base weight (frozen like the encoder). */
  | 'pooler'
  /** DistilBERT: relu(pre_classifier(h[CLS])) -> dropout -> classifier. */
  | 'pre_classifier'
  /** RoBERTa: dropout -> classifier.dense -> tanh -> dropout -> classifier.out_proj. */
  | 'dense_tanh'
  /** ELECTRA: as RoBERTa with exact GELU in place of tanh (ElectraClassificationHead). */
  | 'dense_gelu'
  /** DeBERTa-v2/v3: ContextPooler (dropout -> pooler.dense -> act) -> dropout -> classifier (engine/deberta runs it). */
  | 'context_pooler';

export type TokenizerKind = 'wordpiece' | 'bpe' | 'unigram';

export interface FamilyLayout {
  id: FamilyId;
  /** How people write it: "DistilBERT". */
  label: string;
  /** config.json model_type values of this family. */
  modelTypes: readonly string[];
  /** The base model's attribute in *ForSequenceClassification (HF base_model_prefix): `bert`, `distilbert`, ... */
  root: string;
  /** Module path of encoder layer i, e.g. `bert.encoder.layer.3`. */
  layerPrefix(layer: number): string;
  /** The six adapted linears under a layer. */
  moduleSuffix: Readonly<Record<ModuleKind, string>>;
  /** LayerNorm after self-attention / after the feed-forward block, under a layer. */
  attentionNorm: string;
  outputNorm: string;
  /** Dropout on the attention output projection (BertSelfOutput has one; DistilBERT's attention has none). */
  attentionOutputDropout: boolean;
  embeddings: {
    word: string;
    position: string;
    /** null: the family has no token types (DistilBERT). */
    tokenType: string | null;
    /** LayerNorm module path. */
    norm: string;
    /** ELECTRA's embeddings_project (embedding_size -> hidden_size), present when the two differ. */
    project: string | null;
  };
  /** 'padding_offset': RoBERTa's positions, padding_idx + 1 + index among the non-pad tokens; pads get padding_idx. */
  positions: 'absolute' | 'padding_offset';
  head: HeadKind;
  /** Module paths of the task head: always trained (classifier lr), initialised fresh when missing, PEFT modules_to_save. */
  headModules: readonly string[];
  /** The linear that writes the logits [numLabels, hidden]. */
  logitsModule: string;
  /** Frozen base modules a checkpoint may lack (BERT's pooler in MLM-only exports): initialised fresh, with a warning. */
  optionalModules: readonly string[];
  tokenizer: TokenizerKind;
  /** A small checkpoint to name in messages. */
  example: string;
}

const BERT_SUFFIX: Record<ModuleKind, string> = {
  query: 'attention.self.query',
  key: 'attention.self.key',
  value: 'attention.self.value',
  attn_out: 'attention.output.dense',
  inter: 'intermediate.dense',
  out: 'output.dense',
};

/** BERT's module layout under another root (RoBERTa and ELECTRA copy BERT's encoder). */
function bertBody(root: string): Pick<FamilyLayout, 'root' | 'layerPrefix' | 'moduleSuffix' | 'attentionNorm' | 'outputNorm' | 'attentionOutputDropout'> {
  return {
    root,
    layerPrefix: (layer) => `${root}.encoder.layer.${layer}`,
    moduleSuffix: BERT_SUFFIX,
    attentionNorm: 'attention.output.LayerNorm',
    outputNorm: 'output.LayerNorm',
    attentionOutputDropout: true,
  };
}

function bertEmbeddings(root: string, project: string | null = null): FamilyLayout['embeddings'] {
  return {
    word: `${root}.embeddings.word_embeddings`,
    position: `${root}.embeddings.position_embeddings`,
    tokenType: `${root}.embeddings.token_type_embeddings`,
    norm: `${root}.embeddings.LayerNorm`,
    project,
  };
}

export const FAMILIES: Readonly<Record<FamilyId, FamilyLayout>> = {
  bert: {
    id: 'bert',
    label: 'BERT',
    modelTypes: ['bert'],
    ...bertBody('bert'),
    embeddings: bertEmbeddings('bert'),
    positions: 'absolute',
    head: 'pooler',
    headModules: ['classifier'],
    logitsModule: 'classifier',
    optionalModules: ['bert.pooler.dense'],
    tokenizer: 'wordpiece',
    example: 'prajjwal1/bert-mini',
  },
  distilbert: {
    id: 'distilbert',
    label: 'DistilBERT',
    modelTypes: ['distilbert'],
    root: 'distilbert',
    layerPrefix: (layer) => `distilbert.transformer.layer.${layer}`,
    moduleSuffix: {
      query: 'attention.q_lin',
      key: 'attention.k_lin',
      value: 'attention.v_lin',
      attn_out: 'attention.out_lin',
      inter: 'ffn.lin1',
      out: 'ffn.lin2',
    },
    attentionNorm: 'sa_layer_norm',
    outputNorm: 'output_layer_norm',
    attentionOutputDropout: false,
    embeddings: {
      word: 'distilbert.embeddings.word_embeddings',
      position: 'distilbert.embeddings.position_embeddings',
      tokenType: null,
      norm: 'distilbert.embeddings.LayerNorm',
      project: null,
    },
    positions: 'absolute',
    head: 'pre_classifier',
    // pre_classifier is new in every base checkpoint: frozen at its random init it would only scramble the features.
    headModules: ['pre_classifier', 'classifier'],
    logitsModule: 'classifier',
    optionalModules: [],
    tokenizer: 'wordpiece',
    example: 'distilbert/distilbert-base-uncased',
  },
  roberta: {
    id: 'roberta',
    label: 'RoBERTa',
    modelTypes: ['roberta'],
    ...bertBody('roberta'),
    embeddings: bertEmbeddings('roberta'),
    positions: 'padding_offset',
    head: 'dense_tanh',
    headModules: ['classifier'],
    logitsModule: 'classifier.out_proj',
    optionalModules: [],
    tokenizer: 'bpe',
    example: 'FacebookAI/roberta-base',
  },
  electra: {
    id: 'electra',
    label: 'ELECTRA',
    modelTypes: ['electra'],
    ...bertBody('electra'),
    embeddings: bertEmbeddings('electra', 'electra.embeddings_project'),
    positions: 'absolute',
    head: 'dense_gelu',
    headModules: ['classifier'],
    logitsModule: 'classifier.out_proj',
    optionalModules: [],
    tokenizer: 'wordpiece',
    example: 'google/electra-small-discriminator',
  },
  // Names only: the disentangled attention, its shapes and its forward are engine/deberta's (DebertaV2Model).
  'deberta-v2': {
    id: 'deberta-v2',
    label: 'DeBERTa-v2/v3',
    modelTypes: ['deberta-v2'],
    root: 'deberta',
    layerPrefix: (layer) => `deberta.encoder.layer.${layer}`,
    moduleSuffix: {
      query: 'attention.self.query_proj',
      key: 'attention.self.key_proj',
      value: 'attention.self.value_proj',
      attn_out: 'attention.output.dense',
      inter: 'intermediate.dense',
      out: 'output.dense',
    },
    attentionNorm: 'attention.output.LayerNorm',
    outputNorm: 'output.LayerNorm',
    attentionOutputDropout: true,
    embeddings: {
      word: 'deberta.embeddings.word_embeddings',
      position: 'deberta.embeddings.position_embeddings',
      tokenType: 'deberta.embeddings.token_type_embeddings',
      norm: 'deberta.embeddings.LayerNorm',
      project: 'deberta.embeddings.embed_proj',
    },
    positions: 'absolute',
    head: 'context_pooler',
    // The ContextPooler stays frozen, as in the official AFLoRA runs (PEFT modules_to_save ["classifier"]) and
    // DebertaV2Model; deberta-v3 checkpoints (LM-pretrained) lack it, so it is drawn fresh like BERT's MLM-only pooler.
    headModules: ['classifier'],
    logitsModule: 'classifier',
    optionalModules: ['pooler'],
    tokenizer: 'unigram',
    example: 'microsoft/deberta-v3-xsmall',
  },
};

/** The family of a config.json model_type, or null when no family reads it. */
export function familyOfModelType(modelType: string): FamilyLayout | null {
  return Object.values(FAMILIES).find((family) => family.modelTypes.includes(modelType)) ?? null;
}

/** "BERT (bert), DistilBERT (distilbert), ...": for messages that name what is supported. */
export function supportedFamiliesText(): string {
  return Object.values(FAMILIES)
    .map((family) => `${family.label} (${family.modelTypes.map((t) => `"${t}"`).join(', ')})`)
    .join(', ');
}

/** Module path of one adapted linear, e.g. `distilbert.transformer.layer.0.attention.q_lin`. */
export function familyModulePath(family: FamilyLayout, layer: number, kind: ModuleKind): string {
  return `${family.layerPrefix(layer)}.${family.moduleSuffix[kind]}`;
}

/** Which family, layer and role an encoder linear's path is (any family), or null for anything else. */
export function parseModulePath(path: string): { family: FamilyId; layer: number; kind: ModuleKind } | null {
  for (const family of Object.values(FAMILIES)) {
    const prefix = family.layerPrefix(0).replace(/0$/, '');
    if (!path.startsWith(prefix)) continue;
    const match = /^(\d+)\.(.+)$/.exec(path.slice(prefix.length));
    if (!match) continue;
    const kind = (Object.keys(family.moduleSuffix) as ModuleKind[]).find((k) => family.moduleSuffix[k] === match[2]);
    if (kind) return { family: family.id, layer: Number(match[1]), kind };
  }
  return null;
}

/**
 * What a PEFT file may carry whole (modules_to_save): the task head, and the optional base modules, which a
 * state holds only when the engine initialised them (BERT's pooler of an MLM-only checkpoint): PEFT would draw its own.
 */
function savedModules(family: FamilyLayout): readonly string[] {
  return [...family.headModules, ...family.optionalModules];
}

/** A state-dict name of any family's task head (`classifier.*`, `pre_classifier.*`, `pooler.*`) or optional base module
 * (`bert.pooler.dense.*`): what PEFT's modules_to_save holds. */
export function isHeadName(name: string): boolean {
  return Object.values(FAMILIES).some((family) => savedModules(family).some((module) => name.startsWith(`${module}.`)));
}

/** The modules among the names given that PEFT's modules_to_save lists (isHeadName's), sorted. */
export function headModulesOf(names: Iterable<string>): string[] {
  const present = new Set<string>();
  for (const name of names) {
    for (const family of Object.values(FAMILIES)) {
      for (const module of savedModules(family)) if (name.startsWith(`${module}.`)) present.add(module);
    }
  }
  return [...present].sort();
}

/** The logits linear's weight among a head's tensors (any family): its rows are the label count. */
export function logitsWeightName(names: Iterable<string>): string | null {
  const all = new Set(names);
  // Longest module first: `classifier.out_proj.weight` before `classifier.weight`.
  const candidates = [...new Set(Object.values(FAMILIES).map((f) => f.logitsModule))].sort((a, b) => b.length - a.length);
  for (const module of candidates) if (all.has(`${module}.weight`)) return `${module}.weight`;
  return null;
}

/** The longest input the position table allows: RoBERTa's first position is padding_idx + 1 (514 rows -> 512 tokens). */
export function maxSequenceLength(config: BertConfig): number {
  return FAMILIES[config.family].positions === 'padding_offset' ? config.maxPositions - config.padTokenId - 1 : config.maxPositions;
}

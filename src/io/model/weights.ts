/**
 * Renames checkpoint tensors to BertForSequenceClassification names and checks them against the config:
 * accepts BertModel (no `bert.` prefix), BertForMaskedLM / BertForPreTraining (cls.* heads dropped),
 * and TF-converted LayerNorm `gamma`/`beta` names.
 */
import { bertWeightShapes, CLASSIFIER_BIAS, CLASSIFIER_WEIGHT, POOLER_BIAS, POOLER_WEIGHT } from '../../engine/weights';
import { InputError } from '../../engine/errors';
import type { BertConfig, StateDict } from '../../engine/types';

export interface NormalizedWeights {
  weights: StateDict;
  /** Tensors the engine must initialise itself (classifier head, and the pooler of MLM-only checkpoints). */
  missing: string[];
  /** Checkpoint tensors that were dropped (MLM/NSP heads, buffers, unknown names). */
  dropped: string[];
  warnings: string[];
}

const ENCODER_ROOTS = ['embeddings.', 'encoder.', 'pooler.'];
/** Heads and buffers of pre-training checkpoints that a classifier does not use. */
const DROPPED_PREFIXES = ['cls.', 'bert.embeddings.position_ids', 'bert.embeddings.token_type_ids'];

export function canonicalName(name: string): string {
  let out = name;
  // DataParallel / some converters wrap everything once more.
  if (out.startsWith('module.')) out = out.slice('module.'.length);
  if (ENCODER_ROOTS.some((root) => out.startsWith(root))) out = `bert.${out}`;
  out = out.replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight').replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
  return out;
}

const NOT_THIS_CONFIG = 'The weights and config.json must come from the same model: pick both from one repo or folder.';

/**
 * A checkpoint's tensor names and shapes (its header: safetensors JSON or the pickle's sizes) against the config,
 * before any tensor data is read: the first tensor whose shape the config contradicts is named. Head tensors for
 * another label count are fine (they are replaced); names this model does not use are left to normalizeBertWeights.
 */
export function checkBertHeader(header: ReadonlyMap<string, { shape: readonly number[] }>, config: BertConfig, fileName: string, expected = bertWeightShapes(config)): void {
  for (const [rawName, { shape }] of header) {
    const name = canonicalName(rawName);
    const want = expected.get(name);
    if (!want || name === CLASSIFIER_WEIGHT || name === CLASSIFIER_BIAS || DROPPED_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    if (want.length !== shape.length || want.some((d, i) => d !== shape[i])) {
      throw new InputError(`${fileName}: tensor "${rawName}" has shape [${shape.join(', ')}] but config.json implies [${want.join(', ')}]: the weights do not belong to this config.`, NOT_THIS_CONFIG);
    }
  }
}

export function normalizeBertWeights(checkpoint: StateDict, config: BertConfig, fileName: string): NormalizedWeights {
  const expected = bertWeightShapes(config);
  checkBertHeader(checkpoint, config, fileName, expected);
  const weights: StateDict = new Map();
  const dropped: string[] = [];
  for (const [rawName, tensor] of checkpoint) {
    const name = canonicalName(rawName);
    if (DROPPED_PREFIXES.some((prefix) => name.startsWith(prefix)) || !expected.has(name)) {
      dropped.push(rawName);
      continue;
    }
    const shape = expected.get(name)!;
    // A fine-tuned head for another label count is replaced, not an error (checkBertHeader let it through).
    if (shape.length !== tensor.shape.length || shape.some((d, i) => d !== tensor.shape[i])) {
      dropped.push(rawName);
      continue;
    }
    weights.set(name, tensor);
  }
  const optional = new Set([CLASSIFIER_WEIGHT, CLASSIFIER_BIAS, POOLER_WEIGHT, POOLER_BIAS]);
  const missing = [...expected.keys()].filter((name) => !weights.has(name));
  const missingRequired = missing.filter((name) => !optional.has(name));
  if (missingRequired.length > 0) {
    const sample = missingRequired.slice(0, 4).join(', ');
    throw new InputError(
      `${fileName}: ${missingRequired.length} BERT tensor(s) missing, e.g. ${sample}.`,
      'Is this a BERT checkpoint (BertModel / BertForMaskedLM / BertForSequenceClassification)? Pick one with config.json model_type "bert".',
    );
  }
  const warnings: string[] = [];
  if (!weights.has(POOLER_WEIGHT)) warnings.push('The checkpoint has no pooler (MLM-only export); it starts from random weights.');
  return { weights, missing, dropped, warnings };
}

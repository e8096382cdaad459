/**
 * Renames checkpoint tensors to the family's *ForSequenceClassification names and checks them against the config:
 * accepts bare base models (BertModel, DistilBertModel, ...: no root prefix), MLM / pre-training / ELECTRA
 * discriminator checkpoints (their heads dropped), and TF-converted LayerNorm `gamma`/`beta` names.
 */
import { FAMILIES } from '../../engine/families';
import { bertWeightShapes, isHeadWeight, isOptionalWeight } from '../../engine/weights';
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

/** Top-level modules of a bare base model (BertModel, DistilBertModel, ...): the family's root goes in front. */
const BASE_MODEL_ROOTS = ['embeddings.', 'encoder.', 'pooler.', 'transformer.', 'embeddings_project.'];
/** Buffers that some checkpoints store and no family reads. */
const BUFFER_SUFFIXES = ['.position_ids', '.token_type_ids'];

/** A checkpoint tensor's name in the family's *ForSequenceClassification layout. */
export function canonicalName(name: string, config: BertConfig): string {
  let out = name;
  // DataParallel / some converters wrap everything once more.
  if (out.startsWith('module.')) out = out.slice('module.'.length);
  const family = FAMILIES[config.family];
  // DeBERTa's ContextPooler is a top-level module (`pooler.dense`), not the base model's pooler.
  const isTopLevel = [...family.headModules, ...family.optionalModules].some((module) => out.startsWith(`${module}.`));
  if (!isTopLevel && BASE_MODEL_ROOTS.some((root) => out.startsWith(root))) out = `${family.root}.${out}`;
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
    const name = canonicalName(rawName, config);
    const want = expected.get(name);
    if (!want || isHeadWeight(config, name) || BUFFER_SUFFIXES.some((suffix) => name.endsWith(suffix))) continue;
    if (want.length !== shape.length || want.some((d, i) => d !== shape[i])) {
      throw new InputError(`${fileName}: tensor "${rawName}" has shape [${shape.join(', ')}] but config.json implies [${want.join(', ')}]: the weights do not belong to this config.`, NOT_THIS_CONFIG);
    }
  }
}

/**
 * Renames a checkpoint's tensors to the family's layout and checks them against the config. Anything the model
 * does not read (MLM / NSP / discriminator heads, buffers) is dropped and listed.
 */
export function normalizeBertWeights(checkpoint: StateDict, config: BertConfig, fileName: string): NormalizedWeights {
  const family = FAMILIES[config.family];
  const expected = bertWeightShapes(config);
  checkBertHeader(checkpoint, config, fileName, expected);
  const weights: StateDict = new Map();
  const dropped: string[] = [];
  for (const [rawName, tensor] of checkpoint) {
    const name = canonicalName(rawName, config);
    if (BUFFER_SUFFIXES.some((suffix) => name.endsWith(suffix)) || !expected.has(name)) {
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
  const missing = [...expected.keys()].filter((name) => !weights.has(name));
  const missingRequired = missing.filter((name) => !isHeadWeight(config, name) && !isOptionalWeight(config, name));
  if (missingRequired.length > 0) {
    const sample = missingRequired.slice(0, 4).join(', ');
    throw new InputError(
      `${fileName}: ${missingRequired.length} ${family.label} tensor(s) missing, e.g. ${sample}.`,
      `Is this a ${family.label} checkpoint (its base model, masked-LM or sequence-classification weights), as config.json model_type says?`,
    );
  }
  const warnings: string[] = [];
  const freshBase = missing.filter((name) => isOptionalWeight(config, name));
  if (freshBase.length > 0) warnings.push('The checkpoint has no pooler (an MLM- or LM-only export); it starts from seeded random weights and stays frozen.');
  return { weights, missing, dropped, warnings };
}

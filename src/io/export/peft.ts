/**
 * PEFT LoRA adapter export (loadable with peft.PeftModel.from_pretrained on BertForSequenceClassification).
 *
 * Key names follow PEFT's saved format (get_peft_model_state_dict drops the adapter name and the
 * modules_to_save wrapper): `base_model.model.<module>.lora_A.weight` [r, in],
 * `base_model.model.<module>.lora_B.weight` [out, r], `base_model.model.classifier.weight|bias`.
 *
 * AFLoRA / ELoRA modules y = W0 x + Λb ⊙ (B (Λd ⊙ (A x))) are folded exactly into plain LoRA:
 * A' = A, B' = diag(Λb) · B · diag(Λd), lora_alpha = r (scaling 1).
 */
import type { StateDict, TensorData } from '../../engine/types';
import { parseSafetensors, toStateDict, writeSafetensors } from '../safetensors';

const PREFIX = 'base_model.model.';
export const CLASSIFIER_NAMES = ['classifier.weight', 'classifier.bias'] as const;

export interface PeftExportInput {
  /** Method variables (`<modulePath>.lora_A|lora_B|lambda_d|lambda_b`) plus classifier.weight/bias. */
  variables: StateDict;
  /** Hub id or name of the base checkpoint, written to base_model_name_or_path. */
  baseModel: string;
  /** Plain LoRA only: its alpha (scaling alpha / r). Ignored when Λ vectors are folded (alpha = r). */
  loraAlpha?: number;
}

export interface PeftAdapter {
  config: Record<string, unknown>;
  /** PEFT key -> tensor. */
  tensors: StateDict;
  files: { 'adapter_config.json': string; 'adapter_model.safetensors': Uint8Array };
}

function get(variables: StateDict, name: string): TensorData {
  const t = variables.get(name);
  if (!t) throw new Error(`PEFT export: variable ${name} is missing`);
  return t;
}

/** B' = diag(Λb) · B · diag(Λd). B: [out, r], Λb: [out], Λd: [r] -> [out, r]. */
export function foldLambdas(b: TensorData, lambdaB: TensorData, lambdaD: TensorData): TensorData {
  const [out, r] = b.shape;
  if (lambdaB.data.length !== out || lambdaD.data.length !== r) {
    throw new Error(`PEFT export: Λb [${lambdaB.shape}] / Λd [${lambdaD.shape}] do not fit B [${b.shape}]`);
  }
  const folded = new Float32Array(out * r);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < r; k++) folded[o * r + k] = lambdaB.data[o] * b.data[o * r + k] * lambdaD.data[k];
  }
  return { shape: [out, r], data: folded };
}

/** Adapted module paths, from the `<path>.lora_A` variables, in layer order. */
export function adaptedModules(variables: StateDict): string[] {
  return [...variables.keys()]
    .filter((name) => name.endsWith('.lora_A'))
    .map((name) => name.slice(0, -'.lora_A'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export function exportPeftAdapter(input: PeftExportInput): PeftAdapter {
  const { variables } = input;
  const modules = adaptedModules(variables);
  if (modules.length === 0) throw new Error('PEFT export: no `<module>.lora_A` variables: this method has no low-rank adapters');
  const tensors: StateDict = new Map();
  let rank: number | null = null;
  let folded = false;
  for (const path of modules) {
    const a = get(variables, `${path}.lora_A`);
    const b = get(variables, `${path}.lora_B`);
    const r = a.shape[0];
    if (b.shape[1] !== r) throw new Error(`PEFT export: ${path}: lora_B [${b.shape}] does not match lora_A [${a.shape}]`);
    if (rank !== null && r !== rank) throw new Error(`PEFT export: ranks differ between modules (${rank} and ${r} at ${path})`);
    rank = r;
    const lambdaD = variables.get(`${path}.lambda_d`);
    const lambdaB = variables.get(`${path}.lambda_b`);
    if ((lambdaD === undefined) !== (lambdaB === undefined)) throw new Error(`PEFT export: ${path} has only one of lambda_d / lambda_b`);
    let bOut = b;
    if (lambdaD && lambdaB) {
      bOut = foldLambdas(b, lambdaB, lambdaD);
      folded = true;
    }
    tensors.set(`${PREFIX}${path}.lora_A.weight`, { shape: [...a.shape], data: new Float32Array(a.data) });
    tensors.set(`${PREFIX}${path}.lora_B.weight`, bOut);
  }
  for (const name of CLASSIFIER_NAMES) {
    const t = get(variables, name);
    tensors.set(`${PREFIX}${name}`, { shape: [...t.shape], data: new Float32Array(t.data) });
  }
  const r = rank!;
  let loraAlpha: number;
  if (folded) {
    loraAlpha = r;
  } else {
    if (input.loraAlpha === undefined) throw new Error('PEFT export: plain LoRA needs its lora_alpha');
    loraAlpha = input.loraAlpha;
  }
  const config = {
    peft_type: 'LORA',
    task_type: 'SEQ_CLS',
    base_model_name_or_path: input.baseModel,
    r,
    lora_alpha: loraAlpha,
    lora_dropout: 0,
    // Full module paths: PEFT matches a target by equality or `.`-suffix, and the suffix "output.dense"
    // would also catch attention.output.dense.
    target_modules: modules,
    modules_to_save: ['classifier'],
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
  const configText = JSON.stringify(config, null, 2) + '\n';
  return {
    config,
    tensors,
    files: { 'adapter_config.json': configText, 'adapter_model.safetensors': writeSafetensors(tensors, { format: 'pt' }) },
  };
}

/** Reads a PEFT LoRA adapter back into method variable names (lora_A / lora_B / classifier) and its scaling. */
export function importPeftAdapter(configJson: string, safetensors: Uint8Array): { variables: StateDict; r: number; loraAlpha: number; baseModel: string | null } {
  const config = JSON.parse(configJson) as Record<string, unknown>;
  if (config.peft_type !== 'LORA') throw new Error(`adapter_config.json: peft_type ${String(config.peft_type)} is not LORA`);
  const variables: StateDict = new Map();
  for (const [key, tensor] of toStateDict(parseSafetensors(safetensors, 'adapter_model.safetensors').tensors)) {
    const name = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    const renamed = name.replace(/\.lora_([AB])\.weight$/, '.lora_$1').replace(/\.modules_to_save\.default\./, '.');
    variables.set(renamed, tensor);
  }
  return {
    variables,
    r: Number(config.r),
    loraAlpha: Number(config.lora_alpha),
    baseModel: typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : null,
  };
}

/** The inputs.json that scripts/reference/check_peft_export.py compares against ([n, seqLen] row-major ids). */
export function peftCheckInputs(input: {
  numLabels: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** [n, numLabels] row-major, the app's logits for these rows. */
  logits: Float32Array;
}): string {
  const rows = (data: ArrayLike<number>, width: number) =>
    Array.from({ length: data.length / width }, (_, i) => Array.from({ length: width }, (_, j) => data[i * width + j]));
  return JSON.stringify({
    num_labels: input.numLabels,
    input_ids: rows(input.inputIds, input.seqLen),
    token_type_ids: rows(input.tokenTypeIds, input.seqLen),
    attention_mask: rows(input.attentionMask, input.seqLen),
    logits: rows(input.logits, input.numLabels),
  });
}

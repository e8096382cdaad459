/**
 * PEFT adapter export (loadable with peft.PeftModel.from_pretrained on BertForSequenceClassification).
 *
 * Key names follow PEFT's saved format (get_peft_model_state_dict drops the adapter name and the
 * modules_to_save wrapper): `base_model.model.<module>.lora_A.weight` [r, in],
 * `base_model.model.<module>.lora_B.weight` [out, r], `base_model.model.<head>` for the family's task head
 * (`classifier.*`; DistilBERT also `pre_classifier.*`). Module paths are the family's own (families.ts).
 *
 * Three writers:
 * - exportPeftAdapter: one rank everywhere. AFLoRA / ELoRA modules y = W0 x + Λb ⊙ (B (Λd ⊙ (A x))) are folded
 *   exactly into plain LoRA: A' = A, B' = diag(Λb) · B · diag(Λd), lora_alpha = r (scaling 1).
 * - exportPeftRankPattern: a rank per module (IncreLoRA, ALoRA): PEFT LoRA with rank_pattern / alpha_pattern; the
 *   ranks that are off are dropped, a per-rank E folded into A, modules with no rank left out.
 * - exportPeftAdaLora: PEFT's own ADALORA format (lora_A / lora_E / lora_B resized by its rank_pattern).
 */
import { headModulesOf, isHeadName } from '../../engine/families';
import type { StateDict, TensorData } from '../../engine/types';
import { InputError } from '../../engine/errors';
import { parseJson } from '../json';
import { parseSafetensors, toStateDict, writeSafetensors } from '../safetensors';

const PREFIX = 'base_model.model.';

export interface PeftExportInput {
  /** Method variables (`<modulePath>.lora_A|lora_B|lambda_d|lambda_b`) plus the head (`classifier.*`, ...). */
  variables: StateDict;
  /** Hub id or name of the base checkpoint, written to base_model_name_or_path. */
  baseModel: string;
  /** Plain LoRA only: its alpha (scaling alpha / r). Ignored when Λ vectors are folded (alpha = r). */
  loraAlpha?: number;
  /** The run's adapter dropout (PEFT's lora_dropout): training-only, but PEFT resumes training with it. Default 0. */
  loraDropout?: number;
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
  if (modules.length === 0)
    throw new Error('PEFT export: no `<module>.lora_A` variables: this method has no low-rank adapters');
  const tensors: StateDict = new Map();
  let rank: number | null = null;
  let folded = false;
  for (const path of modules) {
    const a = get(variables, `${path}.lora_A`);
    const b = get(variables, `${path}.lora_B`);
    const r = a.shape[0];
    if (b.shape[1] !== r)
      throw new Error(`PEFT export: ${path}: lora_B [${b.shape}] does not match lora_A [${a.shape}]`);
    if (rank !== null && r !== rank)
      throw new Error(`PEFT export: ranks differ between modules (${rank} and ${r} at ${path})`);
    rank = r;
    const lambdaD = variables.get(`${path}.lambda_d`);
    const lambdaB = variables.get(`${path}.lambda_b`);
    if ((lambdaD === undefined) !== (lambdaB === undefined))
      throw new Error(`PEFT export: ${path} has only one of lambda_d / lambda_b`);
    let bOut = b;
    if (lambdaD && lambdaB) {
      bOut = foldLambdas(b, lambdaB, lambdaD);
      folded = true;
    }
    tensors.set(`${PREFIX}${path}.lora_A.weight`, { shape: [...a.shape], data: new Float32Array(a.data) });
    tensors.set(`${PREFIX}${path}.lora_B.weight`, bOut);
  }
  const head = copyHead(variables, tensors);
  const r = rank!;
  let loraAlpha: number;
  if (folded) {
    loraAlpha = r;
  } else {
    if (input.loraAlpha === undefined) throw new Error('PEFT export: plain LoRA needs its lora_alpha');
    loraAlpha = input.loraAlpha;
  }
  return adapterOf(
    { ...loraConfig(input.baseModel, modules, head, r, loraAlpha), lora_dropout: input.loraDropout ?? 0 },
    tensors,
  );
}

/** The task head's tensors under their PEFT names; returns its modules (PEFT modules_to_save). */
function copyHead(variables: StateDict, tensors: StateDict): string[] {
  const names = [...variables.keys()].filter(isHeadName);
  const modules = headModulesOf(names);
  if (!modules.includes('classifier')) throw new Error('PEFT export: variable classifier.weight is missing (the task head)');
  // Every head linear comes whole: weight and bias.
  for (const name of names) {
    const other = name.endsWith('.weight') ? name.replace(/\.weight$/, '.bias') : name.replace(/\.bias$/, '.weight');
    if (!variables.has(other)) throw new Error(`PEFT export: variable ${other} is missing`);
  }
  for (const name of names) {
    const t = variables.get(name)!;
    tensors.set(`${PREFIX}${name}`, { shape: [...t.shape], data: new Float32Array(t.data) });
  }
  return modules;
}

/** The LoRA config fields every writer shares. */
function sharedConfig(baseModel: string, modules: readonly string[], head: readonly string[]) {
  return {
    task_type: 'SEQ_CLS',
    base_model_name_or_path: baseModel,
    lora_dropout: 0,
    // Full module paths: PEFT matches a target by equality or `.`-suffix, and the suffix "output.dense"
    // would also catch attention.output.dense.
    target_modules: [...modules],
    modules_to_save: [...head],
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    revision: null,
  };
}

function loraConfig(
  baseModel: string,
  modules: readonly string[],
  head: readonly string[],
  r: number,
  loraAlpha: number,
  patterns: { rank: Record<string, number>; alpha: Record<string, number> } = { rank: {}, alpha: {} },
): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    ...sharedConfig(baseModel, modules, head),
    r,
    lora_alpha: loraAlpha,
    rank_pattern: patterns.rank,
    alpha_pattern: patterns.alpha,
  };
}

/**
 * The adapter with the run's class names as id2label / label2id in adapter_config.json (what transformers'
 * config carries; the app's import reads id2label back). Regression (no names): unchanged.
 */
export function withLabelNames(adapter: PeftAdapter, names: readonly string[]): PeftAdapter {
  if (names.length === 0) return adapter;
  const id2label = Object.fromEntries(names.map((name, i) => [String(i), name]));
  const label2id = Object.fromEntries(names.map((name, i) => [name, i]));
  return adapterOf({ ...adapter.config, id2label, label2id }, adapter.tensors, adapter.files['adapter_model.safetensors']);
}

function adapterOf(config: Record<string, unknown>, tensors: StateDict, weights?: Uint8Array): PeftAdapter {
  const configText = JSON.stringify(config, null, 2) + '\n';
  return {
    config,
    tensors,
    files: {
      'adapter_config.json': configText,
      'adapter_model.safetensors': weights ?? writeSafetensors(tensors, { format: 'pt' }),
    },
  };
}

/** One adapted linear of a method whose ranks are switched on and off (masks or gates) at a fixed maximum rank R. */
export interface RankModuleState {
  /** Module path, e.g. `bert.encoder.layer.0.attention.self.query`. */
  path: string;
  /** A [R, in]. */
  a: TensorData;
  /** B [out, R]. */
  b: TensorData;
  /** Per-rank factor [R] between A and B (E of the P Λ Q form): folded into A's rows. Absent: 1. */
  e?: TensorData;
  /** Length R: which ranks are in the adapter (gated-off or masked ones are dropped). */
  active: readonly boolean[];
  /** The module's output scale s: ΔW = s · Σ over active k of B[:, k] E[k] A[k, :]. */
  scale: number;
}

export interface RankPatternExportInput {
  modules: readonly RankModuleState[];
  /** The task head (`classifier.*`, ...; other entries are ignored). */
  head: StateDict;
  baseModel: string;
}

/** The rows of A [R, in] at `keep`, each times E[k] when given -> [keep.length, in]. */
function pickRows(a: TensorData, keep: readonly number[], e?: TensorData): TensorData {
  const inFeatures = a.shape[1];
  const out = new Float32Array(keep.length * inFeatures);
  keep.forEach((k, row) => {
    const factor = e ? e.data[k] : 1;
    for (let i = 0; i < inFeatures; i++) out[row * inFeatures + i] = a.data[k * inFeatures + i] * factor;
  });
  return { shape: [keep.length, inFeatures], data: out };
}

/** The columns of B [out, R] at `keep` -> [out, keep.length]. */
function pickColumns(b: TensorData, keep: readonly number[]): TensorData {
  const [out, rank] = b.shape;
  const data = new Float32Array(out * keep.length);
  for (let o = 0; o < out; o++)
    keep.forEach((k, col) => (data[o * keep.length + col] = b.data[o * rank + k]));
  return { shape: [out, keep.length], data };
}

function checkRankModule(m: RankModuleState): number {
  const rank = m.a.shape[0];
  const fits = m.b.shape[1] === rank && m.active.length === rank && (!m.e || m.e.data.length === rank);
  if (!fits) {
    throw new Error(
      `PEFT export: ${m.path}: A [${m.a.shape}], B [${m.b.shape}], E [${m.e?.shape ?? '-'}] and ${m.active.length} rank flags do not fit one rank`,
    );
  }
  if (!Number.isFinite(m.scale)) throw new Error(`PEFT export: ${m.path}: scale ${m.scale} is not a number`);
  return rank;
}

/**
 * PEFT LoRA with a rank per module: module m keeps its active ranks K_m (r_m = |K_m|), A' = diag(E_K) A[K],
 * B' = B[:, K], and lora_alpha_m = s_m r_m so that PEFT's scaling alpha_m / r_m is the module's own scale.
 * rank_pattern / alpha_pattern name every module by its full path; modules with no active rank are left out.
 */
export function exportPeftRankPattern(input: RankPatternExportInput): PeftAdapter {
  const tensors: StateDict = new Map();
  const rank: Record<string, number> = {};
  const alpha: Record<string, number> = {};
  const modules = [...input.modules].sort((x, y) => x.path.localeCompare(y.path, 'en', { numeric: true }));
  for (const m of modules) {
    checkRankModule(m);
    const keep = m.active.flatMap((on, k) => (on ? [k] : []));
    if (keep.length === 0) continue;
    tensors.set(`${PREFIX}${m.path}.lora_A.weight`, pickRows(m.a, keep, m.e));
    tensors.set(`${PREFIX}${m.path}.lora_B.weight`, pickColumns(m.b, keep));
    rank[m.path] = keep.length;
    alpha[m.path] = m.scale * keep.length;
  }
  const kept = Object.keys(rank);
  if (kept.length === 0) throw new Error('PEFT export: no module has an active rank: there is no adapter to export');
  const head = copyHead(input.head, tensors);
  // The defaults matter for no module (every one is in both patterns); r = the largest rank, scaling 1.
  const r = Math.max(...Object.values(rank));
  return adapterOf(loraConfig(input.baseModel, kept, head, r, r, { rank, alpha }), tensors);
}

/** PEFT AdaLoraConfig fields of a run (camelCase here, PEFT's names in the file). */
export interface AdaLoraSettings {
  initR: number;
  targetR: number;
  loraAlpha: number;
  tinit: number;
  tfinal: number;
  deltaT: number;
  beta1: number;
  beta2: number;
  orthRegWeight: number;
  /** The run's total optimizer steps (PEFT requires tinit < total_step - tfinal). */
  totalStep: number;
}

export interface AdaLoraExportInput {
  /** Every adapted module at init_r: A [R, in], B [out, R], E [R]; `active` = its row of the rank pattern. */
  modules: readonly Omit<RankModuleState, 'scale'>[];
  /** null: no allocation round ran yet (PEFT saves the full init_r then, rank_pattern null). */
  hasRankPattern: boolean;
  settings: AdaLoraSettings;
  head: StateDict;
  baseModel: string;
}

/**
 * PEFT's ADALORA adapter as AdaLoraModel.save_pretrained writes it: `<path>.lora_A` [r_m, in], `.lora_E` [r_m, 1],
 * `.lora_B` [out, r_m] (no `.weight`, the kept triplets only, r_m may be 0) and rank_pattern
 * `{ "<path>.lora_E": [init_r booleans] }`, which PEFT's loader uses to resize every module before loading.
 */
export function exportPeftAdaLora(input: AdaLoraExportInput): PeftAdapter {
  const { settings } = input;
  if (!(settings.tinit < settings.totalStep - settings.tfinal)) {
    throw new Error(
      `PEFT export: AdaLoRA needs tinit < total_step - tfinal (got ${settings.tinit}, ${settings.totalStep}, ${settings.tfinal})`,
    );
  }
  const tensors: StateDict = new Map();
  const rankPattern: Record<string, boolean[]> = {};
  const modules = [...input.modules].sort((x, y) => x.path.localeCompare(y.path, 'en', { numeric: true }));
  for (const m of modules) {
    const rank = checkRankModule({ ...m, scale: 1 });
    if (rank !== settings.initR)
      throw new Error(`PEFT export: ${m.path} has rank ${rank}, init_r is ${settings.initR}`);
    if (!m.e) throw new Error(`PEFT export: ${m.path} has no lora_E`);
    const active = input.hasRankPattern ? [...m.active] : new Array<boolean>(rank).fill(true);
    const keep = active.flatMap((on, k) => (on ? [k] : []));
    tensors.set(`${PREFIX}${m.path}.lora_A`, pickRows(m.a, keep));
    tensors.set(`${PREFIX}${m.path}.lora_B`, pickColumns(m.b, keep));
    tensors.set(`${PREFIX}${m.path}.lora_E`, {
      shape: [keep.length, 1],
      data: Float32Array.from(keep, (k) => m.e!.data[k]),
    });
    rankPattern[`${m.path}.lora_E`] = active;
  }
  if (modules.length === 0) throw new Error('PEFT export: no AdaLoRA modules');
  const head = copyHead(input.head, tensors);
  const config = {
    peft_type: 'ADALORA',
    ...sharedConfig(input.baseModel, modules.map((m) => m.path), head),
    // PEFT ignores r for AdaLoRA (init_r is the rank); its default 8 avoids the loader's warning.
    r: 8,
    lora_alpha: settings.loraAlpha,
    init_r: settings.initR,
    target_r: settings.targetR,
    tinit: settings.tinit,
    tfinal: settings.tfinal,
    deltaT: settings.deltaT,
    beta1: settings.beta1,
    beta2: settings.beta2,
    orth_reg_weight: settings.orthRegWeight,
    total_step: settings.totalStep,
    rank_pattern: input.hasRankPattern ? rankPattern : null,
    alpha_pattern: {},
  };
  return adapterOf(config, tensors);
}

const PEFT_HINT = 'Pick the adapter_config.json and adapter_model.safetensors that PEFT (or this app) wrote together.';

function bad(problem: string): never {
  throw new InputError(problem, PEFT_HINT);
}

function readPeftConfig(text: string): Record<string, unknown> {
  const config = parseJson(text, 'adapter_config.json', PEFT_HINT);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) bad('adapter_config.json is not a JSON object');
  return config as Record<string, unknown>;
}

/** Reads a PEFT LoRA adapter back into method variable names (lora_A / lora_B / classifier) and its scaling. */
export function importPeftAdapter(
  configJson: string,
  safetensors: Uint8Array,
): { variables: StateDict; r: number; loraAlpha: number; baseModel: string | null } {
  const config = readPeftConfig(configJson);
  if (config.peft_type !== 'LORA') bad(`adapter_config.json: peft_type ${JSON.stringify(config.peft_type ?? null)} is not LORA`);
  const variables: StateDict = new Map();
  for (const [key, tensor] of toStateDict(
    parseSafetensors(safetensors, 'adapter_model.safetensors').tensors,
  )) {
    const name = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    const renamed = name
      .replace(/\.lora_([AB])\.weight$/, '.lora_$1')
      .replace(/\.modules_to_save\.default\./, '.');
    variables.set(renamed, tensor);
  }
  return {
    variables,
    r: Number(config.r),
    loraAlpha: Number(config.lora_alpha),
    baseModel: typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : null,
  };
}

/** PEFT's get_pattern_key: the first pattern key that matches the end of `path` (keys are regexes there too). */
function patternValue<T>(pattern: unknown, path: string, fallback: T): T {
  if (!pattern || typeof pattern !== 'object') return fallback;
  for (const [key, value] of Object.entries(pattern as Record<string, T>)) {
    if (new RegExp(`^(.*\\.)?(${key})$`).test(path)) return value;
  }
  return fallback;
}

/**
 * What a LORA or ADALORA adapter file adds to each adapted linear, as PEFT computes it: ΔW [out, in] by module path
 * (LORA: alpha_m / r_m · B A with rank_pattern / alpha_pattern; ADALORA: lora_alpha / (init_r + 1e-5) · B (A ⊙ E),
 * PEFT keeping the pre-resize ranknum = init_r), plus the classifier. For checks: merge W0 + ΔW, no adapter code.
 */
export function peftDeltaWeights(
  configJson: string,
  safetensors: Uint8Array,
): { deltas: Map<string, TensorData>; head: StateDict } {
  const config = readPeftConfig(configJson);
  const type = config.peft_type;
  if (type !== 'LORA' && type !== 'ADALORA') bad(`adapter_config.json: peft_type ${JSON.stringify(type ?? null)} is neither LORA nor ADALORA`);
  const tensors = toStateDict(parseSafetensors(safetensors, 'adapter_model.safetensors').tensors);
  const suffix = type === 'LORA' ? '.weight' : '';
  const deltas = new Map<string, TensorData>();
  const head: StateDict = new Map();
  for (const [key, tensor] of tensors) {
    const name = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    if (isHeadName(name)) head.set(name, tensor);
    if (!name.endsWith(`.lora_A${suffix}`)) continue;
    const path = name.slice(0, -`.lora_A${suffix}`.length);
    const a = tensor;
    const b = tensors.get(`${PREFIX}${path}.lora_B${suffix}`);
    if (!b) bad(`adapter_model.safetensors: ${path} has lora_A but no lora_B`);
    const [rank, inFeatures] = a.shape;
    const out = b!.shape[0];
    if (a.shape.length !== 2 || b!.shape.length !== 2 || b!.shape[1] !== rank) {
      bad(`adapter_model.safetensors: ${path} has lora_A [${a.shape.join(', ')}] and lora_B [${b!.shape.join(', ')}], not [r, in] and [out, r]`);
    }
    let scale: number;
    let e: TensorData | undefined;
    if (type === 'LORA') {
      const r = patternValue(config.rank_pattern, path, Number(config.r));
      const alpha = patternValue(config.alpha_pattern, path, Number(config.lora_alpha));
      if (r !== rank) bad(`adapter_config.json: ${path} has rank ${rank} in the file, ${r} in the config`);
      scale = alpha / r;
    } else {
      const alpha = Number(config.lora_alpha);
      scale = (alpha > 0 ? alpha : Number(config.init_r)) / (Number(config.init_r) + 1e-5);
      e = tensors.get(`${PREFIX}${path}.lora_E`);
      if (!e || e.data.length !== rank) bad(`adapter_model.safetensors: ${path} has no lora_E of rank ${rank}`);
    }
    const delta = new Float32Array(out * inFeatures);
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inFeatures; i++) {
        let sum = 0;
        for (let k = 0; k < rank; k++)
          sum += b!.data[o * rank + k] * (e ? e.data[k] : 1) * a.data[k * inFeatures + i];
        delta[o * inFeatures + i] = scale * sum;
      }
    }
    deltas.set(path, { shape: [out, inFeatures], data: delta });
  }
  return { deltas, head };
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
    Array.from({ length: data.length / width }, (_, i) =>
      Array.from({ length: width }, (_, j) => data[i * width + j]),
    );
  return JSON.stringify({
    num_labels: input.numLabels,
    input_ids: rows(input.inputIds, input.seqLen),
    token_type_ids: rows(input.tokenTypeIds, input.seqLen),
    attention_mask: rows(input.attentionMask, input.seqLen),
    logits: rows(input.logits, input.numLabels),
  });
}

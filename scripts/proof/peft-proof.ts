/**
 * PEFT export proof, the TypeScript half: train a method with the real Trainer on a base checkpoint, export the
 * adapter with io's PEFT exporter, record the app's logits (inputs.json for scripts/reference/check_peft_export.py),
 * and re-check here that the exported files, read back and applied as plain LoRA, give the same logits.
 */
import type { EncodedExamples } from '../../src/engine/batches';
import { Rng } from '../../src/engine/random';
import { Trainer, DEFAULT_RECIPE, type TrainingRecipe } from '../../src/engine/trainer';
import { logitsWeightName, parseModulePath } from '../../src/engine/families';
import {
  type BertConfig,
  type ModuleKind,
  type StateDict,
} from '../../src/engine/types';
import {
  importPeftAdapter,
  peftCheckInputs,
  peftDeltaWeights,
  type PeftAdapter,
} from '../../src/io/export/peft';
import type { MethodEvent } from '../../src/engine/adapter';
import { adapterMethod } from '../../src/methods/registry';
import type { ModelDir } from './model-dir';

export interface ProofCase {
  method: 'aflora' | 'lora' | 'alora' | 'adalora' | 'increlora';
  options: Record<string, unknown>;
  recipe: TrainingRecipe;
}

/** 32 training rows, batch 8: 4 steps per epoch. */
const PROOF_RECIPE: TrainingRecipe = {
  ...DEFAULT_RECIPE,
  epochs: 8,
  batchSize: 8,
  maxLength: 32,
  logEvery: 1,
  seed: 7,
};

export const PROOF_CASES: readonly ProofCase[] = [
  // Default AFLoRA options. 64 steps at adapter lr 3e-2: Λb (0 at start) grows to ~0.8 and the adapted logits move
  // ~0.9 away from the base model's; at 32 steps / 1e-2 they moved only ~4e-4, too close to the 1e-4 tolerance
  // for the check to tell a wrong export from a right one. Also long enough for masking rounds and freezes.
  { method: 'aflora', options: {}, recipe: { ...PROOF_RECIPE, epochs: 16, adapterLr: 3e-2 } },
  // All six linears, so PEFT must tell attention.output.dense from output.dense by full path.
  {
    method: 'lora',
    options: { r: 8, alpha: 16, targetModules: ['query', 'key', 'value', 'attn_out', 'inter', 'out'] },
    recipe: { ...PROOF_RECIPE, adapterLr: 5e-3 },
  },
  // ALoRA: rounds after 8, 14 and 20 steps prune and regrow ranks, so the export carries a rank per module
  // (rank_pattern / alpha_pattern) and leaves out gated-off ranks (and modules with none). Small: each round runs
  // 1 + 2 x 24 probe forwards.
  {
    method: 'alora',
    options: {
      rInit: 2,
      maxRank: 4,
      alpha: 16,
      superEpochs: { value: 8, unit: 'steps' },
      roundEvery: { value: 6, unit: 'steps' },
      rounds: 3,
      pruneCount: 6,
      probeSize: 8,
    },
    recipe: { ...PROOF_RECIPE, adapterLr: 2e-2 },
  },
  // AdaLoRA: allocations every 4 steps in (4, 24], the last one at 24 to target_r = 3 per module, the pattern fixed
  // after; the export is PEFT's ADALORA format (kept triplets only, rank_pattern, total_step).
  {
    method: 'adalora',
    options: { initR: 6, targetR: 3, loraAlpha: 32, targetModules: ['query', 'key', 'value', 'attn_out', 'inter', 'out'], tinit: 4, tfinal: 8, deltaT: 4 },
    // E starts at 0: a high lr so the adapter moves the logits well beyond the check's 1e-4.
    recipe: { ...PROOF_RECIPE, adapterLr: 1e-1 },
  },
  // IncreLoRA: 12 modules from rank 1 to a budget of 36; rounds at steps 6, 9, ... grow the top 4 by one each, so
  // the export carries a rank per module (rank_pattern / alpha_pattern, E folded into A, reserves dropped).
  {
    method: 'increlora',
    options: { loraR: 1, targetRank: 3, increRankNum: 1, topH: 4, initWarmup: 4, increInterval: 3, loraAlpha: 16 },
    // E starts at 0: a long run at a high lr so the adapter moves the logits well beyond the check's 1e-4.
    recipe: { ...PROOF_RECIPE, epochs: 16, adapterLr: 5e-2 },
  },
];

/**
 * Token-id rows (the golden models have no vocabulary): [CLS]=101 % vocab first, random lengths padded with the
 * model's pad id (never drawn inside a row: RoBERTa's positions count the non-pad ids), token types 0 then 1 from the
 * middle on (a pair) where the model has two types, label 1 iff the marker id occurs, so training has a signal.
 */
export function tokenIdExamples(
  config: BertConfig,
  count: number,
  seqLen: number,
  seed: number,
): EncodedExamples {
  const rng = new Rng(seed);
  const cls = 101 % config.vocabSize;
  const marker = 42 % config.vocabSize;
  const pad = config.padTokenId;
  const pairs = config.typeVocabSize >= 2;
  const inputIds = new Int32Array(count * seqLen).fill(pad);
  const tokenTypeIds = new Int32Array(count * seqLen);
  const attentionMask = new Int32Array(count * seqLen);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const length = Math.max(4, Math.floor(seqLen / 3) + rng.int(seqLen - Math.floor(seqLen / 3) + 1));
    const positive = i % 2 === 0;
    for (let j = 0; j < length; j++) {
      let id = j === 0 ? cls : 1 + rng.int(config.vocabSize - 1);
      if (id === marker) id = marker + 1;
      if (id === pad) id = (pad + 1) % config.vocabSize;
      inputIds[i * seqLen + j] = id;
      attentionMask[i * seqLen + j] = 1;
      tokenTypeIds[i * seqLen + j] = pairs && j >= length / 2 ? 1 : 0;
    }
    if (positive) inputIds[i * seqLen + 1 + rng.int(length - 1)] = marker;
    labels[i] = positive ? 1 : 0;
  }
  return { count, seqLen, inputIds, tokenTypeIds, attentionMask, labels };
}

export interface ProofRun {
  method: string;
  options: Record<string, unknown>;
  recipe: TrainingRecipe;
  steps: number;
  losses: number[];
  /** Adapter matrices frozen during training (AFLoRA). */
  frozen: string[];
  state: StateDict;
  adapter: PeftAdapter;
  /** The app's eval-mode logits on `inputs`, [count, numLabels]. */
  logits: Float32Array;
  /** The base model's logits (no adapter, checkpoint classifier) on `inputs`. */
  baseLogits: Float32Array;
  inputs: EncodedExamples;
  /** inputs.json text for check_peft_export.py. */
  inputsJson: string;
}

export async function trainAndExport(
  model: ModelDir,
  proof: ProofCase,
  train: EncodedExamples,
  inputs: EncodedExamples,
  baseModel: string,
): Promise<ProofRun> {
  const method = adapterMethod(proof.method, proof.options);
  const trainer = new Trainer({
    config: model.config,
    weights: model.weights,
    method,
    train,
    recipe: proof.recipe,
  });
  try {
    const frozen: string[] = [];
    while (!trainer.finished) {
      const events: MethodEvent[] = await trainer.step();
      for (const e of events) if (e.type === 'freeze') frozen.push(e.name);
    }
    const losses = (await trainer.flushMetrics()).map((m) => m.loss);
    const state = await trainer.adapterState();
    // The method's own export (LoRA with its alpha, AFLoRA with its Λ vectors folded), as the app's worker does it:
    // with the weights the engine made up for what the base checkpoint lacks (DeBERTa-v3's pooler).
    const withInitialised: StateDict = new Map([...state, ...(await trainer.initialisedWeights())]);
    const adapter = method.exportPeft!(withInitialised, baseModel, { totalSteps: trainer.totalSteps });
    const logits = await trainer.logits(inputs);
    const baseLogits = await trainer.logits(inputs, false);
    const inputsJson = peftCheckInputs({
      numLabels: model.config.numLabels,
      seqLen: inputs.seqLen,
      inputIds: inputs.inputIds,
      tokenTypeIds: inputs.tokenTypeIds,
      attentionMask: Int32Array.from(inputs.attentionMask),
      logits,
    });
    return {
      method: proof.method,
      options: proof.options,
      recipe: proof.recipe,
      steps: trainer.stepsDone,
      losses,
      frozen,
      state,
      adapter,
      logits,
      baseLogits,
      inputs,
      inputsJson,
    };
  } finally {
    trainer.dispose();
  }
}

function kindOf(modulePath: string): ModuleKind {
  const kind = parseModulePath(modulePath)?.kind;
  if (!kind) throw new Error(`not an encoder linear: ${modulePath}`);
  return kind;
}

/** The exported files read back (io's importer) as plain LoRA variables, scaling lora_alpha / r. */
export function readBack(adapter: PeftAdapter) {
  const files = adapter.files;
  const imported = importPeftAdapter(files['adapter_config.json'], files['adapter_model.safetensors']);
  const modules = [...imported.variables.keys()]
    .filter((n) => n.endsWith('.lora_A'))
    .map((n) => n.slice(0, -'.lora_A'.length));
  return { ...imported, modules, kinds: [...new Set(modules.map(kindOf))] };
}

/** Logits of the exported adapter run through the app's plain LoRA method (x W0ᵀ + b0 + s · x A'ᵀ B'ᵀ). */
export async function plainLoraLogits(
  model: ModelDir,
  adapter: PeftAdapter,
  inputs: EncodedExamples,
  batchSize: number,
): Promise<Float32Array> {
  const back = readBack(adapter);
  // The file's modules_to_save replace the base model's, as PEFT does (DeBERTa's pooler is no trained variable).
  const saved = [...back.variables].filter(([name]) => !name.endsWith('.lora_A') && !name.endsWith('.lora_B'));
  const trainer = new Trainer({
    config: model.config,
    weights: new Map([...model.weights, ...saved]),
    method: adapterMethod('lora', { r: back.r, alpha: back.loraAlpha, targetModules: back.kinds }),
    initial: back.variables,
    train: inputs,
    recipe: { ...DEFAULT_RECIPE, batchSize },
  });
  try {
    return await trainer.logits(inputs);
  } finally {
    trainer.dispose();
  }
}

/** W0 + ΔW merged into the base weights by PEFT's rules for the file (io's peftDeltaWeights: LORA with or without
 * rank_pattern, ADALORA), classifier replaced: no adapter code at all. */
export function mergeIntoBase(weights: StateDict, adapter: PeftAdapter): StateDict {
  const { deltas, head } = peftDeltaWeights(
    adapter.files['adapter_config.json'],
    adapter.files['adapter_model.safetensors'],
  );
  const merged: StateDict = new Map(weights);
  for (const [path, delta] of deltas) {
    const w0 = weights.get(`${path}.weight`); // [out, in]
    if (!w0) throw new Error(`base has no ${path}.weight`);
    if (w0.shape.join() !== delta.shape.join())
      throw new Error(`${path}: ΔW [${delta.shape}] does not fit W0 [${w0.shape}]`);
    merged.set(`${path}.weight`, { shape: [...w0.shape], data: w0.data.map((v, i) => v + delta.data[i]) });
  }
  if (!logitsWeightName(head.keys())) throw new Error('adapter has no classifier');
  for (const [name, tensor] of head) merged.set(name, tensor);
  return merged;
}

/** Logits of the bare base model with the adapter merged into its weights. */
export async function mergedLogits(
  model: ModelDir,
  adapter: PeftAdapter,
  inputs: EncodedExamples,
  batchSize: number,
): Promise<Float32Array> {
  const trainer = new Trainer({
    config: model.config,
    weights: mergeIntoBase(model.weights, adapter),
    method: adapterMethod('lora'),
    train: inputs,
    recipe: { ...DEFAULT_RECIPE, batchSize },
  });
  try {
    return await trainer.logits(inputs, false);
  } finally {
    trainer.dispose();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Largest |value| over every variable whose name ends with `suffix` (e.g. '.lambda_b'). */
export function maxAbsOf(state: StateDict, suffix: string): number {
  let max = 0;
  for (const [name, t] of state)
    if (name.endsWith(suffix)) for (const v of t.data) max = Math.max(max, Math.abs(v));
  return max;
}

/**
 * Reads a trained adapter the user picked: the app's native file (one .safetensors with the run config inside),
 * or a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, as two files or one .zip, e.g. this
 * app's PEFT export). Everything wrong becomes an InputError that says what to pick instead; zip entries are
 * checked against a size limit before they are inflated.
 */
import { parseJson } from '../json';
import { InputError } from '../../engine/errors';
import { logitsWeightName, parseModulePath } from '../../engine/families';
import type { ModuleKind, StateDict } from '../../engine/types';
import { unzipSync } from 'fflate';
import { importNative } from './native';
import { importPeftAdapter } from './peft';
import { LIMITS } from '../limits';

/** Larger than any adapter of a model this app can train (the weights of a BERT-base full fine-tune are ~440 MB). */
export const MAX_ADAPTER_BYTES = LIMITS.adapterBytes.value;

export interface AdapterFile {
  name: string;
  bytes: Uint8Array;
}

export type ImportedAdapter =
  | { format: 'native'; file: string; method: string; options: Record<string, unknown>; run: unknown; variables: StateDict }
  | { format: 'peft'; file: string; r: number; alpha: number; kinds: ModuleKind[]; labels: string[] | null; baseModel: string | null; variables: StateDict };

const WHAT_TO_PICK = 'Pick the .safetensors file this app exported, or a PEFT LoRA adapter: adapter_config.json with adapter_model.safetensors (or a .zip of both).';

const baseName = (name: string) => name.split(/[\\/]/).pop()!;

function unzip(file: AdapterFile): AdapterFile[] {
  let total = 0;
  try {
    const entries = unzipSync(file.bytes, {
      filter: (entry) => {
        const wanted = /(^|\/)(adapter_config\.json|adapter_model\.safetensors)$/.test(entry.name);
        if (wanted) {
          total += entry.originalSize;
          if (total > MAX_ADAPTER_BYTES) throw new InputError(`${file.name}: its adapter files declare ${(total / 2 ** 20).toFixed(0)} MB; the limit is ${MAX_ADAPTER_BYTES / 2 ** 20} MB.`, WHAT_TO_PICK);
        }
        return wanted;
      },
    });
    return Object.entries(entries).map(([name, bytes]) => ({ name, bytes }));
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${file.name} is not a readable zip (${(error as Error).message}).`, WHAT_TO_PICK);
  }
}

/** Which kind of linear a PEFT module path is (`bert.encoder.layer.3.attention.self.query` -> query, any family). */
function kindOf(path: string): ModuleKind | null {
  return parseModulePath(path)?.kind ?? null;
}

function readPeft(config: AdapterFile, weights: AdapterFile): ImportedAdapter {
  const parsed = parseJson(new TextDecoder().decode(config.bytes), config.name, WHAT_TO_PICK);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError(`${config.name} is not a JSON object.`, WHAT_TO_PICK);
  const json = parsed as Record<string, unknown>;
  if (json.peft_type !== 'LORA') throw new InputError(`${config.name}: peft_type ${JSON.stringify(json.peft_type ?? null)} cannot be imported; only LORA adapters can.`, WHAT_TO_PICK);
  for (const key of ['rank_pattern', 'alpha_pattern'] as const) {
    const pattern = json[key];
    if (pattern && typeof pattern === 'object' && Object.keys(pattern).length > 0) {
      throw new InputError(`${config.name}: per-module ranks (${key}) cannot be imported yet.`, 'Import the native .safetensors file of that run instead.');
    }
  }
  const r = json.r;
  const alpha = json.lora_alpha;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw new InputError(`${config.name}: r must be a positive whole number (got ${JSON.stringify(r ?? null)}).`, WHAT_TO_PICK);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) throw new InputError(`${config.name}: lora_alpha must be a positive number (got ${JSON.stringify(alpha ?? null)}).`, WHAT_TO_PICK);
  // Its errors are typed (a non-typed one is our bug and must show as one).
  const imported = importPeftAdapter(new TextDecoder().decode(config.bytes), weights.bytes);
  const kinds = new Set<ModuleKind>();
  for (const name of imported.variables.keys()) {
    const path = /^(.*)\.lora_[AB]$/.exec(name)?.[1];
    if (!path) continue;
    const kind = kindOf(path);
    if (!kind) throw new InputError(`${weights.name}: "${path}" is not an encoder linear this app adapts.`, WHAT_TO_PICK);
    kinds.add(kind);
  }
  if (kinds.size === 0) throw new InputError(`${weights.name} holds no lora_A / lora_B weights.`, WHAT_TO_PICK);
  const logits = logitsWeightName(imported.variables.keys());
  const head = logits === null ? undefined : imported.variables.get(logits);
  if (!head || head.shape.length !== 2) throw new InputError(`${weights.name} has no classifier (modules_to_save): a sequence-classification adapter needs one.`, WHAT_TO_PICK);
  const id2label = json.id2label;
  let labels: string[] | null = null;
  if (id2label && typeof id2label === 'object') {
    labels = Array.from({ length: head.shape[0] }, (_, i) => (id2label as Record<string, unknown>)[String(i)]).map((l, i) => (typeof l === 'string' && l !== '' ? l : String(i)));
  }
  return { format: 'peft', file: weights.name, r, alpha, kinds: [...kinds], labels, baseModel: imported.baseModel, variables: imported.variables };
}

/** The adapter in the files the user picked (several files, a folder's files or one zip). */
export function readAdapterFiles(files: readonly AdapterFile[]): ImportedAdapter {
  if (files.length === 0) throw new InputError('No adapter file was picked.', WHAT_TO_PICK);
  const total = files.reduce((n, f) => n + f.bytes.byteLength, 0);
  if (total > MAX_ADAPTER_BYTES) throw new InputError(`The picked files are ${(total / 2 ** 20).toFixed(0)} MB; the limit is ${MAX_ADAPTER_BYTES / 2 ** 20} MB.`, WHAT_TO_PICK);
  const all = files.flatMap((f) => (/\.zip$/i.test(f.name) ? unzip(f) : [f]));
  const byName = new Map(all.map((f) => [baseName(f.name), f]));
  const config = byName.get('adapter_config.json');
  const weights = byName.get('adapter_model.safetensors');
  if (config && weights) return readPeft(config, weights);
  if (config || weights) throw new InputError(`A PEFT adapter needs both adapter_config.json and adapter_model.safetensors; only ${config ? config.name : weights!.name} was picked.`, WHAT_TO_PICK);
  const native = all.find((f) => /\.safetensors$/i.test(f.name));
  if (!native) throw new InputError(`${all.map((f) => f.name).join(', ')}: no adapter among them.`, WHAT_TO_PICK);
  const adapter = importNative(native.bytes, native.name);
  return { format: 'native', file: native.name, method: adapter.method, options: adapter.options, run: adapter.run, variables: adapter.variables };
}

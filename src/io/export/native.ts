/**
 * The app's own adapter file: one safetensors with every method variable under its engine name
 * (`<modulePath>.lora_A`, `.lora_B`, `.lambda_d`, `.lambda_b`, `classifier.weight|bias`) and, in the
 * header metadata, the method, its options, the run config and the freeze log (JSON strings).
 * Unlike the PEFT export nothing is folded, so a run can resume or be inspected exactly.
 */
import { InputError } from '../../engine/errors';
import type { StateDict } from '../../engine/types';
import { parseJson } from '../json';
import { parseSafetensors, toStateDict, writeSafetensors } from '../safetensors';

export const NATIVE_FORMAT = 'aflora-playground/1';

export interface NativeAdapter {
  method: string;
  options: Record<string, unknown>;
  /** Training recipe, model and dataset names, label names, etc. */
  run: Record<string, unknown>;
  /** Step each A/B froze at (null = never): `{ "<name>": 23 | null }`. */
  freezeLog: Record<string, number | null>;
  baseModel: string;
  variables: StateDict;
}

export function exportNative(adapter: NativeAdapter): Uint8Array {
  return writeSafetensors(adapter.variables, {
    format: NATIVE_FORMAT,
    method: adapter.method,
    base_model: adapter.baseModel,
    options: JSON.stringify(adapter.options),
    run: JSON.stringify(adapter.run),
    freeze_log: JSON.stringify(adapter.freezeLog),
  });
}

const HINT = 'Pick the .safetensors file this app exported (PEFT adapters: adapter_config.json + adapter_model.safetensors).';

function parseMeta<T>(metadata: Record<string, string>, key: string, fileName: string): T {
  const text = metadata[key];
  if (text === undefined) throw new InputError(`${fileName}: metadata "${key}" is missing.`, HINT);
  return parseJson(text, `${fileName}: metadata "${key}"`, HINT) as T;
}

export function importNative(bytes: Uint8Array, fileName = 'adapter.safetensors'): NativeAdapter {
  const { tensors, metadata } = parseSafetensors(bytes, fileName);
  if (metadata.format !== NATIVE_FORMAT) {
    throw new InputError(`${fileName} is not an AFLoRA Playground adapter (format ${JSON.stringify(metadata.format ?? null)}, expected ${NATIVE_FORMAT}).`, HINT);
  }
  if (!metadata.method) throw new InputError(`${fileName}: metadata "method" is missing.`, HINT);
  return {
    method: metadata.method,
    baseModel: metadata.base_model ?? '',
    options: parseMeta(metadata, 'options', fileName),
    run: parseMeta(metadata, 'run', fileName),
    freezeLog: parseMeta(metadata, 'freeze_log', fileName),
    variables: toStateDict(tensors),
  };
}

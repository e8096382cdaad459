/** Reading tokenizer_config.json / tokenizer.json fields, shared by the tokenizer loaders. */
import { AppError, InputError } from '../../engine/errors';

export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
}

/** tokenizer_config.json writes special tokens as strings or as AddedToken objects `{content: ...}`. */
export function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const obj = asObject(value);
  return obj && typeof obj.content === 'string' ? obj.content : undefined;
}

export function optionalBool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

/** tokenizer_config.json's model_max_length when it is a real limit (transformers writes 1e30 for none). */
export function modelMaxLengthOf(config: Json | null): number | undefined {
  const maxLen = config?.model_max_length;
  return typeof maxLen === 'number' && maxLen > 0 && maxLen < 1e6 ? maxLen : undefined;
}

/**
 * Runs @huggingface/tokenizers on a file's contents: what it throws on a malformed file (unknown component types,
 * bad regexes, wrong field types) becomes the typed error that names the file, instead of a crash.
 */
export function fromTokenizerFile<T>(file: string, hint: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new InputError(`${file} cannot be used: ${error instanceof Error ? error.message : String(error)}.`, hint);
  }
}

/** JSON.parse for untrusted files: the nesting depth is checked first (a deep file overflows the stack later). */
import { InputError } from '../engine/errors';
import { LIMITS } from './limits';

/** Deepest [ / { nesting of a JSON text (strings skipped); stops counting past `cap`. */
export function jsonDepth(text: string, cap: number = LIMITS.jsonDepth.value): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
      if (max > cap) return max;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Parses `text` as JSON, or throws an InputError naming the file and what to do. */
export function parseJson(text: string, fileName: string, hint: string, maxDepth: number = LIMITS.jsonDepth.value): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) throw new InputError(`${fileName}: JSON nested deeper than ${maxDepth} levels.`, hint);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`${fileName} is not valid JSON (${(error as Error).message}).`, hint);
  }
}

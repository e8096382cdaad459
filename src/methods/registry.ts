/** Every adapter method by id. Adding a method = one folder + one entry here + one row in the contract test. */
import { afloraMethods } from './aflora';
import { eloraMethod } from './elora';
import { fullMethod } from './full';
import { loraMethod } from './lora';
import type { AdapterMethod } from './types';

export class UnknownMethodError extends Error {
  constructor(id: string) {
    super(`unknown adapter method "${id}" (known: ${METHODS.map((m) => m.id).join(', ')})`);
    this.name = 'UnknownMethodError';
  }
}

export const METHODS: readonly AdapterMethod[] = [...afloraMethods, loraMethod, eloraMethod, fullMethod];

export function getMethod(id: string): AdapterMethod {
  const method = METHODS.find((m) => m.id === id);
  if (!method) throw new UnknownMethodError(id);
  return method;
}

/** Method defaults overlaid with the caller's options (unknown keys are kept: the method validates). */
export function resolveOptions(method: AdapterMethod, options: Record<string, unknown> = {}): object {
  return { ...method.defaults, ...options };
}

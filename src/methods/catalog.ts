/**
 * Every adapter method, tensor-free: what the page imports (method cards, settings form, URL state, presets) and
 * what a run config's `method` is checked against. The runtimes are in registry.ts (the worker's side).
 */
import { InputError } from '../engine/errors';
import { resolveOptions, type OptionsOf } from '../engine/options';
import { adaloraEntry } from './adalora/schema';
import { afloraEntry, pmFrozenEntry, pmTrainableEntry } from './aflora/schema';
import { aloraEntry } from './alora/schema';
import { eloraEntry } from './elora/schema';
import type { MethodEntry } from './entry';
import { fullEntry } from './full/schema';
import { increloraEntry } from './increlora/schema';
import { loraEntry } from './lora/schema';

export const CATALOG = [afloraEntry, pmTrainableEntry, pmFrozenEntry, loraEntry, eloraEntry, fullEntry, aloraEntry, increloraEntry, adaloraEntry] as const;

export type MethodId = (typeof CATALOG)[number]['id'];
type EntryOf<Id extends MethodId> = Extract<(typeof CATALOG)[number], { id: Id }>;
/** The complete options of method `Id`. */
export type MethodOptions<Id extends MethodId> = OptionsOf<EntryOf<Id>['options']>;

export class UnknownMethodError extends InputError {
  constructor(id: string) {
    super(`unknown adapter method "${id}" (known: ${CATALOG.map((m) => m.id).join(', ')})`, 'Pick one of the listed methods.');
    this.name = 'UnknownMethodError';
  }
}

export function isMethodId(id: string): id is MethodId {
  return CATALOG.some((m) => m.id === id);
}

export function methodEntry<Id extends MethodId>(id: Id): EntryOf<Id>;
export function methodEntry(id: string): MethodEntry;
export function methodEntry(id: string): MethodEntry {
  const entry = CATALOG.find((m) => m.id === id);
  if (!entry) throw new UnknownMethodError(id);
  return entry as MethodEntry;
}

/** The method's complete options: `overrides` over its schema defaults (the one place they are merged), checked. */
export function methodOptions<Id extends MethodId>(id: Id, overrides?: object): MethodOptions<Id>;
export function methodOptions(id: string, overrides?: object): Record<string, unknown>;
export function methodOptions(id: string, overrides: object = {}): Record<string, unknown> {
  const entry = methodEntry(id);
  return resolveOptions(entry.options, overrides, entry.label);
}

/** The adapter learning rate method `id` is run with in its paper (its entry cites the table). */
export function suggestedAdapterLr(id: string): number {
  return methodEntry(id).suggestedAdapterLr;
}

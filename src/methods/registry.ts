/**
 * The methods' tensor side by id (the worker's and the tests' entry point): `adapterMethod` checks the options
 * against the method's schema, merges its defaults and binds them into the engine's AdapterMethod.
 * Adding a method: its catalog entry in catalog.ts and its runtime here (the type below names a missing one).
 */
import type { AdapterMethod } from '../engine/adapter';
import type { StateDict } from '../engine/types';
import type { PeftAdapter } from '../io/export/peft';
import { afloraRuntime, pmFrozenRuntime, pmTrainableRuntime } from './aflora';
import { aloraRuntime } from './alora';
import { methodEntry, methodOptions, type MethodId, type MethodOptions } from './catalog';
import type { ExportRun, MethodRuntime } from './common';
import { eloraRuntime } from './elora';
import { fullRuntime } from './full';
import { increloraRuntime } from './increlora';
import { adaloraRuntime } from './adalora';
import { loraRuntime } from './lora';

const RUNTIMES: { [Id in MethodId]: MethodRuntime<MethodOptions<Id>> } = {
  aflora: afloraRuntime,
  'pm-trainable': pmTrainableRuntime,
  'pm-frozen': pmFrozenRuntime,
  lora: loraRuntime,
  elora: eloraRuntime,
  full: fullRuntime,
  adalora: adaloraRuntime,
  alora: aloraRuntime,
  increlora: increloraRuntime,
};

/** A method with its options bound: the Trainer's AdapterMethod plus what the worker exports with. */
export interface BoundMethod extends AdapterMethod {
  readonly id: MethodId;
  readonly options: Readonly<Record<string, unknown>>;
  /** PEFT files of a trained state; null: this method has no PEFT form. */
  readonly exportPeft: ((state: StateDict, baseModel: string, run: ExportRun) => PeftAdapter) | null;
}

/** Method `id` with `options` over its defaults, checked (OptionError / UnknownMethodError on bad input). */
export function adapterMethod(id: string, options: object = {}): BoundMethod {
  const entry = methodEntry(id);
  const resolved = methodOptions(id, options);
  const runtime = RUNTIMES[entry.id as MethodId] as MethodRuntime<Record<string, unknown>>;
  const peft = runtime.exportPeft;
  return {
    id: entry.id as MethodId,
    options: resolved,
    create: (ctx) => runtime.create(ctx, resolved),
    countTrainable: (config) => runtime.countTrainable(config, resolved),
    exportPeft: peft ? (state, baseModel, run) => peft(state, resolved, baseModel, run) : null,
  };
}

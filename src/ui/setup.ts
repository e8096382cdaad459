/**
 * The settings form's state: the chosen method and the values the user changed (everything else is its schema's
 * default), derived from the catalog and the recipe schema. The URL query holds the same (a setup is a shareable
 * link); the run config is built from it (worker/run-config.ts), which is where the defaults are merged.
 */
import { choice, choicesOf, formatUrlValue, parseUrlValue, resolveOptions, sameValue, type OptionSchema, type OptionSpec, type OptionValue } from '../engine/options';
import { EXECUTION_SCHEMA, RECIPE_SCHEMA, type Execution, type Recipe } from '../engine/recipe';
import { CATALOG, isMethodId, methodEntry, suggestedAdapterLr, type MethodId } from '../methods/catalog';
import type { Preset } from '../methods/entry';
import type { DataPreview, ModelInfo } from '../worker/protocol';
import { buildRunConfig, DATA_SPLIT_SCHEMA, type DataSplit, type RunConfig } from '../worker/run-config';

/** What the page charts (not part of a run). */
export const VIEW_SCHEMA = [
  choice('metric', {
    urlKey: 'metric',
    label: 'Primary metric',
    help: 'Charted validation metric (a regression run charts Pearson when this is a classification metric).',
    group: 'Charts',
    choices: choicesOf({ accuracy: 'Accuracy', f1: 'F1', matthews: 'Matthews corr.', pearson: 'Pearson', spearman: 'Spearman' }),
    default: 'accuracy',
  }),
] as const;

export type Section = 'method' | 'recipe' | 'split' | 'view' | 'advanced';

type Values = Record<string, OptionValue>;

export interface Setup {
  method: MethodId;
  /** Changed option values of each method (switching back keeps them). */
  options: Partial<Record<MethodId, Values>>;
  recipe: Values;
  split: Values;
  view: Values;
  /** How this browser runs steps (not part of the run: EXECUTION_SCHEMA). */
  advanced: Values;
}

export const DEFAULT_METHOD: MethodId = CATALOG[0].id;
export const EMPTY_SETUP: Setup = { method: DEFAULT_METHOD, options: {}, recipe: {}, split: {}, view: {}, advanced: {} };

/**
 * The recipe's fields with the method's suggested adapter LR as the Adapter LR default: switching method moves an LR
 * the user has not set to the new method's (LoRA 5e-4, AFLoRA 1e-2), and keeps one the user set.
 */
function recipeSchemaOf(method: MethodId): OptionSchema {
  const lr = suggestedAdapterLr(method);
  return RECIPE_SCHEMA.map((spec) => (spec.key === 'adapterLr' ? { ...spec, default: lr } : spec));
}

export function schemaOf(setup: Setup, section: Section): OptionSchema {
  switch (section) {
    case 'method':
      return methodEntry(setup.method).options;
    case 'recipe':
      return recipeSchemaOf(setup.method);
    case 'split':
      return DATA_SPLIT_SCHEMA;
    case 'view':
      return VIEW_SCHEMA;
    case 'advanced':
      return EXECUTION_SCHEMA;
  }
}

function changedOf(setup: Setup, section: Section): Values {
  return section === 'method' ? (setup.options[setup.method] ?? {}) : setup[section];
}

function withChanged(setup: Setup, section: Section, values: Values): Setup {
  return section === 'method' ? { ...setup, options: { ...setup.options, [setup.method]: values } } : { ...setup, [section]: values };
}

/** Every value of a section: the changed ones over the schema's defaults. */
export function valuesOf(setup: Setup, section: Section): Values {
  return resolveOptions(schemaOf(setup, section), changedOf(setup, section)) as Values;
}

/** Sets one value; a value equal to the default is dropped, so links stay short. */
export function setValue(setup: Setup, section: Section, spec: OptionSpec, value: OptionValue): Setup {
  const { [spec.key]: _old, ...rest } = changedOf(setup, section);
  return withChanged(setup, section, sameValue(value, spec.default) ? rest : { ...rest, [spec.key]: value });
}

/** A preset's values (recipe, the method's options, the metric) over the current ones; 'defaults' clears them. */
export function applyPreset(setup: Setup, preset: Preset | 'defaults'): Setup {
  if (preset === 'defaults') return { ...setup, options: { ...setup.options, [setup.method]: {} }, recipe: {} };
  let next = setup;
  const put = (section: Section, values: object | undefined) => {
    for (const [key, value] of Object.entries(values ?? {})) {
      const spec = schemaOf(next, section).find((s) => s.key === key);
      if (spec) next = setValue(next, section, spec, value as OptionValue);
    }
  };
  put('recipe', preset.recipe);
  put('method', preset.options);
  put('view', preset.metric ? { metric: preset.metric } : undefined);
  return next;
}

/** How the worker runs this setup's steps. */
export function executionOf(setup: Setup): Execution {
  return valuesOf(setup, 'advanced').execution as Execution;
}

export function splitOf(setup: Setup): DataSplit {
  return valuesOf(setup, 'split') as DataSplit;
}

/* -------------------------------------------------------------- URL query round trip */

export const SECTIONS: Section[] = ['method', 'recipe', 'split', 'view', 'advanced'];

/** Only the changed values go into the link (the method's own by its URL keys). */
export function setupToQuery(setup: Setup, extra: Record<string, string> = {}): URLSearchParams {
  const params = new URLSearchParams();
  if (setup.method !== DEFAULT_METHOD) params.set('method', setup.method);
  for (const section of SECTIONS) {
    const changed = changedOf(setup, section);
    for (const spec of schemaOf(setup, section)) if (spec.key in changed) params.set(spec.urlKey, formatUrlValue(spec, changed[spec.key]));
  }
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

/** Malformed or out-of-range values are left out (their defaults stay). */
export function setupFromQuery(params: URLSearchParams): Setup {
  const method = params.get('method');
  let setup: Setup = { ...EMPTY_SETUP, method: method && isMethodId(method) ? method : DEFAULT_METHOD };
  for (const section of SECTIONS) {
    for (const spec of schemaOf(setup, section)) {
      const raw = params.get(spec.urlKey);
      const value = raw === null ? undefined : parseUrlValue(spec, raw);
      if (value !== undefined) setup = setValue(setup, section, spec, value);
    }
  }
  return setup;
}

/* -------------------------------------------------------------- to the worker */

/** The run config of this setup on the loaded model and data (defaults merged there, once). */
export function runConfigOf(setup: Setup, model: ModelInfo, data: DataPreview, labelNames: Record<string, string> = {}): RunConfig {
  if (!data.mapping) throw new Error('Pick the text and label columns first.');
  return buildRunConfig({
    method: setup.method,
    options: setup.options[setup.method],
    recipe: { adapterLr: suggestedAdapterLr(setup.method), ...setup.recipe } as Partial<Recipe>,
    split: setup.split as Partial<DataSplit>,
    model: { name: model.name, hubId: model.hubId, revision: model.revision },
    data: {
      name: data.name,
      train: data.files.train,
      validation: data.files.validation,
      columns: data.mapping,
      task: data.task,
      labels: data.labels.map((l) => l.name),
      labelNames: data.labels.map((l) => labelNames[l.name] ?? l.name),
    },
  });
}

/** A run's settings back in the form (restoring a run): its method, options, recipe and split, each through its schema; the view stays. */
export function setupFromConfig(config: RunConfig, current: Setup = EMPTY_SETUP): Setup {
  let setup: Setup = { ...current, method: config.method.id, options: { ...current.options, [config.method.id]: {} }, recipe: {}, split: {} };
  const put = (section: Section, values: object) => {
    for (const spec of schemaOf(setup, section)) if (spec.key in values) setup = setValue(setup, section, spec, (values as Record<string, OptionValue>)[spec.key]);
  };
  put('method', config.method.options);
  put('recipe', config.recipe);
  put('split', config.data);
  return setup;
}

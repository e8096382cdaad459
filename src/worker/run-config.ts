/**
 * The run config: one JSON object that says everything a run is, fully resolved (the method and every one of
 * its options, the whole recipe, the model, the data and its split). The start command carries it, saved runs
 * keep it, the compare mode runs grids of them, and python/ reproduces a browser run from it (docs/architecture.md
 * shows one). buildRunConfig merges the defaults (the one place for a run); parseRunConfig checks one strictly.
 * Tensor-free: the page and the worker both import it.
 */
import { InputError } from '../engine/errors';
import { int, num, OptionError, parseOptions, resolveOptions, type OptionSpec, type OptionsOf, type OptionValue } from '../engine/options';
import { RECIPE_SCHEMA, type Recipe } from '../engine/recipe';
import type { Task } from '../io/datasets/dataset';
import { CATALOG, isMethodId, methodEntry, type MethodId, type MethodOptions } from '../methods/catalog';

export type { Task };

export const RUN_CONFIG_FORMAT = 'peft-playground/run';
export const RUN_CONFIG_VERSION = 1;

/** How the training file is split when no validation file is given. */
export const DATA_SPLIT_SCHEMA = [
  num('validationFraction', { urlKey: 'val', label: 'Validation split', help: 'Share of train rows held out when no validation file is given.', group: 'Data', default: 0.1, min: 0.01, max: 0.5, step: 0.05 }),
  int('validationSeed', { urlKey: 'vseed', label: 'Split seed', help: 'Seeds the stratified hold-out.', group: 'Data', default: 42, min: 0, max: 2 ** 31 - 1 }),
] as const;

export type DataSplit = OptionsOf<typeof DATA_SPLIT_SCHEMA>;

export interface ModelRef {
  name: string;
  /** Hugging Face repo id; null for the built-in model and files from disk. */
  hubId: string | null;
  revision: string | null;
}

export interface DataColumns {
  text: string;
  /** Second segment of sentence-pair tasks. */
  textPair: string | null;
  label: string;
}

export interface DataRef extends DataSplit {
  name: string;
  /** File names as the user gave them. */
  train: string;
  validation: string | null;
  columns: DataColumns;
  task: Task;
  /** Class values as the file has them, index = class id; [] for regression. */
  labels: string[];
  /** The names the user gave them (what predictions show and exports write as id2label); = labels unless renamed. */
  labelNames: string[];
}

/** The method and every one of its options, typed per method (narrow on `id`). */
export type MethodConfig = { [Id in MethodId]: { id: Id; options: MethodOptions<Id> } }[MethodId];

export interface RunConfig {
  format: typeof RUN_CONFIG_FORMAT;
  version: typeof RUN_CONFIG_VERSION;
  method: MethodConfig;
  recipe: Recipe;
  model: ModelRef;
  data: DataRef;
}

/** A run config that does not parse; `path` names the field (e.g. `recipe.epochs`). */
export class RunConfigError extends InputError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`run config: ${path} ${problem}`, 'Change that setting (the form shows its range) and start again.');
    this.name = 'RunConfigError';
  }
}

export interface RunConfigInput {
  method: string;
  /** Method options that differ from the method's defaults. */
  options?: object;
  /** Recipe values that differ from the defaults. */
  recipe?: Partial<Recipe>;
  split?: Partial<DataSplit>;
  model: ModelRef;
  /** `labelNames` absent: the classes keep their own names. */
  data: Omit<DataRef, keyof DataSplit | 'labelNames'> & { labelNames?: string[] };
}

/** A complete run config from the form's choices; throws RunConfigError on a value its schema rejects. */
export function buildRunConfig(input: RunConfigInput): RunConfig {
  const entry = methodEntry(input.method);
  return withPaths(() => ({
    format: RUN_CONFIG_FORMAT,
    version: RUN_CONFIG_VERSION,
    method: { id: entry.id, options: resolveOptions(entry.options, input.options, 'method.options') } as MethodConfig,
    recipe: resolveOptions(RECIPE_SCHEMA, input.recipe, 'recipe'),
    model: { ...input.model },
    data: {
      ...input.data,
      columns: { ...input.data.columns },
      labels: [...input.data.labels],
      labelNames: checkLabelNames(input.data.labelNames ?? input.data.labels, input.data.labels),
      ...resolveOptions(DATA_SPLIT_SCHEMA, input.split, 'data'),
    },
  }));
}

/** One non-empty, distinct name per class. */
function checkLabelNames(names: unknown, labels: readonly string[]): string[] {
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new RunConfigError('data.labelNames', 'must be a list of names');
  if (names.length !== labels.length) throw new RunConfigError('data.labelNames', `must name each of the ${labels.length} classes (got ${names.length})`);
  if (names.some((n) => n.trim() === '')) throw new RunConfigError('data.labelNames', 'must not contain an empty name');
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new RunConfigError('data.labelNames', `names "${twice}" twice: each class needs its own name`);
  return [...(names as string[])];
}

/** A run config read back (IndexedDB, a file, the start command): every field present and valid, nothing else. */
export function parseRunConfig(raw: unknown): RunConfig {
  const top = object(raw, '(run config)', ['format', 'version', 'method', 'recipe', 'model', 'data']);
  if (top.format !== RUN_CONFIG_FORMAT) throw new RunConfigError('format', `must be "${RUN_CONFIG_FORMAT}" (got ${JSON.stringify(top.format)})`);
  if (top.version !== RUN_CONFIG_VERSION) throw new RunConfigError('version', `must be ${RUN_CONFIG_VERSION} (got ${JSON.stringify(top.version)})`);
  const method = object(top.method, 'method', ['id', 'options']);
  if (typeof method.id !== 'string' || !isMethodId(method.id)) throw new RunConfigError('method.id', `is not a known method (got ${JSON.stringify(method.id)})`);
  const entry = methodEntry(method.id);
  const model = object(top.model, 'model', ['name', 'hubId', 'revision']);
  const data = object(top.data, 'data', ['name', 'train', 'validation', 'columns', 'task', 'labels', 'labelNames', 'validationFraction', 'validationSeed']);
  const columns = object(data.columns, 'data.columns', ['text', 'textPair', 'label']);
  if (data.task !== 'classification' && data.task !== 'regression') throw new RunConfigError('data.task', 'must be "classification" or "regression"');
  const labels = data.labels;
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new RunConfigError('data.labels', 'must be a list of class names');
  if (data.task === 'classification' ? labels.length < 2 : labels.length > 0) {
    throw new RunConfigError('data.labels', data.task === 'classification' ? 'must name at least two classes' : 'must be empty for regression');
  }
  const { validationFraction, validationSeed } = data;
  return withPaths(() => ({
    format: RUN_CONFIG_FORMAT,
    version: RUN_CONFIG_VERSION,
    method: { id: entry.id, options: parseOptions(entry.options, method.options, 'method.options') } as MethodConfig,
    recipe: parseOptions(RECIPE_SCHEMA, top.recipe, 'recipe'),
    model: { name: text(model.name, 'model.name'), hubId: text(model.hubId, 'model.hubId', true), revision: text(model.revision, 'model.revision', true) },
    data: {
      name: text(data.name, 'data.name'),
      train: text(data.train, 'data.train'),
      validation: text(data.validation, 'data.validation', true),
      columns: { text: text(columns.text, 'data.columns.text'), textPair: text(columns.textPair, 'data.columns.textPair', true), label: text(columns.label, 'data.columns.label') },
      task: data.task as Task,
      labels: [...(labels as string[])],
      labelNames: checkLabelNames(data.labelNames, labels as string[]),
      ...parseOptions(DATA_SPLIT_SCHEMA, { validationFraction, validationSeed }, 'data'),
    },
  }));
}

/** Option errors as run-config errors, with the field's path. */
function withPaths<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof OptionError) throw new RunConfigError(error.key ? `${error.what}.${error.key}` : error.what, error.problem);
    throw error;
  }
}

function object(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RunConfigError(path, 'must be an object');
  for (const key of Object.keys(value)) if (!keys.includes(key)) throw new RunConfigError(path, `has an unknown field "${key}" (known: ${keys.join(', ')})`);
  for (const key of keys) if (!(key in value)) throw new RunConfigError(`${path === '(run config)' ? '' : path + '.'}${key}`, 'is missing');
  return value as Record<string, unknown>;
}

function text(value: unknown, path: string, nullable: true): string | null;
function text(value: unknown, path: string): string;
function text(value: unknown, path: string, nullable = false): string | null {
  if (value === null && nullable) return null;
  if (typeof value !== 'string' || value === '') throw new RunConfigError(path, nullable ? 'must be a non-empty string or null' : 'must be a non-empty string');
  return value;
}

/** The method's label and the data name, for run lists. */
export function describeRun(config: RunConfig): string {
  return `${methodEntry(config.method.id).label} · ${config.data.name}`;
}

/** One option as python/ checks it: the schema's rules without the form's labels. */
export interface PortableSpec {
  key: string;
  kind: 'int' | 'number' | 'bool' | 'enum' | 'multi' | 'span';
  default: OptionValue;
  nullable?: boolean;
  min?: number;
  max?: number | { steps: number; epochs: number };
  choices?: string[];
  minCount?: number;
}

function portable(spec: OptionSpec): PortableSpec {
  const base = { key: spec.key, kind: spec.kind, default: spec.default };
  switch (spec.kind) {
    case 'int':
    case 'number':
      return { ...base, nullable: spec.nullLabel !== undefined, min: spec.min, max: spec.max };
    case 'bool':
      return base;
    case 'enum':
      return { ...base, choices: spec.choices.map((c) => c.value) };
    case 'multi':
      return { ...base, choices: spec.choices.map((c) => c.value), minCount: spec.minCount };
    case 'span':
      return { ...base, max: { ...spec.max } };
  }
}

/**
 * Every rule parseRunConfig applies, as data: python/ ships it (peft_playground/schema.json, written by
 * scripts/python/write-schema.ts) and parses a run config with the same checks, so the Python side has no
 * copy of a default or a limit of its own.
 */
export function runConfigSchema() {
  return {
    format: RUN_CONFIG_FORMAT,
    version: RUN_CONFIG_VERSION,
    recipe: RECIPE_SCHEMA.map(portable),
    dataSplit: DATA_SPLIT_SCHEMA.map(portable),
    methods: Object.fromEntries(CATALOG.map((entry) => [entry.id, (entry.options as readonly OptionSpec[]).map(portable)])),
  };
}

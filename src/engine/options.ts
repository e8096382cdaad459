/**
 * The schema language of every setting a run has (the training recipe here, each method's options in
 * src/methods): one spec per option says its key, its URL key, label, help, range or choices, default and form
 * group. A spec is the only place a default or a limit is written; defaults are merged and values checked by
 * the functions below, the settings form and the URL state are derived from the specs. Tensor-free.
 */
import { InputError } from './errors';

/** A duration the user may give in optimizer steps or in (fractional) epochs. */
export interface Span {
  value: number;
  unit: 'steps' | 'epochs';
}

export type OptionValue = number | boolean | string | readonly string[] | Span | null;

export interface Choice<V extends string = string> {
  value: V;
  label: string;
}

interface SpecMeta {
  /** Short name in the page's URL query (unique within a method's options plus the recipe). */
  urlKey: string;
  label: string;
  help: string;
  /** Sub-heading of the settings form. */
  group: string;
}

/** `V` is the option's value type; `_value` only carries it for OptionsOf (never set). */
interface SpecBase<K extends string, V> extends SpecMeta {
  key: K;
  readonly _value?: V;
}

export interface NumberSpec<K extends string = string, V extends number | null = number | null> extends SpecBase<K, V> {
  kind: 'int' | 'number';
  default: V;
  min: number;
  max: number;
  /** Increment the form suggests. */
  step?: number;
  /** Set when null is allowed: what null means ("from t_i in epochs"). */
  nullLabel?: string;
}

export interface BoolSpec<K extends string = string> extends SpecBase<K, boolean> {
  kind: 'bool';
  default: boolean;
}

export interface EnumSpec<K extends string = string, V extends string = string> extends SpecBase<K, V> {
  kind: 'enum';
  choices: readonly Choice<V>[];
  default: V;
}

/** A set of choices (e.g. target modules), kept in the choices' order. */
export interface MultiSpec<K extends string = string, V extends string = string> extends SpecBase<K, V[]> {
  kind: 'multi';
  choices: readonly Choice<V>[];
  default: readonly V[];
  minCount: number;
}

export interface SpanSpec<K extends string = string> extends SpecBase<K, Span> {
  kind: 'span';
  default: Span;
  /** Limits of the value, per unit. */
  max: { steps: number; epochs: number };
}

export type OptionSpec = NumberSpec | BoolSpec | EnumSpec | MultiSpec | SpanSpec;
export type OptionSchema = readonly OptionSpec[];

type ValueOf<S> = S extends { readonly _value?: infer V } ? V : never;

/** The value object a schema describes: `{ [key]: value }`. */
export type OptionsOf<S extends OptionSchema> = { -readonly [P in S[number] as P['key']]: ValueOf<P> };

/* ------------------------------------------------------------------ constructors (keep literal types) */

/** Choices from `{ value: label }`, in the object's order. */
export function choicesOf<const V extends string>(labels: Record<V, string>): Choice<V>[] {
  return (Object.keys(labels) as V[]).map((value) => ({ value, label: labels[value] }));
}

type Meta<D> = SpecMeta & { default: D };

export function int<K extends string>(key: K, spec: Meta<number> & { min: number; max: number }): NumberSpec<K, number> {
  return { kind: 'int', key, ...spec };
}

/** An integer that may be null, i.e. derived from other options (`nullLabel` says how). */
export function optionalInt<K extends string>(
  key: K,
  spec: Meta<number | null> & { min: number; max: number; nullLabel: string },
): NumberSpec<K, number | null> {
  return { kind: 'int', key, ...spec };
}

export function num<K extends string>(key: K, spec: Meta<number> & { min: number; max: number; step?: number }): NumberSpec<K, number> {
  return { kind: 'number', key, ...spec };
}

export function bool<K extends string>(key: K, spec: Meta<boolean>): BoolSpec<K> {
  return { kind: 'bool', key, ...spec };
}

export function choice<K extends string, const V extends string>(
  key: K,
  spec: SpecMeta & { choices: readonly Choice<V>[]; default: NoInfer<V> },
): EnumSpec<K, V> {
  return { kind: 'enum', key, ...spec };
}

export function multi<K extends string, const V extends string>(
  key: K,
  spec: SpecMeta & { choices: readonly Choice<V>[]; default: readonly NoInfer<V>[]; minCount: number },
): MultiSpec<K, V> {
  return { kind: 'multi', key, ...spec };
}

export function span<K extends string>(key: K, spec: Meta<Span> & { max: { steps: number; epochs: number } }): SpanSpec<K> {
  return { kind: 'span', key, ...spec };
}

/** A span in optimizer steps: epochs resolve as ceil(value x stepsPerEpoch) (the one rounding rule; 0 stays 0). */
export function spanSteps(span: Span, stepsPerEpoch: number): number {
  return span.unit === 'steps' ? span.value : Math.ceil(span.value * stepsPerEpoch);
}

/* ------------------------------------------------------------------ checking and merging */

/** A value that breaks its spec (or an unknown / missing key); `what` names the schema ("LoRA", "recipe"). */
export class OptionError extends InputError {
  constructor(
    readonly what: string,
    /** The option's key; '' when the whole value object is wrong. */
    readonly key: string,
    readonly problem: string,
  ) {
    super(`${what}: ${key ? key + ' ' : ''}${problem}`, 'Change that setting (the form shows its range) and start again.');
    this.name = 'OptionError';
  }
}

function isSpan(value: unknown): value is Span {
  if (typeof value !== 'object' || value === null) return false;
  const { unit, value: v } = value as Partial<Span>;
  return (unit === 'steps' || unit === 'epochs') && typeof v === 'number' && Object.keys(value).length === 2;
}

/** Why `value` does not fit `spec` (a phrase after the key), or null when it fits. */
export function optionProblem(spec: OptionSpec, value: unknown): string | null {
  switch (spec.kind) {
    case 'int':
    case 'number': {
      if (value === null) return spec.nullLabel !== undefined ? null : 'must be a number (got null)';
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a finite number (got ${String(value)})`;
      if (spec.kind === 'int' && !Number.isInteger(value)) return `must be an integer (got ${value})`;
      if (value < spec.min || value > spec.max) return `must be in [${spec.min}, ${spec.max}] (got ${value})`;
      return null;
    }
    case 'bool':
      return typeof value === 'boolean' ? null : `must be true or false (got ${String(value)})`;
    case 'enum':
      return spec.choices.some((c) => c.value === value) ? null : `must be one of ${choiceList(spec)} (got ${String(value)})`;
    case 'multi': {
      if (!Array.isArray(value)) return `must be a list of ${choiceList(spec)}`;
      const unknown = value.filter((v) => !spec.choices.some((c) => c.value === v));
      if (unknown.length > 0) return `has unknown entries ${unknown.join(', ')} (known: ${choiceList(spec)})`;
      if (new Set(value).size < spec.minCount) return `must name at least ${spec.minCount} of ${choiceList(spec)}`;
      return null;
    }
    case 'span': {
      if (!isSpan(value)) return 'must be { value, unit: "steps" | "epochs" }';
      const max = spec.max[value.unit];
      if (!Number.isFinite(value.value) || value.value < 0 || value.value > max) return `must be in [0, ${max}] ${value.unit} (got ${value.value})`;
      if (value.unit === 'steps' && !Number.isInteger(value.value)) return `must be a whole number of steps (got ${value.value})`;
      return null;
    }
  }
}

function choiceList(spec: EnumSpec | MultiSpec): string {
  return spec.choices.map((c) => c.value).join(', ');
}

/** A copy in canonical form: multi-selects deduplicated, in their choices' order. */
function canonical(spec: OptionSpec, value: OptionValue): OptionValue {
  if (spec.kind === 'multi') return spec.choices.map((c) => c.value).filter((v) => (value as readonly string[]).includes(v));
  if (spec.kind === 'span') return { ...(value as Span) };
  return value;
}

function checkKeys(schema: OptionSchema, object: object, what: string): void {
  for (const key of Object.keys(object)) {
    if (!schema.some((s) => s.key === key)) throw new OptionError(what, key, `is not an option (known: ${schema.map((s) => s.key).join(', ')})`);
  }
}

function build<S extends OptionSchema>(schema: S, pick: (spec: OptionSpec) => unknown, what: string): OptionsOf<S> {
  const out: Record<string, OptionValue> = {};
  for (const spec of schema) {
    const value = pick(spec);
    const problem = optionProblem(spec, value);
    if (problem) throw new OptionError(what, spec.key, problem);
    out[spec.key] = canonical(spec, value as OptionValue);
  }
  return out as OptionsOf<S>;
}

/** Every value: the override where one is given, else the spec's default; unknown keys and bad values throw. */
export function resolveOptions<S extends OptionSchema>(schema: S, overrides: object = {}, what = 'options'): OptionsOf<S> {
  checkKeys(schema, overrides, what);
  const given = overrides as Record<string, unknown>;
  return build(schema, (spec) => (given[spec.key] !== undefined ? given[spec.key] : spec.default), what);
}

/** A complete value object (a saved run config): every key present and valid, nothing else. */
export function parseOptions<S extends OptionSchema>(schema: S, raw: unknown, what = 'options'): OptionsOf<S> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new OptionError(what, '', 'must be an object');
  checkKeys(schema, raw, what);
  const given = raw as Record<string, unknown>;
  return build(
    schema,
    (spec) => {
      if (!(spec.key in given)) throw new OptionError(what, spec.key, 'is missing');
      return given[spec.key];
    },
    what,
  );
}

export function defaultsOf<S extends OptionSchema>(schema: S): OptionsOf<S> {
  return resolveOptions(schema);
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  if (isSpan(a) && isSpan(b)) return a.value === b.value && a.unit === b.unit;
  return Object.is(a, b);
}

/* ------------------------------------------------------------------ URL text */

const SPAN_SUFFIX = { steps: 'st', epochs: 'ep' } as const;

export function formatUrlValue(spec: OptionSpec, value: OptionValue): string {
  switch (spec.kind) {
    case 'bool':
      return value ? '1' : '0';
    case 'multi':
      return (value as readonly string[]).join(',');
    case 'span': {
      const s = value as Span;
      return `${s.value}${SPAN_SUFFIX[s.unit]}`;
    }
    default:
      return value === null ? '' : String(value);
  }
}

/** The value of a URL text, or undefined when it is malformed or out of range (the caller keeps the default). */
export function parseUrlValue(spec: OptionSpec, raw: string): OptionValue | undefined {
  let value: unknown;
  switch (spec.kind) {
    case 'int':
    case 'number':
      value = raw.trim() === '' ? (spec.nullLabel !== undefined ? null : undefined) : Number(raw);
      break;
    case 'bool':
      value = raw === '1' ? true : raw === '0' ? false : undefined;
      break;
    case 'enum':
      value = raw;
      break;
    case 'multi':
      value = raw === '' ? [] : raw.split(',');
      break;
    case 'span': {
      const match = /^([0-9.]+)(st|ep)$/.exec(raw.trim());
      value = match ? { value: Number(match[1]), unit: match[2] === 'st' ? 'steps' : 'epochs' } : undefined;
      break;
    }
  }
  return value !== undefined && optionProblem(spec, value) === null ? canonical(spec, value as OptionValue) : undefined;
}

/**
 * Table -> labelled examples: column guesses, label ids (or regression targets), validation split,
 * and fixed-shape token arrays for the engine.
 */
import { Rng } from '../../engine/random';
import type { EncodedExamples } from '../../engine/types';
import { encodeBatch, type PairTokenizer } from '../tokenizer/wordpiece';
import { formatLimit, LIMITS } from '../limits';
import type { DatasetIssue, Table } from './table';

export interface ColumnMapping {
  text: string;
  textPair: string | null;
  label: string | null;
}

export type Task = 'classification' | 'regression';

export interface Example {
  text: string;
  textPair: string | null;
  /** Class id, or the regression target. */
  label: number;
  /** Source line, for messages. */
  line: number;
}

export interface Dataset {
  task: Task;
  /** Class names by id (sorted: numerically when all labels are numbers); empty for regression. */
  labels: string[];
  rows: Example[];
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
}

const TEXT_NAMES = ['text', 'sentence', 'sentence1', 'question', 'question1', 'premise', 'review', 'content', 'message', 'body', 'tweet', 'document', '#1 string', 'text_a'];
const PAIRS: [string, string][] = [
  ['sentence1', 'sentence2'],
  ['question1', 'question2'],
  ['question', 'sentence'],
  ['premise', 'hypothesis'],
  ['#1 string', '#2 string'],
  ['text', 'text_pair'],
  ['text_a', 'text_b'],
  ['text1', 'text2'],
  ['sentence_a', 'sentence_b'],
];
const LABEL_NAMES = ['label', 'labels', 'gold_label', 'score', 'target', 'class', 'category', 'sentiment', 'quality', 'y'];

const isNumeric = (cell: string) => cell.trim() !== '' && Number.isFinite(Number(cell));

function columnStats(table: Table, col: number) {
  const sample = table.rows.slice(0, 2000).map((r) => r[col] ?? '');
  const nonEmpty = sample.filter((c) => c.trim() !== '');
  const distinct = new Set(nonEmpty).size;
  const meanLength = nonEmpty.reduce((a, c) => a + c.length, 0) / Math.max(1, nonEmpty.length);
  const numeric = nonEmpty.length > 0 && nonEmpty.every(isNumeric);
  return { distinct, meanLength, numeric, count: nonEmpty.length };
}

/** Guesses text / pair / label columns by name first, then by content. */
export function guessColumns(table: Table): ColumnMapping {
  const lower = table.columns.map((c) => c.trim().toLowerCase());
  const find = (names: readonly string[]) => {
    for (const name of names) {
      const at = lower.indexOf(name);
      if (at >= 0) return table.columns[at];
    }
    return null;
  };
  let text: string | null = null;
  let textPair: string | null = null;
  for (const [a, b] of PAIRS) {
    const first = find([a]);
    const second = find([b]);
    if (first && second) {
      text = first;
      textPair = second;
      break;
    }
  }
  const stats = table.columns.map((_, col) => columnStats(table, col));
  let label = find(LABEL_NAMES);
  if (!label) {
    // Few distinct short values; numeric columns first (CoLA has no header: source, label, mark, sentence).
    const candidates = table.columns
      .map((name, col) => ({ name, ...stats[col] }))
      .filter((s) => s.name !== text && s.name !== textPair && s.distinct >= 2 && s.distinct <= 50 && s.distinct < Math.max(3, s.count / 2) && s.meanLength < 30)
      .sort((a, b) => Number(b.numeric) - Number(a.numeric) || a.distinct - b.distinct);
    label = candidates[0]?.name ?? null;
  }
  if (!text) {
    text = find(TEXT_NAMES);
    if (!text || text === label) {
      const longest = table.columns
        .map((name, col) => ({ name, ...stats[col] }))
        .filter((s) => s.name !== label && !s.numeric)
        .sort((a, b) => b.meanLength - a.meanLength)[0];
      text = longest?.name ?? table.columns[0] ?? '';
    }
  }
  return { text, textPair, label };
}

export interface BuildOptions {
  /** Force a task; default: regression when the label column is continuous. */
  task?: Task;
  /** Reuse the training set's classes (validation file); unseen labels are errors. */
  labels?: readonly string[];
}

/** Regression when labels are numbers with many distinct values, or non-integers with more than a handful. */
export function isContinuous(values: readonly string[]): boolean {
  if (values.length === 0 || !values.every(isNumeric)) return false;
  const distinct = new Set(values.map((v) => Number(v)));
  const fractional = [...distinct].some((v) => !Number.isInteger(v));
  return distinct.size > 20 || (fractional && distinct.size > 10);
}

/** Class names sorted stably: numerically when all are numbers, else by code unit order. */
export function sortLabels(values: Iterable<string>): string[] {
  const unique = [...new Set([...values].map((v) => v.trim()))];
  if (unique.every(isNumeric)) return unique.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  return unique.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function buildDataset(table: Table, mapping: ColumnMapping, options: BuildOptions = {}): Dataset {
  const errors: DatasetIssue[] = [...table.errors];
  const warnings: DatasetIssue[] = [...table.warnings];
  const { file } = table;
  const colOf = (name: string | null, role: string): number | null => {
    if (name === null) return null;
    const at = table.columns.indexOf(name);
    if (at < 0) errors.push({ file, message: `${role} column "${name}" not found (columns: ${table.columns.join(', ')})` });
    return at < 0 ? null : at;
  };
  const textCol = colOf(mapping.text, 'text');
  const pairCol = colOf(mapping.textPair, 'text pair');
  const labelCol = colOf(mapping.label, 'label');
  if (textCol === null || labelCol === null) {
    if (mapping.label === null) errors.push({ file, message: 'no label column chosen: a training set needs labels' });
    return { task: options.task ?? 'classification', labels: [], rows: [], errors, warnings };
  }
  const rawLabels = table.rows.map((r) => (r[labelCol] ?? '').trim()).filter((v) => v !== '');
  const task: Task = options.task ?? (options.labels ? 'classification' : isContinuous(rawLabels) ? 'regression' : 'classification');
  const labels = task === 'regression' ? [] : options.labels ? [...options.labels] : sortLabels(rawLabels);
  if (labels.length > LIMITS.labelCount.value) {
    errors.push({ file, message: `${labels.length.toLocaleString('en-US')} classes in column "${mapping.label}"; the limit is ${formatLimit('count', LIMITS.labelCount.value)}. ${LIMITS.labelCount.hint}` });
    return { task, labels: [], rows: [], errors, warnings };
  }
  const labelId = new Map(labels.map((l, i) => [l, i]));
  const rows: Example[] = [];
  table.rows.forEach((cells, i) => {
    const line = table.lines[i];
    const text = cells[textCol] ?? '';
    const pair = pairCol === null ? null : (cells[pairCol] ?? '');
    const rawLabel = (cells[labelCol] ?? '').trim();
    if (text.trim() === '') return void errors.push({ file, line, message: `empty text in column "${mapping.text}"` });
    if (pair !== null && pair.trim() === '') return void errors.push({ file, line, message: `empty text in column "${mapping.textPair}"` });
    if (rawLabel === '') return void errors.push({ file, line, message: `label missing in column "${mapping.label}"` });
    let label: number;
    if (task === 'regression') {
      label = Number(rawLabel);
      if (!Number.isFinite(label)) return void errors.push({ file, line, message: `label "${rawLabel}" is not a number (regression)` });
      // The GPU trains in float32: a larger target would become Infinity.
      if (!Number.isFinite(Math.fround(label))) return void errors.push({ file, line, message: `label ${rawLabel} is beyond float32 (±3.4e38); rescale the targets` });
    } else {
      const id = labelId.get(rawLabel);
      if (id === undefined) return void errors.push({ file, line, message: `label "${rawLabel}" does not occur in the training set` });
      label = id;
    }
    rows.push({ text, textPair: pair, label, line });
  });
  if (task === 'classification' && !options.labels) {
    const present = new Set(rows.map((r) => r.label));
    if (present.size < 2) {
      errors.push({ file, message: `only one class (${labels[[...present][0] ?? 0] ?? 'none'}) among the labels: a classifier needs at least two` });
    }
    if (labels.length > 100) warnings.push({ file, message: `${labels.length} classes: is "${mapping.label}" really the label column?` });
  }
  if (rows.length === 0) errors.push({ file, message: 'no usable rows' });
  return { task, labels, rows, errors, warnings };
}

/** Fisher-Yates with the engine's seeded PRNG (the one the Trainer shuffles with), so a split is reproducible. */
function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Seeded validation split. Classification is stratified (each class keeps its share, at least one
 * validation row per class with 2+ rows); regression is a plain shuffle. Row order inside each part is kept.
 */
export function splitValidation(
  rows: readonly Example[],
  task: Task,
  options: { fraction?: number; seed?: number } = {},
): { train: Example[]; validation: Example[] } {
  const fraction = options.fraction ?? 0.1;
  if (!(fraction > 0 && fraction < 1)) throw new Error(`validation fraction must be in (0, 1), got ${fraction}`);
  const rng = new Rng(options.seed ?? 0);
  const groups = new Map<number, number[]>();
  rows.forEach((row, i) => {
    const key = task === 'classification' ? row.label : 0;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  });
  const validationIdx = new Set<number>();
  for (const key of [...groups.keys()].sort((a, b) => a - b)) {
    const members = shuffle([...groups.get(key)!], rng);
    let take = Math.round(members.length * fraction);
    if (task === 'classification' && members.length >= 2) take = Math.max(1, take);
    take = Math.min(take, members.length - 1);
    for (const i of members.slice(0, take)) validationIdx.add(i);
  }
  const train: Example[] = [];
  const validation: Example[] = [];
  rows.forEach((row, i) => (validationIdx.has(i) ? validation : train).push(row));
  return { train, validation };
}

/** The engine's examples ([count, seqLen = maxLength] row-major; class ids as Int32Array, targets as Float32Array). */
export interface EncodedDataset extends EncodedExamples {
  labels: Int32Array | Float32Array;
  /** Rows longer than maxLength before truncation. */
  truncated: number;
}

export function encodeExamples(tokenizer: PairTokenizer, rows: readonly Example[], task: Task, maxLength: number): EncodedDataset {
  const hasPair = rows.some((r) => r.textPair !== null);
  const batch = encodeBatch(
    tokenizer,
    rows.map((r) => r.text),
    hasPair ? rows.map((r) => r.textPair) : null,
    maxLength,
  );
  const labels = task === 'regression' ? Float32Array.from(rows, (r) => r.label) : Int32Array.from(rows, (r) => r.label);
  return { count: rows.length, seqLen: maxLength, ...batch, labels };
}

/**
 * Page-side look at a dataset file before it goes to the worker: columns, a preview, a guessed column
 * mapping, the label summary, and row errors with their 1-based line numbers in the file.
 * CSV/TSV via papaparse (delimiter auto-detected), JSON Lines by extension.
 */
import Papa from 'papaparse';
import type { ColumnMapping } from '../worker/protocol';

export interface RowError {
  line: number;
  message: string;
}

export interface Table {
  columns: string[];
  rows: string[][];
  /** File line where each row starts (multi-line quoted cells make this differ from index + 2). */
  rowLines: number[];
  errors: RowError[];
}

function lineCounter(text: string) {
  let offset = 0;
  let line = 1;
  // Offsets only grow while parsing, so counting newlines incrementally is linear overall.
  return (to: number) => {
    for (; offset < to && offset < text.length; offset++) if (text.charCodeAt(offset) === 10) line++;
    return line;
  };
}

function parseJsonLines(text: string): Table {
  const columns: string[] = [];
  const objects: { value: Record<string, unknown>; line: number }[] = [];
  const errors: RowError[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
      for (const key of Object.keys(value)) if (!columns.includes(key)) columns.push(key);
      objects.push({ value: value as Record<string, unknown>, line: i + 1 });
    } catch (error) {
      errors.push({ line: i + 1, message: `invalid JSON: ${(error as Error).message}` });
    }
  });
  return {
    columns,
    rows: objects.map(({ value }) => columns.map((c) => (value[c] === undefined || value[c] === null ? '' : String(value[c])))),
    rowLines: objects.map(({ line }) => line),
    errors,
  };
}

export function parseTable(text: string, fileName = 'data.csv'): Table {
  if (/\.jsonl?$/i.test(fileName)) return parseJsonLines(text);
  const lineAt = lineCounter(text);
  const rows: string[][] = [];
  const rowLines: number[] = [];
  const errors: RowError[] = [];
  let rowStart = 0;
  let header: string[] | null = null;
  Papa.parse<string[]>(text, {
    skipEmptyLines: 'greedy',
    delimiter: /\.tsv$/i.test(fileName) ? '\t' : '',
    step(result) {
      // Skip leading blank lines before the row start, so the line is the row's first non-empty line.
      let start = rowStart;
      while (start < text.length && (text[start] === '\n' || text[start] === '\r')) start++;
      const line = lineAt(start);
      rowStart = result.meta.cursor;
      for (const error of result.errors) errors.push({ line, message: error.message });
      if (!header) {
        header = result.data.map((c) => c.trim());
        return;
      }
      if (result.data.length !== header.length) {
        errors.push({ line, message: `expected ${header.length} fields, found ${result.data.length}` });
        return;
      }
      rows.push(result.data);
      rowLines.push(line);
    },
  });
  return { columns: header ?? [], rows, rowLines, errors };
}

/** Picks text/label columns by name; falls back to the first and last columns. */
export function guessMapping(columns: string[], hint?: { textColumns: string[]; labelColumn: string }): ColumnMapping | null {
  if (columns.length < 2) return null;
  if (hint && hint.textColumns.every((c) => columns.includes(c)) && columns.includes(hint.labelColumn)) {
    return { textA: hint.textColumns[0], textB: hint.textColumns[1], label: hint.labelColumn, task: 'classification' };
  }
  const lower = columns.map((c) => c.toLowerCase());
  const find = (...names: string[]) => {
    const i = lower.findIndex((c) => names.includes(c));
    return i >= 0 ? columns[i] : undefined;
  };
  const label = find('label', 'labels', 'class', 'target', 'y', 'score') ?? columns[columns.length - 1];
  const textA = find('text', 'sentence', 'sentence1', 'sentence_a', 'question', 'premise', 'text_a') ?? columns.find((c) => c !== label)!;
  const textB = find('sentence2', 'sentence_b', 'hypothesis', 'text_b', 'answer');
  return { textA, textB: textB && textB !== textA ? textB : undefined, label, task: 'classification' };
}

export interface MappingSummary {
  /** Classification: label -> count, sorted by label. */
  labels: { label: string; count: number }[];
  /** Regression: range of the values. */
  range: { min: number; max: number } | null;
  usableRows: number;
  errors: RowError[];
}

/** Checks every row against a mapping: missing columns, empty text, empty or non-numeric labels. */
export function summarize(table: Table, mapping: ColumnMapping, maxErrors = 50): MappingSummary {
  const errors: RowError[] = [...table.errors];
  const index = (name: string | undefined) => (name === undefined ? -1 : table.columns.indexOf(name));
  const [a, b, l] = [index(mapping.textA), index(mapping.textB), index(mapping.label)];
  if (a < 0 || l < 0 || (mapping.textB !== undefined && b < 0)) {
    return { labels: [], range: null, usableRows: 0, errors: [{ line: 1, message: 'a mapped column is not in the header' }] };
  }
  const counts = new Map<string, number>();
  let min = Infinity;
  let max = -Infinity;
  let usable = 0;
  table.rows.forEach((row, i) => {
    const line = table.rowLines[i];
    const label = row[l].trim();
    if (row[a].trim() === '' || (b >= 0 && row[b].trim() === '')) {
      errors.push({ line, message: 'empty text' });
      return;
    }
    if (label === '') {
      errors.push({ line, message: 'empty label' });
      return;
    }
    if (mapping.task === 'regression') {
      const value = Number(label);
      if (!Number.isFinite(value)) {
        errors.push({ line, message: `label "${label}" is not a number` });
        return;
      }
      min = Math.min(min, value);
      max = Math.max(max, value);
    } else {
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    usable++;
  });
  errors.sort((p, q) => p.line - q.line);
  return {
    labels: [...counts].map(([label, count]) => ({ label, count })).sort((p, q) => p.label.localeCompare(q.label)),
    range: mapping.task === 'regression' && usable > 0 ? { min, max } : null,
    usableRows: usable,
    errors: errors.slice(0, maxErrors),
  };
}

/**
 * CSV / TSV / JSONL -> a table of string cells with 1-based source line numbers.
 * Problems are collected (file, line, what) and parsing goes on, so the rows that are fine stay usable.
 */
import Papa from 'papaparse';
import { jsonDepth } from '../json';
import { formatLimit, LIMITS } from '../limits';

export type TableFormat = 'csv' | 'tsv' | 'jsonl';

export interface DatasetIssue {
  file: string;
  /** 1-based line in the file where the row starts; absent for whole-file problems. */
  line?: number;
  message: string;
}

export interface Table {
  file: string;
  format: TableFormat;
  columns: string[];
  hasHeader: boolean;
  rows: string[][];
  /** Source line of each row (same index as rows). */
  lines: number[];
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
}

export const MAX_FILE_BYTES = LIMITS.datasetBytes.value;
export const MAX_ROWS = LIMITS.datasetRows.value;
const MAX_COLUMNS = LIMITS.datasetColumns.value;
const MAX_FIELD = LIMITS.datasetFieldChars.value;

/** Column names that mark a first row as a header (lower-cased). */
const KNOWN_COLUMNS = new Set([
  'text', 'sentence', 'sentence1', 'sentence2', 'question', 'question1', 'question2', 'premise', 'hypothesis', 'label',
  'labels', 'gold_label', 'score', 'target', 'class', 'category', 'sentiment', 'review', 'content', 'message', 'id',
  'index', 'idx', 'quality', '#1 string', '#2 string', 'text_a', 'text_b', 'text_pair', 'y', 'body', 'title', 'tweet',
]);

export function formatFromName(fileName: string): TableFormat {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.tsv') || lower.endsWith('.tab')) return 'tsv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  return 'csv';
}

const isNumeric = (cell: string) => cell.trim() !== '' && Number.isFinite(Number(cell));

/** A first row is a header if it names a known column, or is text where the rows below are numbers. */
export function looksLikeHeader(first: readonly string[], rest: readonly (readonly string[])[]): boolean {
  if (first.some((cell) => KNOWN_COLUMNS.has(cell.trim().toLowerCase()))) return true;
  const sample = rest.slice(0, 50);
  if (sample.length === 0) return false;
  return first.some((cell, col) => !isNumeric(cell) && cell.trim() !== '' && sample.every((row) => row[col] !== undefined && isNumeric(row[col])));
}

export interface ParseTableOptions {
  format?: TableFormat;
  /** Override header detection. */
  hasHeader?: boolean;
  maxRows?: number;
}

export function parseTable(text: string, file: string, options: ParseTableOptions = {}): Table {
  const format = options.format ?? formatFromName(file);
  const maxRows = options.maxRows ?? MAX_ROWS;
  const errors: DatasetIssue[] = [];
  const warnings: DatasetIssue[] = [];
  const empty: Table = { file, format, columns: [], hasHeader: false, rows: [], lines: [], errors, warnings };
  const bytes = text.length; // UTF-16 units: close enough for a limit, and no re-encoding of 50 MB
  if (bytes > MAX_FILE_BYTES) {
    errors.push({ file, message: `file is ${(bytes / 1024 / 1024).toFixed(0)} MB; the limit is 50 MB (sample it down first)` });
    return empty;
  }
  // Excel and GLUE's MRPC start with a byte-order mark.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;

  let raw: { cells: string[]; line: number }[];
  let columns: string[] | null = null;
  // Parsing stops after the row limit (+ a header row, + one to know there are more): nothing is built past it.
  const cap = maxRows + 2;
  if (format === 'jsonl') {
    const parsed = parseJsonl(body, file, errors, cap);
    raw = parsed.rows;
    columns = parsed.columns;
  } else if (format === 'tsv') {
    raw = parseTsv(body, cap);
  } else {
    raw = parseCsv(body, file, errors, cap);
  }

  let hasHeader = false;
  if (columns === null) {
    const first = raw[0]?.cells ?? [];
    hasHeader = options.hasHeader ?? looksLikeHeader(first, raw.slice(1).map((r) => r.cells));
    if (hasHeader) {
      columns = first.map((c, i) => c.trim() || `column ${i + 1}`);
      raw = raw.slice(1);
    } else {
      const width = raw.reduce((w, r) => Math.max(w, r.cells.length), 0);
      columns = Array.from({ length: width }, (_, i) => `column ${i + 1}`);
      if (raw.length > 0) warnings.push({ file, message: 'no header row detected: columns are named "column 1", "column 2", ...' });
    }
  } else {
    hasHeader = true;
  }
  if (columns.length > MAX_COLUMNS) {
    errors.push({ file, message: `${columns.length.toLocaleString('en-US')} columns; the limit is ${formatLimit('count', MAX_COLUMNS)}. ${LIMITS.datasetColumns.hint}` });
    return empty;
  }
  const unique = new Set<string>();
  columns = columns.map((name) => {
    let out = name;
    for (let k = 2; unique.has(out); k++) out = `${name} (${k})`;
    unique.add(out);
    return out;
  });

  if (raw.length > maxRows) {
    errors.push({ file, line: raw[maxRows].line, message: `more than ${formatLimit('count', maxRows)} rows (the limit): rows from here on are ignored. ${LIMITS.datasetRows.hint}` });
    raw = raw.slice(0, maxRows);
  }
  const rows: string[][] = [];
  const lines: number[] = [];
  for (const row of raw) {
    const long = row.cells.find((cell) => cell.length > MAX_FIELD);
    if (long !== undefined) {
      errors.push({ file, line: row.line, message: `a field of ${long.length.toLocaleString('en-US')} characters; the limit is ${formatLimit('count', MAX_FIELD)}. ${LIMITS.datasetFieldChars.hint}` });
      continue;
    }
    if (format !== 'jsonl' && row.cells.length !== columns.length) {
      // GLUE QQP and hand-made TSVs have rows with a missing or extra tab: report, keep the ones that fit.
      const problem = row.cells.length < columns.length ? 'missing column(s)' : 'extra column(s)';
      errors.push({ file, line: row.line, message: `${problem}: ${row.cells.length} fields, the header has ${columns.length}` });
      if (row.cells.length < columns.length) {
        rows.push([...row.cells, ...new Array<string>(columns.length - row.cells.length).fill('')]);
        lines.push(row.line);
      }
      continue;
    }
    rows.push(row.cells);
    lines.push(row.line);
  }
  return { file, format, columns, hasHeader, rows, lines, errors, warnings };
}

/** GLUE TSVs are not quoted (quotes are literal text, often unbalanced): split on tabs only. */
function parseTsv(text: string, cap: number): { cells: string[]; line: number }[] {
  const out: { cells: string[]; line: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && out.length < cap; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === '') continue;
    out.push({ cells: line.split('\t'), line: i + 1 });
  }
  return out;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** 1-based line containing character offset `at`. */
function lineAt(starts: readonly number[], at: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function parseCsv(text: string, file: string, errors: DatasetIssue[], cap: number): { cells: string[]; line: number }[] {
  const starts = lineStarts(text);
  const out: { cells: string[]; line: number }[] = [];
  let rowStart = 0;
  Papa.parse<string[]>(text, {
    delimiter: ',',
    skipEmptyLines: 'greedy',
    step: (result, parser) => {
      if (out.length >= cap) return parser.abort();
      // meta.cursor is the offset after this row: the next row starts there.
      const line = lineAt(starts, skipBlank(text, rowStart));
      rowStart = result.meta.cursor;
      for (const error of result.errors) {
        const what = error.code === 'MissingQuotes' ? 'unterminated quote (a " is never closed; the rest of the file was read as one field)' : error.message;
        errors.push({ file, line, message: what });
      }
      if (result.errors.some((e) => e.code === 'MissingQuotes')) return;
      out.push({ cells: result.data, line });
    },
  });
  return out;
}

function skipBlank(text: string, at: number): number {
  let i = at;
  while (i < text.length && (text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function parseJsonl(text: string, file: string, errors: DatasetIssue[], cap: number): { rows: { cells: string[]; line: number }[]; columns: string[] } {
  const objects: { value: Record<string, unknown>; line: number }[] = [];
  const lines = text.split('\n');
  // A .json file holding one array of objects is accepted too.
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    try {
      if (jsonDepth(text) > LIMITS.jsonDepth.value) throw new Error(`nested deeper than ${LIMITS.jsonDepth.value} levels`);
      const parsed = JSON.parse(text) as unknown;
      if (!Array.isArray(parsed)) throw new Error('the file is not one array of objects');
      const array: unknown[] = parsed;
      array.slice(0, cap).forEach((value, i) => {
        if (value && typeof value === 'object' && !Array.isArray(value)) objects.push({ value: value as Record<string, unknown>, line: i + 1 });
        else errors.push({ file, line: i + 1, message: `array item ${i + 1} is not an object` });
      });
    } catch (error) {
      errors.push({ file, message: `not valid JSON: ${(error as Error).message}` });
    }
  } else {
    for (let i = 0; i < lines.length && objects.length < cap; i++) {
      const line = lines[i].trim();
      if (line === '') continue;
      try {
        if (jsonDepth(line) > LIMITS.jsonDepth.value) throw new Error(`nested deeper than ${LIMITS.jsonDepth.value} levels`);
        const value = JSON.parse(line) as unknown;
        if (value && typeof value === 'object' && !Array.isArray(value)) objects.push({ value: value as Record<string, unknown>, line: i + 1 });
        else errors.push({ file, line: i + 1, message: 'line is not a JSON object' });
      } catch (error) {
        errors.push({ file, line: i + 1, message: `invalid JSON: ${(error as Error).message}` });
      }
    }
  }
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const { value } of objects.slice(0, 1000)) {
    for (const key of Object.keys(value)) {
      // One past the limit is enough for parseTable to refuse the file.
      if (!seen.has(key) && columns.length <= MAX_COLUMNS) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  // Own keys only: a column named "constructor" or "toString" must not read Object.prototype.
  return { rows: objects.map(({ value, line }) => ({ cells: columns.map((c) => cellText(Object.hasOwn(value, c) ? value[c] : undefined)), line })), columns };
}

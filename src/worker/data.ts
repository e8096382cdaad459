/**
 * The worker's data: reads the files once and keeps their parsed tables, maps them to examples (columns, task,
 * split) each time the user changes the mapping, and decides with one rule whether a run can start on them.
 * The page only ever sees the preview.
 */
import { MAX_FILE_BYTES, guessColumns, parseTable, prepareTables, type DatasetIssue, type PreparedDataset, type Table, type Task } from '../io/datasets';
import { decodeText, describeDecoding, type DecodedText, type TextEncoding } from '../io/datasets/encoding';
import { InputError } from '../engine/errors';
import { ContentHash } from '../io/hash';
import type { DataFile, DataInput, DataPreview, DataProblem } from './protocol';
import type { DataColumns, DataRef, DataSplit } from './run-config';

const PREVIEW_ROWS = 6;
const PREVIEW_CELL_CHARS = 300;
const MAX_PROBLEMS = 100;

/** The one rule: why these examples cannot train, or null when they can. */
export function unusableReason(prepared: PreparedDataset): string | null {
  if (prepared.train.length < 2) return `${prepared.train.length} usable training row(s): a run needs at least 2.`;
  if (prepared.validation.length < 1) return 'No usable validation row: add rows, raise the validation split or give a validation file.';
  if (prepared.task === 'classification' && new Set(prepared.train.map((r) => r.label)).size < 2) {
    return 'The training rows hold one class only: a classifier needs at least two.';
  }
  return null;
}

/**
 * The rows a run trains and validates on, hashed (task, classes, every row's texts and label, in order): a kept
 * checkpoint resumes only on data with the same fingerprint, whatever the files are called.
 */
export function datasetFingerprint(prepared: PreparedDataset): string {
  const hash = new ContentHash().text(`${prepared.task}\u0000${prepared.labels.join('\u0001')}\u0000`);
  for (const [part, rows] of [['train', prepared.train], ['validation', prepared.validation]] as const) {
    hash.text(`${part}:${rows.length}\u0000`);
    for (const row of rows) hash.text(`${row.text}\u0001${row.textPair ?? ''}\u0001${row.label}\u0000`);
  }
  return hash.hex();
}

/** A file's text, decoded with `encoding` (null: detected); `decoded` is null for text handed over as such. */
async function readFile(file: DataFile, encoding: TextEncoding | null): Promise<{ text: string; decoded: DecodedText | null }> {
  const tooLarge = (bytes: number) =>
    new InputError(`${file.name} is ${(bytes / 1024 / 1024).toFixed(0)} MB; the limit is ${MAX_FILE_BYTES / 1024 / 1024} MB.`, 'Sample it down first.');
  if ('text' in file) return { text: file.text, decoded: null };
  let bytes: Uint8Array;
  if ('blob' in file) {
    if (file.blob.size > MAX_FILE_BYTES) throw tooLarge(file.blob.size);
    bytes = new Uint8Array(await file.blob.arrayBuffer());
  } else {
    const response = await fetch(file.url);
    if (!response.ok) throw new InputError(`${file.name}: HTTP ${response.status}.`, 'Reload the page; the sample datasets ship with the app.');
    const length = Number(response.headers.get('content-length'));
    if (length > MAX_FILE_BYTES) throw tooLarge(length);
    bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > MAX_FILE_BYTES) throw tooLarge(bytes.byteLength);
  }
  const decoded = decodeText(bytes, encoding);
  return { text: decoded.text, decoded };
}

function problemsOf(issues: readonly DatasetIssue[]): DataProblem[] {
  return issues
    .map((i) => ({ file: i.file, line: i.line ?? null, message: i.message }))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

function mappingOf(columns: DataColumns | null, table: Table): DataColumns | null {
  if (columns) return columns;
  const guess = guessColumns(table);
  return guess.text && guess.label ? { text: guess.text, textPair: guess.textPair, label: guess.label } : null;
}

function names(columns: DataColumns): string[] {
  return [columns.text, columns.label, ...(columns.textPair ? [columns.textPair] : [])];
}

export class DataStore {
  private loaded: {
    name: string;
    train: Table;
    validation: Table | null;
    decoded: { train: DecodedText | null; validation: DecodedText | null };
    /** The files' text as read (the PyTorch project export writes it back out as UTF-8). */
    texts: { train: string; validation: string | null };
  } | null = null;
  /** The last mapping's examples, reused by a run with the same mapping. */
  private prepared: { key: string; dataset: PreparedDataset } | null = null;

  /** Reads and parses the files; `columns` (a sample's own) are used when the file has them, else guessed. */
  async load(input: DataInput, columns: DataColumns | null, task: Task | null, split: DataSplit): Promise<DataPreview> {
    // A failed read leaves nothing loaded: the page shows no data, and a run cannot start on the previous file.
    this.loaded = null;
    this.prepared = null;
    const encoding = input.encoding ?? null;
    const [trainFile, validationFile] = await Promise.all([readFile(input.train, encoding), input.validation ? readFile(input.validation, encoding) : null]);
    const train = parseTable(trainFile.text, input.train.name);
    const validation = input.validation && validationFile !== null ? parseTable(validationFile.text, input.validation.name) : null;
    this.loaded = {
      name: input.name,
      train,
      validation,
      decoded: { train: trainFile.decoded, validation: validationFile?.decoded ?? null },
      texts: { train: trainFile.text, validation: validationFile?.text ?? null },
    };
    this.prepared = null;
    const fits = columns !== null && names(columns).every((c) => train.columns.includes(c));
    return this.map(fits ? columns : null, fits ? task : null, split);
  }

  /** The preview of another mapping of the loaded files; null columns / task: guessed. */
  map(columns: DataColumns | null, task: Task | null, split: DataSplit): DataPreview {
    const loaded = this.requireLoaded();
    const { train: table } = loaded;
    const mapping = mappingOf(columns, table);
    const dataset = mapping ? this.prepare(mapping, task, split) : null;
    // Errors skip rows (or the file); warnings skip nothing and are notes.
    const problems = problemsOf(dataset ? dataset.errors : table.errors);
    const notes = (dataset ? dataset.warnings : table.warnings).map((w) => `${w.file}: ${w.message}`);
    const { decoded } = loaded;
    const trainRows = dataset?.train ?? [];
    const validationRows = dataset?.validation ?? [];
    let range: DataPreview['range'] = null;
    if (dataset?.task === 'regression' && trainRows.length > 0) {
      range = { min: Infinity, max: -Infinity };
      for (const row of trainRows) range = { min: Math.min(range.min, row.label), max: Math.max(range.max, row.label) };
    }
    const count = (rows: typeof trainRows, id: number) => rows.reduce((n, r) => n + (r.label === id ? 1 : 0), 0);
    const reason = dataset ? unusableReason(dataset) : table.columns.length === 0 ? 'The file has no rows.' : 'No label column found: pick the text and label columns.';
    return {
      name: loaded.name,
      files: { train: table.file, validation: loaded.validation?.file ?? null },
      columns: table.columns,
      rows: table.rows.slice(0, PREVIEW_ROWS).map((cells, i) => ({ line: table.lines[i], cells: cells.map((c) => c.slice(0, PREVIEW_CELL_CHARS)) })),
      rowCount: table.rows.length,
      mapping,
      task: dataset?.task ?? task ?? 'classification',
      labels: (dataset?.labels ?? []).map((name, id) => ({ name, train: count(trainRows, id), validation: count(validationRows, id) })),
      range,
      trainRows: trainRows.length,
      validationRows: validationRows.length,
      pair: mapping?.textPair != null,
      split,
      problems: problems.slice(0, MAX_PROBLEMS),
      problemCount: problems.length,
      notes,
      encoding: { train: decoded.train && describeDecoding(decoded.train), validation: decoded.validation && describeDecoding(decoded.validation) },
      encodingUsed: decoded.train?.encoding ?? null,
      fingerprint: dataset ? datasetFingerprint(dataset) : null,
      usable: reason === null,
      reason,
    };
  }

  /** The examples a run config's data section names; InputError when they are not the loaded, usable data. */
  forRun(data: DataRef): PreparedDataset {
    const loaded = this.requireLoaded();
    if (data.train !== loaded.train.file || data.validation !== (loaded.validation?.file ?? null)) {
      throw new InputError(`The run is for ${data.train}, but ${loaded.train.file} is loaded.`, 'Load that data file first.');
    }
    const dataset = this.prepare(data.columns, data.task, data);
    const reason = unusableReason(dataset);
    if (reason) {
      const lines = problemsOf(dataset.errors).flatMap((p) => (p.line === null ? [] : [{ line: p.line, message: `${p.file}: ${p.message}` }]));
      throw new InputError(`${loaded.name}: ${reason}`, 'Fix the rows listed below, or pick other columns.', lines.slice(0, MAX_PROBLEMS));
    }
    if (dataset.labels.join('\n') !== data.labels.join('\n')) {
      throw new InputError(`The run expects classes ${data.labels.join(', ')}, the data has ${dataset.labels.join(', ')}.`, 'Reload the data and start again.');
    }
    return dataset;
  }

  /** The run's data files (UTF-8), when they are the loaded ones. */
  filesFor(data: DataRef): { name: string; bytes: Uint8Array }[] {
    const loaded = this.requireLoaded();
    if (data.train !== loaded.train.file || data.validation !== (loaded.validation?.file ?? null)) {
      throw new InputError(`The run is for ${data.train}, but ${loaded.train.file} is loaded.`, 'Load that data file first.');
    }
    const encode = (text: string) => new TextEncoder().encode(text);
    const files = [{ name: data.train, bytes: encode(loaded.texts.train) }];
    if (data.validation !== null && loaded.texts.validation !== null) files.push({ name: data.validation, bytes: encode(loaded.texts.validation) });
    return files;
  }

  private prepare(mapping: DataColumns, task: Task | null, split: DataSplit): PreparedDataset {
    const key = JSON.stringify([mapping, task, split.validationFraction, split.validationSeed]);
    if (this.prepared?.key !== key) {
      const { train, validation } = this.requireLoaded();
      const dataset = prepareTables(train, validation, {
        mapping,
        task: task ?? undefined,
        validationFraction: split.validationFraction,
        seed: split.validationSeed,
      });
      this.prepared = { key, dataset };
    }
    return this.prepared.dataset;
  }

  private requireLoaded() {
    if (!this.loaded) throw new InputError('No data is loaded.', 'Pick a sample dataset or drop a file first.');
    return this.loaded;
  }
}

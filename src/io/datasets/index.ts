/** One call from uploaded file text(s) to train/validation examples, with every problem collected. */
import { buildDataset, guessColumns, splitValidation, type ColumnMapping, type Example, type Task } from './dataset';
import { parseTable, type DatasetIssue, type ParseTableOptions, type Table } from './table';

export * from './dataset';
export * from './table';

export interface DatasetFile {
  name: string;
  text: string;
}

export interface PrepareOptions extends ParseTableOptions {
  /** A separate validation file; otherwise a seeded stratified split of the training file. */
  validation?: DatasetFile;
  mapping?: ColumnMapping;
  task?: Task;
  validationFraction?: number;
  seed?: number;
}

export interface PreparedDataset {
  columns: string[];
  mapping: ColumnMapping;
  task: Task;
  labels: string[];
  train: Example[];
  validation: Example[];
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
}

export function prepareDataset(train: DatasetFile, options: PrepareOptions = {}): PreparedDataset {
  const table = parseTable(train.text, train.name, options);
  const validation = options.validation ? parseTable(options.validation.text, options.validation.name, { format: options.format }) : null;
  return prepareTables(table, validation, options);
}

export type TablePrepareOptions = Omit<PrepareOptions, 'validation' | keyof ParseTableOptions>;

/** Examples from tables parsed once (the worker keeps them while the user tries other columns or splits). */
export function prepareTables(table: Table, valTable: Table | null, options: TablePrepareOptions = {}): PreparedDataset {
  const mapping = options.mapping ?? guessColumns(table);
  const built = buildDataset(table, mapping, { task: options.task });
  const errors = [...built.errors];
  const warnings = [...built.warnings];
  let trainRows = built.rows;
  let validation: Example[] = [];
  if (valTable) {
    const missing = [mapping.text, mapping.textPair, mapping.label].filter((c): c is string => c !== null && !valTable.columns.includes(c));
    if (missing.length > 0) {
      errors.push({ file: valTable.file, message: `validation file lacks column(s) ${missing.join(', ')} of the training file` });
    } else {
      const val = buildDataset(valTable, mapping, { task: built.task, labels: built.task === 'classification' ? built.labels : undefined });
      validation = val.rows;
      // A loop, not push(...): a file of 125k+ bad rows overflows the argument stack.
      for (const e of val.errors) errors.push(e);
      for (const w of val.warnings) warnings.push(w);
    }
  } else if (trainRows.length >= 2) {
    const split = splitValidation(trainRows, built.task, { fraction: options.validationFraction, seed: options.seed });
    trainRows = split.train;
    validation = split.validation;
  }
  return { columns: table.columns, mapping, task: built.task, labels: built.labels, train: trainRows, validation, errors, warnings };
}

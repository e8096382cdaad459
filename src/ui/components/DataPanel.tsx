import { useEffect, useId, useMemo, useState } from 'react';
import type { ColumnMapping, DataInput } from '../../worker/protocol';
import { useAppState, useController } from '../context';
import { buildDataset, guessColumns, parseTable, type Table } from '../../io/datasets';

/** io's column guess, with the sample dataset's own columns taking precedence. */
function guessMapping(table: Table, hint?: { textColumns: string[]; labelColumn: string }): ColumnMapping | null {
  const guess = guessColumns(table);
  const fromHint = hint && hint.textColumns.every((c) => table.columns.includes(c)) && table.columns.includes(hint.labelColumn);
  const text = fromHint ? hint.textColumns[0] : guess.text;
  const textPair = fromHint ? (hint.textColumns[1] ?? null) : guess.textPair;
  const label = fromHint ? hint.labelColumn : guess.label;
  if (!text || !label) return null;
  // io decides classification vs regression from the label values.
  const task = buildDataset(table, { text, textPair, label }).task;
  return { text, textPair, label, task };
}

/** Label counts, the usable row count and every problem (with its line) for one mapping. */
function summarize(table: Table, mapping: ColumnMapping) {
  const built = buildDataset(table, mapping, { task: mapping.task });
  const counts = new Map<number, number>();
  for (const row of built.rows) counts.set(row.label, (counts.get(row.label) ?? 0) + 1);
  const values = built.rows.map((r) => r.label);
  return {
    labels: built.labels.map((label, id) => ({ label, count: counts.get(id) ?? 0 })),
    range: mapping.task === 'regression' && values.length > 0 ? { min: Math.min(...values), max: Math.max(...values) } : null,
    usableRows: built.rows.length,
    errors: [...built.errors, ...built.warnings].sort((a, b) => (a.line ?? 0) - (b.line ?? 0)).slice(0, 100),
  };
}

export interface SampleDataset {
  id: string;
  title: string;
  task: 'single' | 'pair';
  textColumns: string[];
  labelColumn: string;
  labels: string[];
  files: { train: string; validation?: string; card?: string };
  sizes: { train: number; validation: number };
  default?: boolean;
}

interface Loaded {
  input: DataInput;
  hint?: { textColumns: string[]; labelColumn: string };
}

const PREVIEW_ROWS = 6;

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

export function DataPanel(props: {
  /** '' = the user's own file; an unknown id falls back to the default sample. */
  sampleId: string;
  onSampleId: (id: string) => void;
  validationFraction: number;
  seed: number;
}) {
  const { sampleId, onSampleId, validationFraction, seed } = props;
  const controller = useController();
  const dataState = useAppState((s) => s.data);
  const training = useAppState((s) => s.training);
  const [samples, setSamples] = useState<SampleDataset[]>([]);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  // A mapping the user edited, valid only for the table it was made for.
  const [edited, setEdited] = useState<{ table: Table; mapping: ColumnMapping } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const ids = { sample: useId(), file: useId(), a: useId(), b: useId(), label: useId(), task: useId() };
  const locked = training === 'running' || training === 'paused' || training === 'starting';

  useEffect(() => {
    fetchText('./datasets/index.json')
      .then((text) => setSamples((JSON.parse(text) as { datasets: SampleDataset[] }).datasets))
      .catch((error: Error) => setLoadError(`Sample datasets unavailable: ${error.message}`));
  }, []);

  // Load the chosen sample (the default one when the link names none).
  const chosen = sampleId === '' ? undefined : (samples.find((s) => s.id === sampleId) ?? samples.find((s) => s.default));
  useEffect(() => {
    if (!chosen) return;
    let cancelled = false;
    Promise.all([fetchText(`./datasets/${chosen.files.train}`), chosen.files.validation ? fetchText(`./datasets/${chosen.files.validation}`) : undefined])
      .then(([train, validation]) => {
        if (cancelled) return;
        setLoadError(null);
        setLoaded({
          input: {
            name: chosen.id,
            train: { fileName: chosen.files.train, text: train },
            validation: validation === undefined ? undefined : { fileName: chosen.files.validation!, text: validation },
          },
          hint: { textColumns: chosen.textColumns, labelColumn: chosen.labelColumn },
        });
      })
      .catch((error: Error) => !cancelled && setLoadError(error.message));
    return () => {
      cancelled = true;
    };
  }, [chosen]);

  const table = useMemo(() => (loaded ? parseTable(loaded.input.train.text, loaded.input.train.fileName) : null), [loaded]);
  const guessed = useMemo(() => (table ? guessMapping(table, loaded?.hint) : null), [table, loaded]);
  const mapping = edited && edited.table === table ? edited.mapping : guessed;
  const summary = useMemo(() => (table && mapping ? summarize(table, mapping) : null), [table, mapping]);

  // Hand the data to the worker whenever it (or its mapping) changes and is usable.
  const usable = summary !== null && summary.usableRows >= 2 && (mapping?.task === 'regression' || summary.labels.length >= 2);
  useEffect(() => {
    if (!loaded || !mapping || !usable || locked) return;
    controller.loadData(loaded.input, mapping, validationFraction, seed);
    // `locked` is left out on purpose: finishing a run must not re-send the data.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [controller, loaded, mapping, usable, validationFraction, seed]);

  async function readFiles(fileList: FileList | File[]) {
    const files = [...fileList];
    if (files.length === 0) return;
    const validationFile = files.length > 1 ? files.find((f) => /val|dev|test/i.test(f.name)) : undefined;
    const trainFile = files.find((f) => f !== validationFile)!;
    try {
      const [train, validation] = await Promise.all([trainFile.text(), validationFile?.text()]);
      onSampleId('');
      setLoadError(null);
      setLoaded({
        input: {
          name: trainFile.name.replace(/\.[^.]+$/, ''),
          train: { fileName: trainFile.name, text: train },
          validation: validationFile && validation !== undefined ? { fileName: validationFile.name, text: validation } : undefined,
        },
      });
    } catch (error) {
      setLoadError(`Could not read ${trainFile.name}: ${(error as Error).message}`);
    }
  }

  const columnOptions = table?.columns ?? [];
  const setField = (patch: Partial<ColumnMapping>) => mapping && table && setEdited({ table, mapping: { ...mapping, ...patch } });

  return (
    <section className="panel" aria-labelledby="data-title">
      <h2 id="data-title">2 · Data</h2>
      <div className="form-grid">
        <label htmlFor={ids.sample}>Sample dataset</label>
        <select id={ids.sample} value={chosen?.id ?? ''} disabled={locked} onChange={(e) => onSampleId(e.target.value)}>
          <option value="">— my own file —</option>
          {samples.map((s) => (
            <option key={s.id} value={s.id}>
              {s.title}
            </option>
          ))}
        </select>
      </div>
      <div
        className={`dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          if (!locked) void readFiles(e.dataTransfer.files);
        }}
      >
        <p>
          Drop a CSV, TSV or JSONL file here (add a second file named *val* / *dev* for validation), or{' '}
          <label htmlFor={ids.file} className="linklike">
            choose files
          </label>
        </p>
        <input
          id={ids.file}
          className="visually-hidden"
          type="file"
          multiple
          accept=".csv,.tsv,.jsonl,.json,.txt"
          disabled={locked}
          data-testid="data-file"
          onChange={(e) => e.target.files && void readFiles(e.target.files)}
        />
      </div>
      {loadError && (
        <p className="error-text" role="alert">
          {loadError}
        </p>
      )}
      {!table && !loadError && <p className="empty">No data yet: pick a sample or drop a file.</p>}
      {table && mapping && (
        <>
          <p className="muted small">
            {loaded!.input.name}: {table.rows.length} rows
            {loaded!.input.validation ? ' + a validation file' : `, ${Math.round(validationFraction * 100)} % held out for validation`}
          </p>
          <div className="form-grid mapping">
            <label htmlFor={ids.a}>Text</label>
            <select id={ids.a} value={mapping.text} disabled={locked} onChange={(e) => setField({ text: e.target.value })}>
              {columnOptions.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
            <label htmlFor={ids.b}>Second text (pairs)</label>
            <select id={ids.b} value={mapping.textPair ?? ''} disabled={locked} onChange={(e) => setField({ textPair: e.target.value || null })}>
              <option value="">— none —</option>
              {columnOptions.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
            <label htmlFor={ids.label}>Label</label>
            <select id={ids.label} value={mapping.label} disabled={locked} onChange={(e) => setField({ label: e.target.value })}>
              {columnOptions.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
            <label htmlFor={ids.task}>Task</label>
            <select id={ids.task} value={mapping.task} disabled={locked} onChange={(e) => setField({ task: e.target.value as ColumnMapping['task'] })}>
              <option value="classification">Classification</option>
              <option value="regression">Regression (numbers)</option>
            </select>
          </div>
          <div className="table-wrap" tabIndex={0} aria-label="Data preview">
            <table className="preview" data-testid="data-preview">
              <thead>
                <tr>
                  <th scope="col">line</th>
                  {table.columns.map((c) => (
                    <th key={c} scope="col">
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {table.rows.slice(0, PREVIEW_ROWS).map((row, i) => (
                  <tr key={i}>
                    <td className="num">{table.lines[i]}</td>
                    {row.map((cell, j) => (
                      <td key={j} title={cell}>
                        {cell.length > 90 ? cell.slice(0, 90) + '…' : cell}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {summary && (
            <div className="label-summary" aria-label="Label summary">
              {summary.range ? (
                <p>
                  Labels range {summary.range.min} – {summary.range.max}
                </p>
              ) : (
                summary.labels.map(({ label, count }) => (
                  <div key={label} className="label-bar">
                    <span className="label-name">{label}</span>
                    <span className="bar" style={{ width: `${(100 * count) / Math.max(1, summary.usableRows)}%` }} />
                    <span className="num">{count}</span>
                  </div>
                ))
              )}
              {summary.errors.length > 0 && (
                <details className="row-errors" open={summary.usableRows < 2}>
                  <summary>
                    {summary.errors.length} row problem{summary.errors.length > 1 ? 's' : ''} (rows with errors are skipped)
                  </summary>
                  <ul>
                    {summary.errors.map((e, i) => (
                      <li key={i}>
                        {e.line !== undefined ? `line ${e.line}: ` : ''}
                        {e.message}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
              {!usable && <p className="error-text">Need at least 2 usable rows and 2 labels.</p>}
            </div>
          )}
          <p className="status-line" data-testid="data-status">
            {dataState.status === 'loading' && 'Checking rows in the worker…'}
            {dataState.status === 'ready' &&
              dataState.info &&
              `Ready: ${dataState.info.trainRows} train / ${dataState.info.validationRows} validation rows, ${dataState.info.regression ? 'regression' : `${dataState.info.labels.length} labels`}`}
          </p>
        </>
      )}
    </section>
  );
}

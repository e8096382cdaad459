/**
 * Data: pick a sample or drop files, then check what the worker made of them (it parses; this panel only shows
 * its DataPreview): the column mapping, the first rows, the labels, the problems by line, usable or not.
 */
import { useEffect, useId, useState } from 'react';
import { ENCODING_LABELS, TEXT_ENCODINGS, type DataInput, type DataPreview, type TextEncoding } from '../../worker/protocol';
import type { DataColumns, DataSplit, Task } from '../../worker/run-config';
import { useAppState, useController } from '../context';
import { isActive } from '../state';
import { Select } from './Select';

export interface SampleDataset {
  id: string;
  title: string;
  textColumns: string[];
  labelColumn: string;
  files: { train: string; validation?: string };
  default?: boolean;
}

const PREVIEW_CHARS = 90;

function sampleUrl(path: string): string {
  // Absolute: the worker resolves URLs against its own script, not the page.
  return new URL(`datasets/${path}`, document.baseURI).href;
}

function sampleInput(sample: SampleDataset): DataInput {
  const { train, validation } = sample.files;
  return {
    name: sample.id,
    train: { name: train, url: sampleUrl(train) },
    validation: validation ? { name: validation, url: sampleUrl(validation) } : null,
  };
}

function filesInput(fileList: FileList | File[]): DataInput | null {
  const files = [...fileList];
  if (files.length === 0) return null;
  const validation = files.length > 1 ? files.find((f) => /val|dev|test/i.test(f.name)) : undefined;
  const train = files.find((f) => f !== validation)!;
  return {
    name: train.name.replace(/\.[^.]+$/, ''),
    train: { name: train.name, blob: train },
    validation: validation ? { name: validation.name, blob: validation } : null,
  };
}

function useSamples(): { samples: SampleDataset[]; error: string | null } {
  const [samples, setSamples] = useState<SampleDataset[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    fetch('./datasets/index.json')
      .then((response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json() as Promise<{ datasets: SampleDataset[] }>;
      })
      .then((index) => setSamples(index.datasets))
      .catch((e: Error) => setError(`Sample datasets unavailable: ${e.message}`));
  }, []);
  return { samples, error };
}

function Source({ samples, chosenId, locked, onSample, onFiles }: { samples: SampleDataset[]; chosenId: string; locked: boolean; onSample: (id: string) => void; onFiles: (files: FileList) => void }) {
  const ids = { sample: useId(), file: useId() };
  const [dragging, setDragging] = useState(false);
  return (
    <>
      <div className="form-grid">
        <label htmlFor={ids.sample}>Sample dataset</label>
        <Select id={ids.sample} value={chosenId} empty="— my own file —" items={samples.map((s) => ({ value: s.id, label: s.title }))} disabled={locked} onChange={onSample} />
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
          if (!locked) onFiles(e.dataTransfer.files);
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
          onChange={(e) => e.target.files && onFiles(e.target.files)}
        />
      </div>
    </>
  );
}

function ColumnSelect({ label, value, columns, optional, disabled, onChange }: { label: string; value: string | null; columns: string[]; optional?: boolean; disabled: boolean; onChange: (column: string | null) => void }) {
  const id = useId();
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <Select
        id={id}
        value={value ?? ''}
        empty={optional ? '— none —' : '— pick a column —'}
        emptyDisabled={!optional}
        items={columns.map((c) => ({ value: c, label: c }))}
        disabled={disabled}
        onChange={(c) => onChange(c || null)}
      />
    </>
  );
}

/** Which columns hold what, and the task; every change asks the worker for a new preview. */
function Mapping({ preview, locked, onMap }: { preview: DataPreview; locked: boolean; onMap: (columns: DataColumns, task: Task) => void }) {
  const taskId = useId();
  const current = preview.mapping ?? { text: '', textPair: null, label: '' };
  const set = (patch: Partial<DataColumns>) => {
    const next = { ...current, ...patch };
    if (next.text && next.label) onMap(next, preview.task);
  };
  return (
    <div className="form-grid mapping">
      <ColumnSelect label="Text" value={current.text || null} columns={preview.columns} disabled={locked} onChange={(c) => set({ text: c ?? '' })} />
      <ColumnSelect label="Second text (pairs)" value={current.textPair} columns={preview.columns} optional disabled={locked} onChange={(c) => set({ textPair: c })} />
      <ColumnSelect label="Label" value={current.label || null} columns={preview.columns} disabled={locked} onChange={(c) => set({ label: c ?? '' })} />
      <label htmlFor={taskId}>Task</label>
      <select id={taskId} value={preview.task} disabled={locked || !preview.mapping} onChange={(e) => preview.mapping && onMap(preview.mapping, e.target.value as Task)}>
        <option value="classification">Classification</option>
        <option value="regression">Regression (numbers)</option>
      </select>
    </div>
  );
}

function PreviewTable({ preview }: { preview: DataPreview }) {
  return (
    <div className="table-wrap" tabIndex={0} aria-label="Data preview">
      <table className="preview" data-testid="data-preview">
        <thead>
          <tr>
            <th scope="col">line</th>
            {preview.columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {preview.rows.map((row) => (
            <tr key={row.line}>
              <td className="num">{row.line}</td>
              {row.cells.map((cell, j) => (
                <td key={j} title={cell}>
                  {cell.length > PREVIEW_CHARS ? cell.slice(0, PREVIEW_CHARS) + '…' : cell}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A class name the user can change (SST-2's 0 / 1 -> negative / positive); committed on blur or Enter. */
function LabelName({ label, disabled }: { label: string; disabled: boolean }) {
  const controller = useController();
  const name = useAppState((s) => s.labelNames[label] ?? label);
  const [draft, setDraft] = useState<string | null>(null);
  const commit = () => {
    if (draft !== null) controller.store.dispatch({ type: 'renameLabel', label, name: draft });
    setDraft(null);
  };
  return (
    <input
      className="label-name"
      value={draft ?? name}
      disabled={disabled}
      aria-label={`Name of class ${label}`}
      title={name === label ? 'Rename this class (predictions and exports use the name)' : `"${label}" in the file`}
      data-testid={`label-name-${label}`}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') commit();
        if (e.key === 'Escape') setDraft(null);
      }}
    />
  );
}

function LabelSummary({ preview, locked }: { preview: DataPreview; locked: boolean }) {
  const total = Math.max(1, preview.trainRows);
  const skipped = preview.problems.filter((p) => p.line !== null).length;
  return (
    <div className="label-summary" aria-label="Label summary">
      {preview.range ? (
        <p>
          Labels range {preview.range.min} – {preview.range.max}
        </p>
      ) : (
        preview.labels.map((label) => (
          <div key={label.name} className="label-bar" title={`${label.train} train, ${label.validation} validation rows`}>
            <LabelName label={label.name} disabled={locked} />
            <span className="bar" style={{ width: `${(100 * label.train) / total}%` }} />
            <span className="num">{label.train}</span>
          </div>
        ))
      )}
      {preview.notes.length > 0 && (
        <ul className="data-notes" data-testid="data-notes">
          {preview.notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
      {preview.problemCount > 0 && (
        <details className="row-errors" open={!preview.usable}>
          <summary>
            {preview.problemCount} problem{preview.problemCount > 1 ? 's' : ''}
            {skipped > 0 ? ' (rows with errors are skipped)' : ''}
            {preview.problemCount > preview.problems.length ? `; the first ${preview.problems.length}:` : ''}
          </summary>
          <ul>
            {preview.problems.map((p, i) => (
              <li key={i}>
                {p.line !== null ? `line ${p.line}: ` : ''}
                {p.message}
              </li>
            ))}
          </ul>
        </details>
      )}
      {preview.reason && <p className="error-text">{preview.reason}</p>}
    </div>
  );
}

/** The encoding each file was read with, and a choice to read them again with another. */
function Encoding({ preview, locked, onEncoding }: { preview: DataPreview; locked: boolean; onEncoding: (encoding: TextEncoding | null) => void }) {
  const id = useId();
  const { train, validation } = preview.encoding;
  if (train === null) return null;
  return (
    <div className="row encoding">
      <span className="muted small" data-testid="data-encoding">
        Read as {train}
        {validation && validation !== train ? `; validation file: ${validation}` : ''}
      </span>
      <label htmlFor={id} className="visually-hidden">
        File encoding
      </label>
      <select id={id} value="" disabled={locked} onChange={(e) => onEncoding(e.target.value === 'auto' ? null : (e.target.value as TextEncoding))} data-testid="data-encoding-choice">
        <option value="">Read as…</option>
        <option value="auto">Detect</option>
        {TEXT_ENCODINGS.map((encoding) => (
          <option key={encoding} value={encoding} disabled={encoding === preview.encodingUsed}>
            {ENCODING_LABELS[encoding]}
          </option>
        ))}
      </select>
    </div>
  );
}

export function DataPanel({ sampleId, onSampleId, split }: { sampleId: string; onSampleId: (id: string) => void; split: DataSplit }) {
  const controller = useController();
  const { status, preview } = useAppState((s) => s.data);
  const training = useAppState((s) => s.training);
  const locked = isActive(training);
  const { samples, error } = useSamples();

  // The chosen sample (the default one when the link names none; '' = the user's own file).
  const chosen = sampleId === '' ? undefined : (samples.find((s) => s.id === sampleId) ?? samples.find((s) => s.default));
  useEffect(() => {
    if (!chosen) return;
    controller.loadData(sampleInput(chosen), { text: chosen.textColumns[0], textPair: chosen.textColumns[1] ?? null, label: chosen.labelColumn }, split);
    // The split is sent with the load; later changes go through the mapping effect below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [controller, chosen]);

  // A new split (or seed) re-maps the loaded files in the worker.
  useEffect(() => {
    if (!preview?.mapping || locked) return;
    if (preview.split.validationFraction === split.validationFraction && preview.split.validationSeed === split.validationSeed) return;
    controller.mapData(preview.mapping, preview.task, split);
  }, [controller, preview, split, locked]);

  function readFiles(files: FileList) {
    const input = filesInput(files);
    if (!input) return;
    onSampleId('');
    controller.loadData(input, null, split);
  }

  return (
    <section className="panel" aria-labelledby="data-title">
      <h2 id="data-title">2 · Data</h2>
      <Source samples={samples} chosenId={chosen?.id ?? ''} locked={locked} onSample={onSampleId} onFiles={readFiles} />
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {!preview && !error && <p className="empty">{status === 'loading' ? 'Reading the data in the worker…' : 'No data yet: pick a sample or drop a file.'}</p>}
      {preview && (
        <>
          <p className="muted small">
            {preview.name}: {preview.rowCount} rows
            {preview.files.validation ? ' + a validation file' : `, ${Math.round(preview.split.validationFraction * 100)} % held out for validation`}
          </p>
          <Mapping preview={preview} locked={locked} onMap={(columns, task) => controller.mapData(columns, task, split)} />
          <Encoding preview={preview} locked={locked} onEncoding={(encoding) => controller.reloadData(encoding, split)} />
          <PreviewTable preview={preview} />
          <LabelSummary preview={preview} locked={locked} />
          <p className="status-line" data-testid="data-status">
            {status === 'loading' && 'Checking rows in the worker…'}
            {status === 'ready' &&
              `Ready: ${preview.trainRows} train / ${preview.validationRows} validation rows, ${preview.task === 'regression' ? 'regression' : `${preview.labels.length} labels`}`}
          </p>
        </>
      )}
    </section>
  );
}

import { useEffect, useId, useState } from 'react';
import { methodEntry } from '../../methods/catalog';
import { useController, useAppState } from '../context';
import { formatCount, formatDuration } from '../format';
import type { RunSummary } from '../runsDb';
import { isActive } from '../state';
import { useStore } from '../store';
import type { RunConfig } from '../../worker/run-config';
import { ConfirmButton } from './Confirm';
import { Select } from './Select';

function metricText(value: number | null): string {
  return value === null ? '–' : value.toFixed(3);
}

/** The run's summary as one line: its primary metric (final, best), steps, mean trainable parameters, time. */
function SummaryLine({ run }: { run: RunSummary }) {
  const d = run.digest;
  const parts = [
    d.metric ? `${d.metric} ${metricText(d.final)} (best ${metricText(d.best)})` : null,
    `${d.steps} steps${d.reason && d.reason !== 'completed' ? ` (${d.reason})` : ''}`,
    d.avgTrainable !== null ? `${formatCount(d.avgTrainable)} trainable (avg)` : null,
    d.seconds !== null ? formatDuration(d.seconds) : null,
  ];
  return (
    <span className="muted small" data-testid="run-summary">
      {parts.filter((p) => p !== null).join(' · ')}
    </span>
  );
}

/** Everything the run was, grouped as the run config is (method options, recipe, model, data). */
function ConfigTable({ config }: { config: RunConfig }) {
  const { columns, labels: _labels, labelNames, ...data } = config.data;
  const groups: [string, Record<string, unknown>][] = [
    [`method · ${methodEntry(config.method.id).label}`, config.method.options],
    ['recipe', config.recipe],
    ['model', { ...config.model }],
    ['data', { ...data, ...columns, classes: labelNames.join(', ') }],
  ];
  const show = (v: unknown) => (v === null ? '–' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return (
    <table className="run-config small">
      <tbody>
        {groups.flatMap(([group, values]) => [
          <tr key={group}>
            <th colSpan={2}>{group}</th>
          </tr>,
          ...Object.entries(values).map(([key, value]) => (
            <tr key={`${group}.${key}`}>
              <td>{key}</td>
              <td className="num">{show(value)}</td>
            </tr>
          )),
        ])}
      </tbody>
    </table>
  );
}

export function RunsPanel({ onRestoreSettings }: { onRestoreSettings: (config: RunConfig) => void }) {
  const controller = useController();
  const version = useStore(controller.runsVersion, (v) => v);
  const current = useAppState((s) => s.run?.id);
  const overlay = useAppState((s) => s.overlay?.id ?? '');
  const busy = useAppState((s) => isActive(s.training) || s.training === 'starting');
  const notice = useAppState((s) => s.notice);
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const selectId = useId();

  useEffect(() => {
    controller
      .savedRuns()
      .then(setRuns)
      .catch(() => setRuns([]));
  }, [controller, version]);

  const others = runs.filter((r) => r.id !== current);
  return (
    <section className="panel" aria-labelledby="runs-title">
      <h2 id="runs-title">Runs</h2>
      {runs.length === 0 ? (
        <p className="empty">Finished runs are kept in this browser; none yet.</p>
      ) : (
        <>
          <div className="row">
            <label htmlFor={selectId}>Overlay on charts</label>
            <Select id={selectId} value={overlay} empty="— none —" items={others.map((r) => ({ value: r.id, label: r.label }))} onChange={(id) => void controller.overlay(id || null)} />
          </div>
          <ul className="runs" data-testid="runs">
            {runs.map((r) => (
              <li key={r.id} className={r.id === current ? 'current' : undefined}>
                <div className="run-head">
                  <span>
                    {r.label}
                    {r.id === current && <span className="muted small"> · shown</span>}
                  </span>
                  <span className="run-actions">
                    <button
                      type="button"
                      className="link"
                      disabled={busy}
                      title={`Show this run${r.weightsKept ? ' (Export and Try it use its kept weights)' : ''} and put its settings in the form`}
                      onClick={() => {
                        onRestoreSettings(r.config);
                        void controller.openRun(r.id);
                      }}
                      data-testid="run-open"
                    >
                      restore
                    </button>
                    <ConfirmButton label="delete" question={`Delete ${r.label}?`} onConfirm={() => void controller.deleteRun(r.id)} testId="run-delete" />
                  </span>
                </div>
                <SummaryLine run={r} />
                <details>
                  <summary className="small">config</summary>
                  <ConfigTable config={r.config} />
                </details>
              </li>
            ))}
          </ul>
        </>
      )}
      <div className="row housekeeping">
        <ConfirmButton
          label="Delete all runs"
          className="secondary"
          disabled={runs.length === 0}
          question={`Delete all ${runs.length} kept runs and their weights?`}
          confirmLabel="Delete all"
          onConfirm={() => void controller.deleteAllRuns()}
          testId="delete-all-runs"
        />
        <ConfirmButton
          label="Clear downloaded models"
          className="secondary"
          question="Delete the cached model files? Hub models download again when loaded."
          confirmLabel="Clear"
          onConfirm={() => controller.clearModelCache()}
          testId="clear-models"
        />
      </div>
      {notice && (
        <p className="status-line" role="status" data-testid="runs-notice">
          {notice}
        </p>
      )}
    </section>
  );
}

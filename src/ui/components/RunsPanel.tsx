import { useEffect, useId, useState } from 'react';
import { useController, useAppState } from '../context';
import { deleteRun, type RunSummary } from '../runsDb';
import { useStore } from '../store';

export function RunsPanel() {
  const controller = useController();
  const version = useStore(controller.runsVersion, (v) => v);
  const current = useAppState((s) => s.run?.id);
  const overlay = useAppState((s) => s.overlay?.id ?? '');
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [bump, setBump] = useState(0);
  const selectId = useId();

  useEffect(() => {
    controller
      .savedRuns()
      .then(setRuns)
      .catch(() => setRuns([]));
  }, [controller, version, bump]);

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
            <select id={selectId} value={overlay} onChange={(e) => void controller.overlay(e.target.value || null)}>
              <option value="">— none —</option>
              {others.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.label}
                </option>
              ))}
            </select>
          </div>
          <ul className="runs">
            {runs.map((r) => (
              <li key={r.id}>
                <span>
                  {r.label} <span className="muted small">({r.steps} logged steps)</span>
                </span>
                <button
                  type="button"
                  className="link"
                  aria-label={`Delete run ${r.label}`}
                  onClick={() => void deleteRun(r.id).then(() => setBump((b) => b + 1))}
                >
                  delete
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

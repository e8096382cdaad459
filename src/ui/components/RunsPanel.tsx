import { useEffect, useId, useState } from 'react';
import { useController, useAppState } from '../context';
import { deleteRun, type RunSummary } from '../runsDb';
import { useStore } from '../store';
import { Select } from './Select';

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
            <Select id={selectId} value={overlay} empty="— none —" items={others.map((r) => ({ value: r.id, label: r.label }))} onChange={(id) => void controller.overlay(id || null)} />
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

import { useAppState, useController } from '../context';

export function Errors() {
  const controller = useController();
  const errors = useAppState((s) => s.errors);
  if (errors.length === 0) return null;
  return (
    <div className="errors" role="alert" data-testid="errors">
      {errors.map((e) => (
        <div key={e.id} className={`error-card kind-${e.kind}`}>
          <div>
            <strong>{e.message}</strong>
            <p>{e.hint}</p>
            {e.lines && e.lines.length > 0 && (
              <ul>
                {e.lines.slice(0, 20).map((l, i) => (
                  <li key={i}>
                    line {l.line}: {l.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
          <button type="button" className="link" aria-label="Dismiss" onClick={() => controller.store.dispatch({ type: 'dismissError', id: e.id })}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}

import type { ErrorKind } from '../../worker/protocol';
import { useAppState, useController } from '../context';

/** What kind of trouble it is, so the user knows whose move it is. */
const KIND_LABELS: Record<ErrorKind, string> = {
  'bad-input': 'Check your input',
  'unsupported-model': 'Model not supported',
  network: 'Network problem',
  'webgpu-unavailable': 'No WebGPU',
  'device-lost': 'GPU lost',
  'limit-exceeded': 'Over a limit',
  numerical: 'NaN / Inf in training',
  'out-of-memory': 'Out of memory',
  bug: 'Bug in the app',
};

export function Errors() {
  const controller = useController();
  const errors = useAppState((s) => s.errors);
  if (errors.length === 0) return null;
  return (
    <div className="errors" role="alert" data-testid="errors">
      {errors.map((e) => (
        <div key={e.id} className={`error-card kind-${e.kind}`}>
          <div>
            <span className="error-kind">{KIND_LABELS[e.kind]}</span>
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

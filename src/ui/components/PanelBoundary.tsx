/**
 * A React error boundary around one panel: a bug while rendering it shows a message in its place, and the rest of
 * the page, the worker and what it holds (model, data, runs) carry on. "Try again" renders the panel afresh.
 */
import { Component, type ReactNode } from 'react';

interface Props {
  /** The panel's name, for the message ("The Data panel …"). */
  name: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
}

export class PanelBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  componentDidCatch(error: unknown, info: { componentStack?: string | null }): void {
    // For the bug report the message asks for.
    console.error(`${this.props.name} panel crashed`, error, info.componentStack);
  }

  render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return <PanelCrashed name={this.props.name} error={error} onRetry={() => this.setState({ error: null })} />;
  }
}

/** What a crashed panel shows instead. */
export function PanelCrashed({ name, error, onRetry }: { name: string; error: Error; onRetry: () => void }) {
  return (
    <section className="panel crashed" role="alert" data-testid="panel-crashed">
      <h2>{name}</h2>
      <p>
        <strong>This panel hit a bug and stopped showing:</strong> {error.message}
      </p>
      <p className="muted">
        The rest of the page still works, and your model, data and runs are kept. Try again, or reload the page; if it happens again, please report it
        with the browser console output.
      </p>
      <button type="button" onClick={onRetry}>
        Try again
      </button>
    </section>
  );
}

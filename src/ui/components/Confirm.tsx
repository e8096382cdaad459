import { useState, type ReactNode } from 'react';

/**
 * A destructive action that asks first, in place (no window.confirm: it blocks the page and a test cannot see it):
 * the button turns into the question with Yes / Cancel.
 */
export function ConfirmButton({ label, question, confirmLabel = 'Delete', onConfirm, className = 'link', testId, disabled }: {
  label: ReactNode;
  question: string;
  confirmLabel?: string;
  onConfirm: () => void;
  className?: string;
  testId?: string;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className={className} disabled={disabled} onClick={() => setAsking(true)} data-testid={testId}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="small">{question}</span>
      <button
        type="button"
        className="danger small-button"
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
        data-testid={testId && `${testId}-yes`}
      >
        {confirmLabel}
      </button>
      <button type="button" className="link" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

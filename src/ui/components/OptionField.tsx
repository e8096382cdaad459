import { useEffect, useId, useState } from 'react';
import { optionProblem, type NumberSpec, type OptionSpec, type OptionValue, type Span } from '../../engine/options';

interface Props {
  spec: OptionSpec;
  value: OptionValue;
  disabled: boolean;
  onChange: (value: OptionValue) => void;
  /** What is wrong with the text as typed (null: nothing); a problem blocks Train until it is fixed. */
  onProblem?: (problem: string | null) => void;
}

/** What is wrong with a typed number, or its value. */
function parseNumber(spec: OptionSpec, raw: string): { value: OptionValue } | { problem: string } {
  const nullable = (spec.kind === 'int' || spec.kind === 'number') && spec.nullLabel !== undefined;
  if (raw.trim() === '') return nullable ? { value: null } : { problem: 'needs a value' };
  const value = Number(raw);
  if (Number.isNaN(value)) return { problem: `must be a number (got "${raw.trim()}")` };
  const problem = optionProblem(spec, value);
  return problem === null ? { value } : { problem };
}

/**
 * A number typed as text: only valid values reach onChange. A text that is not valid ("1e-", "0" for a batch
 * size) stays as typed, marked, with its problem under the field and sent up through onProblem: the form never
 * quietly goes back to the old value while Train would use it.
 */
function NumberInput({ id, spec, value, disabled, onChange, onProblem, describedBy }: Props & { id: string; describedBy: string }) {
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? (value === null ? '' : String(value));
  const parsed = parseNumber(spec, text);
  const problem = 'problem' in parsed ? parsed.problem : null;
  useEffect(() => {
    onProblem?.(problem);
  }, [onProblem, problem]);
  // A field that goes away (another method, another unit) takes its problem with it.
  useEffect(() => () => onProblem?.(null), [onProblem]);
  return (
    <>
      <input
        id={id}
        inputMode="decimal"
        value={text}
        placeholder={spec.kind === 'int' || spec.kind === 'number' ? spec.nullLabel : undefined}
        disabled={disabled}
        aria-invalid={problem !== null}
        aria-describedby={describedBy}
        onChange={(e) => {
          setDraft(e.target.value);
          const next = parseNumber(spec, e.target.value);
          if ('value' in next) onChange(next.value);
        }}
        onBlur={() => {
          if (problem === null) setDraft(null);
        }}
      />
      {problem && (
        <span className="field-problem" role="alert">
          {spec.label} {problem}
        </span>
      )}
    </>
  );
}

function rangeText(spec: OptionSpec): string {
  if (spec.kind === 'int' || spec.kind === 'number') return ` (${spec.min} – ${spec.max}${spec.nullLabel ? `; empty: ${spec.nullLabel}` : ''})`;
  if (spec.kind === 'span') return ` (up to ${spec.max.epochs} epochs or ${spec.max.steps} steps)`;
  return '';
}

/** One setting of any schema kind, with its label, range and help; what the settings form is made of. */
export function OptionField(props: Props) {
  const { spec, value, disabled, onChange } = props;
  const id = useId();
  const helpId = `${id}-help`;
  let input;
  switch (spec.kind) {
    case 'bool':
      input = <input id={id} type="checkbox" checked={value as boolean} disabled={disabled} onChange={(e) => onChange(e.target.checked)} aria-describedby={helpId} />;
      break;
    case 'enum':
      input = (
        <select id={id} value={value as string} disabled={disabled} onChange={(e) => onChange(e.target.value)} aria-describedby={helpId}>
          {spec.choices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
              {c.value === spec.default ? ' (default)' : ''}
            </option>
          ))}
        </select>
      );
      break;
    case 'multi': {
      const chosen = value as readonly string[];
      input = (
        <fieldset id={id} className="multi" disabled={disabled} aria-describedby={helpId}>
          <legend className="visually-hidden">{spec.label}</legend>
          {spec.choices.map((c) => (
            <label key={c.value}>
              <input
                type="checkbox"
                checked={chosen.includes(c.value)}
                // The last one stays: the schema asks for at least minCount.
                disabled={chosen.includes(c.value) && chosen.length <= spec.minCount}
                onChange={(e) => onChange(e.target.checked ? [...chosen, c.value] : chosen.filter((v) => v !== c.value))}
              />
              {c.label}
            </label>
          ))}
        </fieldset>
      );
      break;
    }
    case 'span': {
      const span = value as Span;
      const { key, urlKey, label, help, group } = spec;
      const amount: NumberSpec = { key, urlKey, label, help, group, kind: span.unit === 'steps' ? 'int' : 'number', min: 0, max: spec.max[span.unit], default: 0 };
      input = (
        <span className="span-input">
          <NumberInput {...props} id={id} describedBy={helpId} spec={amount} value={span.value} onChange={(v) => onChange({ ...span, value: v as number })} />
          <select aria-label={`${spec.label} unit`} value={span.unit} disabled={disabled} onChange={(e) => onChange({ ...span, unit: e.target.value as Span['unit'] })}>
            <option value="epochs">epochs</option>
            <option value="steps">steps</option>
          </select>
        </span>
      );
      break;
    }
    default:
      input = <NumberInput {...props} id={id} describedBy={helpId} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>{spec.label}</label>
      {input}
      <span id={helpId} className="help">
        {spec.help}
        {rangeText(spec)}
      </span>
    </div>
  );
}

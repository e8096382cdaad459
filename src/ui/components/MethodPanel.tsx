import { useId, useState } from 'react';
import { useAppState } from '../context';
import { FIELDS, METHODS, PRESETS, applyPreset, groupsFor, type Field, type Settings } from '../settings';

const GROUP_TITLE = { aflora: 'AFLoRA', lora: 'LoRA', elora: 'ELoRA', recipe: 'Training recipe' } as const;

function FieldInput({ field, value, disabled, onChange }: { field: Field; value: Settings[keyof Settings]; disabled: boolean; onChange: (v: Settings[keyof Settings]) => void }) {
  const id = useId();
  // Numbers are edited as text so a half-typed "1e-" does not snap back.
  const [draft, setDraft] = useState<string | null>(null);
  let input;
  if (field.kind === 'bool') {
    input = <input id={id} type="checkbox" checked={value as boolean} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />;
  } else if (field.kind === 'enum') {
    input = (
      <select id={id} value={value as string} disabled={disabled} onChange={(e) => onChange(e.target.value as Settings[keyof Settings])}>
        {field.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    );
  } else {
    const text = draft ?? String(value);
    const parsed = Number(text);
    const valid = text.trim() !== '' && Number.isFinite(parsed) && parsed >= field.min && parsed <= field.max && (field.kind !== 'int' || Number.isInteger(parsed));
    input = (
      <input
        id={id}
        inputMode="decimal"
        value={text}
        disabled={disabled}
        aria-invalid={!valid}
        aria-describedby={`${id}-help`}
        onChange={(e) => {
          setDraft(e.target.value);
          const next = Number(e.target.value);
          if (e.target.value.trim() !== '' && Number.isFinite(next) && next >= field.min && next <= field.max && (field.kind !== 'int' || Number.isInteger(next))) onChange(next);
        }}
        onBlur={() => setDraft(null)}
      />
    );
  }
  return (
    <div className="field">
      <label htmlFor={id}>{field.label}</label>
      {input}
      <span id={`${id}-help`} className="help">
        {field.help}
        {field.kind === 'number' || field.kind === 'int' ? ` (${field.min} – ${field.max})` : ''}
      </span>
    </div>
  );
}

export function MethodPanel({ settings, onChange }: { settings: Settings; onChange: (s: Settings) => void }) {
  const training = useAppState((s) => s.training);
  const locked = training === 'running' || training === 'paused' || training === 'starting' || training === 'stopping';
  const presetId = useId();
  const [copied, setCopied] = useState(false);
  const groups = groupsFor(settings.method);

  return (
    <section className="panel" aria-labelledby="method-title">
      <h2 id="method-title">3 · Method &amp; settings</h2>
      <fieldset className="method-cards" disabled={locked}>
        <legend className="visually-hidden">Adapter method</legend>
        {METHODS.map((m) => (
          <label key={m.id} className={`method-card${settings.method === m.id ? ' active' : ''}`}>
            <input type="radio" name="method" value={m.id} checked={settings.method === m.id} onChange={() => onChange({ ...settings, method: m.id })} />
            <strong>{m.label}</strong>
            <span className="small muted">{m.blurb}</span>
          </label>
        ))}
      </fieldset>
      <div className="row">
        <label htmlFor={presetId}>Preset</label>
        <select id={presetId} value="" disabled={locked} onChange={(e) => e.target.value && onChange(applyPreset(settings, e.target.value))}>
          <option value="">Apply a preset…</option>
          {PRESETS.map((p) => (
            <option key={p.id} value={p.id} title={p.note}>
              {p.label}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            void navigator.clipboard?.writeText(location.href).then(() => {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            });
          }}
        >
          {copied ? 'Link copied' : 'Copy link to this setup'}
        </button>
      </div>
      {groups.map((group) => (
        <details key={group} open={group !== 'recipe' || groups.length === 1} className="knobs">
          <summary>{GROUP_TITLE[group]}</summary>
          <div className="fields">
            {FIELDS.filter((f) => f.group === group).map((field) => (
              <FieldInput key={field.key} field={field} value={settings[field.key]} disabled={locked} onChange={(v) => onChange({ ...settings, [field.key]: v })} />
            ))}
          </div>
        </details>
      ))}
    </section>
  );
}

import { useCallback, useId, useState } from 'react';
import type { OptionSchema, OptionSpec, OptionValue } from '../../engine/options';
import { CATALOG, methodEntry } from '../../methods/catalog';
import { runShape } from '../../methods/entry';
import { useAppState, useController } from '../context';
import { isActive } from '../state';
import { applyPreset, schemaOf, SECTIONS, setValue, valuesOf, type Section, type Setup } from '../setup';
import { OptionField } from './OptionField';

/** A schema's fields under their group headings, in schema order. */
function groups(schema: OptionSchema): [string, OptionSchema][] {
  const out = new Map<string, OptionSchema[number][]>();
  for (const spec of schema) out.set(spec.group, [...(out.get(spec.group) ?? []), spec]);
  return [...out];
}


export function MethodPanel({ setup, onChange }: { setup: Setup; onChange: (s: Setup) => void }) {
  const training = useAppState((s) => s.training);
  const locked = isActive(training);
  const presetId = useId();
  const [copied, setCopied] = useState(false);
  const entry = methodEntry(setup.method);
  const trainRows = useAppState((s) => s.data.preview?.trainRows ?? null);

  return (
    <section className="panel" aria-labelledby="method-title">
      <h2 id="method-title">3 · Method &amp; settings</h2>
      <fieldset className="method-cards" disabled={locked}>
        <legend className="visually-hidden">Adapter method</legend>
        {CATALOG.map((m) => (
          <label key={m.id} className={`method-card${setup.method === m.id ? ' active' : ''}`} title={m.description}>
            <input type="radio" name="method" value={m.id} checked={setup.method === m.id} onChange={() => onChange({ ...setup, method: m.id })} />
            <strong>{m.label}</strong>
            <span className="small muted">{m.blurb}</span>
          </label>
        ))}
      </fieldset>
      <div className="row">
        <label htmlFor={presetId}>Preset</label>
        <select
          id={presetId}
          value=""
          disabled={locked}
          onChange={(e) => {
            const preset = e.target.value === 'defaults' ? 'defaults' : entry.presets.find((p) => p.id === e.target.value);
            if (preset) onChange(applyPreset(setup, preset));
          }}
        >
          <option value="">Apply a preset…</option>
          <option value="defaults" title="Every option and the recipe back to their defaults (a quick browser run).">
            Defaults (quick)
          </option>
          {entry.presets.map((p) => (
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
      <ResolvedSettingsNote setup={setup} trainRows={trainRows} />
      {SECTIONS.flatMap((section) => {
        const values = valuesOf(setup, section);
        return groups(schemaOf(setup, section)).map(([group, specs]) => (
          <details key={`${section}:${group}`} open={section === 'method'} className="knobs">
            <summary>{section === 'method' ? `${entry.label}: ${group}` : group}</summary>
            <div className="fields">
              {specs.map((spec) => (
                <Field key={spec.key} section={section} spec={spec} value={values[spec.key]} disabled={locked} onChange={(v) => onChange(setValue(setup, section, spec, v))} />
              ))}
            </div>
          </details>
        ));
      })}
    </section>
  );
}

/** What the method's options resolve to on the loaded data (AFLoRA: its schedule in steps), with its warning. */
function ResolvedSettingsNote({ setup, trainRows }: { setup: Setup; trainRows: number | null }) {
  const entry = methodEntry(setup.method);
  if (!entry.resolved || trainRows === null || trainRows === 0) return null;
  let resolved;
  try {
    const recipe = valuesOf(setup, 'recipe');
    resolved = entry.resolved(valuesOf(setup, 'method') as never, runShape(trainRows, recipe.batchSize as number, recipe.epochs as number));
  } catch {
    return null; // a value the form already marks as invalid
  }
  return (
    <div className="resolved-settings" data-testid="resolved-settings">
      <p className="small">{resolved.text}</p>
      {resolved.warning && (
        <p className="small warning" role="status">
          ⚠ {resolved.warning}
        </p>
      )}
    </div>
  );
}

/** One setting whose problem (a value typed but not valid) goes to the store, where it blocks Train. */
function Field({ section, spec, ...props }: { section: Section; spec: OptionSpec; value: OptionValue; disabled: boolean; onChange: (value: OptionValue) => void }) {
  const { store } = useController();
  const key = `${section}.${spec.key}`;
  const onProblem = useCallback((problem: string | null) => store.dispatch({ type: 'formProblem', key, problem: problem && `${spec.label} ${problem}` }), [store, key, spec.label]);
  return <OptionField spec={spec} {...props} onProblem={onProblem} />;
}

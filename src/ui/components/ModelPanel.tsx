import { useId, useState } from 'react';
import type { ModelSource } from '../../worker/protocol';
import { useAppState, useController } from '../context';
import { MODEL_PRESETS } from '../../io/presets';
import { BUILTIN_SOURCE } from '../builtin';
import { formatBytes, formatCount } from '../format';
import { isActive } from '../state';

type Choice = 'builtin' | 'hub' | 'files';

export function ModelPanel() {
  const controller = useController();
  const model = useAppState((s) => s.model);
  const download = useAppState((s) => s.progress.download);
  const training = useAppState((s) => s.training);
  const [choice, setChoice] = useState<Choice>('builtin');
  const [hubId, setHubId] = useState(MODEL_PRESETS[0].repo);
  const [revision, setRevision] = useState('main');
  const [files, setFiles] = useState<File[]>([]);
  const ids = { hub: useId(), rev: useId(), files: useId(), preset: useId(), adapter: useId() };
  const busy = model.status === 'loading' || isActive(training);

  function load() {
    const source: ModelSource =
      choice === 'builtin' ? BUILTIN_SOURCE : choice === 'hub' ? { kind: 'hub', id: hubId.trim(), revision: revision.trim() || 'main' } : { kind: 'files', files };
    controller.loadModel(source);
  }

  const canLoad = !busy && (choice !== 'hub' || hubId.trim() !== '') && (choice !== 'files' || files.length > 0);
  const info = model.info;

  return (
    <section className="panel" aria-labelledby="model-title">
      <h2 id="model-title">1 · Model</h2>
      <div className="segmented" role="radiogroup" aria-label="Model source">
        {(['builtin', 'hub', 'files'] as const).map((c) => (
          <label key={c} className={choice === c ? 'active' : ''}>
            <input type="radio" name="model-source" value={c} checked={choice === c} onChange={() => setChoice(c)} />
            {c === 'builtin' ? 'Built-in' : c === 'hub' ? 'Hugging Face' : 'From disk'}
          </label>
        ))}
      </div>
      {choice === 'builtin' && <p className="muted">A tiny BERT (2 layers, hidden 128) shipped with the app: no download.</p>}
      {choice === 'hub' && (
        <div className="form-grid">
          <label htmlFor={ids.preset}>Preset</label>
          <select id={ids.preset} value={MODEL_PRESETS.some((p) => p.repo === hubId) ? hubId : ''} onChange={(e) => e.target.value && setHubId(e.target.value)}>
            <option value="">Custom…</option>
            {MODEL_PRESETS.map((p) => (
              <option key={p.repo} value={p.repo} title={p.note}>
                {p.label} · ~{p.downloadMB} MB · {p.licence}
              </option>
            ))}
          </select>
          <label htmlFor={ids.hub}>Model id</label>
          <input id={ids.hub} value={hubId} onChange={(e) => setHubId(e.target.value)} spellCheck={false} placeholder="owner/name" />
          <label htmlFor={ids.rev}>Revision</label>
          <input id={ids.rev} value={revision} onChange={(e) => setRevision(e.target.value)} spellCheck={false} placeholder="main or a commit" />
        </div>
      )}
      {choice === 'files' && (
        <div className="form-grid">
          <label htmlFor={ids.files}>Files</label>
          <input id={ids.files} type="file" multiple accept=".json,.safetensors,.bin,.txt,.model" onChange={(e) => setFiles([...(e.target.files ?? [])])} />
          <span />
          <span className="muted small">config.json, model.safetensors (or pytorch_model.bin) and the tokenizer: tokenizer.json, or vocab.txt (BERT), vocab.json + merges.txt (RoBERTa), spm.model (DeBERTa-v3)</span>
        </div>
      )}
      <div className="row">
        <button type="button" onClick={load} disabled={!canLoad} data-testid="load-model">
          {model.status === 'loading' ? 'Loading…' : 'Load model'}
        </button>
        {download && download.total > 0 && model.status === 'loading' && (
          <progress max={download.total} value={download.done} aria-label="Download progress" />
        )}
      </div>
      {info ? (
        <dl className="facts" data-testid="model-info">
          <dt>Model</dt>
          <dd>{info.name}</dd>
          <dt>Size</dt>
          <dd>{formatBytes(info.sizeBytes)}</dd>
          <dt>Layers</dt>
          <dd>
            {info.config.numLayers} × hidden {info.config.hiddenSize}, {info.config.numHeads} heads
          </dd>
          <dt>Parameters</dt>
          <dd>{formatCount(info.totalParams)}</dd>
        </dl>
      ) : null}
      {info && (
        <div className="row import-adapter">
          <label htmlFor={ids.adapter} className="linklike">
            Import a trained adapter…
          </label>
          <input
            id={ids.adapter}
            className="visually-hidden"
            type="file"
            multiple
            accept=".safetensors,.json,.zip"
            disabled={busy}
            data-testid="import-adapter"
            onChange={(e) => {
              controller.importAdapter([...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
          <span className="muted small">this app&apos;s .safetensors, or PEFT&apos;s adapter_config.json + adapter_model.safetensors (or a .zip)</span>
        </div>
      )}
      {!info && (
        model.status !== 'loading' &&
        (model.status === 'error' ? (
          <p className="error-text" data-testid="model-failed">
            The model did not load (the message above says why): no model is loaded.
          </p>
        ) : (
          <p className="empty">No model loaded yet.</p>
        ))
      )}
    </section>
  );
}

import type { RefObject } from 'react';
import { useAppState, useController } from '../context';
import { hasWeights, weightsNote } from '../state';
import { methodEntry } from '../../methods/catalog';
import { downloadBlob, freezeLogCsv, freezeLogJson, rankLogCsv, rankLogJson, serializeSvg, svgToPng } from '../exports';

export function ExportPanel({ heatmapRef }: { heatmapRef: RefObject<SVGSVGElement | null> }) {
  const controller = useController();
  const run = useAppState((s) => s.run);
  const training = useAppState((s) => s.training);
  const lastExport = useAppState((s) => s.lastExport);
  const modelReady = useAppState((s) => s.model.status === 'ready');
  const weights = useAppState(hasWeights);
  const note = useAppState(weightsNote);
  const hasAdapter = modelReady && weights && training !== 'running' && training !== 'starting' && training !== 'pausing';
  const exports = run?.plan?.exports ?? [];
  // The log and the heatmap exist for runs whose view has cells: freeze log (Figure 5) or rank log (rank view).
  const hasCells = (run?.plan?.cells.length ?? 0) > 0;
  const log = run && methodEntry(run.config.method.id).view === 'rank' ? { name: 'rank-log', label: 'Rank log', csv: rankLogCsv, json: rankLogJson } : { name: 'freeze-log', label: 'Freeze log', csv: freezeLogCsv, json: freezeLogJson };
  const base = run ? run.label.replace(/[^\w-]+/g, '_') : 'run';

  async function saveHeatmap(format: 'svg' | 'png') {
    const svg = heatmapRef.current;
    if (!svg) return;
    const text = serializeSvg(svg);
    const blob = format === 'svg' ? new Blob([text], { type: 'image/svg+xml' }) : await svgToPng(text, svg.width.baseVal.value, svg.height.baseVal.value);
    downloadBlob(blob, `${base}-heatmap.${format}`);
  }

  function saveLog(format: 'csv' | 'json') {
    if (!run) return;
    const [text, type] = format === 'csv' ? [log.csv(run), 'text/csv'] : [log.json(run), 'application/json'];
    downloadBlob(new Blob([text], { type }), `${base}-${log.name}.${format}`);
  }

  return (
    <section className="panel" aria-labelledby="export-title">
      <h2 id="export-title">Export</h2>
      {!run && <p className="empty">Train (or reload) a run to export it.</p>}
      <div className="button-grid">
        <button type="button" disabled={!hasAdapter || !exports.includes('peft')} onClick={() => controller.exportAdapter('peft')} data-testid="export-peft" title="adapter_config.json + adapter_model.safetensors for PEFT">
          PEFT adapter
        </button>
        <button type="button" disabled={!hasAdapter || !exports.includes('native')} onClick={() => controller.exportAdapter('native')} data-testid="export-native" title="Every trained variable unfolded, with the run config and the freeze log">
          Native file
        </button>
        <button
          type="button"
          disabled={!run || !exports.includes('pytorch') || training === 'starting'}
          onClick={() => controller.exportAdapter('pytorch')}
          data-testid="export-pytorch"
          title="A zip to train this run with PyTorch + PEFT + accelerate on your own GPUs: run config, your data files, the model (unless it is on the Hub), the peft_playground package and a README with the commands"
        >
          PyTorch project
        </button>
        <button type="button" disabled={!hasCells} onClick={() => saveLog('csv')} data-testid="export-log-csv">
          {log.label} CSV
        </button>
        <button type="button" disabled={!hasCells} onClick={() => saveLog('json')} data-testid="export-log-json">
          {log.label} JSON
        </button>
        <button type="button" disabled={!hasCells} onClick={() => void saveHeatmap('svg')} data-testid="export-heatmap-svg">
          Heatmap SVG
        </button>
        <button type="button" disabled={!hasCells} onClick={() => void saveHeatmap('png')}>
          Heatmap PNG
        </button>
      </div>
      {!hasAdapter && run && training === 'running' && <p className="muted small">Adapters export once training is paused, stopped or finished.</p>}
      {note && (
        <p className="muted small" data-testid="weights-note">
          {note}
        </p>
      )}
      {lastExport && (
        <p className="status-line" role="status" data-testid="export-status">
          Exported {lastExport.format}: {lastExport.names.join(', ')}
        </p>
      )}
    </section>
  );
}

import type { RefObject } from 'react';
import { useAppState, useController } from '../context';
import { downloadBlob, freezeLogCsv, freezeLogJson, serializeSvg, svgToPng } from '../exports';

export function ExportPanel({ heatmapRef }: { heatmapRef: RefObject<SVGSVGElement | null> }) {
  const controller = useController();
  const run = useAppState((s) => s.run);
  const training = useAppState((s) => s.training);
  const lastExport = useAppState((s) => s.lastExport);
  const modelReady = useAppState((s) => s.model.status === 'ready');
  const hasAdapter = modelReady && run !== null && run.metrics.step.length > 0 && training !== 'running' && training !== 'starting';
  const hasPlan = run?.plan != null;
  const base = run ? run.label.replace(/[^\w-]+/g, '_') : 'run';

  function heatmapSvg(): { text: string; width: number; height: number } | null {
    const svg = heatmapRef.current;
    if (!svg) return null;
    return { text: serializeSvg(svg), width: svg.width.baseVal.value, height: svg.height.baseVal.value };
  }

  return (
    <section className="panel" aria-labelledby="export-title">
      <h2 id="export-title">Export</h2>
      {!run && <p className="empty">Train (or reload) a run to export it.</p>}
      <div className="button-grid">
        <button type="button" disabled={!hasAdapter} onClick={() => controller.exportAdapter('peft')} data-testid="export-peft" title="adapter_config.json + adapter_model.safetensors for PEFT">
          PEFT adapter
        </button>
        <button type="button" disabled={!hasAdapter} onClick={() => controller.exportAdapter('native')} data-testid="export-native" title="AFLoRA module weights, freeze steps and options">
          Native AFLoRA file
        </button>
        <button type="button" disabled={!hasPlan} onClick={() => run && downloadBlob(new Blob([freezeLogCsv(run)], { type: 'text/csv' }), `${base}-freeze-log.csv`)}>
          Freeze log CSV
        </button>
        <button type="button" disabled={!hasPlan} onClick={() => run && downloadBlob(new Blob([freezeLogJson(run)], { type: 'application/json' }), `${base}-freeze-log.json`)}>
          Freeze log JSON
        </button>
        <button
          type="button"
          disabled={!hasPlan}
          onClick={() => {
            const svg = heatmapSvg();
            if (svg) downloadBlob(new Blob([svg.text], { type: 'image/svg+xml' }), `${base}-heatmap.svg`);
          }}
          data-testid="export-heatmap-svg"
        >
          Heatmap SVG
        </button>
        <button
          type="button"
          disabled={!hasPlan}
          onClick={() => {
            const svg = heatmapSvg();
            if (svg) void svgToPng(svg.text, svg.width, svg.height).then((png) => downloadBlob(png, `${base}-heatmap.png`));
          }}
        >
          Heatmap PNG
        </button>
      </div>
      {!hasAdapter && run && training === 'running' && <p className="muted small">Adapters export once training is paused, stopped or finished.</p>}
      {lastExport && (
        <p className="status-line" role="status" data-testid="export-status">
          Exported {lastExport.format}: {lastExport.names.join(', ')}
        </p>
      )}
    </section>
  );
}

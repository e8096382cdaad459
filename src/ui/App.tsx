import { useEffect, useMemo, useRef, useState } from 'react';
import { methodEntry } from '../methods/catalog';
import { ComparePanel } from './components/ComparePanel';
import { Errors } from './components/Errors';
import { ExportPanel } from './components/ExportPanel';
import { LossChart, MetricChart, TrainableChart } from './components/Charts';
import { DataPanel } from './components/DataPanel';
import { MethodPanel } from './components/MethodPanel';
import { MethodView } from './components/MethodView';
import { PanelBoundary } from './components/PanelBoundary';
import { ModelPanel } from './components/ModelPanel';
import { RunsPanel } from './components/RunsPanel';
import { TrainingPanel } from './components/TrainingPanel';
import { TryPanel } from './components/TryPanel';
import { ThemeToggle } from './components/ThemeToggle';
import { useAppState, useController } from './context';
import { useTitleProgress } from './useTitleProgress';
import { BUILTIN_SOURCE } from './builtin';
import { executionOf, setupFromConfig, setupFromQuery, setupToQuery, splitOf, valuesOf, type Setup } from './setup';

const DATA_PARAM = 'data';
/** Module-level so StrictMode's double effect in development does not load the model twice. */
let builtinRequested = false;

export function App() {
  const controller = useController();
  const [setup, setSetup] = useState<Setup>(() => setupFromQuery(new URLSearchParams(location.search)));
  // Unknown or absent: the default sample; '' = the user's own file.
  const [sampleId, setSampleId] = useState(() => new URLSearchParams(location.search).get(DATA_PARAM) ?? 'default');
  // Only the run's method here: the run itself changes per worker message, and subscribing the whole
  // page to it re-rendered every panel 20 times a second. The live views sample it in their cadence slots.
  const runMethod = useAppState((s) => s.run?.config.method.id);
  const heatmapRef = useRef<SVGSVGElement>(null);
  // One object per split value, so the data panel re-maps only when the split itself changes.
  const { validationFraction, validationSeed } = splitOf(setup);
  const split = useMemo(() => ({ validationFraction, validationSeed }), [validationFraction, validationSeed]);

  const execution = executionOf(setup);
  useEffect(() => controller.setExecution(execution), [controller, execution]);

  // The setup lives in the URL: copying the address shares it.
  useEffect(() => {
    const extra: Record<string, string> = sampleId !== 'default' && sampleId !== '' ? { [DATA_PARAM]: sampleId } : {};
    const query = setupToQuery(setup, extra).toString();
    history.replaceState(null, '', query ? `?${query}` : location.pathname);
  }, [setup, sampleId]);

  // The built-in model needs no download: load it right away.
  useEffect(() => {
    if (builtinRequested) return;
    builtinRequested = true;
    controller.loadModel(BUILTIN_SOURCE);
  }, [controller]);

  useTitleProgress();

  const view = methodEntry(runMethod ?? setup.method).view;
  return (
    <div className="app">
      <header className="app-header">
        <div>
          <h1>AFLoRA Playground</h1>
          <p className="muted">Fine-tune a BERT with adaptive freezing of low-rank adapters, on your GPU, in this tab.</p>
        </div>
        <ThemeToggle />
      </header>
      <PanelBoundary name="Messages">
        <Errors />
      </PanelBoundary>
      <main className="layout">
        <div className="column setup">
          <PanelBoundary name="1 · Model">
            <ModelPanel />
          </PanelBoundary>
          <PanelBoundary name="2 · Data">
            <DataPanel sampleId={sampleId} onSampleId={setSampleId} split={split} />
          </PanelBoundary>
          <PanelBoundary name="3 · Method & settings">
            <MethodPanel setup={setup} onChange={setSetup} />
          </PanelBoundary>
          {/* Train right under the settings, docked to the window's bottom while the settings scroll past. */}
          <div className="train-dock">
            <PanelBoundary name="4 · Train">
              <TrainingPanel setup={setup} />
            </PanelBoundary>
          </div>
        </div>
        <div className="column results">
          <PanelBoundary name="Charts">
            <section className="panel charts" aria-labelledby="charts-title">
              <h2 id="charts-title">Charts</h2>
              <LiveCharts metric={valuesOf(setup, 'view').metric as string} />
            </section>
          </PanelBoundary>
          <PanelBoundary name="Method view">
            <MethodView view={view} heatmapRef={heatmapRef} />
          </PanelBoundary>
          <div className="two-up">
            <PanelBoundary name="Try it">
              <TryPanel />
            </PanelBoundary>
            <PanelBoundary name="Export">
              <ExportPanel heatmapRef={heatmapRef} />
            </PanelBoundary>
          </div>
          <PanelBoundary name="Compare">
            <ComparePanel setup={setup} />
          </PanelBoundary>
          <PanelBoundary name="Runs">
            <RunsPanel onRestoreSettings={(config) => setSetup((current) => setupFromConfig(config, current))} />
          </PanelBoundary>
        </div>
      </main>
    </div>
  );
}

/** The charts every run has; each samples the live run in its own cadence slot (src/ui/cadence.ts). */
function LiveCharts({ metric }: { metric: string }) {
  const overlay = useAppState((s) => s.overlay);
  return (
    <div className="chart-grid">
      <LossChart overlay={overlay} />
      <MetricChart overlay={overlay} metric={metric} />
      <TrainableChart overlay={overlay} />
    </div>
  );
}

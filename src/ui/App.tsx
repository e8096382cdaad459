import { useEffect, useRef, useState } from 'react';
import { Errors } from './components/Errors';
import { ExportPanel } from './components/ExportPanel';
import { Heatmap } from './components/Heatmap';
import { LossChart, MetricChart, ScheduleChart, ScoreChart, TrainableChart } from './components/Charts';
import { DataPanel } from './components/DataPanel';
import { MethodPanel } from './components/MethodPanel';
import { ModelPanel } from './components/ModelPanel';
import { RunsPanel } from './components/RunsPanel';
import { TrainingPanel } from './components/TrainingPanel';
import { TryPanel } from './components/TryPanel';
import { ThemeToggle } from './components/ThemeToggle';
import { useAppState, useController } from './context';
import { useTitleProgress } from './useTitleProgress';
import { BUILTIN_NAME, BUILTIN_SOURCE } from './builtin';
import { settingsFromQuery, settingsToQuery, type Settings } from './settings';

const DATA_PARAM = 'data';
/** Module-level so StrictMode's double effect in development does not load the model twice. */
let builtinRequested = false;

export function App() {
  const controller = useController();
  const [settings, setSettings] = useState<Settings>(() => settingsFromQuery(new URLSearchParams(location.search)));
  // Unknown or absent: the default sample; '' = the user's own file.
  const [sampleId, setSampleId] = useState(() => new URLSearchParams(location.search).get(DATA_PARAM) ?? 'default');
  const [modelName, setModelName] = useState(BUILTIN_NAME);
  // Only the run's settings here: the run itself changes per worker message, and subscribing the whole
  // page to it re-rendered every panel 20 times a second. LiveCharts and LiveHeatmaps subscribe instead.
  const runSettings = useAppState((s) => s.run?.settings);
  const dataName = useAppState((s) => s.data.info?.name ?? 'data');
  const heatmapRef = useRef<SVGSVGElement>(null);

  // The setup lives in the URL: copying the address shares it.
  useEffect(() => {
    const extra: Record<string, string> = sampleId !== 'default' && sampleId !== '' ? { [DATA_PARAM]: sampleId } : {};
    const query = settingsToQuery(settings, extra).toString();
    history.replaceState(null, '', query ? `?${query}` : location.pathname);
  }, [settings, sampleId]);

  // The built-in model needs no download: load it right away.
  useEffect(() => {
    if (builtinRequested) return;
    builtinRequested = true;
    controller.loadModel(BUILTIN_SOURCE, BUILTIN_NAME);
  }, [controller]);

  useTitleProgress();

  const shown = runSettings ?? settings;
  return (
    <div className="app">
      <header className="app-header">
        <div>
          <h1>AFLoRA Playground</h1>
          <p className="muted">Fine-tune a BERT with adaptive freezing of low-rank adapters, on your GPU, in this tab.</p>
        </div>
        <ThemeToggle />
      </header>
      <Errors />
      <main className="layout">
        <div className="column setup">
          <ModelPanel onModelName={setModelName} />
          <DataPanel sampleId={sampleId} onSampleId={setSampleId} validationFraction={settings.validationFraction} seed={settings.seed} />
          <MethodPanel settings={settings} onChange={setSettings} />
        </div>
        <div className="column results">
          <TrainingPanel settings={settings} modelName={modelName} dataName={dataName} />
          <section className="panel charts" aria-labelledby="charts-title">
            <h2 id="charts-title">Charts</h2>
            <LiveCharts metric={shown.metric} />
          </section>
          <section className="panel" aria-labelledby="heat-title">
            <h2 id="heat-title">Where AFLoRA freezes (paper Fig. 5)</h2>
            <LiveHeatmaps heatmapRef={heatmapRef} />
          </section>
          <div className="two-up">
            <TryPanel />
            <ExportPanel heatmapRef={heatmapRef} />
          </div>
          <RunsPanel />
        </div>
      </main>
    </div>
  );
}

/** The chart grid; each chart samples the live run in its own cadence slot (src/ui/cadence.ts). */
function LiveCharts({ metric }: { metric: string }) {
  const overlay = useAppState((s) => s.overlay);
  return (
    <div className="chart-grid">
      <LossChart overlay={overlay} />
      <MetricChart overlay={overlay} metric={metric} />
      <ScoreChart />
      <ScheduleChart />
      <TrainableChart overlay={overlay} />
    </div>
  );
}

function LiveHeatmaps({ heatmapRef }: { heatmapRef: React.Ref<SVGSVGElement> }) {
  return (
    <div className="heatmaps">
      <div>
        <h3>Iterations before freezing</h3>
        <Heatmap ref={heatmapRef} mode="freeze" />
      </div>
      <div>
        <h3>Live freezing scores</h3>
        <Heatmap mode="scores" />
      </div>
    </div>
  );
}

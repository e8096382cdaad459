/**
 * The live view of a run's method, by the kind its catalog entry names (methods/entry.ts LiveView): one
 * component per kind. A method that brings a new kind of view adds its component here.
 */
import type { Ref } from 'react';
import type { LiveView } from '../../methods/entry';
import { ScheduleChart, ScoreChart } from './Charts';
import { Heatmap } from './Heatmap';

interface ViewProps {
  /** The main heatmap's SVG, for the export panel. */
  heatmapRef: Ref<SVGSVGElement>;
}

/** AFLoRA's decisions: Figure 5 (iterations before freezing), the live scores, score lines, schedule. */
function FreezeView({ heatmapRef }: ViewProps) {
  // Each part samples the live run in its own cadence slot (src/ui/cadence.ts).
  return (
    <section className="panel" aria-labelledby="heat-title">
      <h2 id="heat-title">Where the adapters freeze (AFLoRA paper Fig. 5)</h2>
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
      <div className="chart-grid">
        <ScoreChart />
        <ScheduleChart />
      </div>
    </section>
  );
}

const VIEWS: Record<LiveView, ((props: ViewProps) => React.JSX.Element) | null> = {
  freeze: FreezeView,
  none: null,
};

export function MethodView({ view, heatmapRef }: ViewProps & { view: LiveView }) {
  const View = VIEWS[view];
  return View ? <View heatmapRef={heatmapRef} /> : null;
}

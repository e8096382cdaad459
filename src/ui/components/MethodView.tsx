/**
 * The live view of a run's method, by the kind its catalog entry names (methods/entry.ts LiveView): one
 * component per kind. A method that brings a new kind of view adds its component here.
 */
import type { Ref } from 'react';
import type { LiveView } from '../../methods/entry';
import { BudgetChart, ImportanceChart, ScheduleChart, ScoreChart } from './Charts';
import { Heatmap } from './Heatmap';
import { RankHeatmap } from './RankHeatmap';

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

/** A rank method's decisions (AdaLoRA, IncreLoRA, ALoRA): the rank each module holds, replayable; its budget and importance. */
function RankView({ heatmapRef }: ViewProps) {
  return (
    <section className="panel" aria-labelledby="rank-title">
      <h2 id="rank-title">Where the rank goes</h2>
      <RankHeatmap ref={heatmapRef} />
      <div className="chart-grid">
        <BudgetChart />
        <ImportanceChart />
      </div>
    </section>
  );
}

const VIEWS: Record<LiveView, ((props: ViewProps) => React.JSX.Element) | null> = {
  freeze: FreezeView,
  rank: RankView,
  none: null,
};

export function MethodView({ view, heatmapRef }: ViewProps & { view: LiveView }) {
  const View = VIEWS[view];
  return View ? <View heatmapRef={heatmapRef} /> : null;
}

import { forwardRef, memo, useMemo } from 'react';
import { legendTicks, normalize, normalizeLog } from '../colorScale';
import { formatSci } from '../format';
import { buildHeatmap, freezeDomain, type HeatmapCell } from '../heatmap';
import { SCORE_SERIES } from '../../methods/entry';
import { latestValues, type AppState, type RunRecord } from '../state';
import { useSampledState } from '../cadence';
import type { ValueSnapshot } from '../../worker/protocol';
import { HeatGrid, type CellLook } from './HeatGrid';

export type HeatmapMode = 'freeze' | 'scores';

interface Props {
  mode: HeatmapMode;
}

function cellText(mode: HeatmapMode, cell: HeatmapCell, totalSteps: number): { value: number | null; label: string; detail: string } {
  if (mode === 'freeze') {
    if (cell.frozenAt === null) return { value: null, label: '…', detail: `still training (of ${totalSteps} steps)` };
    const trained = cell.frozenAt + 1;
    return { value: trained, label: String(trained), detail: `froze after step ${cell.frozenAt}: ${trained} iterations trained` };
  }
  if (cell.score === null) return { value: null, label: '–', detail: 'no score yet' };
  return {
    value: cell.score,
    label: formatSci(cell.score, 1),
    detail: `score ${cell.score.toExponential(4)}${cell.frozenAt !== null ? `, frozen at step ${cell.frozenAt}` : ''}`,
  };
}

const NO_SNAPSHOTS: ValueSnapshot[] = [];
const liveRun = (s: AppState) => s.run;

/** Figure 5 (mode 'freeze') and the live score map (mode 'scores') as one accessible SVG grid. */
export const Heatmap = memo(
  forwardRef<SVGSVGElement, Props>(function Heatmap({ mode }, ref) {
    const run = useSampledState(liveRun, mode === 'freeze' ? 5 : 6);
    // Only the fields this mode draws: the freeze map skips the redraws that only bring new scores.
    return <HeatmapView ref={ref} mode={mode} plan={run?.plan} freezeSteps={run?.freezeSteps} snapshots={mode === 'scores' ? run?.values : NO_SNAPSHOTS} />;
  }),
);

interface ViewProps {
  mode: HeatmapMode;
  plan: RunRecord['plan'] | undefined;
  freezeSteps: RunRecord['freezeSteps'] | undefined;
  snapshots: ValueSnapshot[] | undefined;
}

const HeatmapView = memo(
  forwardRef<SVGSVGElement, ViewProps>(function HeatmapView({ mode, plan, freezeSteps, snapshots }, ref) {
    const scoreMap = useMemo(() => latestValues(snapshots ?? [], SCORE_SERIES), [snapshots]);
    const model = useMemo(() => (plan && freezeSteps ? buildHeatmap(plan.cells, freezeSteps, scoreMap) : null), [plan, freezeSteps, scoreMap]);

    if (!plan || !model || model.columns.length === 0) {
      return <p className="empty">{plan ? 'This run has no freezable A/B matrices.' : 'Cells appear when training starts.'}</p>;
    }
    const totalSteps = plan.totalSteps;
    const scoreValues = Object.values(scoreMap).filter((v) => v > 0);
    const [lo, hi] = mode === 'freeze' ? freezeDomain(totalSteps) : scoreValues.length > 0 ? [Math.min(...scoreValues), Math.max(...scoreValues)] : [1e-8, 1e-4];
    const t = (v: number) => (mode === 'freeze' ? normalize(v, lo, hi) : normalizeLog(v, lo, hi));
    const caption = mode === 'freeze' ? 'iterations before freezing · hatched: training' : 'score (log) · ❄ faded: frozen';
    const ticks = mode === 'freeze' ? legendTicks(lo, hi, 5).map((v) => String(Math.round(v))) : legendTicks(Math.log10(lo), Math.log10(hi), 4).map((e) => formatSci(10 ** e, 0));
    const look = (cell: HeatmapCell): CellLook => {
      const { value, label, detail } = cellText(mode, cell, totalSteps);
      const faded = mode === 'scores' && cell.frozenAt !== null;
      return { t: value === null ? null : t(value), label: faded ? `❄ ${label}` : label, detail, faded };
    };
    return (
      <HeatGrid ref={ref} id={mode} grid={model} look={look} ticks={ticks} caption={caption}
        ariaLabel={mode === 'freeze' ? 'Iterations before freezing per matrix' : 'Current freezing score per matrix'} />
    );
  }),
);

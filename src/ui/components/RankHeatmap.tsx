/**
 * The rank view's heatmap: each module's rank as a layer x module grid (AdaLoRA Fig. 3, ALoRA Fig. 3 are its
 * last frame), a scrubber that replays the allocation frame by frame, the importance behind each cell.
 * Follows the live run until the user moves the scrubber; "live" goes back to following it.
 */
import { forwardRef, memo, useMemo, useState } from 'react';
import { legendTicks, normalize } from '../colorScale';
import { maxRank, rankFrames, rankGrid, totalRank, type RankCell } from '../ranks';
import { useSampledState } from '../cadence';
import type { AppState, RunRecord } from '../state';
import { HeatGrid, type CellLook } from './HeatGrid';

const liveRun = (s: AppState) => s.run;
const NO_SNAPSHOTS: RunRecord['values'] = [];

export const RankHeatmap = memo(
  forwardRef<SVGSVGElement>(function RankHeatmap(_props, ref) {
    const run = useSampledState(liveRun, 5);
    return <RankHeatmapView ref={ref} plan={run?.plan} snapshots={run?.values} />;
  }),
);

interface ViewProps {
  plan: RunRecord['plan'] | undefined;
  snapshots: RunRecord['values'] | undefined;
}

function look(cell: RankCell, top: number): CellLook {
  const importance = cell.importance === null ? 'no importance yet' : `importance ${cell.importance.toExponential(4)} (step ${cell.importanceStep})`;
  if (cell.rank === null) return { t: null, label: '–', detail: `no rank yet · ${importance}` };
  return { t: normalize(cell.rank, 0, top), label: String(cell.rank), detail: `rank ${cell.rank} of ${top} · ${importance}`, faded: cell.rank === 0 };
}

const RankHeatmapView = memo(
  forwardRef<SVGSVGElement, ViewProps>(function RankHeatmapView({ plan, snapshots }, ref) {
    const values = snapshots ?? NO_SNAPSHOTS;
    const frames = useMemo(() => rankFrames(values), [values]);
    // null: follow the latest frame.
    const [picked, setPicked] = useState<number | null>(null);
    const index = picked === null ? frames.length - 1 : Math.min(picked, frames.length - 1);
    const step = frames[index] ?? -1;
    const grid = useMemo(() => (plan ? rankGrid(plan.cells, values, step) : null), [plan, values, step]);
    const top = useMemo(() => maxRank(values), [values]);

    if (!plan || !grid || grid.columns.length === 0) {
      return <p className="empty">{plan ? 'This run has no rank-allocated modules.' : 'Cells appear when training starts.'}</p>;
    }
    const ticks = legendTicks(0, top, Math.min(5, top + 1)).map((v) => String(Math.round(v)));
    return (
      <div className="rank-heatmap">
        <HeatGrid ref={ref} id="rank" grid={grid} look={(cell) => look(cell, top)} ticks={ticks} caption="rank held · faded: rank 0 · hatched: not reported yet" ariaLabel="Rank per module" />
        <div className="scrubber">
          <label>
            step
            <input
              type="range"
              min={0}
              max={Math.max(0, frames.length - 1)}
              value={Math.max(0, index)}
              disabled={frames.length < 2}
              onChange={(e) => setPicked(Number(e.target.value) === frames.length - 1 ? null : Number(e.target.value))}
              aria-label="Allocation frame"
              aria-valuetext={`step ${step}`}
              data-testid="rank-scrubber"
            />
          </label>
          <output data-testid="rank-frame">
            {frames.length === 0 ? 'no allocation yet' : `step ${step} · frame ${index + 1} / ${frames.length} · total rank ${totalRank(grid)}`}
          </output>
          <button type="button" className="link" disabled={picked === null} onClick={() => setPicked(null)} data-testid="rank-live">
            live
          </button>
        </div>
      </div>
    );
  }),
);

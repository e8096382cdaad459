import { forwardRef, memo, useMemo, useState } from 'react';
import { labelColorOn, legendTicks, normalize, normalizeLog, rgbToHex, viridis } from '../colorScale';
import { formatSci } from '../format';
import { buildHeatmap, freezeDomain, type HeatmapCell } from '../heatmap';
import { SCORE_SERIES } from '../../methods/entry';
import { latestValues, type AppState, type RunRecord } from '../state';
import { useSampledState } from '../cadence';
import type { ValueSnapshot } from '../../worker/protocol';

export type HeatmapMode = 'freeze' | 'scores';

const CELL_W = 64;
const CELL_H = 30;
const LEFT = 64;
const TOP = 26;
const LEGEND_H = 54;

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
    const [focus, setFocus] = useState<HeatmapCell | null>(null);
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
    const legendW = Math.max(160, model.columns.length * CELL_W);
    // Wide enough for the legend and its caption (about 5.6 px per character at 10 px), not only the grid.
    const width = LEFT + Math.max(model.columns.length * CELL_W, legendW, caption.length * 5.6) + 8;
    const gridH = TOP + model.layers.length * CELL_H;
    const height = gridH + LEGEND_H;
    const ticks = mode === 'freeze' ? legendTicks(lo, hi, 5) : legendTicks(Math.log10(lo), Math.log10(hi), 4).map((e) => 10 ** e);
    const gradientId = `heat-grad-${mode}`;
    const patternId = `heat-pending-${mode}`;

    return (
      <div className="heatmap" data-testid={`heatmap-${mode}`}>
        <svg ref={ref} width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="grid" aria-label={mode === 'freeze' ? 'Iterations before freezing per matrix' : 'Current freezing score per matrix'} className="heatmap-svg">
          <defs>
            <linearGradient id={gradientId} x1="0" x2="1" y1="0" y2="0">
              {Array.from({ length: 11 }, (_, i) => (
                <stop key={i} offset={`${i * 10}%`} stopColor={rgbToHex(viridis(i / 10))} />
              ))}
            </linearGradient>
            <pattern id={patternId} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <rect width="6" height="6" className="pending-bg" />
              <line x1="0" y1="0" x2="0" y2="6" className="pending-line" strokeWidth="2" />
            </pattern>
          </defs>
          {model.columns.map((c, j) => (
            <text key={c.label} x={LEFT + j * CELL_W + CELL_W / 2} y={TOP - 8} textAnchor="middle" className="axis-label">
              {c.label}
            </text>
          ))}
          {model.layers.map((layer, i) => (
            <g key={layer} role="row">
              <text x={LEFT - 8} y={TOP + i * CELL_H + CELL_H / 2 + 4} textAnchor="end" className="axis-label">
                layer {layer}
              </text>
              {model.cells[i].map((cell, j) => {
                if (!cell) return null;
                const { value, label, detail } = cellText(mode, cell, totalSteps);
                const rgb = value === null ? null : viridis(t(value));
                const frozenInScores = mode === 'scores' && cell.frozenAt !== null;
                const description = `layer ${layer} ${model.columns[j].label}: ${detail}`;
                return (
                  <g
                    key={cell.name}
                    role="gridcell"
                    tabIndex={0}
                    aria-label={description}
                    className={`heat-cell${value === null ? ' pending' : ' filled'}${frozenInScores ? ' frozen' : ''}`}
                    data-name={cell.name}
                    onMouseEnter={() => setFocus(cell)}
                    onMouseLeave={() => setFocus(null)}
                    onFocus={() => setFocus(cell)}
                    onBlur={() => setFocus(null)}
                  >
                    <title>{description}</title>
                    <rect
                      x={LEFT + j * CELL_W + 1}
                      y={TOP + i * CELL_H + 1}
                      width={CELL_W - 2}
                      height={CELL_H - 2}
                      rx={4}
                      fill={rgb ? rgbToHex(rgb) : `url(#${patternId})`}
                      opacity={frozenInScores ? 0.45 : 1}
                    />
                    <text x={LEFT + j * CELL_W + CELL_W / 2} y={TOP + i * CELL_H + CELL_H / 2 + 4} textAnchor="middle" className="cell-label" fill={rgb ? labelColorOn(rgb) : undefined}>
                      {frozenInScores ? `❄ ${label}` : label}
                    </text>
                  </g>
                );
              })}
            </g>
          ))}
          <g transform={`translate(${LEFT}, ${gridH + 10})`} aria-hidden="true">
            <rect width={legendW} height={10} rx={2} fill={`url(#${gradientId})`} />
            {ticks.map((v, k) => {
              const x = (legendW * k) / Math.max(1, ticks.length - 1);
              return (
                <text key={k} x={x} y={24} textAnchor={k === 0 ? 'start' : k === ticks.length - 1 ? 'end' : 'middle'} className="axis-label">
                  {mode === 'freeze' ? Math.round(v) : formatSci(v, 0)}
                </text>
              );
            })}
            <text x={0} y={38} className="axis-label small">
              {caption}
            </text>
          </g>
        </svg>
        <p className="heat-tooltip" aria-live="polite">
          {focus ? `${focus.name}: ${cellText(mode, focus, totalSteps).detail}` : ' '}
        </p>
      </div>
    );
  }),
);

/**
 * The SVG of a layer x module heatmap, shared by the freeze view (Figure 5, live scores) and the rank view:
 * column and row labels, one focusable cell per present grid cell (viridis fill or the hatched "pending"
 * pattern), the colour legend and a tooltip line. Each view decides what a cell shows (`look`).
 */
import { forwardRef, useState } from 'react';
import { labelColorOn, rgbToHex, viridis } from '../colorScale';
import type { Grid, GridCell } from '../heatmap';

const CELL_W = 64;
const CELL_H = 30;
const LEFT = 64;
const TOP = 26;
const LEGEND_H = 54;

export interface CellLook {
  /** Position on the colour scale in [0, 1]; null: pending (hatched). */
  t: number | null;
  label: string;
  /** The tooltip / accessible description after "layer L module:". */
  detail: string;
  /** Drawn faded (a frozen matrix in the score map). */
  faded?: boolean;
}

interface Props<C extends GridCell> {
  /** Distinguishes the SVG ids (gradient, pattern) of several grids on one page. */
  id: string;
  grid: Grid<C>;
  look: (cell: C) => CellLook;
  ariaLabel: string;
  /** Legend tick labels, evenly spaced along the colour bar. */
  ticks: string[];
  caption: string;
}

function HeatGridInner<C extends GridCell>({ id, grid, look, ariaLabel, ticks, caption }: Props<C>, ref: React.ForwardedRef<SVGSVGElement>) {
  const [focus, setFocus] = useState<C | null>(null);
  const legendW = Math.max(160, grid.columns.length * CELL_W);
  // Wide enough for the legend and its caption (about 5.6 px per character at 10 px), not only the grid.
  const width = LEFT + Math.max(grid.columns.length * CELL_W, legendW, caption.length * 5.6) + 8;
  const gridH = TOP + grid.layers.length * CELL_H;
  const height = gridH + LEGEND_H;
  const gradientId = `heat-grad-${id}`;
  const patternId = `heat-pending-${id}`;
  return (
    <div className="heatmap" data-testid={`heatmap-${id}`}>
      <svg ref={ref} width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="grid" aria-label={ariaLabel} className="heatmap-svg">
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
        {grid.columns.map((c, j) => (
          <text key={c.label} x={LEFT + j * CELL_W + CELL_W / 2} y={TOP - 8} textAnchor="middle" className="axis-label">
            {c.label}
          </text>
        ))}
        {grid.layers.map((layer, i) => (
          <g key={layer} role="row">
            <text x={LEFT - 8} y={TOP + i * CELL_H + CELL_H / 2 + 4} textAnchor="end" className="axis-label">
              layer {layer}
            </text>
            {grid.cells[i].map((cell, j) => {
              if (!cell) return null;
              const { t, label, detail, faded } = look(cell);
              const rgb = t === null ? null : viridis(t);
              const description = `layer ${layer} ${grid.columns[j].label}: ${detail}`;
              return (
                <g
                  key={cell.name}
                  role="gridcell"
                  tabIndex={0}
                  aria-label={description}
                  className={`heat-cell${t === null ? ' pending' : ' filled'}${faded ? ' frozen' : ''}`}
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
                    opacity={faded ? 0.45 : 1}
                  />
                  <text x={LEFT + j * CELL_W + CELL_W / 2} y={TOP + i * CELL_H + CELL_H / 2 + 4} textAnchor="middle" className="cell-label" fill={rgb ? labelColorOn(rgb) : undefined}>
                    {label}
                  </text>
                </g>
              );
            })}
          </g>
        ))}
        <g transform={`translate(${LEFT}, ${gridH + 10})`} aria-hidden="true">
          <rect width={legendW} height={10} rx={2} fill={`url(#${gradientId})`} />
          {ticks.map((tick, k) => {
            const x = (legendW * k) / Math.max(1, ticks.length - 1);
            return (
              <text key={k} x={x} y={24} textAnchor={k === 0 ? 'start' : k === ticks.length - 1 ? 'end' : 'middle'} className="axis-label">
                {tick}
              </text>
            );
          })}
          <text x={0} y={38} className="axis-label small">
            {caption}
          </text>
        </g>
      </svg>
      <p className="heat-tooltip" aria-live="polite">
        {focus ? `${focus.name}: ${look(focus).detail}` : ' '}
      </p>
    </div>
  );
}

/** forwardRef keeps the generic cell type. */
export const HeatGrid = forwardRef(HeatGridInner) as <C extends GridCell>(props: Props<C> & { ref?: React.Ref<SVGSVGElement> }) => React.JSX.Element;

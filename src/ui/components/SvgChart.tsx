/**
 * The live line charts as plain SVG: one <path> per line, ticks as <text>, a hover read-out.
 * Written here rather than taken from a library because recharts, measured in the e2e stream, cost
 * 50-190 ms of main thread per redraw (layout reads, per-point elements), and the charts need very
 * little: at most a few hundred downsampled points per line, linear or log y, step lines, dashes.
 * A redraw is now a handful of path strings; the lines stay in the DOM (accessible, testable, themed).
 */
import { memo, useMemo, useRef, useState } from 'react';
import { formatTick, logDecades, niceTicks } from '../chartScale';
import { formatSci } from '../format';
import type { Point } from '../downsample';
import type { ChartTheme } from '../theme';

export interface ChartSeries {
  key: string;
  label: string;
  color: string;
  points: Point[];
  dashed?: boolean;
  /** Horizontal then vertical segments (a value that holds until the next point). */
  stepped?: boolean;
  opacity?: number;
  width?: number;
  /** Drawn, but left out of the legend (e.g. the raw line under a smoothed one). */
  hideInLegend?: boolean;
}

export interface AxisOptions {
  /** y only. */
  log?: boolean;
  /** y only: the axis starts at 0. */
  fromZero?: boolean;
  /** Whole-number ticks (steps, epochs). */
  integer?: boolean;
  format?: (value: number, step: number) => string;
  /** y only: the hover read-out's number format. */
  readout?: (value: number) => string;
  label?: string;
}

const NO_AXIS: AxisOptions = {};

const W = 480;
const H = 220;
const PAD = { left: 54, right: 12, top: 10, bottom: 24 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;

interface Props {
  title: string;
  testId: string;
  series: ChartSeries[];
  theme: ChartTheme;
  x?: AxisOptions;
  y?: AxisOptions;
  /** Shown over the (empty) plot instead of lines. */
  empty: string | null;
  /** Extra controls next to the title (e.g. smoothing). */
  controls?: React.ReactNode;
}

interface Scales {
  sx: (x: number) => number;
  sy: (y: number) => number;
  invertX: (px: number) => number;
  xTicks: { value: number; label: string }[];
  yTicks: { value: number; label: string }[];
}

function finite(points: Point[], log: boolean): Point[] {
  return points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!log || p.y > 0));
}

function extent(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function buildScales(lines: Point[][], x: AxisOptions, y: AxisOptions): Scales | null {
  const all = lines.flat();
  if (all.length === 0) return null;
  const [x0, x1] = extent(all.map((p) => p.x));
  const xt = niceTicks(x0, x1 === x0 ? x0 + 1 : x1, 6, x.integer);
  // The x range is the data's (no padding to a whole tick: lines reach the edges).
  const xlo = x0;
  const xhi = x1 === x0 ? x0 + 1 : x1;
  const sx = (v: number) => PAD.left + ((v - xlo) / (xhi - xlo)) * PLOT_W;
  const invertX = (px: number) => xlo + ((px - PAD.left) / PLOT_W) * (xhi - xlo);
  const xFormat = x.format ?? formatTick;
  const xTicks = xt.values.filter((v) => v >= xlo && v <= xhi).map((value) => ({ value, label: xFormat(value, xt.step) }));

  let [y0, y1] = extent(all.map((p) => p.y));
  let sy: (v: number) => number;
  let yTicks: { value: number; label: string }[];
  if (y.log) {
    const decades = logDecades(y0, y1);
    const lo = decades[0];
    const hi = decades[decades.length - 1];
    sy = (v: number) => PAD.top + (1 - (Math.log10(v) - lo) / (hi - lo)) * PLOT_H;
    yTicks = decades.map((e) => ({ value: 10 ** e, label: `1e${e}` }));
  } else {
    if (y.fromZero) y0 = Math.min(0, y0);
    if (y1 === y0) y1 = y0 + (Math.abs(y0) || 1) * 0.1;
    const yt = niceTicks(y0, y1, 5, y.integer);
    sy = (v: number) => PAD.top + (1 - (v - yt.lo) / (yt.hi - yt.lo)) * PLOT_H;
    const yFormat = y.format ?? formatTick;
    yTicks = yt.values.map((value) => ({ value, label: yFormat(value, yt.step) }));
  }
  return { sx, sy, invertX, xTicks, yTicks };
}

function pathOf(points: Point[], scales: Scales, stepped: boolean): string {
  let d = '';
  let prevY = 0;
  points.forEach((p, i) => {
    const px = scales.sx(p.x).toFixed(1);
    const py = scales.sy(p.y).toFixed(1);
    if (i === 0) d += `M${px} ${py}`;
    else if (stepped) d += `L${px} ${prevY.toFixed(1)}L${px} ${py}`;
    else d += `L${px} ${py}`;
    prevY = scales.sy(p.y);
  });
  return d;
}

/** Index of the point nearest to x (points ascending in x). */
function nearest(points: Point[], x: number): number {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].x < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(points[lo - 1].x - x) <= Math.abs(points[lo].x - x)) return lo - 1;
  return lo;
}

export const SvgChart = memo(function SvgChart({ title, testId, series, theme, x = NO_AXIS, y = NO_AXIS, empty, controls }: Props) {
  const svgRef = useRef<SVGSVGElement>(null);
  const [hoverX, setHoverX] = useState<number | null>(null);
  const lines = useMemo(() => series.map((s) => ({ ...s, points: finite(s.points, y.log ?? false) })), [series, y.log]);
  const scales = useMemo(() => buildScales(lines.map((l) => l.points), x, y), [lines, x, y]);
  const shownEmpty = empty ?? (scales ? null : 'No data yet.');
  const readoutFormat = y.readout ?? ((v: number) => formatSci(v, 3));

  const onMove = (event: React.PointerEvent<SVGSVGElement>) => {
    if (!scales || !svgRef.current) return;
    const box = svgRef.current.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * W;
    setHoverX(px < PAD.left || px > W - PAD.right ? null : scales.invertX(px));
  };
  const readout =
    hoverX !== null && scales
      ? lines
          .filter((l) => l.points.length > 0 && !l.hideInLegend)
          .map((l) => ({ line: l, point: l.points[nearest(l.points, hoverX)] }))
      : [];

  return (
    <figure className="chart" data-testid={testId} data-empty={shownEmpty ? 'true' : 'false'}>
      <figcaption>
        <span>{title}</span>
        {controls}
      </figcaption>
      <div className="chart-body">
        <svg ref={svgRef} className="svg-chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title} onPointerMove={onMove} onPointerLeave={() => setHoverX(null)}>
          {scales && (
            <>
              {scales.yTicks.map((t) => (
                <g key={`y${t.value}`}>
                  <line x1={PAD.left} x2={W - PAD.right} y1={scales.sy(t.value)} y2={scales.sy(t.value)} stroke={theme.grid} strokeDasharray="3 3" />
                  <text x={PAD.left - 5} y={scales.sy(t.value) + 3.5} textAnchor="end" fontSize={10.5} fill={theme.text}>
                    {t.label}
                  </text>
                </g>
              ))}
              {scales.xTicks.map((t) => (
                <text key={`x${t.value}`} x={scales.sx(t.value)} y={H - 7} textAnchor="middle" fontSize={10.5} fill={theme.text}>
                  {t.label}
                </text>
              ))}
              {x.label && (
                // In the corner under the y labels: the right end belongs to the last tick.
                <text x={PAD.left - 5} y={H - 7} textAnchor="end" fontSize={10} fill={theme.text} opacity={0.7} className="axis-name">
                  {x.label}
                </text>
              )}
              {lines.map((line) =>
                line.points.length === 0 ? null : (
                  <path
                    key={line.key}
                    className="series-line"
                    data-series={line.key}
                    data-points={line.points.length}
                    d={pathOf(line.points, scales, line.stepped ?? false)}
                    fill="none"
                    stroke={line.color}
                    strokeOpacity={line.opacity ?? 1}
                    strokeWidth={line.width ?? 1.5}
                    strokeDasharray={line.dashed ? '5 3' : undefined}
                  >
                    <title>{line.label}</title>
                  </path>
                ),
              )}
              {lines.map((line) =>
                line.points.length === 1 ? <circle key={`${line.key}-dot`} cx={scales.sx(line.points[0].x)} cy={scales.sy(line.points[0].y)} r={2.5} fill={line.color} /> : null,
              )}
              {hoverX !== null && (
                <line x1={scales.sx(hoverX)} x2={scales.sx(hoverX)} y1={PAD.top} y2={H - PAD.bottom} stroke={theme.text} strokeOpacity={0.35} />
              )}
            </>
          )}
        </svg>
        {readout.length > 0 && (
          <div className="chart-readout" role="status">
            <div>
              {x.label ?? 'step'} {readout[0].point.x}
            </div>
            {readout.slice(0, 8).map(({ line, point }) => (
              <div key={line.key}>
                <span className="swatch" style={{ borderColor: line.color }} /> {line.label}: {readoutFormat(point.y)}
              </div>
            ))}
            {readout.length > 8 && <div>+{readout.length - 8} more</div>}
          </div>
        )}
        {shownEmpty && <p className="empty chart-empty">{shownEmpty}</p>}
      </div>
      {!shownEmpty && (
        <ul className="chart-legend">
          {series
            .filter((s) => !s.hideInLegend)
            .map((s) => (
              <li key={s.key}>
                <span className={`swatch${s.dashed ? ' dashed' : ''}`} style={{ borderColor: s.color, opacity: s.opacity ?? 1 }} />
                {s.label}
              </li>
            ))}
        </ul>
      )}
    </figure>
  );
});

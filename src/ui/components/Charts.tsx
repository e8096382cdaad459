import { memo, useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis, type BaseTickContentProps } from 'recharts';
import { downsampleLttb, minMaxIndices, runningMean, type Point } from '../downsample';
import { formatCompact, formatSci } from '../format';
import { scoreSeries, type AppState, type RunRecord } from '../state';
import { useChartTheme, type ChartTheme } from '../theme';
import { useSampledState } from '../cadence';

/** Points per line: enough for a smooth curve on a ~450 px wide chart; recharts' cost per redraw grows with it. */
const MAX_POINTS = 150;

function points(xs: ArrayLike<number>, ys: ArrayLike<number>): Point[] {
  return downsampleLttb(xs, ys, MAX_POINTS);
}

/** Loss keeps its spikes: min/max buckets rather than LTTB. */
function spikyPoints(xs: ArrayLike<number>, ys: ArrayLike<number>): Point[] {
  return minMaxIndices(ys, MAX_POINTS / 2).map((i) => ({ x: xs[i], y: ys[i] }));
}

interface LegendEntry {
  label: string;
  color: string;
  dashed?: boolean;
}

/**
 * The chart stays mounted from page load (mounting recharts mid-run is the costliest render), the
 * empty state is an overlay, and the legend is plain HTML (recharts' legend measures the DOM each render).
 */
function ChartFrame({ title, empty, legend, children, testId, plain = false }: { title: string; empty: string | null; legend: LegendEntry[]; children: React.ReactElement; testId: string; plain?: boolean }) {
  return (
    <figure className="chart" data-testid={testId} data-empty={empty ? 'true' : 'false'}>
      <figcaption>{title}</figcaption>
      <div className="chart-body">
        {plain ? (
          children
        ) : (
          <ResponsiveContainer width="100%" height="100%">
            {children}
          </ResponsiveContainer>
        )}
        {empty && <p className="empty chart-empty">{empty}</p>}
      </div>
      {!empty && legend.length > 0 && (
        <ul className="chart-legend">
          {legend.map((entry) => (
            <li key={entry.label}>
              <span className={`swatch${entry.dashed ? ' dashed' : ''}`} style={{ borderColor: entry.color }} />
              {entry.label}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}

const TICK_DY: Record<string, string> = { start: '0.71em', middle: '0.32em', end: '0' };

/**
 * A tick label as a plain <text>: recharts' default <Text> measures every label in the DOM
 * (getBoundingClientRect per word, a forced layout) on each redraw, which was most of a chart update.
 */
function renderTick({ x, y, index, textAnchor, verticalAnchor, fill, className, payload, tickFormatter }: BaseTickContentProps) {
  return (
    <text x={x} y={y} dy={TICK_DY[verticalAnchor] ?? TICK_DY.middle} textAnchor={textAnchor} fill={fill} fontSize={11} className={className}>
      {tickFormatter ? tickFormatter(payload.value, index) : String(payload.value)}
    </text>
  );
}

function axes(theme: ChartTheme, opts: { yLog?: boolean; yFromZero?: boolean; yFormat?: (v: number) => string; xLabel?: string } = {}) {
  return [
    <CartesianGrid key="grid" stroke={theme.grid} strokeDasharray="3 3" />,
    // interval={0}: show the computed nice ticks without measuring label sizes in the DOM (forced layouts).
    <XAxis key="x" dataKey="x" type="number" domain={['dataMin', 'dataMax']} stroke={theme.text} tick={renderTick} interval={0} tickCount={6} allowDecimals={false} allowDuplicatedCategory={false} />,
    <YAxis
      key="y"
      type="number"
      scale={opts.yLog ? 'log' : 'auto'}
      domain={opts.yFromZero ? [0, 'auto'] : ['auto', 'auto']}
      allowDataOverflow={false}
      interval={0}
      tickCount={5}
      stroke={theme.text}
      tick={renderTick}
      width={56}
      tickFormatter={opts.yFormat ?? ((v: number) => formatSci(v, 1))}
    />,
    <Tooltip key="tip" isAnimationActive={false} formatter={(v) => formatSci(Number(v), 3)} labelFormatter={(l) => `${opts.xLabel ?? 'step'} ${l}`} contentStyle={{ fontSize: 12 }} />,
  ];
}

/**
 * Each chart is an outer component that samples the live run in its own cadence slot (src/ui/cadence.ts),
 * and an inner memoised view that takes the fields it draws: between slots nothing re-renders, and when
 * its fields did not change the view, and recharts' whole tree under it, is skipped.
 */
const liveRun = (s: AppState) => s.run;

export const LossChart = memo(function LossChart({ overlay }: { overlay: RunRecord | null }) {
  // Last slot (not 0): at slot 0 its first redraw landed in the same burst as the run's start (progress
  // block, first messages) and made the longest task of the run (~100 ms, measured in the e2e stress test).
  const run = useSampledState(liveRun, 7);
  return <LossChartView metrics={run?.metrics} label={run?.label} overlay={overlay} />;
});

const LossChartView = memo(function LossChartView({ metrics, label, overlay }: { metrics: RunRecord['metrics'] | undefined; label: string | undefined; overlay: RunRecord | null }) {
  const theme = useChartTheme();
  const data = useMemo(() => (metrics ? spikyPoints(metrics.step, metrics.loss) : []), [metrics]);
  const other = useMemo(() => (overlay ? spikyPoints(overlay.metrics.step, overlay.metrics.loss) : []), [overlay]);
  return (
    <ChartFrame title="Training loss" empty={data.length === 0 ? 'The loss appears here once training starts.' : null} testId="chart-loss"
      legend={[{ label: label ?? 'loss', color: theme.primary }, ...(other.length > 0 ? [{ label: overlay!.label, color: theme.overlay, dashed: true }] : [])]}
    >
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme)}
        <Line data={data} dataKey="y" name={label ?? 'loss'} stroke={theme.primary} dot={false} isAnimationActive={false} strokeWidth={1.5} />
        {other.length > 0 && <Line data={other} dataKey="y" name={overlay!.label} stroke={theme.overlay} strokeDasharray="5 3" dot={false} isAnimationActive={false} />}
      </LineChart>
    </ChartFrame>
  );
});

function metricPoints(evaluations: RunRecord['evaluations'] | undefined, metric: string): Point[] {
  if (!evaluations) return [];
  return evaluations
    .map((e) => ({ x: e.epoch + 1, y: e.metrics[metric] ?? Object.values(e.metrics)[0] }))
    .filter((p) => Number.isFinite(p.y));
}

export const MetricChart = memo(function MetricChart({ overlay, metric }: { overlay: RunRecord | null; metric: string }) {
  const run = useSampledState(liveRun, 1);
  return <MetricChartView evaluations={run?.evaluations} label={run?.label} overlay={overlay} metric={metric} />;
});

const MetricChartView = memo(function MetricChartView({ evaluations, label, overlay, metric }: { evaluations: RunRecord['evaluations'] | undefined; label: string | undefined; overlay: RunRecord | null; metric: string }) {
  const theme = useChartTheme();
  const data = useMemo(() => metricPoints(evaluations, metric), [evaluations, metric]);
  const other = useMemo(() => metricPoints(overlay?.evaluations, metric), [overlay, metric]);
  return (
    <ChartFrame title={`Validation ${metric} per epoch`} empty={data.length === 0 ? 'Evaluated at the end of each epoch.' : null} testId="chart-metric"
      legend={[{ label: label ?? metric, color: theme.primary }, ...(other.length > 0 ? [{ label: overlay!.label, color: theme.overlay, dashed: true }] : [])]}
    >
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme, { xLabel: 'epoch', yFormat: (v) => v.toFixed(2) })}
        <Line data={data} dataKey="y" name={label ?? metric} stroke={theme.primary} isAnimationActive={false} />
        {other.length > 0 && <Line data={other} dataKey="y" name={overlay!.label} stroke={theme.overlay} strokeDasharray="5 3" isAnimationActive={false} />}
      </LineChart>
    </ChartFrame>
  );
});

const SCORE_POINTS = 80;

interface LogLine {
  name: string;
  label: string;
  color: string;
  dashed: boolean;
  data: Point[];
}

const VIEW_W = 480;
const VIEW_H = 220;
const PAD = { left: 52, right: 10, top: 8, bottom: 22 };

/**
 * Many lines on a log scale as plain SVG paths: with one line per A/B matrix (up to 144 for BERT-base,
 * attention + FFN) recharts' per-point work blocked the main thread; this is a handful of path strings.
 */
function LogLines({ lines, theme }: { lines: LogLine[]; theme: ChartTheme }) {
  const all = lines.flatMap((l) => l.data);
  if (all.length === 0) return <svg className="loglines" viewBox={`0 0 ${VIEW_W} ${VIEW_H}`} />;
  const [x0, x1] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  const [e0, e1] = [Math.floor(Math.log10(Math.min(...all.map((p) => p.y)))), Math.ceil(Math.log10(Math.max(...all.map((p) => p.y))))];
  const lo = e1 > e0 ? e0 : e0 - 1;
  const sx = (x: number) => PAD.left + ((x - x0) / Math.max(1, x1 - x0)) * (VIEW_W - PAD.left - PAD.right);
  const sy = (y: number) => PAD.top + (1 - (Math.log10(y) - lo) / (e1 - lo)) * (VIEW_H - PAD.top - PAD.bottom);
  const decades = Array.from({ length: e1 - lo + 1 }, (_, i) => lo + i);
  const xTicks = Array.from({ length: 5 }, (_, i) => Math.round(x0 + ((x1 - x0) * i) / 4));
  return (
    <svg className="loglines" viewBox={`0 0 ${VIEW_W} ${VIEW_H}`} role="img" aria-label="Freezing score per matrix over steps">
      {decades.map((e) => (
        <g key={e}>
          <line x1={PAD.left} x2={VIEW_W - PAD.right} y1={sy(10 ** e)} y2={sy(10 ** e)} stroke={theme.grid} strokeDasharray="3 3" />
          <text x={PAD.left - 4} y={sy(10 ** e) + 3} textAnchor="end" fontSize={10} fill={theme.text}>
            1e{e}
          </text>
        </g>
      ))}
      {xTicks.map((x, i) => (
        <text key={i} x={sx(x)} y={VIEW_H - 6} textAnchor="middle" fontSize={10} fill={theme.text}>
          {x}
        </text>
      ))}
      {/* Frozen (grey) lines first so the live ones draw on top. */}
      {[...lines]
        .sort((a, b) => Number(b.dashed) - Number(a.dashed))
        .map((line) => (
          <path
            key={line.name}
            d={line.data.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join('')}
            fill="none"
            stroke={line.color}
            strokeWidth={1.4}
            strokeDasharray={line.dashed ? '4 3' : undefined}
          >
            <title>{`${line.label}: ${formatSci(line.data[line.data.length - 1]?.y ?? Number.NaN, 3)} at step ${line.data[line.data.length - 1]?.x ?? '–'}${line.dashed ? ' (frozen)' : ''}`}</title>
          </path>
        ))}
    </svg>
  );
}

function positive(xs: number[], ys: number[]): [number[], number[]] {
  const keep = ys.map((y, i) => (y > 0 ? i : -1)).filter((i) => i >= 0);
  return [keep.map((i) => xs[i]), keep.map((i) => ys[i])];
}

/** One line per A/B matrix, log scale; lines of frozen matrices turn grey. */
export const ScoreChart = memo(function ScoreChart() {
  const run = useSampledState(liveRun, 2);
  return <ScoreChartView snapshots={run?.scoreSnapshots} freezeSteps={run?.freezeSteps} plan={run?.plan} />;
});

const ScoreChartView = memo(function ScoreChartView({ snapshots, freezeSteps, plan }: { snapshots: RunRecord['scoreSnapshots'] | undefined; freezeSteps: RunRecord['freezeSteps'] | undefined; plan: RunRecord['plan'] | undefined }) {
  const theme = useChartTheme();
  const { lines, frozen } = useMemo(() => {
    const series = scoreSeries(snapshots ?? []);
    const names = Object.keys(series.values);
    return {
      lines: names.map((name) => ({
        name,
        // Log scale: only positive scores; fewer points per line since there are many lines.
        data: downsampleLttb(...positive(series.steps, series.values[name]), SCORE_POINTS),
      })),
      frozen: new Set(Object.keys(freezeSteps ?? {})),
    };
  }, [snapshots, freezeSteps]);
  const label = (name: string) => {
    const m = plan?.matrices.find((x) => x.name === name)?.matrix;
    return m ? `L${m.layer} ${m.kind}-${m.matrix}` : name;
  };
  return (
    <ChartFrame title="Freezing score per A/B matrix (log scale; grey = frozen)" empty={lines.length === 0 ? 'Scores appear after the first ΔT window (AFLoRA only).' : null} testId="chart-scores"
      plain
      legend={lines.map((line, i) => ({
        label: label(line.name) + (frozen.has(line.name) ? ' ❄' : ''),
        color: frozen.has(line.name) ? theme.frozen : theme.series[i % theme.series.length],
        dashed: frozen.has(line.name),
      }))}
    >
      <LogLines lines={lines.map((line, i) => ({ ...line, label: label(line.name), color: frozen.has(line.name) ? theme.frozen : theme.series[i % theme.series.length], dashed: frozen.has(line.name) }))} theme={theme} />
    </ChartFrame>
  );
});

export const ScheduleChart = memo(function ScheduleChart() {
  const run = useSampledState(liveRun, 3);
  return <ScheduleChartView schedule={run?.schedule} />;
});

const ScheduleChartView = memo(function ScheduleChartView({ schedule }: { schedule: RunRecord['schedule'] | undefined }) {
  const theme = useChartTheme();
  const { scheduled, actual } = useMemo(() => {
    // One entry per ΔT window: thousands over a long run, so downsampled like the other lines.
    const entries = schedule ?? [];
    const steps = entries.map((e) => e.step);
    return {
      scheduled: points(steps, entries.map((e) => e.remaining)),
      actual: points(steps, entries.map((e) => e.trainableFraction)),
    };
  }, [schedule]);
  return (
    <ChartFrame title="Scheduled r(t) vs actual trainable A/B fraction" empty={scheduled.length === 0 ? 'The cubic schedule starts after t_i (AFLoRA only).' : null} testId="chart-schedule"
      legend={[
        { label: 'scheduled r(t)', color: theme.secondary, dashed: true },
        { label: 'actual trainable fraction', color: theme.primary },
      ]}
    >
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme, { yFormat: (v) => v.toFixed(1) })}
        <Line data={scheduled} dataKey="y" name="scheduled r(t)" stroke={theme.secondary} dot={false} isAnimationActive={false} strokeDasharray="5 3" />
        <Line data={actual} dataKey="y" name="actual trainable" stroke={theme.primary} dot={false} type="stepAfter" isAnimationActive={false} />
      </LineChart>
    </ChartFrame>
  );
});

export const TrainableChart = memo(function TrainableChart({ overlay }: { overlay: RunRecord | null }) {
  const run = useSampledState(liveRun, 4);
  return <TrainableChartView metrics={run?.metrics} overlay={overlay} />;
});

const TrainableChartView = memo(function TrainableChartView({ metrics, overlay }: { metrics: RunRecord['metrics'] | undefined; overlay: RunRecord | null }) {
  const theme = useChartTheme();
  const series = useMemo(() => {
    if (!metrics) return { now: [], avg: [] };
    const { step, trainableParams } = metrics;
    return { now: points(step, trainableParams), avg: points(step, runningMean(trainableParams)) };
  }, [metrics]);
  const other = useMemo(() => (overlay ? points(overlay.metrics.step, runningMean(overlay.metrics.trainableParams)) : []), [overlay]);
  return (
    <ChartFrame title="Trainable parameters (and running average)" empty={series.now.length === 0 ? 'Counts appear once training starts.' : null} testId="chart-trainable"
      legend={[
        { label: 'trainable now', color: theme.primary },
        { label: 'running average', color: theme.secondary },
        ...(other.length > 0 ? [{ label: `${overlay!.label} (avg)`, color: theme.overlay, dashed: true }] : []),
      ]}
    >
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme, { yFormat: formatCompact, yFromZero: true })}
        <Line data={series.now} dataKey="y" name="trainable now" stroke={theme.primary} dot={false} type="stepAfter" isAnimationActive={false} />
        <Line data={series.avg} dataKey="y" name="running average" stroke={theme.secondary} dot={false} isAnimationActive={false} />
        {other.length > 0 && <Line data={other} dataKey="y" name={`${overlay!.label} (avg)`} stroke={theme.overlay} strokeDasharray="5 3" dot={false} isAnimationActive={false} />}
      </LineChart>
    </ChartFrame>
  );
});

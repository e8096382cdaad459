import { memo, useMemo } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { downsampleLttb, minMaxIndices, runningMean, type Point } from '../downsample';
import { formatCount, formatSci } from '../format';
import { scoreSeries, type RunRecord } from '../state';
import { useChartTheme, type ChartTheme } from '../theme';

/** Points per line: enough for a smooth curve, cheap to render 20 times a second. */
const MAX_POINTS = 300;

function points(xs: ArrayLike<number>, ys: ArrayLike<number>): Point[] {
  return downsampleLttb(xs, ys, MAX_POINTS);
}

/** Loss keeps its spikes: min/max buckets rather than LTTB. */
function spikyPoints(xs: ArrayLike<number>, ys: ArrayLike<number>): Point[] {
  return minMaxIndices(ys, MAX_POINTS / 2).map((i) => ({ x: xs[i], y: ys[i] }));
}

function ChartFrame({ title, empty, children, testId }: { title: string; empty: string | null; children: React.ReactElement; testId: string }) {
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      {empty ? (
        <p className="empty chart-empty">{empty}</p>
      ) : (
        <div className="chart-body">
          <ResponsiveContainer width="100%" height="100%">
            {children}
          </ResponsiveContainer>
        </div>
      )}
    </figure>
  );
}

function axes(theme: ChartTheme, opts: { yLog?: boolean; yLabel?: string; yFormat?: (v: number) => string; xLabel?: string } = {}) {
  return [
    <CartesianGrid key="grid" stroke={theme.grid} strokeDasharray="3 3" />,
    <XAxis key="x" dataKey="x" type="number" domain={['dataMin', 'dataMax']} stroke={theme.text} tick={{ fontSize: 11 }} label={{ value: opts.xLabel ?? 'step', position: 'insideBottomRight', offset: -2, fontSize: 11, fill: theme.text }} allowDuplicatedCategory={false} />,
    <YAxis
      key="y"
      type="number"
      scale={opts.yLog ? 'log' : 'auto'}
      domain={opts.yLog ? ['auto', 'auto'] : ['auto', 'auto']}
      allowDataOverflow={false}
      stroke={theme.text}
      tick={{ fontSize: 11 }}
      width={56}
      tickFormatter={opts.yFormat ?? ((v: number) => formatSci(v, 1))}
    />,
    <Tooltip key="tip" isAnimationActive={false} formatter={(v) => formatSci(Number(v), 3)} labelFormatter={(l) => `${opts.xLabel ?? 'step'} ${l}`} contentStyle={{ fontSize: 12 }} />,
  ];
}

export const LossChart = memo(function LossChart({ run, overlay }: { run: RunRecord | null; overlay: RunRecord | null }) {
  const theme = useChartTheme();
  const metrics = run?.metrics;
  const data = useMemo(() => (metrics ? spikyPoints(metrics.step, metrics.loss) : []), [metrics]);
  const other = useMemo(() => (overlay ? spikyPoints(overlay.metrics.step, overlay.metrics.loss) : []), [overlay]);
  return (
    <ChartFrame title="Training loss" empty={data.length === 0 ? 'The loss appears here once training starts.' : null} testId="chart-loss">
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme)}
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Line data={data} dataKey="y" name={run?.label ?? 'loss'} stroke={theme.primary} dot={false} isAnimationActive={false} strokeWidth={1.5} />
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

export const MetricChart = memo(function MetricChart({ run, overlay, metric }: { run: RunRecord | null; overlay: RunRecord | null; metric: string }) {
  const theme = useChartTheme();
  const evaluations = run?.evaluations;
  const data = useMemo(() => metricPoints(evaluations, metric), [evaluations, metric]);
  const other = useMemo(() => metricPoints(overlay?.evaluations, metric), [overlay, metric]);
  return (
    <ChartFrame title={`Validation ${metric} per epoch`} empty={data.length === 0 ? 'Evaluated at the end of each epoch.' : null} testId="chart-metric">
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme, { xLabel: 'epoch', yFormat: (v) => v.toFixed(2) })}
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Line data={data} dataKey="y" name={run?.label ?? metric} stroke={theme.primary} isAnimationActive={false} />
        {other.length > 0 && <Line data={other} dataKey="y" name={overlay!.label} stroke={theme.overlay} strokeDasharray="5 3" isAnimationActive={false} />}
      </LineChart>
    </ChartFrame>
  );
});

/** One line per A/B matrix, log scale; lines of frozen matrices turn grey. */
export const ScoreChart = memo(function ScoreChart({ run }: { run: RunRecord | null }) {
  const theme = useChartTheme();
  const snapshots = run?.scoreSnapshots;
  const freezeSteps = run?.freezeSteps;
  const { lines, frozen } = useMemo(() => {
    const series = scoreSeries(snapshots ?? []);
    const names = Object.keys(series.values);
    return {
      lines: names.map((name) => ({
        name,
        data: series.steps
          .map((x, k) => ({ x, y: series.values[name][k] }))
          .filter((p) => p.y > 0), // log scale: only positive scores
      })),
      frozen: new Set(Object.keys(freezeSteps ?? {})),
    };
  }, [snapshots, freezeSteps]);
  const plan = run?.plan;
  const label = (name: string) => {
    const m = plan?.matrices.find((x) => x.name === name)?.matrix;
    return m ? `L${m.layer} ${m.kind}-${m.matrix}` : name;
  };
  return (
    <ChartFrame title="Freezing score per A/B matrix (log scale; grey = frozen)" empty={lines.length === 0 ? 'Scores appear after the first ΔT window (AFLoRA only).' : null} testId="chart-scores">
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme, { yLog: true })}
        {lines.length <= 16 && <Legend wrapperStyle={{ fontSize: 11 }} />}
        {lines.map((line, i) => (
          <Line
            key={line.name}
            data={line.data}
            dataKey="y"
            name={label(line.name) + (frozen.has(line.name) ? ' (frozen)' : '')}
            stroke={frozen.has(line.name) ? theme.frozen : theme.series[i % theme.series.length]}
            strokeDasharray={frozen.has(line.name) ? '4 3' : undefined}
            dot={false}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </ChartFrame>
  );
});

export const ScheduleChart = memo(function ScheduleChart({ run }: { run: RunRecord | null }) {
  const theme = useChartTheme();
  const schedule = run?.schedule;
  const { scheduled, actual } = useMemo(() => {
    const entries = schedule ?? [];
    return {
      scheduled: entries.map((e) => ({ x: e.step, y: e.remaining })),
      actual: entries.map((e) => ({ x: e.step, y: e.trainableFraction })),
    };
  }, [schedule]);
  return (
    <ChartFrame title="Scheduled r(t) vs actual trainable A/B fraction" empty={scheduled.length === 0 ? 'The cubic schedule starts after t_i (AFLoRA only).' : null} testId="chart-schedule">
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme, { yFormat: (v) => v.toFixed(1) })}
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Line data={scheduled} dataKey="y" name="scheduled r(t)" stroke={theme.secondary} dot={false} isAnimationActive={false} strokeDasharray="5 3" />
        <Line data={actual} dataKey="y" name="actual trainable" stroke={theme.primary} dot={false} type="stepAfter" isAnimationActive={false} />
      </LineChart>
    </ChartFrame>
  );
});

export const TrainableChart = memo(function TrainableChart({ run, overlay }: { run: RunRecord | null; overlay: RunRecord | null }) {
  const theme = useChartTheme();
  const metrics = run?.metrics;
  const series = useMemo(() => {
    if (!metrics) return { now: [], avg: [] };
    const { step, trainableParams } = metrics;
    return { now: points(step, trainableParams), avg: points(step, runningMean(trainableParams)) };
  }, [metrics]);
  const other = useMemo(() => (overlay ? points(overlay.metrics.step, runningMean(overlay.metrics.trainableParams)) : []), [overlay]);
  return (
    <ChartFrame title="Trainable parameters (and running average)" empty={series.now.length === 0 ? 'Counts appear once training starts.' : null} testId="chart-trainable">
      <LineChart margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
        {axes(theme, { yFormat: formatCount })}
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Line data={series.now} dataKey="y" name="trainable now" stroke={theme.primary} dot={false} type="stepAfter" isAnimationActive={false} />
        <Line data={series.avg} dataKey="y" name="running average" stroke={theme.secondary} dot={false} isAnimationActive={false} />
        {other.length > 0 && <Line data={other} dataKey="y" name={`${overlay!.label} (avg)`} stroke={theme.overlay} strokeDasharray="5 3" dot={false} isAnimationActive={false} />}
      </LineChart>
    </ChartFrame>
  );
});

import { memo, useMemo, useState } from 'react';
import { smoothEma } from '../chartScale';
import { downsampleLttb, minMaxIndices, runningMean, type Point } from '../downsample';
import { formatCompact } from '../format';
import { IMPORTANCE_SERIES, RANK_SERIES, SCORE_SERIES } from '../../methods/entry';
import { latestValues, valueSeries, type AppState, type RunRecord } from '../state';
import { useChartTheme } from '../theme';
import { useSampledState } from '../cadence';
import { SvgChart, type AxisOptions, type ChartSeries } from './SvgChart';

/** Points per line: enough for a smooth curve on a ~450 px wide chart. */
const MAX_POINTS = 300;
/** Fewer per line where there is a line per matrix (up to 144 for BERT-base). */
const SCORE_POINTS = 80;

function points(xs: ArrayLike<number>, ys: ArrayLike<number>, max = MAX_POINTS): Point[] {
  return downsampleLttb(xs, ys, max);
}

/** Raw loss keeps its spikes: min/max buckets rather than LTTB. */
function spikyPoints(xs: ArrayLike<number>, ys: ArrayLike<number>): Point[] {
  return minMaxIndices(ys, MAX_POINTS / 2).map((i) => ({ x: xs[i], y: ys[i] }));
}

const STEP_AXIS: AxisOptions = { integer: true, label: 'step' };
const EPOCH_AXIS: AxisOptions = { label: 'epoch' };
const LOSS_Y: AxisOptions = {};
const FRACTION_Y: AxisOptions = { fromZero: true };
const COUNT_Y: AxisOptions = { fromZero: true, integer: true, format: (v) => formatCompact(v), readout: (v) => formatCompact(v) };
const SCORE_Y: AxisOptions = { log: true };

/**
 * Each chart is an outer component that samples the live run in its own cadence slot (src/ui/cadence.ts),
 * and an inner memoised view that takes the fields it draws: between slots nothing re-renders, and when
 * its fields did not change the view is skipped.
 */
const liveRun = (s: AppState) => s.run;

export const LossChart = memo(function LossChart({ overlay }: { overlay: RunRecord | null }) {
  // Last slot (not 0): slot 0 would land in the burst of messages that starts a run.
  const run = useSampledState(liveRun, 7);
  return <LossChartView metrics={run?.metrics} label={run?.label} overlay={overlay} />;
});

/** TensorBoard's default smoothing. */
const DEFAULT_SMOOTHING = 0.6;

const LossChartView = memo(function LossChartView({ metrics, label, overlay }: { metrics: RunRecord['metrics'] | undefined; label: string | undefined; overlay: RunRecord | null }) {
  const theme = useChartTheme();
  const [smoothing, setSmoothing] = useState(DEFAULT_SMOOTHING);
  const series = useMemo(() => {
    const out: ChartSeries[] = [];
    if (metrics && metrics.step.length > 0) {
      const name = label ?? 'loss';
      if (smoothing > 0) {
        out.push({ key: 'raw', label: `${name} (raw)`, color: theme.primary, opacity: 0.3, width: 1, points: spikyPoints(metrics.step, metrics.loss), hideInLegend: true });
        out.push({ key: 'loss', label: name, color: theme.primary, points: points(metrics.step, smoothEma(metrics.loss, smoothing)) });
      } else {
        out.push({ key: 'loss', label: name, color: theme.primary, points: spikyPoints(metrics.step, metrics.loss) });
      }
    }
    if (overlay && overlay.metrics.step.length > 0) {
      out.push({ key: 'overlay', label: overlay.label, color: theme.overlay, dashed: true, points: points(overlay.metrics.step, smoothEma(overlay.metrics.loss, smoothing)) });
    }
    return out;
  }, [metrics, label, overlay, smoothing, theme]);
  const controls = (
    <label className="smoothing" title="Exponential moving average of the loss, debiased (as TensorBoard); the raw loss is the faint line.">
      smoothing
      <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} data-testid="loss-smoothing" />
      <output>{smoothing.toFixed(2)}</output>
    </label>
  );
  return (
    <SvgChart title="Training loss" testId="chart-loss" theme={theme} series={series} x={STEP_AXIS} y={LOSS_Y} controls={controls}
      empty={metrics && metrics.step.length > 0 ? null : 'The loss appears here once training starts.'} />
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
  const series = useMemo(() => {
    const out: ChartSeries[] = [];
    const own = metricPoints(evaluations, metric);
    if (own.length > 0) out.push({ key: 'metric', label: label ?? metric, color: theme.primary, points: own });
    const other = metricPoints(overlay?.evaluations, metric);
    if (other.length > 0) out.push({ key: 'overlay', label: overlay!.label, color: theme.overlay, dashed: true, points: other });
    return out;
  }, [evaluations, label, overlay, metric, theme]);
  return (
    <SvgChart title={`Validation ${metric} per epoch`} testId="chart-metric" theme={theme} series={series} x={EPOCH_AXIS} y={LOSS_Y}
      empty={series.some((s) => s.key === 'metric') ? null : 'Evaluated at the end of each epoch.'} />
  );
});

function positive(xs: number[], ys: number[]): [number[], number[]] {
  const keep = ys.map((y, i) => (y > 0 ? i : -1)).filter((i) => i >= 0);
  return [keep.map((i) => xs[i]), keep.map((i) => ys[i])];
}

/** One line per A/B matrix, log scale; a frozen matrix keeps its colour, dimmed and dashed. */
export const ScoreChart = memo(function ScoreChart() {
  const run = useSampledState(liveRun, 2);
  const dimmed = useMemo(() => new Set(Object.keys(run?.freezeSteps ?? {})), [run?.freezeSteps]);
  return (
    <CellLinesView snapshots={run?.values} plan={run?.plan} series={SCORE_SERIES} dimmed={dimmed} mark=" ❄" testId="chart-scores"
      title="Freezing score per A/B matrix (log scale; dashed = frozen)" empty="Scores appear after the first ΔT window." />
  );
});

/** One line per module: the importance behind its rank (log scale); a module with no rank left is dimmed and dashed. */
export const ImportanceChart = memo(function ImportanceChart() {
  const run = useSampledState(liveRun, 2);
  const values = run?.values;
  const dimmed = useMemo(() => {
    const ranks = latestValues(values ?? [], RANK_SERIES);
    return new Set(Object.keys(ranks).filter((name) => ranks[name] === 0));
  }, [values]);
  return (
    <CellLinesView snapshots={values} plan={run?.plan} series={IMPORTANCE_SERIES} dimmed={dimmed} mark=" (rank 0)" testId="chart-importance"
      title="Importance per module (log scale; dashed = no rank left)" empty="Importance appears with the first allocation." />
  );
});

interface CellLinesProps {
  snapshots: RunRecord['values'] | undefined;
  plan: RunRecord['plan'] | undefined;
  series: string;
  /** Cells drawn faded and dashed, with `mark` after their label. */
  dimmed: ReadonlySet<string>;
  mark: string;
  title: string;
  testId: string;
  empty: string;
}

/** One line per view cell of a 'values' series, log scale (non-positive values are left out). */
const CellLinesView = memo(function CellLinesView({ snapshots, plan, series: seriesName, dimmed, mark, title, testId, empty }: CellLinesProps) {
  const theme = useChartTheme();
  const series = useMemo(() => {
    const values = valueSeries(snapshots ?? [], seriesName);
    const labels = new Map(plan?.cells.map(({ name, cell }) => [name, `L${cell.layer} ${cell.kind}${cell.matrix ? `-${cell.matrix}` : ''}`]) ?? []);
    return Object.keys(values.values).map((name, i): ChartSeries => {
      const faded = dimmed.has(name);
      return {
        key: name,
        label: `${labels.get(name) ?? name}${faded ? mark : ''}`,
        color: theme.series[i % theme.series.length],
        opacity: faded ? 0.4 : 1,
        dashed: faded,
        width: 1.3,
        points: downsampleLttb(...positive(values.steps, values.values[name]), SCORE_POINTS),
      };
    });
  }, [snapshots, plan, seriesName, dimmed, mark, theme]);
  return <SvgChart title={title} testId={testId} theme={theme} series={series} x={STEP_AXIS} y={SCORE_Y} empty={series.length === 0 ? empty : null} />;
});

export const ScheduleChart = memo(function ScheduleChart() {
  const run = useSampledState(liveRun, 3);
  return <ScheduleChartView schedule={run?.schedule} />;
});

const ScheduleChartView = memo(function ScheduleChartView({ schedule }: { schedule: RunRecord['schedule'] | undefined }) {
  const theme = useChartTheme();
  const series = useMemo((): ChartSeries[] => {
    // One entry per ΔT window: thousands over a long run, so downsampled like the other lines.
    const entries = schedule ?? [];
    if (entries.length === 0) return [];
    const steps = entries.map((e) => e.step);
    return [
      { key: 'scheduled', label: 'scheduled r(t)', color: theme.secondary, dashed: true, points: points(steps, entries.map((e) => e.remaining)) },
      { key: 'actual', label: 'actual trainable fraction', color: theme.primary, stepped: true, points: points(steps, entries.map((e) => e.trainableFraction)) },
    ];
  }, [schedule, theme]);
  return (
    <SvgChart title="Scheduled r(t) vs actual trainable A/B fraction" testId="chart-schedule" theme={theme} series={series} x={STEP_AXIS} y={FRACTION_Y}
      empty={series.length === 0 ? 'The cubic schedule starts after t_i.' : null} />
  );
});

export const BudgetChart = memo(function BudgetChart() {
  const run = useSampledState(liveRun, 3);
  return <BudgetChartView budget={run?.budget} />;
});

/** A rank method's total rank: what its schedule allows, what the modules hold, and where it ends. */
const BudgetChartView = memo(function BudgetChartView({ budget }: { budget: RunRecord['budget'] }) {
  const theme = useChartTheme();
  const series = useMemo((): ChartSeries[] => {
    const entries = budget ?? [];
    if (entries.length === 0) return [];
    const steps = entries.map((e) => e.step);
    const target = entries[entries.length - 1].target;
    return [
      { key: 'scheduled', label: 'scheduled budget', color: theme.secondary, dashed: true, points: points(steps, entries.map((e) => e.scheduled)) },
      { key: 'actual', label: 'total rank held', color: theme.primary, stepped: true, points: points(steps, entries.map((e) => e.actual)) },
      { key: 'target', label: `target ${target}`, color: theme.overlay, dashed: true, width: 1, points: [{ x: steps[0], y: target }, { x: steps[steps.length - 1], y: target }] },
    ];
  }, [budget, theme]);
  return (
    <SvgChart title="Total rank: scheduled budget vs held" testId="chart-budget" theme={theme} series={series} x={STEP_AXIS} y={COUNT_Y}
      empty={series.length === 0 ? 'The budget appears with the first allocation.' : null} />
  );
});

export const TrainableChart = memo(function TrainableChart({ overlay }: { overlay: RunRecord | null }) {
  const run = useSampledState(liveRun, 4);
  return <TrainableChartView metrics={run?.metrics} overlay={overlay} />;
});

const TrainableChartView = memo(function TrainableChartView({ metrics, overlay }: { metrics: RunRecord['metrics'] | undefined; overlay: RunRecord | null }) {
  const theme = useChartTheme();
  const series = useMemo(() => {
    const out: ChartSeries[] = [];
    if (metrics && metrics.step.length > 0) {
      out.push({ key: 'now', label: 'trainable now', color: theme.primary, stepped: true, points: points(metrics.step, metrics.trainableParams) });
      out.push({ key: 'avg', label: 'running average', color: theme.secondary, points: points(metrics.step, runningMean(metrics.trainableParams)) });
    }
    if (overlay && overlay.metrics.step.length > 0) {
      out.push({ key: 'overlay', label: `${overlay.label} (avg)`, color: theme.overlay, dashed: true, points: points(overlay.metrics.step, runningMean(overlay.metrics.trainableParams)) });
    }
    return out;
  }, [metrics, overlay, theme]);
  return (
    <SvgChart title="Trainable parameters (and running average)" testId="chart-trainable" theme={theme} series={series} x={STEP_AXIS} y={COUNT_Y}
      empty={metrics && metrics.step.length > 0 ? null : 'Counts appear once training starts.'} />
  );
});


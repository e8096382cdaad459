/**
 * Protocol events from the engine's and the methods' events, and the columnar helpers both sides use: the
 * worker builds and merges batches with them (batcher.ts), the page's reducer appends with them.
 */
import type { MethodEvent } from '../engine/adapter';
import type { MetricRow, StepMetricsBatch, WorkerEvent } from './protocol';

const METRIC_FIELDS = ['step', 'epoch', 'loss', 'lr', 'trainableParams'] as const satisfies readonly (keyof MetricRow)[];

function columns(make: (field: keyof MetricRow) => Float64Array): StepMetricsBatch {
  return Object.fromEntries(METRIC_FIELDS.map((f) => [f, make(f)])) as StepMetricsBatch;
}

export function emptyStepMetrics(): StepMetricsBatch {
  return columns(() => new Float64Array(0));
}

export function stepMetricsOf(rows: readonly MetricRow[]): StepMetricsBatch {
  return columns((field) => Float64Array.from(rows, (r) => r[field]));
}

export function concatStepMetrics(a: StepMetricsBatch, b: StepMetricsBatch): StepMetricsBatch {
  return columns((field) => {
    const out = new Float64Array(a[field].length + b[field].length);
    out.set(a[field], 0);
    out.set(b[field], a[field].length);
    return out;
  });
}

/** One protocol event per method event; per-cell values become column snapshots. */
export function fromMethodEvent(event: MethodEvent): WorkerEvent {
  switch (event.type) {
    case 'values':
      return {
        type: 'values',
        snapshots: [{ series: event.series, step: event.step, names: event.values.map((v) => v.name), values: Float64Array.from(event.values, (v) => v.value) }],
      };
    case 'schedule': {
      const { type: _type, ...entry } = event;
      return { type: 'schedule', entries: [entry] };
    }
    case 'freeze': {
      const { type: _type, ...entry } = event;
      return { type: 'freeze', entries: [entry] };
    }
    case 'budget': {
      const { type: _type, ...entry } = event;
      return { type: 'budget', entries: [entry] };
    }
  }
}

/** Merges `next` into `pending` when both are of one mergeable kind; null when they must stay apart. */
export function mergeEvents(pending: WorkerEvent, next: WorkerEvent): WorkerEvent | null {
  if (pending.type === 'stepMetrics' && next.type === 'stepMetrics') {
    return { type: 'stepMetrics', batch: concatStepMetrics(pending.batch, next.batch) };
  }
  if (pending.type === 'values' && next.type === 'values') return { type: 'values', snapshots: [...pending.snapshots, ...next.snapshots] };
  if (pending.type === 'schedule' && next.type === 'schedule') return { type: 'schedule', entries: [...pending.entries, ...next.entries] };
  if (pending.type === 'freeze' && next.type === 'freeze') return { type: 'freeze', entries: [...pending.entries, ...next.entries] };
  if (pending.type === 'budget' && next.type === 'budget') return { type: 'budget', entries: [...pending.entries, ...next.entries] };
  // Only the latest progress of a phase matters.
  if (pending.type === 'progress' && next.type === 'progress' && pending.phase === next.phase) return next;
  return null;
}

export const MERGEABLE: ReadonlySet<WorkerEvent['type']> = new Set(['stepMetrics', 'values', 'schedule', 'freeze', 'budget', 'progress']);

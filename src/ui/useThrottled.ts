import { useDeferredValue, useEffect, useRef, useState } from 'react';

/**
 * The value, updated at most once per `intervalMs` (the latest value always lands, trailing edge),
 * `phaseMs` later than it could: charts with different phases redraw in different tasks.
 */
export function useThrottledValue<T>(value: T, intervalMs: number, phaseMs = 0): T {
  const [shown, setShown] = useState(value);
  const lastUpdate = useRef(0);
  useEffect(() => {
    if (Object.is(value, shown)) return;
    const wait = Math.max(0, lastUpdate.current + intervalMs - performance.now()) + phaseMs;
    const timer = setTimeout(() => {
      lastUpdate.current = performance.now();
      setShown(value);
    }, wait);
    return () => clearTimeout(timer);
  }, [value, shown, intervalMs, phaseMs]);
  return shown;
}

/** Chart redraw period while training: smooth enough to watch, cheap enough for the main thread. */
export const CHART_REFRESH_MS = 1000;
/** Gap between two charts' redraws, so no single task redraws them all. */
const SLOT_MS = 120;

/** A chart's view of a live value: throttled, staggered by slot, rendered at low priority. */
export function useChartValue<T>(value: T, slot: number): T {
  return useDeferredValue(useThrottledValue(value, CHART_REFRESH_MS, slot * SLOT_MS));
}

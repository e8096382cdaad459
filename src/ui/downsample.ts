/**
 * Chart downsampling so thousands of steps stay smooth in SVG charts.
 * LTTB (Largest-Triangle-Three-Buckets, Steinarsson 2013) keeps the visual shape of a line;
 * min/max buckets keep every spike (loss blow-ups must stay visible).
 */

/** Indices of the points LTTB keeps; always keeps the first and the last. xs must be ascending. */
export function lttbIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, threshold: number): number[] {
  const n = Math.min(xs.length, ys.length);
  if (threshold >= n || threshold < 3) return Array.from({ length: n }, (_, i) => i);
  const kept: number[] = [0];
  // Buckets over the points strictly between the first and the last.
  const bucketSize = (n - 2) / (threshold - 2);
  let a = 0;
  for (let bucket = 0; bucket < threshold - 2; bucket++) {
    const start = Math.floor(bucket * bucketSize) + 1;
    const end = Math.min(Math.floor((bucket + 1) * bucketSize) + 1, n - 1);
    // Average of the next bucket (or the last point) is the third triangle corner.
    const nextStart = end;
    const nextEnd = Math.min(Math.floor((bucket + 2) * bucketSize) + 1, n);
    let avgX = 0;
    let avgY = 0;
    const nextCount = Math.max(1, nextEnd - nextStart);
    for (let j = nextStart; j < nextStart + nextCount; j++) {
      avgX += xs[j];
      avgY += ys[j];
    }
    avgX /= nextCount;
    avgY /= nextCount;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const area = Math.abs((xs[a] - avgX) * (ys[j] - ys[a]) - (xs[a] - xs[j]) * (avgY - ys[a]));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    kept.push(best);
    a = best;
  }
  kept.push(n - 1);
  return kept;
}

/**
 * Indices of each bucket's minimum and maximum (in x order), first and last always kept.
 * At most 2 * buckets + 2 points.
 */
export function minMaxIndices(ys: ArrayLike<number>, buckets: number): number[] {
  const n = ys.length;
  if (n <= 2 * buckets + 2 || buckets < 1) return Array.from({ length: n }, (_, i) => i);
  const kept = new Set<number>([0, n - 1]);
  const size = n / buckets;
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.min(n, Math.floor((b + 1) * size));
    let lo = start;
    let hi = start;
    for (let j = start; j < end; j++) {
      // NaN never wins a comparison, so a NaN point is never picked over a finite one.
      if (ys[j] < ys[lo] || Number.isNaN(ys[lo])) lo = j;
      if (ys[j] > ys[hi] || Number.isNaN(ys[hi])) hi = j;
    }
    kept.add(lo);
    kept.add(hi);
  }
  return [...kept].sort((p, q) => p - q);
}

export interface Point {
  x: number;
  y: number;
}

/** Convenience for charts: LTTB on (x, y) columns to plain points. */
export function downsampleLttb(xs: ArrayLike<number>, ys: ArrayLike<number>, threshold: number): Point[] {
  return lttbIndices(xs, ys, threshold).map((i) => ({ x: xs[i], y: ys[i] }));
}

/** Trailing running mean (the paper reports the average trainable parameter count over steps). */
export function runningMean(values: ArrayLike<number>): Float64Array {
  const out = new Float64Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    out[i] = sum / (i + 1);
  }
  return out;
}

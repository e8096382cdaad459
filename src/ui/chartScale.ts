/**
 * Axis maths for the live charts: "nice" ticks (1, 2, 5 x 10^k steps), labels with just enough digits
 * that neighbouring ticks never read the same ("0.69, 0.69, 0.68"), log decades, and the loss
 * smoothing TensorBoard applies. Plain numbers in and out, tested without a DOM.
 */

export interface Ticks {
  /** Axis range, widened to whole tick steps. */
  lo: number;
  hi: number;
  values: number[];
  /** Distance between ticks: decides how many digits a label needs. */
  step: number;
}

/** About `count` ticks covering [lo, hi] at 1/2/5 x 10^k spacing. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: 1, values: [0, 1], step: 1 };
  if (hi < lo) [lo, hi] = [hi, lo];
  // A range below float resolution at this magnitude (two losses 1 ulp apart) is flat: a tick step that small
  // would not move v in the loop below.
  if (hi - lo <= Math.max(Math.abs(lo), Math.abs(hi)) * 1e-9) {
    const pad = lo === 0 && hi === 0 ? 1 : Math.max(Math.abs(lo), Math.abs(hi)) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const first = Math.floor(lo / step) * step;
  const last = Math.ceil(hi / step) * step;
  const values: number[] = [];
  // Rounded to the step's decimals so 0.1 + 0.2 prints as 0.3.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let v = first; v <= last + step / 2; v += step) values.push(Number(v.toFixed(Math.min(20, decimals + 2))));
  return { lo: first, hi: last, values, step };
}

/** A tick label with as many decimals as the step needs (0.685, 0.690, 0.695), compact for big numbers. */
export function formatTick(value: number, step: number): string {
  const a = Math.abs(value);
  if (a >= 1e4 || (a >= 1e3 && step >= 1e3)) return compactNumber(value, step);
  if (value !== 0 && (a < 1e-3 || step < 1e-4)) return value.toExponential(Math.max(0, Math.ceil(Math.log10(a / step))));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

function compactNumber(value: number, step: number): string {
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  const [scale, unit] = units.find(([s]) => Math.abs(value) >= s) ?? [1, ''];
  const decimals = Math.max(0, -Math.floor(Math.log10(step / scale) + 1e-9));
  return `${(value / scale).toFixed(decimals)}${unit}`;
}

/** Powers of ten covering [lo, hi] (both > 0) for a log axis; at least two decades. */
export function logDecades(lo: number, hi: number): number[] {
  let e0 = Math.floor(Math.log10(lo));
  const e1 = Math.max(Math.ceil(Math.log10(hi)), e0 + 1);
  if (!Number.isFinite(e0) || !Number.isFinite(e1)) return [0, 1];
  if (e1 - e0 > 12) e0 = e1 - 12;
  return Array.from({ length: e1 - e0 + 1 }, (_, i) => e0 + i);
}

/**
 * TensorBoard's scalar smoothing: an exponential moving average, debiased so the start is not pulled
 * towards 0. weight in [0, 1): 0 = raw values. Non-finite values pass through and do not enter the average.
 */
export function smoothEma(values: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(values.length);
  let last = 0;
  let debias = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    out[i] = debias > 0 ? last / debias : v;
  }
  return out;
}

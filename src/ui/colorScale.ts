/**
 * Sequential colour scale for the Figure-5 heatmap (iterations before freezing) and live scores.
 * Viridis: perceptually uniform, colour-blind safe, and its ends stay distinguishable from both a
 * light and a dark page background, so one legend reads in either theme.
 */

/** Viridis sampled at 9 evenly spaced stops (matplotlib's table). */
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

export type Rgb = [number, number, number];

/** t in [0, 1] -> RGB on viridis (clamped; NaN counts as 0). */
export function viridis(t: number): Rgb {
  const clamped = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const position = clamped * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(position));
  const f = position - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as Rgb;
}

export function rgbToHex([r, g, b]: Rgb): string {
  return '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** WCAG relative luminance of an sRGB colour. */
export function relativeLuminance([r, g, b]: Rgb): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export function contrastRatio(a: Rgb, b: Rgb): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Black or white, whichever reads better on the given cell colour. */
export function labelColorOn(background: Rgb): '#000000' | '#ffffff' {
  return contrastRatio(background, [0, 0, 0]) >= contrastRatio(background, [255, 255, 255]) ? '#000000' : '#ffffff';
}

/** Linear scale [min, max] -> [0, 1], clamped; a degenerate domain maps everything to 1. */
export function normalize(value: number, min: number, max: number): number {
  if (!(max > min)) return 1;
  return Math.min(1, Math.max(0, (value - min) / (max - min)));
}

/** Log scale for freezing scores, which span many decades. Non-positive values map to 0. */
export function normalizeLog(value: number, min: number, max: number): number {
  if (!(value > 0)) return 0;
  const lo = Math.log10(Math.max(min, Number.MIN_VALUE));
  const hi = Math.log10(Math.max(max, Number.MIN_VALUE));
  return normalize(Math.log10(value), lo, hi);
}

/** Evenly spaced legend ticks over [min, max]. */
export function legendTicks(min: number, max: number, count: number): number[] {
  if (count < 2 || !(max > min)) return [min];
  return Array.from({ length: count }, (_, i) => min + ((max - min) * i) / (count - 1));
}

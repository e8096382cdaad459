import { describe, expect, it } from 'vitest';
import {
  contrastRatio,
  labelColorOn,
  legendTicks,
  normalize,
  normalizeLog,
  relativeLuminance,
  rgbToHex,
  viridis,
} from '../../src/ui/colorScale';

describe('viridis', () => {
  it('hits the table ends and clamps outside [0, 1]', () => {
    expect(rgbToHex(viridis(0))).toBe('#440154');
    expect(rgbToHex(viridis(1))).toBe('#fde725');
    expect(viridis(-3)).toEqual(viridis(0));
    expect(viridis(7)).toEqual(viridis(1));
    expect(viridis(Number.NaN)).toEqual(viridis(0));
  });

  it('gets strictly lighter along the scale (readable as an ordered scale)', () => {
    let previous = -1;
    for (let i = 0; i <= 20; i++) {
      const l = relativeLuminance(viridis(i / 20));
      expect(l).toBeGreaterThan(previous);
      previous = l;
    }
  });

  it('keeps both ends distinguishable from light and dark backgrounds', () => {
    const white: [number, number, number] = [255, 255, 255];
    const dark: [number, number, number] = [18, 18, 24];
    // The low end must stand out on white, the high end on a dark page.
    expect(contrastRatio(viridis(0), white)).toBeGreaterThan(3);
    expect(contrastRatio(viridis(1), dark)).toBeGreaterThan(3);
  });
});

describe('labels on cells', () => {
  it('uses white on dark cells and black on light cells, with WCAG AA contrast', () => {
    expect(labelColorOn(viridis(0))).toBe('#ffffff');
    expect(labelColorOn(viridis(1))).toBe('#000000');
    for (let i = 0; i <= 10; i++) {
      const bg = viridis(i / 10);
      const fg = labelColorOn(bg) === '#000000' ? ([0, 0, 0] as [number, number, number]) : ([255, 255, 255] as [number, number, number]);
      expect(contrastRatio(bg, fg)).toBeGreaterThanOrEqual(4.5);
    }
  });
});

describe('normalisation', () => {
  it('maps linearly and clamps', () => {
    expect(normalize(5, 0, 10)).toBe(0.5);
    expect(normalize(-1, 0, 10)).toBe(0);
    expect(normalize(11, 0, 10)).toBe(1);
    expect(normalize(3, 3, 3)).toBe(1);
  });

  it('maps decades evenly on the log scale', () => {
    expect(normalizeLog(1e-6, 1e-8, 1e-4)).toBeCloseTo(0.5, 12);
    expect(normalizeLog(0, 1e-8, 1e-4)).toBe(0);
  });

  it('spreads legend ticks evenly', () => {
    expect(legendTicks(0, 100, 5)).toEqual([0, 25, 50, 75, 100]);
  });
});

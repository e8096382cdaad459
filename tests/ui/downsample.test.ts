import { describe, expect, it } from 'vitest';
import { lttbIndices, minMaxIndices, runningMean } from '../../src/ui/downsample';

describe('lttbIndices', () => {
  it('returns every index when the threshold is not below the length', () => {
    expect(lttbIndices([0, 1, 2], [5, 6, 7], 10)).toEqual([0, 1, 2]);
  });

  it('keeps exactly `threshold` ascending points including both ends', () => {
    const n = 5000;
    const xs = Array.from({ length: n }, (_, i) => i);
    const ys = xs.map((x) => Math.sin(x / 50));
    const kept = lttbIndices(xs, ys, 300);
    expect(kept).toHaveLength(300);
    expect(kept[0]).toBe(0);
    expect(kept[kept.length - 1]).toBe(n - 1);
    for (let i = 1; i < kept.length; i++) expect(kept[i]).toBeGreaterThan(kept[i - 1]);
  });

  it('keeps an isolated spike that every-k-th sampling would miss', () => {
    const n = 1000;
    const xs = Array.from({ length: n }, (_, i) => i);
    const ys = xs.map((x) => (x === 617 ? 100 : 1));
    expect(lttbIndices(xs, ys, 50)).toContain(617);
  });
});

describe('minMaxIndices', () => {
  it('keeps each bucket extreme and both ends', () => {
    const ys = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3];
    const kept = minMaxIndices(ys, 2);
    // Buckets [0,8) and [8,16): min 1 at 1, max 9 at 5; min 3 at 9, max 9 at 12.
    expect(kept).toEqual([0, 1, 5, 9, 12, 15]);
  });

  it('does not pick NaN as an extreme', () => {
    const ys = [Number.NaN, 2, 0, 5, 1, 1, 1, 1, 1, 1];
    const kept = minMaxIndices(ys, 2);
    expect(kept).toContain(2);
    expect(kept).toContain(3);
  });
});

describe('runningMean', () => {
  it('is the mean of the prefix', () => {
    expect(Array.from(runningMean([2, 4, 6, 8]))).toEqual([2, 3, 4, 5]);
  });
});

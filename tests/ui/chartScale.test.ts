import { describe, expect, it } from 'vitest';
import { formatTick, logDecades, niceTicks, smoothEma } from '../../src/ui/chartScale';

describe('chart axes', () => {
  it('labels close ticks with enough digits that no two read the same', () => {
    // A loss that barely moves: the old axis printed "0.69, 0.69, 0.68".
    const ticks = niceTicks(0.6812, 0.6931, 5);
    const labels = ticks.values.map((v) => formatTick(v, ticks.step));
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels).toEqual(['0.680', '0.685', '0.690', '0.695']);
  });

  it('puts whole-number steps on a step axis without collisions', () => {
    const ticks = niceTicks(0, 61, 6, true);
    expect(ticks.values).toEqual([0, 20, 40, 60, 80].slice(0, ticks.values.length));
    expect(new Set(ticks.values.map((v) => formatTick(v, ticks.step))).size).toBe(ticks.values.length);
    const small = niceTicks(60, 61, 6, true);
    expect(small.step).toBe(1);
    expect(small.values.map((v) => formatTick(v, small.step))).toEqual(['60', '61']);
  });

  it('treats a range below float resolution (two losses 1 ulp apart) as flat instead of looping forever', () => {
    // Seen in a real run: the tick loop's v += step no longer moved v, and the page's render ran out of memory.
    for (const [lo, hi] of [[0.6931471805599453, 0.6931471805599454], [300_000, 300_000.00000000006], [1, 1 + 2e-16]]) {
      const ticks = niceTicks(lo, hi, 5);
      expect(ticks.values.length, `${lo} .. ${hi}`).toBeLessThan(10);
      expect(ticks.lo).toBeLessThan(lo);
      expect(ticks.hi).toBeGreaterThan(hi);
    }
    expect(niceTicks(0, 0).values).toEqual([-1, -0.5, 0, 0.5, 1]);
  });

  it('covers the range with 1/2/5 steps and formats large counts compactly', () => {
    const ticks = niceTicks(12_000, 315_000, 5);
    expect(ticks.step).toBe(100_000);
    expect(ticks.lo).toBeLessThanOrEqual(12_000);
    expect(ticks.hi).toBeGreaterThanOrEqual(315_000);
    expect(ticks.values.map((v) => formatTick(v, ticks.step))).toEqual(['0', '100k', '200k', '300k', '400k']);
    expect(formatTick(1_200_000, 200_000)).toBe('1.2M');
  });

  it('handles a flat line and non-finite input', () => {
    const flat = niceTicks(0.5, 0.5, 5);
    expect(flat.lo).toBeLessThan(0.5);
    expect(flat.hi).toBeGreaterThan(0.5);
    expect(niceTicks(Number.NaN, 1).values).toEqual([0, 1]);
  });

  it('spans at least two decades on a log axis', () => {
    expect(logDecades(2e-7, 8e-5)).toEqual([-7, -6, -5, -4]);
    expect(logDecades(3e-6, 4e-6)).toEqual([-6, -5]);
  });
});

describe('smoothEma (TensorBoard smoothing)', () => {
  it('is the raw series at weight 0 and debiased at the start', () => {
    const raw = [1, 2, 3, 4];
    expect(Array.from(smoothEma(raw, 0))).toEqual(raw);
    const smooth = smoothEma([2, 2, 2], 0.9);
    // Debiased: a constant series stays constant instead of rising from 0.
    for (const v of smooth) expect(v).toBeCloseTo(2, 12);
    const step = smoothEma([0, 10], 0.5);
    // last = 0.5*0 + 0.5*10 = 5 after a first value of 0: 5 / (1 - 0.25) = 6.667
    expect(step[1]).toBeCloseTo(10 * 0.5 / 0.75, 12);
  });

  it('lets NaN through without poisoning later values', () => {
    const out = smoothEma([1, Number.NaN, 1], 0.6);
    expect(Number.isNaN(out[1])).toBe(true);
    expect(out[2]).toBeCloseTo(1, 12);
  });
});

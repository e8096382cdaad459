/** Deterministic test data and the relative error the kernel tests compare with. */
import { expect } from 'vitest';

/** Deterministic uniform values in [lo, hi) (xorshift32). */
export function values(count: number, seed: number, lo = -2, hi = 2): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = lo + ((state >>> 0) / 2 ** 32) * (hi - lo);
  }
  return out;
}

/** Largest |actual - expected| over the largest |expected| (Infinity on a non-finite value). */
export function maxRelError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let scale = 1e-6;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i])) return Infinity;
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  }
  return worst;
}

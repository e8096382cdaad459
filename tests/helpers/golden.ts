/** Shared by the golden-fixture tests: read a fixture file, compare tensors with the tolerances they state. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { parseSafetensors, type RawTensor } from '../../src/io/safetensors';

export function readSafetensors(path: string): Map<string, RawTensor> {
  return parseSafetensors(new Uint8Array(readFileSync(path)), path).tensors;
}

export function floats(tensor: RawTensor): Float32Array {
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as ArrayLike<number>);
}

/** Worst |diff| within tolerance x the largest |expected| (at least `floor`: tiny fixtures such as scores need a lower one). */
export function expectScaledClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string, floor = 1e-6): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const allowed = tolerance * Math.max(scale, floor);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= worst)) {
      worst = error;
      worstAt = i;
    }
  }
  expect(
    worst,
    `${what}: worst |diff| ${worst} at ${worstAt} (got ${actual[worstAt]}, want ${expected[worstAt]}), allowed ${allowed}`,
  ).toBeLessThanOrEqual(allowed);
}

export function expectEachRelClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expected.forEach((want, i) => {
    expect(Math.abs(actual[i] - want), `${what}[${i}]: got ${actual[i]}, want ${want}`).toBeLessThanOrEqual(
      tolerance * Math.max(Math.abs(want), 1e-12),
    );
  });
}

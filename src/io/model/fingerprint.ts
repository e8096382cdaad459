/**
 * A model's fingerprint: what a kept run's weights are checked against before they go back onto a loaded model
 * (same architecture and the same pretrained values). Hashing every value of a 110M-parameter model takes about a
 * second, so it hashes config.json, every tensor's name and shape, and 257 evenly spaced values of each tensor:
 * a different checkpoint of the same shape differs in those values.
 */
import type { StateDict } from '../../engine/types';

const SAMPLES_PER_TENSOR = 257;

/** FNV-1a, 32 bit, over bytes. */
function fnv1a(hash: number, bytes: Uint8Array): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Two independent 32-bit FNV-1a hashes (different offsets) as 16 hex digits. */
export function modelFingerprint(configJson: Record<string, unknown>, weights: StateDict): string {
  const encoder = new TextEncoder();
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const feed = (bytes: Uint8Array) => {
    a = fnv1a(a, bytes);
    b = fnv1a(b, bytes);
  };
  feed(encoder.encode(JSON.stringify(configJson)));
  for (const name of [...weights.keys()].sort()) {
    const { shape, data } = weights.get(name)!;
    feed(encoder.encode(`${name}:${shape.join('x')};`));
    const n = Math.min(SAMPLES_PER_TENSOR, data.length);
    const sample = new Float32Array(n);
    for (let i = 0; i < n; i++) sample[i] = data[Math.floor((i * (data.length - 1)) / Math.max(1, n - 1))];
    feed(new Uint8Array(sample.buffer));
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

/**
 * A model's fingerprint: what a kept run's weights are checked against before they go back onto a loaded model
 * (same architecture and the same pretrained values). Hashing every value of a 110M-parameter model takes about a
 * second, so it hashes config.json, every tensor's name and shape, and 257 evenly spaced values of each tensor:
 * a different checkpoint of the same shape differs in those values.
 */
import type { StateDict } from '../../engine/types';
import { ContentHash } from '../hash';

const SAMPLES_PER_TENSOR = 257;

/** 16 hex digits (io/hash). */
export function modelFingerprint(configJson: Record<string, unknown>, weights: StateDict): string {
  const hash = new ContentHash().text(JSON.stringify(configJson));
  for (const name of [...weights.keys()].sort()) {
    const { shape, data } = weights.get(name)!;
    hash.text(`${name}:${shape.join('x')};`);
    const n = Math.min(SAMPLES_PER_TENSOR, data.length);
    const sample = new Float32Array(n);
    for (let i = 0; i < n; i++) sample[i] = data[Math.floor((i * (data.length - 1)) / Math.max(1, n - 1))];
    hash.bytes(new Uint8Array(sample.buffer));
  }
  return hash.hex();
}

/**
 * Small seeded PRNG for weight init, shuffling and dropout seeds. Plain JS so that the same seed gives
 * the same numbers on every backend (TF.js random ops differ between cpu and webgpu).
 */

/** Mixes a list of integers into one 32-bit seed (splitmix32-style finaliser). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** FNV-1a hash of a string: derives a per-variable seed from its name. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = mixSeed(seed) || 1;
  }

  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log is finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  uniformArray(size: number, low: number, high: number): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = low + (high - low) * this.next();
    return out;
  }

  normalArray(size: number, std: number): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = this.normal() * std;
    return out;
  }

  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    return order;
  }
}

/**
 * Kaiming-uniform init as torch.nn.init.kaiming_uniform_(w, a) with fan_in mode and leaky_relu gain:
 * bound = sqrt(6 / ((1 + a^2) * fanIn)). a = sqrt(5) gives 1/sqrt(fanIn) (nn.Linear / PEFT LoRA A).
 */
export function kaimingUniform(rng: Rng, size: number, fanIn: number, a: number): Float32Array {
  const bound = Math.sqrt(6 / ((1 + a * a) * fanIn));
  return rng.uniformArray(size, -bound, bound);
}

/**
 * Counts GPU programs (compute dispatches) the webgpu backend runs, by wrapping its runWebGPUProgram.
 * Dispatch count is the proxy for per-step CPU overhead (each costs ~0.3-0.8 ms to enqueue in TF.js).
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackendLike } from './program';

export interface DispatchCounter {
  /** Dispatches since the last reset, by program shader key prefix (e.g. `binary_mul`, `aflora_layernorm`). */
  byProgram(): Map<string, number>;
  total(): number;
  reset(): void;
  uninstall(): void;
}

export function installDispatchCounter(): DispatchCounter {
  if (tf.getBackend() !== 'webgpu')
    throw new Error('installDispatchCounter: the active backend is not webgpu');
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  const original = backend.runWebGPUProgram;
  const counts = new Map<string, number>();
  backend.runWebGPUProgram = function (this: WebGPUBackendLike, program, ...rest) {
    // shaderKey is extended with shapes inside the call; read the program's own key first.
    const key = program.shaderKey ?? program.constructor.name;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return original.call(this, program, ...rest);
  };
  return {
    byProgram: () => new Map(counts),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
    uninstall: () => {
      backend.runWebGPUProgram = original;
    },
  };
}

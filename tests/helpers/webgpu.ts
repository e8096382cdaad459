/**
 * WebGPU for Node tests: Dawn (npm `webgpu`) on SwiftShader's Vulkan driver from Debian's chromium.
 * Must run before @tensorflow/tfjs-backend-webgpu is imported (it registers only if navigator.gpu exists),
 * so tests import the backend dynamically after calling installNodeWebGPU().
 */
import type * as tfType from '@tensorflow/tfjs';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeWebGPU {
  tf: typeof tfType;
  /** Errors the device reported outside any error scope; a test must fail if this is non-empty. */
  uncapturedErrors: string[];
  teardown(): Promise<void>;
}

export async function installNodeWebGPU(): Promise<NodeWebGPU> {
  process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  // Node 20 has no global navigator; Node 21+ has one without `gpu`.
  if (!('navigator' in globalThis)) {
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  }
  Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });

  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu');
  // Small ops would otherwise silently run on the CPU, hiding WebGPU bugs.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const ok = await tf.setBackend('webgpu');
  if (!ok) throw new Error('webgpu backend failed to initialise under Dawn/SwiftShader');
  await tf.ready();

  const uncapturedErrors: string[] = [];
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.addEventListener('uncapturederror', (event) => {
    uncapturedErrors.push(String((event as GPUUncapturedErrorEvent).error.message));
  });

  return {
    tf,
    uncapturedErrors,
    async teardown() {
      await tf.setBackend('cpu');
      tf.removeBackend('webgpu');
      device.destroy();
      delete (globalThis.navigator as { gpu?: unknown }).gpu;
    },
  };
}

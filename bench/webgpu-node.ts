/**
 * TF.js on WebGPU in Node through Dawn (npm `webgpu`), for the benchmark: SwiftShader here, NVIDIA's Vulkan
 * driver on the device machine (bench/device-run.sh sets VK_DRIVER_FILES). Same order as
 * tests/helpers/webgpu.ts: navigator.gpu must exist before the webgpu backend is imported.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeWebGPUHandle {
  adapterInfo: string;
  uncapturedErrors: string[];
  device: GPUDevice;
  teardown(): Promise<void>;
}

/** `flags`: Dawn's create() options, e.g. `enable-dawn-features=allow_unsafe_apis` (bench/matmul.ts). */
export async function setupWebGPU(flags: string[] = []): Promise<NodeWebGPUHandle> {
  if (!process.env.VK_DRIVER_FILES && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create(flags);
  if (!('navigator' in globalThis)) {
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  }
  Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  const info = adapter?.info;
  const adapterInfo = info
    ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ')
    : 'none';

  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('webgpu backend failed to initialise (no adapter?)');
  await tf.ready();
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const uncapturedErrors: string[] = [];
  device.addEventListener('uncapturederror', (event) => {
    uncapturedErrors.push(String((event as GPUUncapturedErrorEvent).error.message));
  });
  return {
    adapterInfo,
    uncapturedErrors,
    device,
    async teardown() {
      await tf.setBackend('cpu');
      tf.removeBackend('webgpu');
      device.destroy();
      delete (globalThis.navigator as { gpu?: unknown }).gpu;
    },
  };
}

/** Bytes the webgpu buffer manager holds (in use / allocated incl. the free pool), when reachable. */
export function webgpuBufferBytes(): { used: number; allocated: number } | null {
  const manager = (
    tf.backend() as unknown as { bufferManager?: { numBytesUsed: number; numBytesAllocated: number } }
  ).bufferManager;
  return manager ? { used: manager.numBytesUsed, allocated: manager.numBytesAllocated } : null;
}

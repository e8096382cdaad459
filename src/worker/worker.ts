/// <reference lib="webworker" />
/**
 * The training worker's entry: picks the TF.js backend (WebGPU, else CPU with a visible notice), watches for a
 * lost GPU device, and hands every command to the session (./session: model, data, the run). Events leave in
 * batches (EventBatcher: <= 20 messages/s).
 */
import * as tf from '@tensorflow/tfjs';
// Registers the 'webgpu' backend (only when navigator.gpu exists at import time).
import '@tensorflow/tfjs-backend-webgpu';
import { EventBatcher } from './batcher';
import { describe } from '../engine/errors';
import type { Command, WorkerEvent } from './protocol';
import { Session } from './session';

declare const self: DedicatedWorkerGlobalScope;

const batcher = new EventBatcher((message) => self.postMessage(message));
const emit = (event: WorkerEvent) => batcher.push(event);
const session = new Session(emit);

async function pickBackend(): Promise<void> {
  const fallback = async (reason: string) => {
    await tf.setBackend('cpu');
    emit({ type: 'backend', name: 'cpu', fallbackReason: reason });
  };
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return fallback('this browser exposes no navigator.gpu in workers');
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return fallback('no WebGPU adapter (GPU blocklisted or disabled)');
  // setBackend resolves false (rather than throwing) when the backend cannot initialise.
  const ok = await tf.setBackend('webgpu').catch(() => false);
  if (!ok) return fallback('the WebGPU backend failed to initialise');
  await tf.ready();
  // Small ops would otherwise run on the CPU and sync back: keep everything on the GPU.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  void device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    session.loseDevice();
    emit({
      type: 'error',
      kind: 'device-lost',
      message: `The GPU device was lost: ${info.message || 'no reason given'}`,
      hint: 'The charts and the last evaluated adapter are kept. Reload the page to train again; closing other GPU-heavy tabs may help.',
    });
  });
  const info = adapter.info;
  emit({ type: 'backend', name: 'webgpu', adapter: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || undefined });
}

const backendReady = pickBackend().catch((error: unknown) => {
  emit({ type: 'error', kind: 'webgpu-unavailable', message: `No TF.js backend could start: ${describe(error)}`, hint: 'Try a recent Chrome or Edge.' });
});

self.onmessage = (message: MessageEvent<Command>) => {
  void backendReady.then(() => session.handle(message.data));
};

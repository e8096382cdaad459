/// <reference lib="webworker" />
/**
 * The training worker: picks the TF.js backend (WebGPU, else CPU with a visible notice), runs the
 * command loop, drives training one step at a time while staying responsive to pause/stop, and sends
 * batched events (EventBatcher: <= 20 messages/s). Engine and io calls live in ./session.
 */
import * as tf from '@tensorflow/tfjs';
// Registers the 'webgpu' backend (only when navigator.gpu exists at import time).
import '@tensorflow/tfjs-backend-webgpu';
import type { MethodEvent } from '../engine/adapter';
import type { MatrixId } from '../engine/types';
import { EventBatcher } from './batcher';
import { assertNever, type Command, type ErrorKind, type ScoreSnapshot, type StepMetricsBatch, type WorkerEvent } from './protocol';
import { BadInputError, Session, UnsupportedInputError, type TrainerHandle } from './session';

declare const self: DedicatedWorkerGlobalScope;

const batcher = new EventBatcher((message) => self.postMessage(message));
const emit = (event: WorkerEvent) => batcher.push(event);

/* ------------------------------------------------------------------ backend */

let deviceLost = false;

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
    deviceLost = true;
    control.stop = true;
    fail('device-lost', `The GPU device was lost: ${info.message || 'no reason given'}`, 'The charts and the last evaluated adapter are kept. Reload the page to train again; closing other GPU-heavy tabs may help.');
  });
  const info = adapter.info;
  emit({ type: 'backend', name: 'webgpu', adapter: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || undefined });
}

const backendReady = pickBackend().catch((error: unknown) => {
  fail('webgpu-unavailable', `No TF.js backend could start: ${describe(error)}`, 'Try a recent Chrome or Edge.');
});

/* ------------------------------------------------------------------ errors */

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function fail(kind: ErrorKind, message: string, hint: string, lines?: { line: number; message: string }[]): void {
  emit({ type: 'error', kind, message, hint, lines });
}

/** Maps a thrown error to the protocol's kinds, with a hint a person can act on. */
function reportError(error: unknown, during: string): void {
  const message = describe(error);
  if (error instanceof BadInputError) return fail('bad-input', message, error.hint, error.lines);
  if (error instanceof UnsupportedInputError) return fail('unsupported-model', message, error.hint);
  if (deviceLost) return; // already reported once, the follow-up errors add nothing
  if (/out of memory|OOM|allocation|too large/i.test(message)) {
    return fail('out-of-memory', `Out of GPU memory while ${during}: ${message}`, 'Lower the batch size or max length, or pick a smaller model.');
  }
  console.error(error);
  fail('internal', `Unexpected error while ${during}: ${message}`, 'Reload the page and try again; if it persists, report it with the browser console output.');
}

/* ------------------------------------------------------------------ training control */

const control = {
  running: false,
  paused: false,
  stop: false,
  resume: null as (() => void) | null,
};

/** Lets queued messages (pause/stop/predict) run between steps. MessageChannel avoids setTimeout's 4 ms clamp. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

function toColumns(rows: { step: number; epoch: number; loss: number; lr: number; trainableParams: number }[]): StepMetricsBatch {
  const column = (pick: (r: (typeof rows)[number]) => number) => Float64Array.from(rows, pick);
  return {
    step: column((r) => r.step),
    epoch: column((r) => r.epoch),
    loss: column((r) => r.loss),
    lr: column((r) => r.lr),
    trainableParams: column((r) => r.trainableParams),
  };
}

/** Method events -> protocol events (scores become column snapshots). */
function forwardMethodEvents(events: MethodEvent[]): void {
  for (const event of events) {
    switch (event.type) {
      case 'values': {
        const snapshot: ScoreSnapshot = {
          step: event.step,
          names: event.values.map((s) => s.name),
          values: Float64Array.from(event.values, (s) => s.value),
        };
        emit({ type: 'scores', snapshots: [snapshot] });
        break;
      }
      case 'schedule':
        emit({ type: 'schedule', entries: [{ step: event.step, remaining: event.remaining, threshold: event.threshold, trainableFraction: event.trainableFraction }] });
        break;
      case 'freeze':
        emit({ type: 'freeze', entries: [{ step: event.step, name: event.name, matrix: event.cell as MatrixId }] });
        break;
      default:
        assertNever(event, 'method event');
    }
  }
}

async function train(trainer: TrainerHandle, logEvery: number): Promise<void> {
  const { totalSteps, stepsPerEpoch } = trainer.plan;
  const started = performance.now();
  let step = 0;
  let lastCompleted = -1;
  let reason: 'completed' | 'stopped' | 'failed' = 'completed';
  try {
    emit({ type: 'progress', phase: 'compile', done: 0, total: 1, message: 'the first step compiles GPU kernels (5–20 s)' });
    for (; step < totalSteps; step++) {
      if (control.paused) {
        emit({ type: 'paused', step });
        await new Promise<void>((resolve) => (control.resume = resolve));
        control.resume = null;
        if (!control.stop) emit({ type: 'resumed', step });
      }
      if (control.stop) {
        reason = 'stopped';
        break;
      }
      forwardMethodEvents(await trainer.step());
      lastCompleted = step;
      if (step === 0) emit({ type: 'progress', phase: 'compile', done: 1, total: 1 });
      const epochEnd = (step + 1) % stepsPerEpoch === 0 || step === totalSteps - 1;
      // GPU reads only once per logging interval (and at epoch ends, for the evaluation).
      if ((step + 1) % logEvery === 0 || epochEnd) {
        const rows = await trainer.flushMetrics();
        if (rows.length > 0) {
          emit({ type: 'stepMetrics', batch: toColumns(rows) });
          emit({ type: 'progress', phase: 'train', done: step + 1, total: totalSteps });
          const bad = rows.find((r) => !Number.isFinite(r.loss));
          if (bad) {
            reason = 'failed';
            fail('nan-loss', `The loss became ${bad.loss} at step ${bad.step}.`, 'Training diverged: lower the adapter or classifier learning rate (or the max grad norm) and train again.');
            break;
          }
        }
      }
      if (epochEnd) {
        const epoch = Math.floor(step / stepsPerEpoch);
        emit({ type: 'evaluation', step, epoch, metrics: await trainer.evaluate() });
        // Keep an adapter copy on the CPU so a later device loss still leaves something to export.
        await trainer.snapshot();
      }
      await yieldToEventLoop();
    }
  } catch (error) {
    reason = 'failed';
    reportError(error, `training step ${step}`);
  } finally {
    control.running = false;
    control.paused = false;
    control.stop = false;
    emit({ type: 'finished', reason, step: Math.max(0, lastCompleted), seconds: (performance.now() - started) / 1000 });
  }
}

/* ------------------------------------------------------------------ commands */

const session = new Session((event) => emit(event));

async function handle(command: Command): Promise<void> {
  await backendReady;
  switch (command.type) {
    case 'loadModel':
      if (control.running) return fail('bad-input', 'Cannot change the model while training.', 'Stop the run first.');
      try {
        emit({ type: 'modelLoaded', info: await session.loadModel(command.source) });
      } catch (error) {
        reportError(error, 'loading the model');
      }
      return;
    case 'loadData':
      if (control.running) return fail('bad-input', 'Cannot change the data while training.', 'Stop the run first.');
      try {
        emit({ type: 'dataLoaded', info: session.loadData(command.data, command.mapping, command.validation) });
      } catch (error) {
        reportError(error, 'reading the data');
      }
      return;
    case 'start': {
      if (control.running) return fail('bad-input', 'A run is already in progress.', 'Stop it first.');
      if (deviceLost) return fail('device-lost', 'The GPU device was lost earlier.', 'Reload the page to train again.');
      control.running = true;
      let trainer: TrainerHandle;
      try {
        trainer = await session.createTrainer(command.method, command.options, command.recipe);
      } catch (error) {
        control.running = false;
        reportError(error, 'preparing the run');
        return;
      }
      emit({ type: 'started', plan: trainer.plan });
      await train(trainer, Math.max(1, command.recipe.logEvery));
      return;
    }
    case 'pause':
      if (control.running) control.paused = true;
      return;
    case 'resume':
      control.paused = false;
      control.resume?.();
      return;
    case 'stop':
      control.stop = true;
      control.paused = false;
      control.resume?.();
      return;
    case 'evaluate':
      if (control.running && !control.paused) return fail('bad-input', 'Evaluation runs at each epoch end while training.', 'Pause first for an extra evaluation.');
      try {
        const result = await session.evaluateNow();
        emit({ type: 'evaluation', step: result.step, epoch: result.epoch, metrics: result.metrics });
      } catch (error) {
        reportError(error, 'evaluating');
      }
      return;
    case 'predict':
      if (control.running && !control.paused) return fail('bad-input', 'Predictions wait until training is paused or done.', 'Pause the run to try the current model.');
      try {
        emit({ type: 'prediction', requestId: command.requestId, ...(await session.predict(command.text, command.pair)) });
      } catch (error) {
        reportError(error, 'predicting');
      }
      return;
    case 'export':
      try {
        emit({ type: 'exported', format: command.format, files: await session.exportAdapter(command.format, deviceLost) });
      } catch (error) {
        reportError(error, 'exporting');
      }
      return;
    default:
      assertNever(command, 'command');
  }
}

self.onmessage = (message: MessageEvent<Command>) => {
  void handle(message.data);
};

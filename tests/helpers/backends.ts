/**
 * Shared by the "method on webgpu == cpu" tests: Dawn WebGPU for the file, one run on each backend, a whole
 * Trainer run of a method, and the comparisons those tests make. (Kept apart from webgpu.ts, which scripts import
 * outside vitest.)
 */
import { afterAll, beforeAll, expect } from 'vitest';
import type { MethodEvent } from '../../src/engine/adapter';
import type { EncodedExamples } from '../../src/engine/batches';
import type { Trainer, TrainingRecipe } from '../../src/engine/trainer';
import type { BertConfig } from '../../src/engine/types';
import { installNodeWebGPU, type NodeWebGPU } from './webgpu';

/** Installs Dawn WebGPU for the calling test file (beforeAll) and tears it down after (afterAll). */
export function setupNodeWebGPU(): () => NodeWebGPU {
  let gpu: NodeWebGPU | undefined;
  beforeAll(async () => {
    gpu = await installNodeWebGPU();
  }, 60_000);
  afterAll(async () => {
    await gpu?.teardown();
  });
  return () => {
    if (!gpu) throw new Error('setupNodeWebGPU: WebGPU is not installed yet (call the getter inside a test)');
    return gpu;
  };
}

/**
 * `run` on webgpu (the engine's fused kernels on), then on cpu (kernels off); fails on any uncaptured device
 * error of the webgpu run. Leaves webgpu selected for the next test.
 */
export async function onBothBackends<T>(gpu: NodeWebGPU, run: (kernels: boolean) => Promise<T>): Promise<{ onGpu: T; onCpu: T }> {
  expect(await gpu.tf.setBackend('webgpu')).toBe(true);
  const onGpu = await run(true);
  expect(gpu.uncapturedErrors).toEqual([]);
  await gpu.tf.setBackend('cpu');
  try {
    return { onGpu, onCpu: await run(false) };
  } finally {
    await gpu.tf.setBackend('webgpu');
  }
}

export interface TrainedRun {
  events: MethodEvent[];
  losses: number[];
}

/**
 * A whole run of the real Trainer for a method on the current backend. `afterStep` sees the trainer after every
 * step (with all events so far), e.g. to read gate variables. Imports lazily: the webgpu backend must be
 * registered first.
 */
export async function trainMethod(
  spec: {
    config: BertConfig;
    method: string;
    options: Record<string, unknown>;
    train: EncodedExamples;
    validation?: EncodedExamples;
    recipe: Partial<TrainingRecipe>;
    kernels: boolean;
    weightsSeed?: number;
  },
  afterStep?: (trainer: Trainer, events: readonly MethodEvent[]) => Promise<void>,
): Promise<TrainedRun> {
  const { Trainer: TrainerClass, DEFAULT_RECIPE } = await import('../../src/engine/trainer');
  const { randomBertWeights } = await import('../../src/engine/weights');
  const { adapterMethod } = await import('../../src/methods/registry');
  const trainer = new TrainerClass({
    config: spec.config,
    weights: randomBertWeights(spec.config, spec.weightsSeed ?? 2),
    method: adapterMethod(spec.method, spec.options),
    train: spec.train,
    validation: spec.validation,
    recipe: { ...DEFAULT_RECIPE, ...spec.recipe },
    kernels: spec.kernels,
    execution: 'engine',
  });
  try {
    const events: MethodEvent[] = [];
    while (!trainer.finished) {
      events.push(...(await trainer.step()));
      await afterStep?.(trainer, events);
    }
    const losses = (await trainer.flushMetrics()).map((m) => m.loss);
    return { events, losses };
  } finally {
    trainer.dispose();
  }
}

/** Every 'values' event of one series, in order: one number list per event. */
export function seriesOf(events: readonly MethodEvent[], series: string): number[][] {
  return events.flatMap((e) => (e.type === 'values' && e.series === series ? [e.values.map((v) => v.value)] : []));
}

/** Each value within `relative` of its own magnitude (losses). */
export function expectEachClose(actual: readonly number[], expected: readonly number[], relative: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expected.forEach((want, i) => expect(Math.abs(actual[i] - want), `${what} ${i}`).toBeLessThan(relative * Math.abs(want)));
}

/** Each value within `fraction` of `scale` (importances: small ones are compared against the largest). */
export function expectWithinScale(actual: readonly number[], expected: readonly number[], fraction: number, scale: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expected.forEach((want, i) => expect(Math.abs(actual[i] - want), `${what} ${i}`).toBeLessThan(fraction * scale));
}

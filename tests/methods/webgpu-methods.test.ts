/**
 * LoRA and ELoRA `apply` and its gradients on webgpu (Dawn + SwiftShader) against the cpu backend:
 * catches WebGPU-only kernel differences (fused matMul with a full-shape bias, broadcasts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearTargets } from '../../src/engine/types';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';
import { tinyConfig } from '../helpers/tinyBert';

let gpu: NodeWebGPU;
beforeAll(async () => {
  gpu = await installNodeWebGPU();
});
afterAll(async () => {
  await gpu?.teardown();
});

const CONFIG = tinyConfig({
  vocabSize: 30,
  hiddenSize: 8,
  numLayers: 1,
  intermediateSize: 12,
  maxPositions: 8,
});

const CASES = [
  { id: 'lora', options: { r: 4, alpha: 8, targetModules: ['inter'] } },
  { id: 'elora', options: { rank: 6, targetModules: ['inter'] } },
];

/** Output and gradients of sum(apply(x) * weights) w.r.t. every variable, with non-zero B / Λb. */
async function runOn(backend: 'cpu' | 'webgpu', id: string, options: object) {
  const { tf } = gpu;
  expect(await tf.setBackend(backend)).toBe(true);
  const { adapterMethod } = await import('../../src/methods/registry');
  const targets = linearTargets(CONFIG);
  const inter = targets.find((t) => t.kind === 'inter')!;
  const runtime = adapterMethod(id, options).create({ config: CONFIG, targets, totalSteps: 1, epochs: 1, stepsPerEpoch: 1, warmupSteps: 0, seed: 9 });
  // Make the adapter non-trivial (B = 0 / Λb = 0 at init would hide half the math).
  tf.tidy(() => {
    for (const v of runtime.variables()) {
      if (v.name.endsWith('lora_B') || v.name.endsWith('lambda_b')) {
        const n = v.variable.size;
        v.variable.assign(
          tf.tensor(
            Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 0.5),
            v.variable.shape,
          ),
        );
      }
    }
  });
  const tokens = 5;
  const x = tf.tensor2d(
    Float32Array.from({ length: tokens * 8 }, (_, i) => Math.cos(i * 0.7)),
    [tokens, 8],
  );
  const base = tf.tensor2d(
    Float32Array.from({ length: tokens * 12 }, (_, i) => (i % 7) - 3),
    [tokens, 12],
  );
  const weights = tf.tensor2d(
    Float32Array.from({ length: tokens * 12 }, (_, i) => ((i * 5) % 11) / 11 - 0.4),
    [tokens, 12],
  );
  const trainable = runtime.trainable();
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(runtime.apply(inter, x, base), weights)) as never,
    trainable.map((v) => v.variable),
  );
  const output = tf.tidy(() => runtime.apply(inter, x, base));
  const result = {
    output: Array.from(await output.data()),
    loss: (await value.data())[0],
    grads: await Promise.all(trainable.map(async (v) => Array.from(await grads[v.variable.name].data()))),
  };
  tf.dispose([x, base, weights, output, value, ...Object.values(grads)]);
  runtime.dispose();
  return result;
}

function expectClose(actual: number[], expected: number[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const scale = Math.max(1e-6, ...expected.map(Math.abs));
  actual.forEach((v, i) =>
    expect(Math.abs(v - expected[i]), `${what}[${i}]`).toBeLessThanOrEqual(1e-4 * scale),
  );
}

describe.each(CASES)('$id on webgpu', ({ id, options }) => {
  it('matches cpu in output and gradients, without WebGPU errors', async () => {
    const cpu = await runOn('cpu', id, options);
    const webgpu = await runOn('webgpu', id, options);
    expectClose(webgpu.output, cpu.output, 'output');
    expectClose([webgpu.loss], [cpu.loss], 'loss');
    cpu.grads.forEach((g, i) => expectClose(webgpu.grads[i], g, `grad ${i}`));
    expect(cpu.grads.length).toBeGreaterThan(0);
    expect(gpu.uncapturedErrors).toEqual([]);
  });
});

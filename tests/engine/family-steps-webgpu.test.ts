/**
 * Every non-BERT family on webgpu (Dawn + SwiftShader) agrees with the cpu backend: logits, loss and every gradient
 * of its golden fixture's probe point (tests/helpers/encoder-pass.ts FAMILY_FIXTURES; BERT's webgpu agreement is
 * tests/engine/webgpu.test.ts), AFLoRA and LoRA, with the fused kernels (the webgpu default) and without. Tolerance
 * 1e-4 of each tensor's largest magnitude, as the cpu golden test against transformers. No uncaptured WebGPU errors.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectScaledClose } from '../helpers/golden';
import { FAMILY_FIXTURES, batchOf, encoderPass, prefixed, readJson, type PassResult } from '../helpers/encoder-pass';
import { readSafetensors } from '../helpers/golden';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';

let gpu: NodeWebGPU;
beforeAll(async () => {
  gpu = await installNodeWebGPU();
});
afterAll(async () => {
  await gpu?.teardown();
});

async function pass(backend: 'cpu' | 'webgpu', dir: string, name: string, kernels: boolean): Promise<PassResult> {
  expect(await gpu.tf.setBackend(backend)).toBe(true);
  const info = readJson(join(dir, `${name}.json`)) as { method: string; options: object };
  const tensors = readSafetensors(join(dir, `${name}.safetensors`));
  const method = { id: info.method, options: info.options, initial: prefixed(tensors, 'probe.init.') };
  return encoderPass(join(dir, 'model'), batchOf(tensors, 0), method, kernels);
}

function expectSame(actual: PassResult, expected: PassResult, what: string): void {
  expectScaledClose(actual.logits, expected.logits, 1e-4, `${what} logits`);
  expectScaledClose([actual.loss], [expected.loss], 1e-4, `${what} loss`);
  expect([...actual.grads.keys()]).toEqual([...expected.grads.keys()]);
  for (const [key, grad] of expected.grads) expectScaledClose(actual.grads.get(key)!, grad, 1e-4, `${what} grad ${key}`);
}

describe.each(Object.entries(FAMILY_FIXTURES))('%s on webgpu', (_family, dir) => {
  for (const name of ['aflora', 'lora']) {
    it(`${name}: webgpu == cpu, fused kernels and plain`, { timeout: 240_000 }, async () => {
      const cpu = await pass('cpu', dir, name, false);
      const fused = await pass('webgpu', dir, name, true);
      const plain = await pass('webgpu', dir, name, false);
      expectSame(fused, cpu, 'fused');
      expectSame(plain, cpu, 'plain');
      expect(gpu.uncapturedErrors).toEqual([]);
    });
  }
});

/**
 * DeBERTa-v2 on webgpu (Dawn + SwiftShader) agrees with the cpu backend: logits, loss and every gradient of the
 * golden fixture's probe point (tests/fixtures/golden-deberta), with the fused kernels (the webgpu default) and
 * without. Tolerance 1e-4 of each tensor's largest magnitude, as the cpu golden test against transformers.
 * No uncaptured WebGPU errors.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectScaledClose } from '../helpers/golden';
import { DEBERTA_FIXTURES, batchOf, debertaPass, prefixed, readJson, type PassResult } from '../helpers/deberta';
import { readSafetensors } from '../helpers/golden';
import { installNodeWebGPU, type NodeWebGPU } from '../helpers/webgpu';

let gpu: NodeWebGPU;
beforeAll(async () => {
  gpu = await installNodeWebGPU();
});
afterAll(async () => {
  await gpu?.teardown();
});

async function pass(backend: 'cpu' | 'webgpu', name: string, kernels: boolean): Promise<PassResult> {
  expect(await gpu.tf.setBackend(backend)).toBe(true);
  const info = readJson(join(DEBERTA_FIXTURES, `${name}.json`)) as { method: string; options: object };
  const tensors = readSafetensors(join(DEBERTA_FIXTURES, `${name}.safetensors`));
  const method = { id: info.method, options: info.options, initial: prefixed(tensors, 'probe.init.') };
  return debertaPass(join(DEBERTA_FIXTURES, 'model'), batchOf(tensors, 0), method, kernels);
}

function expectSame(actual: PassResult, expected: PassResult, what: string): void {
  expectScaledClose(actual.logits, expected.logits, 1e-4, `${what} logits`);
  expectScaledClose([actual.loss], [expected.loss], 1e-4, `${what} loss`);
  expect([...actual.grads.keys()]).toEqual([...expected.grads.keys()]);
  for (const [key, grad] of expected.grads) expectScaledClose(actual.grads.get(key)!, grad, 1e-4, `${what} grad ${key}`);
}

describe('DeBERTa-v2 on webgpu', () => {
  for (const name of ['aflora', 'lora']) {
    it(`${name}: webgpu == cpu, fused kernels and plain`, { timeout: 240_000 }, async () => {
      const cpu = await pass('cpu', name, false);
      const fused = await pass('webgpu', name, true);
      const plain = await pass('webgpu', name, false);
      expectSame(fused, cpu, 'fused');
      expectSame(plain, cpu, 'plain');
      expect(gpu.uncapturedErrors).toEqual([]);
    });
  }
});

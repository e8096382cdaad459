/**
 * One AFLoRA step and one LoRA step of every non-BERT family against transformers (+ PEFT for LoRA), cpu backend:
 * tiny seeded DistilBERT, RoBERTa (pad id 1, positions from padding_idx + 1), ELECTRA (embedding_size 16 != hidden 32)
 * and DeBERTa-v2 from scripts/reference/make_golden.py --family / deberta_golden.py (BERT's are
 * tests/fixtures/golden). Logits, loss and every raw gradient (adapters and the family's trained head) within 1e-4
 * of each tensor's largest magnitude, at step 0 (the fixture's init: A/B gradients are 0 there by construction, as
 * lambda_b / lora_B start at 0) and at the probe point (lambda_b / lora_B off zero: every gradient must be non-zero).
 * The 80-step runs of the same cases are replayed by tests/engine/golden.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectScaledClose, floats, readSafetensors } from '../helpers/golden';
import { FAMILY_FIXTURES, batchOf, encoderPass, prefixed, readJson } from '../helpers/encoder-pass';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(Object.entries(FAMILY_FIXTURES))('%s: one step against transformers', (family, dir) => {
  it('fixture model is this family', () => {
    expect((readJson(join(dir, 'model', 'config.json')) as { model_type: string }).model_type).toBe(family);
  });

  for (const name of ['aflora', 'lora']) {
    for (const point of ['step0', 'probe'] as const) {
      it(`${name} at ${point}: logits, loss and every gradient within 1e-4`, { timeout: 60_000 }, async () => {
        const info = readJson(join(dir, `${name}.json`)) as { method: string; options: object };
        const tensors = readSafetensors(join(dir, `${name}.safetensors`));
        const initial = prefixed(tensors, point === 'step0' ? 'init.' : 'probe.init.');
        const before = tf.memory().numTensors;
        const result = await encoderPass(join(dir, 'model'), batchOf(tensors, 0), { id: info.method, options: info.options, initial }, false);
        expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
        const want = (key: string) => floats(tensors.get(`${point}.${key}`)!);
        expectScaledClose(result.logits, want('logits'), 1e-4, 'logits');
        expectScaledClose([result.loss], want('loss'), 1e-4, 'loss');
        const expected = [...tensors.keys()].filter((k) => k.startsWith(`${point}.grad.`)).map((k) => k.slice(`${point}.grad.`.length));
        expect([...result.grads.keys()].sort()).toEqual(expected.sort());
        let nonZero = 0;
        for (const key of expected) {
          expectScaledClose(result.grads.get(key)!, want(`grad.${key}`), 1e-4, `grad ${key}`);
          if (want(`grad.${key}`).some((v) => v !== 0)) nonZero++;
        }
        if (point === 'probe') expect(nonZero).toBe(expected.length);
      });
    }
  }
});

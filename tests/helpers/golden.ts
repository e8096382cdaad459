/**
 * Shared by the golden-fixture tests: read a fixture (its tensors, the base model, the encoded rows, the initial
 * values), check step 0 against it, compare tensors with the tolerances they state.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { EncodedExamples } from '../../src/engine/batches';
import { parseBertConfig } from '../../src/engine/config';
import type { Trainer } from '../../src/engine/trainer';
import type { BertConfig, StateDict } from '../../src/engine/types';
import { parseSafetensors, type RawTensor } from '../../src/io/safetensors';

export function readSafetensors(path: string): Map<string, RawTensor> {
  return parseSafetensors(new Uint8Array(readFileSync(path)), path).tensors;
}

export function floats(tensor: RawTensor): Float32Array {
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as ArrayLike<number>);
}

/** Worst |diff| within tolerance x the largest |expected| (at least `floor`: tiny fixtures such as scores need a lower one). */
export function expectScaledClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string, floor = 1e-6): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const allowed = tolerance * Math.max(scale, floor);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= worst)) {
      worst = error;
      worstAt = i;
    }
  }
  expect(
    worst,
    `${what}: worst |diff| ${worst} at ${worstAt} (got ${actual[worstAt]}, want ${expected[worstAt]}), allowed ${allowed}`,
  ).toBeLessThanOrEqual(allowed);
}

export function expectEachRelClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expected.forEach((want, i) => {
    expect(Math.abs(actual[i] - want), `${what}[${i}]: got ${actual[i]}, want ${want}`).toBeLessThanOrEqual(
      tolerance * Math.max(Math.abs(want), 1e-12),
    );
  });
}

/** A fixture's tensors; `get` names the file when a key is missing. */
export interface Fixture {
  tensors: Map<string, RawTensor>;
  get(key: string): RawTensor;
}

export function readFixture(path: string): Fixture {
  const tensors = readSafetensors(path);
  return {
    tensors,
    get(key) {
      const tensor = tensors.get(key);
      if (!tensor) throw new Error(`${path} lacks ${key}`);
      return tensor;
    },
  };
}

/** A golden base model folder: its weights as the Trainer takes them and its config (numLabels 1: regression). */
export function readGoldenModel(dir: string, numLabels?: number): { weights: StateDict; config: BertConfig } {
  const weights: StateDict = new Map();
  for (const [key, raw] of readSafetensors(join(dir, 'model.safetensors'))) weights.set(key, { shape: raw.shape, data: floats(raw) });
  return { weights, config: parseBertConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), numLabels) };
}

/** Rows stored as `<prefix>.input_ids` [..., seqLen] (leading dims: batches x rows, or rows), token types, mask, labels. */
export function fixtureExamples(fixture: Fixture, prefix: string): EncodedExamples {
  const ids = fixture.get(`${prefix}.input_ids`);
  const seqLen = ids.shape[ids.shape.length - 1];
  const ints = (t: RawTensor) => Int32Array.from(t.data as ArrayLike<number>);
  return {
    count: ids.data.length / seqLen,
    seqLen,
    inputIds: ints(ids),
    tokenTypeIds: ints(fixture.get(`${prefix}.token_type_ids`)),
    attentionMask: ints(fixture.get(`${prefix}.attention_mask`)),
    labels: Float32Array.from(fixture.get(`${prefix}.labels`).data as ArrayLike<number>),
  };
}

/** The `init.` tensors: the reference's initial values of the trainable variables, by variable name. */
export function initialState(fixture: Fixture): StateDict {
  const initial: StateDict = new Map();
  for (const [key, raw] of fixture.tensors) if (key.startsWith('init.')) initial.set(key.slice('init.'.length), { shape: raw.shape, data: floats(raw) });
  return initial;
}

/**
 * Step 0 before any update against the fixture: logits, loss and every `step0.grad.<name>` within `tolerance` of the
 * largest magnitude (`floor` as expectScaledClose's), and the trainer has gradients for exactly those names.
 */
export async function expectStep0(trainer: Trainer, fixture: Fixture, tolerance = 1e-4, floor?: number): Promise<void> {
  const step0 = await trainer.inspectNextStep();
  expectScaledClose(step0.logits.data, floats(fixture.get('step0.logits')), tolerance, 'step0 logits', floor);
  expectScaledClose([step0.loss], floats(fixture.get('step0.loss')), tolerance, 'step0 loss', floor);
  const gradNames = [...fixture.tensors.keys()].filter((k) => k.startsWith('step0.grad.')).map((k) => k.slice('step0.grad.'.length));
  expect([...step0.grads.keys()].sort()).toEqual(gradNames.sort());
  for (const name of gradNames) expectScaledClose(step0.grads.get(name)!.data, floats(fixture.get(`step0.grad.${name}`)), tolerance, `step0 grad ${name}`, floor);
}

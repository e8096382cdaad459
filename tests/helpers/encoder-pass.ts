/**
 * Shared by the per-family golden step tests (cpu: tests/engine/family-steps.test.ts and deberta.test.ts, webgpu:
 * family-steps-webgpu.test.ts): one forward + backward of a family's fixture model (scripts/reference/make_golden.py
 * --family, deberta_golden.py) with a method's adapters at given values, through the model the Trainer would build
 * (BertModel or DebertaV2Model). Engine modules are imported lazily so a webgpu test shares the tfjs instance it
 * installed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfType from '@tensorflow/tfjs';
import type { RawTensor } from '../../src/io/safetensors';
import type { StateDict } from '../../src/engine/types';
import { floats, readSafetensors } from './golden';

const FIXTURES = join(__dirname, '..', 'fixtures');
export const DEBERTA_FIXTURES = join(FIXTURES, 'golden-deberta');

/** The golden step fixtures of every family but BERT (whose are tests/fixtures/golden), by family id. */
export const FAMILY_FIXTURES = {
  distilbert: join(FIXTURES, 'golden-distilbert'),
  roberta: join(FIXTURES, 'golden-roberta'),
  electra: join(FIXTURES, 'golden-electra'),
  'deberta-v2': DEBERTA_FIXTURES,
} as const;

export function readStateDict(path: string): StateDict {
  const out: StateDict = new Map();
  for (const [key, raw] of readSafetensors(path)) out.set(key, { shape: raw.shape, data: floats(raw) });
  return out;
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

export interface PassResult {
  logits: Float32Array;
  loss: number;
  /** Raw gradient of every trainable adapter variable and the classifier, by name. */
  grads: Map<string, Float32Array>;
}

/** Inputs of batch `index` of a case file (int32 [numBatches, batch, seq]) or of a single-batch file. */
export function batchOf(tensors: Map<string, RawTensor>, index: number | null) {
  const pick = (key: string) => {
    const raw = tensors.get(key)!;
    const data = Int32Array.from(raw.data as ArrayLike<number>);
    if (index === null) return { data, shape: raw.shape };
    const [, b, s] = raw.shape;
    return { data: data.slice(index * b * (s ?? 1), (index + 1) * b * (s ?? 1)), shape: raw.shape.slice(1) };
  };
  return { ids: pick('input.input_ids'), types: pick('input.token_type_ids'), mask: pick('input.attention_mask'), labels: pick('input.labels') };
}

/**
 * Logits, loss and gradients of the model in `dir` on one batch, with `method`'s adapters set to `initial`
 * (null: the plain model, no adapters). `kernels` as the Trainer's switch.
 */
export async function encoderPass(
  dir: string,
  batch: ReturnType<typeof batchOf>,
  method: { id: string; options: object; initial: StateDict } | null,
  kernels: boolean,
): Promise<PassResult> {
  const tf = await import('@tensorflow/tfjs');
  const { parseBertConfig } = await import('../../src/engine/config');
  const { isDebertaV2Config } = await import('../../src/engine/deberta/config');
  const { DebertaV2Model } = await import('../../src/engine/deberta/model');
  const { BertModel } = await import('../../src/engine/model');
  const { linearTargets } = await import('../../src/engine/types');
  const { normalizeBertWeights } = await import('../../src/io/model/weights');
  const { withKernels } = await import('../../src/engine/kernels');
  const { crossEntropyLoss, classificationTargets } = await import('../../src/engine/loss');
  const { MASK_NEGATIVE } = await import('../../src/engine/model');
  const { adapterMethod } = await import('../../src/methods/registry');

  const config = parseBertConfig(readJson(join(dir, 'config.json')));
  const [b, s] = batch.ids.shape;
  const runtime = method
    ? adapterMethod(method.id, method.options).create({
        config,
        targets: linearTargets(config),
        totalSteps: 80,
        epochs: 8,
        stepsPerEpoch: 10,
        warmupSteps: 5,
        seed: 0,
        initial: method.initial,
      })
    : null;
  const checkpoint = readStateDict(join(dir, 'model.safetensors'));
  const modelOptions = { trainBase: false, trainEmbeddings: false, seed: 0 };
  // As the Trainer builds it; BERT-style checkpoints through io's renaming, as the loader reads them.
  const model = isDebertaV2Config(config)
    ? new DebertaV2Model(config, checkpoint, modelOptions)
    : new BertModel(config, normalizeBertWeights(checkpoint, config, 'model.safetensors').weights, modelOptions);
  try {
    const inputIds = tf.tensor2d(batch.ids.data, [b, s], 'int32');
    const tokenTypeIds = tf.tensor2d(batch.types.data, [b, s], 'int32');
    const additiveMask = tf.tensor4d(Float32Array.from(batch.mask.data, (m) => (m ? 0 : MASK_NEGATIVE)), [b, 1, 1, s]);
    const targets = tf.tensor2d(classificationTargets(batch.labels.data, new Float32Array(b).fill(1), config.numLabels), [b, config.numLabels]);
    const variables = [...(runtime?.trainable() ?? []), ...model.head];
    let logits: tfType.Tensor2D | null = null;
    const { value, grads } = withKernels(kernels, () =>
      tf.variableGrads(() => {
        const out = model.forward({ inputIds, tokenTypeIds, additiveMask }, runtime, { training: false });
        logits = tf.keep(out);
        return crossEntropyLoss(out, targets);
      }, variables.map((v) => v.variable)),
    );
    const result: PassResult = { logits: (await logits!.data()) as Float32Array, loss: (await value.data())[0], grads: new Map() };
    for (const v of variables) result.grads.set(v.name, (await grads[v.variable.name].data()) as Float32Array);
    tf.dispose([inputIds, tokenTypeIds, additiveMask, targets, logits!, value, ...Object.values(grads)]);
    return result;
  } finally {
    model.dispose();
    runtime?.dispose();
  }
}

/** `prefix<name>` tensors of a case file as a StateDict of `<name>`. */
export function prefixed(tensors: Map<string, RawTensor>, prefix: string): StateDict {
  const out: StateDict = new Map();
  for (const [key, raw] of tensors) if (key.startsWith(prefix)) out.set(key.slice(prefix.length), { shape: raw.shape, data: floats(raw) });
  return out;
}

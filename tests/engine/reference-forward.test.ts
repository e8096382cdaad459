/**
 * The TF.js BERT forward pass against an independent plain-JS float64 implementation written here from the
 * BERT equations (loops, no TF.js), on a tiny random model with padding, token types and both activations.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatherBatch, uploadBatch, disposeBatch } from '../../src/engine/batches';
import { BertModel } from '../../src/engine/model';
import { randomBertWeights } from '../../src/engine/weights';
import type { BertConfig, StateDict } from '../../src/engine/types';
import { tinyConfig, toyExamples } from '../helpers/tinyBert';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** erf via Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-ax * ax));
}

type Matrix = number[][];

function referenceLogits(config: BertConfig, w: StateDict, ids: number[], types: number[], mask: number[]): number[] {
  const get = (name: string) => Array.from(w.get(name)!.data);
  const h = config.hiddenSize;
  const s = ids.length;
  const linear = (x: Matrix, prefix: string): Matrix => {
    const weight = get(`${prefix}.weight`);
    const bias = get(`${prefix}.bias`);
    const out = bias.length;
    const inF = x[0].length;
    return x.map((row) =>
      Array.from({ length: out }, (_, o) => {
        let acc = bias[o];
        for (let i = 0; i < inF; i++) acc += weight[o * inF + i] * row[i];
        return acc;
      }),
    );
  };
  const layerNorm = (x: Matrix, prefix: string): Matrix => {
    const g = get(`${prefix}.weight`);
    const b = get(`${prefix}.bias`);
    return x.map((row) => {
      const mean = row.reduce((a, v) => a + v, 0) / row.length;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length;
      return row.map((v, i) => ((v - mean) / Math.sqrt(variance + config.layerNormEps)) * g[i] + b[i]);
    });
  };
  const act = (v: number) =>
    config.hiddenAct === 'relu'
      ? Math.max(0, v)
      : config.hiddenAct === 'gelu'
        ? 0.5 * v * (1 + erf(v / Math.SQRT2))
        : 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

  const word = get('bert.embeddings.word_embeddings.weight');
  const pos = get('bert.embeddings.position_embeddings.weight');
  const typ = get('bert.embeddings.token_type_embeddings.weight');
  let x: Matrix = ids.map((id, t) => Array.from({ length: h }, (_, j) => word[id * h + j] + pos[t * h + j] + typ[types[t] * h + j]));
  x = layerNorm(x, 'bert.embeddings.LayerNorm');
  const nH = config.numHeads;
  const dh = h / nH;
  for (let l = 0; l < config.numLayers; l++) {
    const p = `bert.encoder.layer.${l}`;
    const q = linear(x, `${p}.attention.self.query`);
    const k = linear(x, `${p}.attention.self.key`);
    const v = linear(x, `${p}.attention.self.value`);
    const ctx: Matrix = Array.from({ length: s }, () => new Array<number>(h).fill(0));
    for (let head = 0; head < nH; head++) {
      for (let i = 0; i < s; i++) {
        const scores = Array.from({ length: s }, (_, j) => {
          if (!mask[j]) return -Infinity;
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += q[i][head * dh + d] * k[j][head * dh + d];
          return dot / Math.sqrt(dh);
        });
        const max = Math.max(...scores);
        const exps = scores.map((sc) => Math.exp(sc - max));
        const sum = exps.reduce((a, e) => a + e, 0);
        for (let j = 0; j < s; j++) for (let d = 0; d < dh; d++) ctx[i][head * dh + d] += (exps[j] / sum) * v[j][head * dh + d];
      }
    }
    const attn = linear(ctx, `${p}.attention.output.dense`);
    x = layerNorm(attn.map((row, i) => row.map((val, j) => val + x[i][j])), `${p}.attention.output.LayerNorm`);
    const inter = linear(x, `${p}.intermediate.dense`).map((row) => row.map(act));
    const out = linear(inter, `${p}.output.dense`);
    x = layerNorm(out.map((row, i) => row.map((val, j) => val + x[i][j])), `${p}.output.LayerNorm`);
  }
  const pooled = linear([x[0]], 'bert.pooler.dense').map((row) => row.map(Math.tanh));
  return linear(pooled, 'classifier')[0];
}

describe('BERT forward', () => {
  for (const hiddenAct of ['gelu', 'gelu_new', 'relu'] as const) {
    it(`matches a plain-JS reference (${hiddenAct}, padding, token types)`, async () => {
      const config = tinyConfig({ hiddenAct, numLabels: 3 });
      // Larger weights than the 0.02 default so that attention and activations are far from linear.
      const weights = randomBertWeights(config, 11);
      for (const [name, t] of weights) if (!name.includes('LayerNorm')) t.data.forEach((v, i) => (t.data[i] = v * 20));
      const examples = toyExamples(3, 10, 2, 3);
      const model = new BertModel(config, weights, { trainBase: false, trainEmbeddings: false, seed: 1 });
      const batch = uploadBatch(gatherBatch(examples, [0, 1, 2], 4), 3, false);
      const logits = tf.tidy(() => model.forward(batch, null, { training: false }));
      const actual = await logits.data();
      for (let row = 0; row < 3; row++) {
        const slice = (a: ArrayLike<number>) => Array.from(a).slice(row * 10, row * 10 + 10);
        const expected = referenceLogits(
          config,
          weights,
          slice(examples.inputIds),
          slice(examples.tokenTypeIds),
          slice(examples.attentionMask),
        );
        for (let j = 0; j < 3; j++) expect(actual[row * 3 + j]).toBeCloseTo(expected[j], 4);
      }
      tf.dispose(logits);
      disposeBatch(batch);
      model.dispose();
    });
  }

  it('gives the same logits for a row whatever the padding rows next to it', async () => {
    const config = tinyConfig();
    const model = new BertModel(config, randomBertWeights(config, 4), { trainBase: false, trainEmbeddings: false, seed: 1 });
    const examples = toyExamples(4, 10, 9);
    const read = async (indices: number[], size: number) => {
      const batch = uploadBatch(gatherBatch(examples, indices, size), 2, false);
      const logits = tf.tidy(() => model.forward(batch, null, { training: false }));
      const values = Array.from(await logits.data()).slice(0, 2);
      tf.dispose(logits);
      disposeBatch(batch);
      return values;
    };
    const alone = await read([2], 4);
    const withOthers = await read([2, 0, 1, 3], 4);
    expect(withOthers[0]).toBeCloseTo(alone[0], 5);
    expect(withOthers[1]).toBeCloseTo(alone[1], 5);
    model.dispose();
  });

  it('initialises a missing classifier like Hugging Face and rejects missing encoder weights', () => {
    const config = tinyConfig({ numLabels: 3 });
    const weights = randomBertWeights(config, 4);
    weights.delete('classifier.weight');
    weights.set('classifier.bias', { shape: [2], data: new Float32Array(2) });
    const model = new BertModel(config, weights, { trainBase: false, trainEmbeddings: false, seed: 1 });
    expect(model.initNotes).toEqual([
      { name: 'classifier.weight', reason: 'missing' },
      { name: 'classifier.bias', reason: 'shape' },
    ]);
    const classifier = model.param('classifier.weight').dataSync();
    const std = Math.sqrt(Array.from(classifier).reduce((a, v) => a + v * v, 0) / classifier.length);
    expect(std).toBeGreaterThan(0.01);
    expect(std).toBeLessThan(0.03);
    expect(Array.from(model.param('classifier.bias').dataSync())).toEqual([0, 0, 0]);
    model.dispose();

    weights.delete('bert.encoder.layer.1.output.dense.weight');
    expect(() => new BertModel(config, weights, { trainBase: false, trainEmbeddings: false, seed: 1 })).toThrow(
      /lacks 1 BERT weight.*layer\.1\.output\.dense\.weight/,
    );
  });
});

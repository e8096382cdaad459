/** A tiny random BERT and a learnable toy task for engine and method tests (cpu backend). */
import type { EncodedExamples } from '../../src/engine/batches';
import type { TrainingRecipe } from '../../src/engine/trainer';
import { Rng } from '../../src/engine/random';
import type { BertConfig } from '../../src/engine/types';

export function tinyConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  const hiddenSize = overrides.hiddenSize ?? 16;
  return {
    family: 'bert',
    vocabSize: 40,
    embeddingSize: hiddenSize,
    hiddenSize,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 32,
    maxPositions: 16,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    hiddenAct: 'gelu',
    hiddenDropout: 0,
    attentionDropout: 0,
    classifierDropout: overrides.hiddenDropout ?? 0,
    numLabels: 2,
    padTokenId: 0,
    ...overrides,
  };
}

/**
 * Toy task: label 1 iff token 7 occurs in the sequence. Rows have random lengths (padding with id 0),
 * [CLS] = 1 first; token types 0 then 1 for the second half (pairs).
 */
export function toyExamples(count: number, seqLen: number, seed: number, numLabels = 2): EncodedExamples {
  const rng = new Rng(seed);
  const inputIds = new Int32Array(count * seqLen);
  const tokenTypeIds = new Int32Array(count * seqLen);
  const attentionMask = new Int32Array(count * seqLen);
  const labels = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const length = 3 + rng.int(seqLen - 2);
    const positive = i % 2 === 0;
    let has7 = false;
    for (let j = 0; j < length; j++) {
      let id = j === 0 ? 1 : 8 + rng.int(30);
      if (positive && j === 1 + rng.int(length - 1) && !has7) id = 7;
      if (id === 7) has7 = true;
      inputIds[i * seqLen + j] = id;
      attentionMask[i * seqLen + j] = 1;
      tokenTypeIds[i * seqLen + j] = j >= length / 2 ? 1 : 0;
    }
    if (positive && !has7) inputIds[i * seqLen + 1] = 7;
    labels[i] = numLabels === 1 ? (positive ? 1 : -1) : positive ? 1 : 0;
  }
  return { count, seqLen, inputIds, tokenTypeIds, attentionMask, labels };
}

/** A short recipe the toy task learns under (4 epochs of 20 examples, metrics every 5 steps). */
export const toyRecipe: TrainingRecipe = {
  epochs: 4,
  batchSize: 8,
  maxLength: 12,
  adapterLr: 1e-2,
  classifierLr: 4e-2,
  weightDecay: 0.1,
  classifierWeightDecay: 0.1,
  warmupRatio: 0.06,
  maxGradNorm: 0.1,
  optimizer: 'adamw_torch',
  seed: 3,
  logEvery: 5,
};

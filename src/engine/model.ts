/**
 * The *ForSequenceClassification forward pass of every family in families.ts (post-LN BERT-style encoders: BERT,
 * DistilBERT, RoBERTa, ELECTRA) in TF.js, with every adapted encoder linear routed through the adapter method's
 * runtime. The family's layout names the weights; its embeddings, dropout points and head follow transformers. Weights use PyTorch names and layouts
 * (Linear weight [out, in], applied with transposeB so no transposes are materialised). Every fused op is an
 * engine/kernels function: its WGSL program or its composite, as the Trainer's `withKernels` scope says.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime } from './adapter';
import { FAMILIES, type FamilyLayout } from './families';
import { EncoderModel, sameShape } from './encoder';
import * as kernels from './kernels';
import { linearTargets, type BertConfig, type LinearTarget, type StateDict } from './types';
import {
  attentionLayerNorm,
  bertWeightShapes,
  embeddingMatrixNames,
  headLinears,
  initHeadTensor,
  isHeadWeight,
  isLayerNormName,
  isOptionalWeight,
  outputLayerNorm,
} from './weights';

/** Large finite negative for masked attention logits: WGSL may assume no Inf. exp() of it underflows to 0. */
export const MASK_NEGATIVE = -1e9;

/** One batch on the device. */
export interface ModelBatch {
  /** int32 [B, S] */
  inputIds: tf.Tensor2D;
  /** int32 [B, S]; read only by families with token types. */
  tokenTypeIds: tf.Tensor2D;
  /** float32 [B, 1, 1, S]: 0 for real tokens, MASK_NEGATIVE for padding. */
  additiveMask: tf.Tensor4D;
}

export interface ForwardOptions {
  training: boolean;
  /** Seeds this forward's dropout masks; required when training with dropout > 0. */
  dropoutSeed?: number;
  /**
   * The same seed as a [1] int32 device tensor: with kernels the GPU mixes it into each call's mask, so every
   * program's uniforms are the same from step to step (what a replayed step needs, engine/replay.ts).
   */
  dropoutSeedTensor?: tf.Tensor1D;
}

export interface BertModelOptions {
  /** Full fine-tuning: base weights become trainable variables. */
  trainBase: boolean;
  /** With trainBase: also train the word/position/token-type embedding matrices. */
  trainEmbeddings: boolean;
  /** Seeds the init of a missing or mis-shaped classifier / pooler. */
  seed: number;
}

/** Why a weight was (re)initialised instead of loaded: shown to the user. */
export interface InitNote {
  name: string;
  reason: 'missing' | 'shape';
}

export class BertModel extends EncoderModel {
  readonly config: BertConfig;
  readonly family: FamilyLayout;

  constructor(config: BertConfig, weights: StateDict, options: BertModelOptions) {
    super(linearTargets(config), config.layerNormEps);
    this.config = config;
    this.family = FAMILIES[config.family];

    const embeddingMatrices = new Set(embeddingMatrixNames(config));
    const missing: string[] = [];
    for (const [name, shape] of bertWeightShapes(config)) {
      const isHead = isHeadWeight(config, name);
      let tensorData = weights.get(name);
      if (!tensorData || !sameShape(tensorData.shape, shape)) {
        if (!isHead && !isOptionalWeight(config, name)) {
          if (!tensorData) missing.push(name);
          else missing.push(`${name} (shape [${tensorData.shape}] instead of [${shape}])`);
          continue;
        }
        // Like Hugging Face: a fresh head for the task (missing, or a different number of labels).
        this.initNotes.push({ name, reason: tensorData ? 'shape' : 'missing' });
        tensorData = initHeadTensor(name, shape, options.seed);
      }
      const trains = isHead || (options.trainBase && (!embeddingMatrices.has(name) || options.trainEmbeddings));
      this.addWeight(name, tensorData.data, shape, isHead ? 'head' : trains ? 'base' : 'no', isLayerNormName(name));
    }
    if (missing.length > 0) {
      this.dispose();
      throw new Error(
        `The checkpoint lacks ${missing.length} ${this.family.label} weight(s), e.g. ${missing.slice(0, 4).join(', ')}. ` +
          `Load a complete ${this.family.label} checkpoint (the base model, its masked-LM or its sequence-classification weights).`,
      );
    }
  }

  /** Logits [B, numLabels]. Call inside tf.tidy / variableGrads. */
  forward(batch: ModelBatch, runtime: AdapterRuntime | null, options: ForwardOptions): tf.Tensor2D {
    this.startForward();
    const { hiddenSize: h, numHeads, numLayers } = this.config;
    const family = this.family;
    const [b, s] = batch.inputIds.shape;
    const tokens = b * s;
    let hidden = this.embed(batch, options);

    const headSize = h / numHeads;
    // [B * nH, S, dh]: attention's batched matmuls run on rank-3 operands (kernels.matMul).
    const toHeads = (x: tf.Tensor2D): tf.Tensor3D =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, s, numHeads, headSize]), [0, 2, 1, 3]), [b * numHeads, s, headSize]);

    for (let layer = 0; layer < numLayers; layer++) {
      const prefix = family.layerPrefix(layer);
      const path = (kind: LinearTarget['kind']) => `${prefix}.${family.moduleSuffix[kind]}`;
      // Self-attention.
      const query = this.adaptedLinear(hidden, path('query'), runtime, options);
      const key = this.adaptedLinear(hidden, path('key'), runtime, options);
      const value = this.adaptedLinear(hidden, path('value'), runtime, options);
      const rawScores = tf.reshape(kernels.matMul(toHeads(query), toHeads(key), false, true), [b, numHeads, s, s]) as tf.Tensor4D;
      let probs = kernels.maskedSoftmax(rawScores, batch.additiveMask, 1 / Math.sqrt(headSize));
      probs = this.dropout(probs, this.config.attentionDropout, options);
      const context = tf.reshape(kernels.matMul(tf.reshape(probs, [b * numHeads, s, s]) as tf.Tensor3D, toHeads(value)), [b, numHeads, s, headSize]);
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [tokens, h]) as tf.Tensor2D;
      let attnOut = this.adaptedLinear(merged, path('attn_out'), runtime, options);
      if (family.attentionOutputDropout) attnOut = this.dropout(attnOut, this.config.hiddenDropout, options);
      hidden = this.layerNorm(tf.add(attnOut, hidden), attentionLayerNorm(layer, family.id));

      // Feed-forward.
      const inter = this.activation(this.adaptedLinear(hidden, path('inter'), runtime, options), this.config.hiddenAct);
      const out = this.dropout(this.adaptedLinear(inter, path('out'), runtime, options), this.config.hiddenDropout, options);
      hidden = this.layerNorm(tf.add(out, hidden), outputLayerNorm(layer, family.id));
    }

    // The first token ([CLS] / <s>) -> the family's head.
    const first = tf.reshape(tf.slice(tf.reshape(hidden, [b, s, h]), [0, 0, 0], [b, 1, h]), [b, h]) as tf.Tensor2D;
    return this.classify(first, options);
  }

  /** Token embeddings after LayerNorm and dropout (and ELECTRA's projection): [B*S, H]. */
  private embed(batch: ModelBatch, options: ForwardOptions): tf.Tensor2D {
    const { word, position, tokenType, norm, project } = this.family.embeddings;
    const e = this.config.embeddingSize;
    const [b, s] = batch.inputIds.shape;
    const tokens = b * s;
    let summed = tf.gather(this.param(`${word}.weight`), tf.reshape(batch.inputIds, [tokens])) as tf.Tensor2D; // [T, E]
    if (tokenType) summed = tf.add(summed, tf.gather(this.param(`${tokenType}.weight`), tf.reshape(batch.tokenTypeIds, [tokens])));
    if (this.family.positions === 'absolute') {
      // Positions 0..S-1, broadcast over the batch.
      const positions = tf.slice(this.param(`${position}.weight`), [0, 0], [s, e]); // [S, E]
      summed = tf.reshape(tf.add(tf.reshape(summed, [b, s, e]), positions), [tokens, e]);
    } else {
      summed = tf.add(summed, tf.gather(this.param(`${position}.weight`), tf.reshape(this.paddingOffsetPositions(batch.inputIds), [tokens])));
    }
    let hidden = this.dropout(this.layerNorm(summed, norm), this.config.hiddenDropout, options);
    if (project && this.params.has(`${project}.weight`)) hidden = this.linear(hidden, project); // [T, E] -> [T, H]
    return hidden;
  }

  /**
   * RoBERTa's position ids (create_position_ids_from_input_ids): padding_idx + the running count of non-pad tokens,
   * padding_idx itself at pads. int32 [B, S]; the count runs in float32 (exact far beyond 512) as WebGPU's cumsum is.
   */
  private paddingOffsetPositions(inputIds: tf.Tensor2D): tf.Tensor2D {
    const pad = this.config.padTokenId;
    const real = tf.cast(tf.notEqual(inputIds, pad), 'float32');
    return tf.cast(tf.add(tf.mul(tf.cumsum(real, 1), real), pad), 'int32') as tf.Tensor2D;
  }

  /** first: [B, H] -> logits [B, numLabels], as the family's *ForSequenceClassification head. */
  private classify(first: tf.Tensor2D, options: ForwardOptions): tf.Tensor2D {
    const rate = this.config.classifierDropout;
    const [[inner], [logits]] = headLinears(this.config);
    switch (this.family.head) {
      case 'pooler':
        // The pooler's dropout-free tanh, then BertForSequenceClassification's dropout + classifier.
        return this.linear(this.dropout(tf.tanh(this.linear(first, inner)), rate, options), logits);
      case 'pre_classifier':
        return this.linear(this.dropout(tf.relu(this.linear(first, inner)), rate, options), logits);
      case 'context_pooler':
        throw new Error('DeBERTa runs in engine/deberta (DebertaV2Model), not in BertModel');
      case 'dense_tanh':
      case 'dense_gelu': {
        const dense = this.linear(this.dropout(first, rate, options), inner);
        const activated = this.family.head === 'dense_tanh' ? tf.tanh(dense) : this.activation(dense, 'gelu');
        return this.linear(this.dropout(activated, rate, options), logits);
      }
    }
  }
}

/**
 * BertForSequenceClassification forward pass in TF.js (post-LN BERT encoder + pooler + classifier), with every
 * adapted encoder linear routed through the adapter method's runtime. Weights use PyTorch names and layouts
 * (Linear weight [out, in], applied with transposeB so no transposes are materialised).
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime, MethodVariable } from '../methods/types';
import * as kernels from './kernels';
import { mixSeed } from './random';
import { linearTargets, type BertConfig, type LinearTarget, type StateDict } from './types';
import {
  CLASSIFIER_WEIGHT,
  EMBEDDING_NAMES,
  attentionLayerNorm,
  bertWeightShapes,
  initHeadTensor,
  isLayerNormName,
  outputLayerNorm,
} from './weights';

/** Large finite negative for masked attention logits: WGSL may assume no Inf. exp() of it underflows to 0. */
export const MASK_NEGATIVE = -1e9;

/** One batch on the device. */
export interface ModelBatch {
  /** int32 [B, S] */
  inputIds: tf.Tensor2D;
  /** int32 [B, S] */
  tokenTypeIds: tf.Tensor2D;
  /** float32 [B, 1, 1, S]: 0 for real tokens, MASK_NEGATIVE for padding. */
  additiveMask: tf.Tensor4D;
}

export interface ForwardOptions {
  training: boolean;
  /** Seeds this forward's dropout masks; required when training with dropout > 0. */
  dropoutSeed?: number;
}

export interface BertModelOptions {
  /** Full fine-tuning: base weights become trainable variables. */
  trainBase: boolean;
  /** With trainBase: also train the word/position/token-type embedding matrices. */
  trainEmbeddings: boolean;
  /** Seeds the init of a missing or mis-shaped classifier / pooler. */
  seed: number;
  classifierWeightDecay: boolean;
  /**
   * Use the fused programs of src/engine/kernels (LayerNorm, masked softmax, GELU, linear with lazy gradients,
   * GPU-hashed dropout). Same results (dropout: same distribution, other masks); each falls back to the plain
   * composite off WebGPU.
   */
  useKernels?: boolean;
}

/** Why a weight was (re)initialised instead of loaded: shown to the user. */
export interface InitNote {
  name: string;
  reason: 'missing' | 'shape';
}

export class BertModel {
  readonly config: BertConfig;
  readonly targets: readonly LinearTarget[];
  /** Classifier head variables (always trained). */
  readonly head: MethodVariable[] = [];
  /** Base weights that train (full fine-tuning only). */
  readonly trainableBase: MethodVariable[] = [];
  readonly initNotes: InitNote[] = [];

  private readonly params = new Map<string, tf.Tensor>();
  private readonly targetByPath = new Map<string, LinearTarget>();
  private readonly attentionScale: tf.Scalar;
  private readonly half: tf.Scalar;
  private readonly one: tf.Scalar;
  private readonly invSqrt2: tf.Scalar;
  private readonly layerNormEps: tf.Scalar;
  private readonly useKernels: boolean;
  private dropoutCalls = 0;

  constructor(config: BertConfig, weights: StateDict, options: BertModelOptions) {
    this.config = config;
    this.useKernels = options.useKernels ?? false;
    this.targets = linearTargets(config);
    for (const target of this.targets) this.targetByPath.set(target.path, target);

    const missing: string[] = [];
    for (const [name, shape] of bertWeightShapes(config)) {
      const isHead = name.startsWith('classifier.') || name.startsWith('bert.pooler.');
      let tensorData = weights.get(name);
      if (!tensorData || !sameShape(tensorData.shape, shape)) {
        if (!isHead) {
          if (!tensorData) missing.push(name);
          else missing.push(`${name} (shape [${tensorData.shape}] instead of [${shape}])`);
          continue;
        }
        // Like Hugging Face: a fresh head for the task (missing, or a different number of labels).
        this.initNotes.push({ name, reason: tensorData ? 'shape' : 'missing' });
        tensorData = initHeadTensor(name, shape, options.seed);
      }
      const value = tf.tensor(tensorData.data, shape, 'float32');
      const isEmbeddingMatrix = (EMBEDDING_NAMES as readonly string[]).includes(name);
      const trains =
        name.startsWith('classifier.') || (options.trainBase && (!isEmbeddingMatrix || options.trainEmbeddings));
      if (!trains) {
        this.params.set(name, value);
        continue;
      }
      const variable = tf.variable(value, true);
      value.dispose();
      this.params.set(name, variable);
      const isBiasLike = name.endsWith('.bias') || isLayerNormName(name);
      const entry: MethodVariable = {
        name,
        variable,
        lrGroup: name.startsWith('classifier.') ? 'classifier' : 'adapter',
        weightDecay: name === CLASSIFIER_WEIGHT ? options.classifierWeightDecay : !isBiasLike,
      };
      (name.startsWith('classifier.') ? this.head : this.trainableBase).push(entry);
    }
    if (missing.length > 0) {
      this.dispose();
      throw new Error(
        `The checkpoint lacks ${missing.length} BERT weight(s), e.g. ${missing.slice(0, 4).join(', ')}. ` +
          'Load a complete BERT checkpoint (BertModel / BertForMaskedLM / BertForSequenceClassification weights).',
      );
    }
    const headSize = config.hiddenSize / config.numHeads;
    this.attentionScale = tf.keep(tf.scalar(1 / Math.sqrt(headSize)));
    this.half = tf.keep(tf.scalar(0.5));
    this.one = tf.keep(tf.scalar(1));
    this.invSqrt2 = tf.keep(tf.scalar(Math.SQRT1_2));
    this.layerNormEps = tf.keep(tf.scalar(config.layerNormEps));
  }

  /** A base weight (constant or variable) by PyTorch name. */
  param(name: string): tf.Tensor {
    const tensor = this.params.get(name);
    if (!tensor) throw new Error(`no weight named ${name}`);
    return tensor;
  }

  /** Logits [B, numLabels]. Call inside tf.tidy / variableGrads. */
  forward(batch: ModelBatch, runtime: AdapterRuntime | null, options: ForwardOptions): tf.Tensor2D {
    this.dropoutCalls = 0;
    const { hiddenSize: h, numHeads, numLayers } = this.config;
    const [b, s] = batch.inputIds.shape;
    const tokens = b * s;

    // Embeddings: word + token type ([T, H] gathers) + positions 0..S-1 broadcast over the batch.
    const words = tf.gather(this.param(EMBEDDING_NAMES[0]), tf.reshape(batch.inputIds, [tokens]));
    const types = tf.gather(this.param(EMBEDDING_NAMES[2]), tf.reshape(batch.tokenTypeIds, [tokens]));
    const positions = tf.slice(this.param(EMBEDDING_NAMES[1]), [0, 0], [s, h]); // [S, H]
    const summed = tf.add(tf.reshape(tf.add(words, types), [b, s, h]), positions); // [B, S, H]
    let hidden = this.layerNorm(tf.reshape(summed, [tokens, h]) as tf.Tensor2D, 'bert.embeddings.LayerNorm');
    hidden = this.dropout(hidden, this.config.hiddenDropout, options);

    const headSize = h / numHeads;
    const toHeads = (x: tf.Tensor2D): tf.Tensor4D =>
      tf.transpose(tf.reshape(x, [b, s, numHeads, headSize]), [0, 2, 1, 3]); // [B, nH, S, dh]

    for (let layer = 0; layer < numLayers; layer++) {
      const prefix = `bert.encoder.layer.${layer}`;
      // Self-attention.
      const query = this.adaptedLinear(hidden, `${prefix}.attention.self.query`, runtime, options);
      const key = this.adaptedLinear(hidden, `${prefix}.attention.self.key`, runtime, options);
      const value = this.adaptedLinear(hidden, `${prefix}.attention.self.value`, runtime, options);
      let probs: tf.Tensor4D;
      if (this.useKernels) {
        const rawScores = tf.matMul(toHeads(query), toHeads(key), false, true) as tf.Tensor4D; // [B, nH, S, S]
        probs = kernels.maskedSoftmax(rawScores, batch.additiveMask, 1 / Math.sqrt(headSize));
      } else {
        const scaledQuery = tf.mul(query, this.attentionScale) as tf.Tensor2D;
        const scores = tf.add(tf.matMul(toHeads(scaledQuery), toHeads(key), false, true), batch.additiveMask); // [B, nH, S, S]
        probs = tf.softmax(scores) as tf.Tensor4D;
      }
      probs = this.dropout(probs, this.config.attentionDropout, options);
      const context = tf.matMul(probs, toHeads(value)); // [B, nH, S, dh]
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [tokens, h]) as tf.Tensor2D;
      const attnOut = this.dropout(
        this.adaptedLinear(merged, `${prefix}.attention.output.dense`, runtime, options),
        this.config.hiddenDropout,
        options,
      );
      hidden = this.layerNorm(tf.add(attnOut, hidden), attentionLayerNorm(layer));

      // Feed-forward.
      const inter = this.activation(this.adaptedLinear(hidden, `${prefix}.intermediate.dense`, runtime, options));
      const out = this.dropout(this.adaptedLinear(inter, `${prefix}.output.dense`, runtime, options), this.config.hiddenDropout, options);
      hidden = this.layerNorm(tf.add(out, hidden), outputLayerNorm(layer));
    }

    // Pooler on [CLS] (position 0), then classifier.
    const cls = tf.reshape(tf.slice(tf.reshape(hidden, [b, s, h]), [0, 0, 0], [b, 1, h]), [b, h]) as tf.Tensor2D;
    const pooled = tf.tanh(this.linear(cls, 'bert.pooler.dense', options));
    const dropped = this.dropout(pooled, this.config.hiddenDropout, options);
    return this.linear(dropped, 'classifier', options);
  }

  /**
   * x [N, in] -> x W^T + b [N, out]. One fused op, except for frozen weights while training: the fused op's
   * gradient always computes dW (an N x in x out matMul) and db, so matMul + add is cheaper there.
   */
  private linear(x: tf.Tensor2D, prefix: string, options: ForwardOptions): tf.Tensor2D {
    const weight = this.param(`${prefix}.weight`) as tf.Tensor2D;
    const bias = this.param(`${prefix}.bias`);
    // Fused forward and gradients computed only for the inputs that need them.
    if (this.useKernels) return kernels.linear(x, weight, bias as tf.Tensor1D);
    if (options.training && !(weight instanceof tf.Variable && weight.trainable)) {
      return tf.add(tf.matMul(x, weight, false, true), bias);
    }
    return tf.fused.matMul({ a: x, b: weight, transposeB: true, bias }) as tf.Tensor2D;
  }

  private adaptedLinear(x: tf.Tensor2D, path: string, runtime: AdapterRuntime | null, options: ForwardOptions): tf.Tensor2D {
    const base = this.linear(x, path, options);
    if (!runtime || !runtime.adapted.has(path)) return base;
    const target = this.targetByPath.get(path);
    if (!target) throw new Error(`unknown linear ${path}`);
    return runtime.apply(target, x, base);
  }

  /** LayerNorm over the last axis of [T, H] with biased variance, as torch.nn.LayerNorm. */
  private layerNorm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    if (this.useKernels) {
      const gamma = this.param(`${prefix}.weight`) as tf.Tensor1D;
      return kernels.layerNorm(x, gamma, this.param(`${prefix}.bias`) as tf.Tensor1D, this.config.layerNormEps) as tf.Tensor2D;
    }
    const mean = tf.mean(x, -1, true); // [T, 1]
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, this.layerNormEps)));
    return tf.add(tf.mul(normed, this.param(`${prefix}.weight`)), this.param(`${prefix}.bias`));
  }

  private activation(x: tf.Tensor2D): tf.Tensor2D {
    switch (this.config.hiddenAct) {
      case 'relu':
        return tf.relu(x);
      case 'gelu':
        if (this.useKernels) return kernels.biasGelu(x) as tf.Tensor2D;
        // Exact GELU (PyTorch default): 0.5 x (1 + erf(x / sqrt 2)).
        return tf.mul(tf.mul(x, this.half), tf.add(this.one, tf.erf(tf.mul(x, this.invSqrt2))));
      case 'gelu_new': {
        // tanh approximation (Hugging Face NewGELUActivation).
        const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
        return tf.mul(tf.mul(x, this.half), tf.add(this.one, tf.tanh(inner)));
      }
    }
  }

  private dropout<T extends tf.Tensor>(x: T, rate: number, options: ForwardOptions): T {
    if (!options.training || rate <= 0) return x;
    if (options.dropoutSeed === undefined) throw new Error('training with dropout needs a dropoutSeed');
    this.dropoutCalls++;
    const seed = mixSeed(options.dropoutSeed, this.dropoutCalls);
    // Kernels: mask hashed on the GPU (tf.dropout draws and uploads its randoms from JavaScript).
    if (this.useKernels) return kernels.dropout(x, rate, seed);
    return tf.dropout(x, rate, undefined, seed) as T;
  }

  /** Plain copies of the head (and trained base) weights for export. */
  trainedParams(): MethodVariable[] {
    return [...this.trainableBase, ...this.head];
  }

  dispose(): void {
    for (const tensor of this.params.values()) tensor.dispose();
    this.params.clear();
    // Undefined when the constructor failed before creating them.
    for (const scalar of [this.attentionScale, this.half, this.one, this.invSqrt2, this.layerNormEps]) scalar?.dispose();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * BertForSequenceClassification forward pass in TF.js (post-LN BERT encoder + pooler + classifier), with every
 * adapted encoder linear routed through the adapter method's runtime. Weights use PyTorch names and layouts
 * (Linear weight [out, in], applied with transposeB so no transposes are materialised). Every fused op is an
 * engine/kernels function: its WGSL program or its composite, as the Trainer's `withKernels` scope says.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime, MethodVariable } from './adapter';
import * as kernels from './kernels';
import { mixSeed } from './random';
import { linearTargets, type BertConfig, type LinearTarget, type StateDict } from './types';
import {
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
  private dropoutCalls = 0;

  constructor(config: BertConfig, weights: StateDict, options: BertModelOptions) {
    this.config = config;
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
        decays: !isBiasLike,
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
      const rawScores = tf.matMul(toHeads(query), toHeads(key), false, true) as tf.Tensor4D; // [B, nH, S, S]
      let probs = kernels.maskedSoftmax(rawScores, batch.additiveMask, 1 / Math.sqrt(headSize));
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
    const pooled = tf.tanh(this.linear(cls, 'bert.pooler.dense'));
    const dropped = this.dropout(pooled, this.config.hiddenDropout, options);
    return this.linear(dropped, 'classifier');
  }

  /** x [N, in] -> x W^T + b [N, out]; gradients only for the inputs that need them (no dW for frozen W). */
  private linear(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return kernels.linear(x, this.param(`${prefix}.weight`) as tf.Tensor2D, this.param(`${prefix}.bias`) as tf.Tensor1D);
  }

  private adaptedLinear(x: tf.Tensor2D, path: string, runtime: AdapterRuntime | null, options: ForwardOptions): tf.Tensor2D {
    const base = this.linear(x, path);
    if (!runtime || !runtime.adapted.has(path)) return base;
    const target = this.targetByPath.get(path);
    if (!target) throw new Error(`unknown linear ${path}`);
    // PEFT's lora_dropout: the adapter sees a dropped-out copy of the input, the base layer the input itself.
    return runtime.apply(target, this.dropout(x, runtime.inputDropout ?? 0, options), base);
  }

  /** LayerNorm over the last axis of [T, H] with biased variance, as torch.nn.LayerNorm. */
  private layerNorm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    const gamma = this.param(`${prefix}.weight`) as tf.Tensor1D;
    return kernels.layerNorm(x, gamma, this.param(`${prefix}.bias`) as tf.Tensor1D, this.config.layerNormEps) as tf.Tensor2D;
  }

  private activation(x: tf.Tensor2D): tf.Tensor2D {
    switch (this.config.hiddenAct) {
      case 'relu':
        return tf.relu(x);
      case 'gelu':
        // Exact GELU (PyTorch default): 0.5 x (1 + erf(x / sqrt 2)).
        return kernels.biasGelu(x) as tf.Tensor2D;
      case 'gelu_new': {
        // tanh approximation (Hugging Face NewGELUActivation); no fused kernel.
        const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
      }
    }
  }

  private dropout<T extends tf.Tensor>(x: T, rate: number, options: ForwardOptions): T {
    if (!options.training || rate <= 0) return x;
    if (options.dropoutSeed === undefined) throw new Error('training with dropout needs a dropoutSeed');
    this.dropoutCalls++;
    // Fused: mask hashed on the GPU (tf.dropout draws and uploads its randoms from JavaScript).
    return kernels.dropout(x, rate, mixSeed(options.dropoutSeed, this.dropoutCalls));
  }

  /** Plain copies of the head (and trained base) weights for export. */
  trainedParams(): MethodVariable[] {
    return [...this.trainableBase, ...this.head];
  }

  dispose(): void {
    for (const tensor of this.params.values()) tensor.dispose();
    this.params.clear();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

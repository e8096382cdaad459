/**
 * DebertaV2ForSequenceClassification forward pass in TF.js, exact to transformers' modeling_deberta_v2: embeddings
 * (no absolute positions in v3) -> post-LN layers with disentangled attention -> ContextPooler -> classifier.
 * Same contract as BertModel (engine/model.ts): PyTorch names and layouts, every adapted linear through the
 * adapter runtime, fused kernels where the Trainer's scope says.
 *
 * Disentangled attention, per head (transformers' DisentangledSelfAttention, which the paper's code runs):
 *   score(q, k) = [ Q_q·K_k + Q_q·Kr_δ(q,k) (c2p) + K_k·Qr_δ(q,k) (p2c) ] / sqrt(d_head · (1 + #terms))
 * with Qr / Kr the relative embeddings (LayerNorm'd, rows 0..2 span) projected by query_proj / key_proj
 * themselves when share_att_key (v3; so an adapter on those linears also moves the position terms, as in
 * PEFT) and δ(q, k) = clamp(bucket(q - k) + span, 0, 2 span - 1). The gathers read one flat [heads, tokens,
 * 2 span] matrix per head through relativeGather (its backward avoids TF.js's scatter).
 * Padding: transformers also masks padded *query* rows and zeroes padded embeddings; both only change rows no
 * loss reads (the pooler takes position 0), so the engine's key mask gives the same logits and gradients.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime } from '../adapter';
import { EncoderModel, sameShape } from '../encoder';
import * as kernels from '../kernels';
import type { BertModelOptions, ForwardOptions, ModelBatch } from '../model';
import type { StateDict } from '../types';
import { initHeadTensor } from '../weights';
import {
  DEBERTA,
  attentionScale,
  attentionSpan,
  debertaEmbeddingNames,
  debertaTargets,
  debertaWeightShapes,
  relativeIndex,
  type DebertaV2Config,
} from './config';
import { disposeRelativeGatherIndex, relativeGather, relativeGatherIndex, type RelativeGatherIndex } from './relativeGather';

/** Sequence lengths whose gather indices stay cached (training pads to one length). */
const MAX_CACHED_LENGTHS = 4;

interface RelativeGathers {
  /** Rows = query positions, columns = keys. */
  c2p: RelativeGatherIndex;
  /** Rows = key positions, columns = queries (the index transposed). */
  p2c: RelativeGatherIndex;
}

export class DebertaV2Model extends EncoderModel {
  readonly config: DebertaV2Config;
  private readonly gathers = new Map<number, RelativeGathers>();

  constructor(config: DebertaV2Config, weights: StateDict, options: BertModelOptions) {
    super(debertaTargets(config), config.layerNormEps);
    this.config = config;
    const embeddings = new Set(debertaEmbeddingNames(config));
    const missing: string[] = [];
    for (const [name, shape] of debertaWeightShapes(config)) {
      // Drawn fresh when missing, like the head: deberta-v3 checkpoints (pre-trained with an LM head) have no pooler.
      const isHead = name.startsWith(`${DEBERTA.classifier}.`) || name.startsWith(`${DEBERTA.pooler}.`);
      let tensorData = weights.get(name);
      if (!tensorData || !sameShape(tensorData.shape, shape)) {
        if (!isHead) {
          missing.push(tensorData ? `${name} (shape [${tensorData.shape}] instead of [${shape}])` : name);
          continue;
        }
        this.initNotes.push({ name, reason: tensorData ? 'shape' : 'missing' });
        tensorData = initHeadTensor(name, shape, options.seed);
      }
      const isClassifier = name.startsWith(`${DEBERTA.classifier}.`);
      // As the official AFLoRA runs (PEFT modules_to_save ["classifier"]): the pooler stays frozen.
      const trainsBase = options.trainBase && (!embeddings.has(name) || options.trainEmbeddings);
      this.addWeight(name, tensorData.data, shape, isClassifier ? 'head' : trainsBase ? 'base' : 'no', name.includes('LayerNorm'));
    }
    if (missing.length > 0) {
      this.dispose();
      throw new Error(
        `The checkpoint lacks ${missing.length} DeBERTa-v2 weight(s), e.g. ${missing.slice(0, 4).join(', ')}. ` +
          'Load a complete DeBERTa-v2/v3 checkpoint (DebertaV2Model / DebertaV2ForMaskedLM / DebertaV2ForSequenceClassification weights).',
      );
    }
  }

  /** Logits [B, numLabels]. Call inside tf.tidy / variableGrads. */
  forward(batch: ModelBatch, runtime: AdapterRuntime | null, options: ForwardOptions): tf.Tensor2D {
    this.startForward();
    const config = this.config;
    const { hiddenSize: h, numHeads, numLayers } = config;
    const [b, s] = batch.inputIds.shape;
    const tokens = b * s;
    const headSize = h / numHeads;

    // Embeddings [T, E] -> (embed_proj) -> LayerNorm [T, H].
    let embedded = tf.gather(this.param(DEBERTA.words), tf.reshape(batch.inputIds, [tokens])) as tf.Tensor2D;
    if (config.positionBiasedInput) {
      const e = config.embeddingSize;
      const positions = tf.slice(this.param(DEBERTA.positions), [0, 0], [s, e]); // [S, E]
      embedded = tf.reshape(tf.add(tf.reshape(embedded, [b, s, e]), positions), [tokens, e]);
    }
    if (config.typeVocabSize > 0) {
      embedded = tf.add(embedded, tf.gather(this.param(DEBERTA.tokenTypes), tf.reshape(batch.tokenTypeIds, [tokens])));
    }
    if (config.embeddingSize !== h) embedded = tf.matMul(embedded, this.param(DEBERTA.embedProj) as tf.Tensor2D, false, true);
    let hidden = this.dropout(this.layerNorm(embedded, DEBERTA.embeddingNorm), config.hiddenDropout, options);

    const toHeads = (x: tf.Tensor2D): tf.Tensor4D => tf.transpose(tf.reshape(x, [b, s, numHeads, headSize]), [0, 2, 1, 3]); // [B, nH, S, dh]
    // Head-major [nH, B, S, dh] (as [nH * B, S, dh]): the position matmuls batch over heads only.
    const headMajor = (x: tf.Tensor2D): tf.Tensor3D =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, s, numHeads, headSize]), [2, 0, 1, 3]), [numHeads * b, s, headSize]);
    const rows = numHeads * b;

    const relative = config.relativeAttention && (config.c2p || config.p2c);
    const span = attentionSpan(config);
    let relEmbeddings: tf.Tensor2D | null = null; // [2 span, H]
    if (relative) {
      relEmbeddings = this.param(DEBERTA.relEmbeddings) as tf.Tensor2D;
      if (config.normRelEmbeddings) relEmbeddings = this.layerNorm(relEmbeddings, DEBERTA.relNorm);
    }
    const gather = relative ? this.relativeGathers(s) : null;

    for (let layer = 0; layer < numLayers; layer++) {
      const prefix = DEBERTA.layer(layer);
      const query = this.adaptedLinear(hidden, `${prefix}.attention.self.query_proj`, runtime, options);
      const key = this.adaptedLinear(hidden, `${prefix}.attention.self.key_proj`, runtime, options);
      const value = this.adaptedLinear(hidden, `${prefix}.attention.self.value_proj`, runtime, options);
      const q = headMajor(query);
      const k = headMajor(key);
      let raw: tf.Tensor3D = tf.matMul(q, k, false, true); // [nH * B, S, S]

      if (relEmbeddings && gather) {
        const rel = this.dropout(relEmbeddings, config.hiddenDropout, options); // pos_dropout, per layer
        // Relative embeddings projected per head: [2 span, H] -> [nH, 2 span, dh].
        const project = (shared: string, own: string): tf.Tensor3D => {
          const projected = config.shareAttKey
            ? this.adaptedLinear(rel, `${prefix}.attention.self.${shared}`, runtime, options)
            : this.linear(rel, `${prefix}.attention.self.${own}`);
          return tf.transpose(tf.reshape(projected, [2 * span, numHeads, headSize]), [1, 0, 2]);
        };
        // Content x position scores [nH, B * S, 2 span], gathered to [nH * B, S, S] by relative distance.
        const positionScores = (content: tf.Tensor3D, positions: tf.Tensor3D, index: RelativeGatherIndex) => {
          const scores = tf.matMul(tf.reshape(content, [numHeads, b * s, headSize]), positions, false, true);
          return tf.reshape(relativeGather(tf.reshape(scores, [rows, s * 2 * span]), index), [rows, s, s]);
        };
        if (config.c2p) raw = tf.add(raw, positionScores(q, project('key_proj', 'pos_key_proj'), gather.c2p)); // (q, k)
        if (config.p2c) {
          const byKey = positionScores(k, project('query_proj', 'pos_query_proj'), gather.p2c); // (k, q)
          raw = tf.add(raw, tf.transpose(byKey, [0, 2, 1]));
        }
      }
      const scores = tf.transpose(tf.reshape(raw, [numHeads, b, s, s]), [1, 0, 2, 3]) as tf.Tensor4D; // [B, nH, S, S]
      let probs = kernels.maskedSoftmax(scores, batch.additiveMask, 1 / attentionScale(config));
      probs = this.dropout(probs, config.attentionDropout, options);
      const context = tf.matMul(probs, toHeads(value)); // [B, nH, S, dh]
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [tokens, h]) as tf.Tensor2D;
      const attnOut = this.dropout(this.adaptedLinear(merged, `${prefix}.attention.output.dense`, runtime, options), config.hiddenDropout, options);
      hidden = this.layerNorm(tf.add(attnOut, hidden), `${prefix}.attention.output.LayerNorm`);

      const inter = this.activation(this.adaptedLinear(hidden, `${prefix}.intermediate.dense`, runtime, options), config.hiddenAct);
      const out = this.dropout(this.adaptedLinear(inter, `${prefix}.output.dense`, runtime, options), config.hiddenDropout, options);
      hidden = this.layerNorm(tf.add(out, hidden), `${prefix}.output.LayerNorm`);
    }

    // ContextPooler: dropout -> dense -> activation on position 0; then dropout -> classifier.
    const first = tf.reshape(tf.slice(tf.reshape(hidden, [b, s, h]), [0, 0, 0], [b, 1, h]), [b, h]) as tf.Tensor2D;
    const pooledIn = this.dropout(first, config.poolerDropout, options);
    const pooled = this.poolerActivation(this.linear(pooledIn, DEBERTA.pooler));
    return this.linear(this.dropout(pooled, config.classifierDropout, options), DEBERTA.classifier);
  }

  /** The c2p / p2c gather indices for sequence length S, built once per length. */
  private relativeGathers(s: number): RelativeGathers {
    const cached = this.gathers.get(s);
    if (cached) return cached;
    const columns = 2 * attentionSpan(this.config);
    const index = relativeIndex(this.config, s); // [q, k]
    const transposed = new Int32Array(index.length); // [k, q]
    for (let q = 0; q < s; q++) for (let k = 0; k < s; k++) transposed[k * s + q] = index[q * s + k];
    if (this.gathers.size >= MAX_CACHED_LENGTHS) {
      const [oldest, entry] = this.gathers.entries().next().value as [number, RelativeGathers];
      disposeRelativeGatherIndex(entry.c2p);
      disposeRelativeGatherIndex(entry.p2c);
      this.gathers.delete(oldest);
    }
    const entry = { c2p: relativeGatherIndex(index, s, columns), p2c: relativeGatherIndex(transposed, s, columns) };
    this.gathers.set(s, entry);
    return entry;
  }

  private poolerActivation(x: tf.Tensor2D): tf.Tensor2D {
    return this.config.poolerAct === 'tanh' ? tf.tanh(x) : this.activation(x, this.config.poolerAct);
  }

  override dispose(): void {
    super.dispose();
    for (const { c2p, p2c } of this.gathers.values()) {
      disposeRelativeGatherIndex(c2p);
      disposeRelativeGatherIndex(p2c);
    }
    this.gathers.clear();
  }
}

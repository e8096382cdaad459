/**
 * The "fused" training step: what src/engine looks like once the kernels of src/engine/kernels are wired
 * in (the lead does that in the engine; this is the benchmark's prototype of it). Same math as
 * Trainer.step(): BertModel weights and the method runtime of an existing Trainer, forward with fused
 * LayerNorm / GELU / masked softmax / lazy-gradient linears / fused low-rank adapters, fused clipping and
 * AdamW. bench/run.ts --verify checks its losses against Trainer.step() from the same start.
 */
import * as tf from '@tensorflow/tfjs';
import {
  FusedAdamW,
  biasGelu,
  clipCoefficients,
  dropout as fusedDropout,
  layerNorm,
  linear,
  lowRankAdapter,
  maskedSoftmax,
} from '../src/engine/kernels';
import {
  gatherBatch,
  uploadBatch,
  disposeBatch,
  type DeviceBatch,
  type EncodedExamples,
} from '../src/engine/batches';
import { crossEntropyLoss } from '../src/engine/loss';
import type { BertModel } from '../src/engine/model';
import { TORCH_ADAMW_DEFAULTS } from '../src/engine/optimizer';
import { mixSeed } from '../src/engine/random';
import { linearScheduleFactor } from '../src/engine/schedule';
import type { Trainer } from '../src/engine/trainer';
import { attentionLayerNorm, outputLayerNorm, EMBEDDING_NAMES } from '../src/engine/weights';
import type { AdapterRuntime } from '../src/methods/types';
import type { LinearTarget } from '../src/engine/types';

interface LowRankParts {
  a: tf.Tensor2D;
  b: tf.Tensor2D;
  lambdaD?: tf.Tensor1D;
  lambdaB?: tf.Tensor1D;
  scale: number;
}

/** The runtime's adapter of each linear, found by PEFT variable names (lora_A/B, lambda_d/b). */
function lowRankParts(runtime: AdapterRuntime, options: object): Map<string, LowRankParts> {
  const byName = new Map(runtime.variables().map((v) => [v.name, v.variable] as const));
  const { r, alpha } = options as { r?: number; alpha?: number };
  const scale = r && alpha ? alpha / r : 1;
  const parts = new Map<string, LowRankParts>();
  for (const path of runtime.adapted) {
    const a = byName.get(`${path}.lora_A`);
    const b = byName.get(`${path}.lora_B`);
    if (!a || !b) continue;
    parts.set(path, {
      a: a as tf.Tensor2D,
      b: b as tf.Tensor2D,
      lambdaD: byName.get(`${path}.lambda_d`) as tf.Tensor1D | undefined,
      lambdaB: byName.get(`${path}.lambda_b`) as tf.Tensor1D | undefined,
      scale,
    });
  }
  return parts;
}

export class FusedStep {
  private readonly optimizer: FusedAdamW;
  private readonly parts: Map<string, LowRankParts>;
  private readonly targetByPath = new Map<string, LinearTarget>();
  private nextStep = 0;

  constructor(
    private readonly trainer: Trainer,
    private readonly examples: EncodedExamples,
  ) {
    this.parts = lowRankParts(trainer.runtime, trainer.methodOptions);
    for (const t of trainer.model.targets) this.targetByPath.set(t.path, t);
    // Per-entry decay flags come from trainableEntries(); the rate is the recipe's (as in Trainer).
    this.optimizer = new FusedAdamW({ ...TORCH_ADAMW_DEFAULTS, weightDecay: trainer.recipe.weightDecay });
  }

  /** One optimizer step; returns [loss, gradNorm] tensors (caller reads / disposes). */
  async step(): Promise<tf.Tensor> {
    const trainer = this.trainer;
    const step = this.nextStep++;
    const entries = trainer.trainableEntries();
    const { batchSize } = trainer.recipe;
    const start = (step * batchSize) % this.examples.count;
    const indices = Array.from({ length: batchSize }, (_, i) => (start + i) % this.examples.count);
    const batch = uploadBatch(gatherBatch(this.examples, indices, batchSize), trainer.config.numLabels, true);
    const varList = entries.map((e) => e.variable);
    const { value: loss, grads } = tf.tidy(() =>
      tf.variableGrads(() => crossEntropyLoss(this.forward(batch, step), batch.targets!), varList),
    );
    disposeBatch(batch);
    const named = new Map(entries.map((e) => [e.name, grads[e.variable.name]] as const));
    trainer.runtime.observeGradients?.(step, named);
    const lrFactor = linearScheduleFactor(step, trainer.totalSteps, trainer.warmupSteps);
    const clip = clipCoefficients([...named.values()], trainer.recipe.maxGradNorm);
    this.optimizer.update(entries, named, lrFactor, clip);
    tf.dispose(Object.values(grads));
    const metrics = tf.tidy(() => tf.concat([tf.reshape(loss, [1]), tf.slice(clip, [0], [1])])); // [loss, norm]
    tf.dispose([loss, clip]);
    const result = await trainer.runtime.afterStep?.(step);
    if (result) this.optimizer.drop(result.frozen);
    return metrics;
  }

  dispose(): void {
    this.optimizer.dispose();
  }

  /** BertModel.forward with the fused kernels. Logits [B, L]. */
  private forward(batch: DeviceBatch, step: number): tf.Tensor2D {
    const model: BertModel = this.trainer.model;
    const config = model.config;
    const { hiddenSize: h, numHeads, numLayers, layerNormEps: eps } = config;
    const [b, s] = batch.inputIds.shape;
    const tokens = b * s;
    const headSize = h / numHeads;
    const p1 = (name: string) => model.param(name) as tf.Tensor1D;
    const p2 = (name: string) => model.param(name) as tf.Tensor2D;
    let dropoutCalls = 0;
    const dropoutSeed = mixSeed(this.trainer.recipe.seed, 0xd20, step);
    const dropout = <T extends tf.Tensor>(x: T, rate: number): T => {
      if (rate <= 0) return x;
      dropoutCalls++;
      return fusedDropout(x, rate, mixSeed(dropoutSeed, dropoutCalls));
    };
    const ln = (x: tf.Tensor2D, prefix: string) =>
      layerNorm(x, p1(`${prefix}.weight`), p1(`${prefix}.bias`), eps) as tf.Tensor2D;
    const adapted = (x: tf.Tensor2D, path: string): tf.Tensor2D => {
      const base = linear(x, p2(`${path}.weight`), p1(`${path}.bias`));
      const runtime = this.trainer.runtime;
      if (!runtime.adapted.has(path)) return base;
      const parts = this.parts.get(path);
      if (!parts) return runtime.apply(this.targetByPath.get(path)!, x, base);
      const { a, b: up, lambdaD, lambdaB, scale } = parts;
      return lowRankAdapter(x, base, a, up, { lambdaD, lambdaB, scale });
    };
    const toHeads = (x: tf.Tensor2D): tf.Tensor4D =>
      tf.transpose(tf.reshape(x, [b, s, numHeads, headSize]), [0, 2, 1, 3]);

    const words = tf.gather(p2(EMBEDDING_NAMES[0]), tf.reshape(batch.inputIds, [tokens]));
    const types = tf.gather(p2(EMBEDDING_NAMES[2]), tf.reshape(batch.tokenTypeIds, [tokens]));
    const positions = tf.slice(p2(EMBEDDING_NAMES[1]), [0, 0], [s, h]);
    const summed = tf.add(tf.reshape(tf.add(words, types), [b, s, h]), positions);
    let hidden = ln(tf.reshape(summed, [tokens, h]) as tf.Tensor2D, 'bert.embeddings.LayerNorm');
    hidden = dropout(hidden, config.hiddenDropout);
    for (let layer = 0; layer < numLayers; layer++) {
      const prefix = `bert.encoder.layer.${layer}`;
      const query = adapted(hidden, `${prefix}.attention.self.query`);
      const key = adapted(hidden, `${prefix}.attention.self.key`);
      const value = adapted(hidden, `${prefix}.attention.self.value`);
      const rawScores = tf.matMul(toHeads(query), toHeads(key), false, true) as tf.Tensor4D; // [B, nH, S, S]
      const probs = dropout(
        maskedSoftmax(rawScores, batch.additiveMask, 1 / Math.sqrt(headSize)),
        config.attentionDropout,
      );
      const context = tf.matMul(probs, toHeads(value));
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [tokens, h]) as tf.Tensor2D;
      const attnOut = dropout(adapted(merged, `${prefix}.attention.output.dense`), config.hiddenDropout);
      hidden = ln(tf.add(attnOut, hidden), attentionLayerNorm(layer));
      const preAct = adapted(hidden, `${prefix}.intermediate.dense`);
      const inter = (config.hiddenAct === 'gelu' ? biasGelu(preAct) : tf.relu(preAct)) as tf.Tensor2D;
      const out = dropout(adapted(inter, `${prefix}.output.dense`), config.hiddenDropout);
      hidden = ln(tf.add(out, hidden), outputLayerNorm(layer));
    }
    const cls = tf.reshape(tf.slice(tf.reshape(hidden, [b, s, h]), [0, 0, 0], [b, 1, h]), [
      b,
      h,
    ]) as tf.Tensor2D;
    const pooled = tf.tanh(linear(cls, p2('bert.pooler.dense.weight'), p1('bert.pooler.dense.bias')));
    return linear(dropout(pooled, config.hiddenDropout), p2('classifier.weight'), p1('classifier.bias'));
  }
}

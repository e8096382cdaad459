/**
 * What every encoder family's *ForSequenceClassification model shares (BertModel for the BERT-style families,
 * DebertaV2Model for DeBERTa): its weights by PyTorch name, the adapted-linear routing through the adapter
 * runtime, LayerNorm, activations and seeded dropout. Subclasses only add their embeddings, attention and head.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime, MethodVariable } from './adapter';
import * as kernels from './kernels';
import type { ForwardOptions, InitNote } from './model';
import { mixSeed } from './random';
import type { HiddenAct, LinearTarget } from './types';

export abstract class EncoderModel {
  readonly targets: readonly LinearTarget[];
  /** Classifier head variables (always trained). */
  readonly head: MethodVariable[] = [];
  /** Base weights that train (full fine-tuning only). */
  readonly trainableBase: MethodVariable[] = [];
  readonly initNotes: InitNote[] = [];

  protected readonly params = new Map<string, tf.Tensor>();
  private readonly targetByPath = new Map<string, LinearTarget>();
  private readonly layerNormEps: number;
  private dropoutCalls = 0;

  protected constructor(targets: readonly LinearTarget[], layerNormEps: number) {
    this.targets = targets;
    for (const target of targets) this.targetByPath.set(target.path, target);
    this.layerNormEps = layerNormEps;
  }

  param(name: string): tf.Tensor {
    const tensor = this.params.get(name);
    if (!tensor) throw new Error(`no weight named ${name}`);
    return tensor;
  }

  /** Plain copies of the head (and trained base) weights for export. */
  trainedParams(): MethodVariable[] {
    return [...this.trainableBase, ...this.head];
  }

  /**
   * Frozen weights the model made up itself (init notes that do not train: DeBERTa-v3's ContextPooler, which its
   * LM-pretrained checkpoints lack). Their values come from the run's seed, not from the base checkpoint, so an
   * export for another framework must carry them, or it initialises its own and the logits differ.
   */
  initialisedConstants(): { name: string; tensor: tf.Tensor }[] {
    const trained = new Set(this.trainedParams().map((v) => v.name));
    return this.initNotes.filter((note) => !trained.has(note.name)).map((note) => ({ name: note.name, tensor: this.param(note.name) }));
  }

  /** Puts a saved value (an imported adapter's) in place of one of initialisedConstants(). */
  setInitialisedConstant(name: string, data: Float32Array): void {
    const old = this.param(name);
    if (data.length !== old.size) throw new Error(`initial ${name}: ${data.length} values for [${old.shape.join(', ')}]`);
    this.params.set(name, tf.tensor(data, old.shape, 'float32'));
    old.dispose();
  }

  dispose(): void {
    for (const tensor of this.params.values()) tensor.dispose();
    this.params.clear();
  }

  /**
   * Keeps a checkpoint weight [shape] under its PyTorch name: a constant, or when it `trains` a variable listed in
   * the head (lr group 'classifier') or the trained base weights. Biases and LayerNorm weights do not decay.
   */
  protected addWeight(name: string, data: Float32Array, shape: readonly number[], trains: 'no' | 'head' | 'base', isNormWeight: boolean): void {
    const value = tf.tensor(data, [...shape], 'float32');
    if (trains === 'no') {
      this.params.set(name, value);
      return;
    }
    const variable = tf.variable(value, true);
    value.dispose();
    this.params.set(name, variable);
    const entry: MethodVariable = { name, variable, lrGroup: trains === 'head' ? 'classifier' : 'adapter', decays: !(name.endsWith('.bias') || isNormWeight) };
    (trains === 'head' ? this.head : this.trainableBase).push(entry);
  }

  /** Each forward numbers its dropout masks from 1, so the same seed gives the same masks. */
  protected startForward(): void {
    this.dropoutCalls = 0;
  }

  /** x [N, in] -> x W^T + b [N, out]; gradients only for the inputs that need them (no dW for frozen W). */
  protected linear(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return kernels.linear(x, this.param(`${prefix}.weight`) as tf.Tensor2D, this.param(`${prefix}.bias`) as tf.Tensor1D);
  }

  protected adaptedLinear(x: tf.Tensor2D, path: string, runtime: AdapterRuntime | null, options: ForwardOptions): tf.Tensor2D {
    const base = this.linear(x, path);
    if (!runtime || !runtime.adapted.has(path)) return base;
    const target = this.targetByPath.get(path);
    if (!target) throw new Error(`unknown linear ${path}`);
    // PEFT's lora_dropout: the adapter sees a dropped-out copy of the input, the base layer the input itself.
    return runtime.apply(target, this.dropout(x, runtime.inputDropout ?? 0, options), base);
  }

  /** LayerNorm over the last axis of [T, H] with biased variance, as torch.nn.LayerNorm. */
  protected layerNorm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    const gamma = this.param(`${prefix}.weight`) as tf.Tensor1D;
    return kernels.layerNorm(x, gamma, this.param(`${prefix}.bias`) as tf.Tensor1D, this.layerNormEps) as tf.Tensor2D;
  }

  protected activation(x: tf.Tensor2D, act: HiddenAct): tf.Tensor2D {
    switch (act) {
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

  protected dropout<T extends tf.Tensor>(x: T, rate: number, options: ForwardOptions): T {
    if (!options.training || rate <= 0) return x;
    if (options.dropoutSeed === undefined) throw new Error('training with dropout needs a dropoutSeed');
    this.dropoutCalls++;
    // Fused: mask hashed on the GPU (tf.dropout draws and uploads its randoms from JavaScript).
    const gpuSeed = options.dropoutSeedTensor ? { step: options.dropoutSeedTensor, call: this.dropoutCalls } : undefined;
    return kernels.dropout(x, rate, mixSeed(options.dropoutSeed, this.dropoutCalls), gpuSeed);
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

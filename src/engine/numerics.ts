/**
 * What a NaN / Inf in training most likely came from, decided from what can be checked without guessing: the
 * training targets, the base weights and the adapter's starting values, the config's divisors, and only then the
 * optimisation (learning rate, clipping). The Trainer calls it once, after it restored the last good adapter.
 */
import { NumericalError } from './errors';
import type { BertConfig, StateDict } from './types';

/** Regression targets beyond this make the squared loss and its gradients huge: scale them first. */
export const TARGET_SCALE_LIMIT = 1e4;
/** Below this layer_norm_eps underflows float32 (its smallest normal number): 1/sqrt(var + eps) is Inf on a constant row. */
const FLOAT32_MIN_NORMAL = 1.1754944e-38;

export interface NonFiniteFacts {
  /** The first step whose loss or gradient norm was not finite. */
  step: number;
  loss: number;
  gradNorm: number;
  /** Adapter-group learning rate of that step. */
  lr: number;
  /** The step the restored adapter is from (0: the initial values). */
  restoredStep: number;
  config: BertConfig;
  /** Training targets: class indices or regression values. */
  targets: ArrayLike<number>;
  regression: boolean;
  /** The base model's weights and the adapter's given starting values (an imported adapter), as loaded. */
  weights: StateDict;
  initial?: StateDict;
  adapterLr: number;
  classifierLr: number;
  maxGradNorm: number;
}

/** The first tensor of `dict` holding a non-finite value, with how many it holds. */
export function firstNonFiniteTensor(dict: StateDict | undefined): { name: string; count: number } | null {
  if (!dict) return null;
  for (const [name, tensor] of dict) {
    let count = 0;
    for (let i = 0; i < tensor.data.length; i++) if (!Number.isFinite(tensor.data[i])) count++;
    if (count > 0) return { name, count };
  }
  return null;
}

function targetRange(targets: ArrayLike<number>): { min: number; max: number; nonFinite: number } {
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  for (let i = 0; i < targets.length; i++) {
    const v = targets[i];
    if (!Number.isFinite(v)) nonFinite++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { min, max, nonFinite };
}

/** The likely cause, first match wins: a definite one found in the inputs, else the optimisation. */
export function likelyCause(facts: NonFiniteFacts): string {
  const { config } = facts;
  const base = firstNonFiniteTensor(facts.weights);
  if (base) return `The model's weights hold non-finite values (${base.count.toLocaleString('en-US')} in ${base.name}): the weights file is corrupt or was saved after training diverged. Use the original checkpoint.`;
  const initial = firstNonFiniteTensor(facts.initial);
  if (initial) return `The adapter's starting values hold non-finite values (${initial.count.toLocaleString('en-US')} in ${initial.name}): the imported adapter is broken. Import another one or train from scratch.`;
  if (!(config.layerNormEps >= FLOAT32_MIN_NORMAL)) return `config.json's layer_norm_eps is ${config.layerNormEps}: LayerNorm divides by zero on a constant row. Use BERT's 1e-12.`;
  for (const [key, p] of [['hidden_dropout_prob', config.hiddenDropout], ['attention_probs_dropout_prob', config.attentionDropout]] as const) {
    if (!(p >= 0 && p < 1)) return `config.json's ${key} is ${p}: dropout scales by 1 / (1 - p). Use a probability below 1 (BERT uses 0.1).`;
  }
  if (facts.regression) {
    const range = targetRange(facts.targets);
    if (range.nonFinite > 0) return `${range.nonFinite} regression target(s) are not finite numbers: fix those rows of the data.`;
    const scale = Math.max(Math.abs(range.min), Math.abs(range.max));
    if (scale > TARGET_SCALE_LIMIT) return `The regression targets span ${range.min.toPrecision(3)} to ${range.max.toPrecision(3)}: the squared error of such values overflows. Rescale the targets (e.g. to about -10..10) and train again.`;
  }
  const clipping = facts.maxGradNorm > 0 ? '' : ', or turn on gradient clipping (Max grad norm 1.0)';
  if (facts.step === 0) {
    return 'It happened in the first step, before any update, and the data, weights and config look fine: this is likely a bug in the app. Please report it with the model and data used.';
  }
  return `The data, weights and config check out, so training diverged: lower the adapter learning rate (${facts.adapterLr}) or the classifier's (${facts.classifierLr})${clipping}, and train again.`;
}

export function nonFiniteError(facts: NonFiniteFacts): NumericalError {
  const what = Number.isFinite(facts.loss) ? `The gradient norm became ${facts.gradNorm}` : `The loss became ${facts.loss}`;
  const restored = facts.restoredStep === 0 ? 'the adapter as it was before the first step' : `the adapter after ${facts.restoredStep} steps (the last state checked finite)`;
  return new NumericalError(`${what} at step ${facts.step}. Training stopped; ${restored} is restored: Export writes it.`, likelyCause(facts));
}

/**
 * AFLoRA and its PM ablations, tensor-free: option schemas (defaults from the reference code, README.md) and
 * catalog entries. The runtimes are in index.ts.
 */
import { bool, choice, choicesOf, int, num, optionalInt, type OptionsOf } from '../../engine/options';
import { DEFAULT_RECIPE } from '../../engine/recipe';
import { defineMethod } from '../entry';
import { table5Presets } from '../glue';
import { resolveSchedule, summarizeSchedule } from './schedule';

const MODULE = 'Module';
// AFLoRA paper Table 5: adapter LR 1e-2 on MRPC, RTE and CoLA (1e-3 .. 2e-2 over the tasks); the recipe's default.
const AFLORA_LR = DEFAULT_RECIPE.adapterLr;
const FREEZING = 'Freezing';

const rank = int('rank', { urlKey: 'r', label: 'Rank r', help: 'Rows of A / columns of B.', group: MODULE, default: 4, min: 1, max: 64 });
const trainableMatrices = choice('trainableMatrices', {
  urlKey: 'ab',
  label: 'Trainable A/B in',
  help: 'Where A/B train (paper Table 3); elsewhere they stay frozen at their random init.',
  group: MODULE,
  choices: choicesOf({ ffn: 'FFN', attention: 'Attention', both: 'Attention + FFN' }),
  default: 'ffn',
});
// Not 0: with Λb = 0 too, every adapter gradient would be 0 forever (d/dΛb needs Λd, d/dΛd needs Λb).
const lambdaDInit = num('lambdaDInit', {
  urlKey: 'ld',
  label: 'Λd init',
  help: 'Initial value of the rank-side scaling vector (Λb starts at 0, so Λd must not: at 0 no adapter variable would ever get a gradient).',
  group: MODULE,
  default: 0.1,
  min: 0.001,
  max: 10,
  step: 0.01,
});
const loraDropout = num('loraDropout', { urlKey: 'drop', label: 'Adapter dropout', help: "Dropout on the adapter's input while training (PEFT's lora_dropout; the official runs: 0).", group: MODULE, default: 0, min: 0, max: 0.9, step: 0.05 });

export const AFLORA_OPTIONS = [
  rank,
  trainableMatrices,
  loraDropout,
  choice('sensitivity', {
    urlKey: 'sens',
    label: 'Sensitivity',
    help: 'Per-element importance (paper Fig. 4); the reference code uses |g|.',
    group: FREEZING,
    choices: choicesOf({ grad: '|g|', paramGrad: '|p·g|', gradOverParam: '|g / p|' }),
    default: 'grad',
  }),
  bool('freezeTogether', { urlKey: 'sim', label: 'Freeze A and B together', help: 'Paper Table 6 "simultaneously": judged by the mean of their scores.', group: FREEZING, default: false }),
  num('beta1', { urlKey: 'b1', label: 'β1 (smoothing)', help: 'EMA factor of the sensitivity Ī.', group: FREEZING, default: 0.85, min: 0, max: 0.9999, step: 0.01 }),
  num('beta2', { urlKey: 'b2', label: 'β2 (uncertainty)', help: 'EMA factor of the uncertainty Ū; 1: score = Ī alone, no Ū (the reference code\'s β2 = 1).', group: FREEZING, default: 0.95, min: 0, max: 1, step: 0.01 }),
  int('deltaT', { urlKey: 'dt', label: 'Score window ΔT', help: 'Steps per sensitivity window and between masking rounds.', group: FREEZING, default: 10, min: 1, max: 1000 }),
  num('tiEpochs', { urlKey: 'ti', label: 't_i (epochs)', help: 'Warm-up before any matrix may freeze.', group: FREEZING, default: 1, min: 0, max: 100, step: 0.5 }),
  optionalInt('initialWarmup', { urlKey: 'tis', label: 't_i (steps)', help: 'Warm-up in optimizer steps; overrides t_i (epochs).', group: FREEZING, default: null, min: 0, max: 10_000_000, nullLabel: 'from t_i (epochs)' }),
  num('tfFraction', { urlKey: 'tf', label: 't_f (fraction)', help: 'Final share of training in which everything freezes as soon as it can (70 %: the paper\'s 14 of 20 epochs).', group: FREEZING, default: 0.7, min: 0, max: 1, step: 0.05 }),
  optionalInt('finalWarmup', { urlKey: 'tfs', label: 't_f (steps)', help: 'Final phase in optimizer steps; overrides t_f (fraction).', group: FREEZING, default: null, min: 0, max: 10_000_000, nullLabel: 'from t_f (fraction)' }),
  num('finalRatio', { urlKey: 'rf', label: 'Final ratio r_f', help: "Share of A/B elements the schedule keeps trainable at its end (the reference's final_threshold; 0: everything freezes).", group: FREEZING, default: 0, min: 0, max: 1, step: 0.05 }),
  choice('thresholdRule', {
    urlKey: 'thr',
    label: 'Threshold rule',
    help:
      'Official code: the threshold is the k-th smallest ELEMENT score over all trainable A/B elements, and a matrix freezes when its mean is below it. ' +
      'Paper text: freeze the lowest-scoring MATRICES until the frozen share of matrices reaches 1 - r(t).',
    group: FREEZING,
    choices: choicesOf({ elements: 'Element quantile (official code)', matrices: 'Lowest matrices (paper text)' }),
    default: 'elements',
  }),
  lambdaDInit,
] as const;

export type AfloraOptions = OptionsOf<typeof AFLORA_OPTIONS>;
export type TrainableMatrices = AfloraOptions['trainableMatrices'];
export type Sensitivity = AfloraOptions['sensitivity'];

export const PM_TRAINABLE_OPTIONS = [rank, trainableMatrices, loraDropout, lambdaDInit] as const;
export type PmTrainableOptions = OptionsOf<typeof PM_TRAINABLE_OPTIONS>;
export const PM_FROZEN_OPTIONS = [rank, loraDropout, lambdaDInit] as const;
export type PmFrozenOptions = OptionsOf<typeof PM_FROZEN_OPTIONS>;

export const afloraEntry = defineMethod({
  id: 'aflora',
  label: 'AFLoRA',
  suggestedAdapterLr: AFLORA_LR,
  blurb: 'Low-rank adapters whose A/B matrices freeze one by one as their scores settle.',
  description:
    'Liu, Kundu et al. 2024. Low-rank A/B with trainable scaling vectors Λd, Λb on every linear; A/B freeze for good ' +
    'once their sensitivity score falls below a cubic-scheduled threshold (as the official code does it).',
  view: 'freeze',
  options: AFLORA_OPTIONS,
  presets: table5Presets<typeof AFLORA_OPTIONS>({ tiEpochs: 1, tfFraction: 0.7 }),
  resolved(options, run) {
    const s = summarizeSchedule(resolveSchedule(options, run.totalSteps, run.epochs));
    return {
      text:
        `Schedule of this run (${s.totalSteps} steps, ${run.stepsPerEpoch} per epoch): no freezing until step ${s.initialWarmup} (t_i); ` +
        `ramp to step ${s.rampEnd} with ${s.rampRounds} masking round${s.rampRounds === 1 ? '' : 's'} (every ${s.deltaT} steps); ` +
        `then every step keeps r_f = ${s.finalRatio}.`,
      warning: s.warning,
    };
  },
});

export const pmTrainableEntry = defineMethod({
  id: 'pm-trainable',
  label: 'PM trainable',
  suggestedAdapterLr: AFLORA_LR,
  blurb: 'AFLoRA module without freezing (ablation).',
  description: 'The AFLoRA module with its A/B matrices (FFN by default) trained throughout, never frozen (paper ablation).',
  options: PM_TRAINABLE_OPTIONS,
});

export const pmFrozenEntry = defineMethod({
  id: 'pm-frozen',
  label: 'PM frozen',
  suggestedAdapterLr: AFLORA_LR,
  blurb: 'AFLoRA module with A/B frozen from step 0 (ablation).',
  description: 'The AFLoRA module with every A/B matrix frozen at its random init; only Λd and Λb train (paper ablation).',
  options: PM_FROZEN_OPTIONS,
});

/**
 * ALoRA's catalog entry and option schema. Defaults: the paper's (Liu et al., NAACL 2024, §4 and its
 * hyperparameter table): r_init 8, n_A = N_mod, |B_val| = 32, K1 = 1 epoch, K2 = 0.25 epoch, N_A <= 8.
 */
import { int, multi, num, optionalInt, span, type OptionsOf } from '../../engine/options';
import { defineMethod, MODULE_CHOICES } from '../entry';

const ALLOCATION = 'Allocation';

export const aloraEntry = defineMethod({
  id: 'alora',
  label: 'ALoRA',
  blurb: 'Prunes the least important LoRA ranks and hands their budget to the modules that kept theirs.',
  description:
    'Liu et al. 2024 (NAACL), reimplemented from the paper (no official code exists): LoRA with a 0/1 gate per ' +
    'rank; after K1 epochs and then every K2 epochs, AB-LoRA scores each rank on a fixed validation batch by ' +
    'ablation (S(M) − S(M∖r) + S(only r)), the n_A lowest are pruned and their ranks go to modules that lost none.',
  view: 'rank',
  options: [
    int('rInit', {
      urlKey: 'r',
      label: 'Initial rank r_init',
      help: 'Ranks every module starts with: the budget per module (R_target / N_mod).',
      group: 'LoRA',
      default: 8,
      min: 1,
      max: 64,
    }),
    int('maxRank', {
      urlKey: 'rmax',
      label: 'Rank slots per module',
      help: 'The most ranks a module can grow to (shapes are fixed: slots beyond r_init wait, gated off, until allocated). At least r_init.',
      group: 'LoRA',
      default: 16,
      min: 1,
      max: 128,
    }),
    num('alpha', {
      urlKey: 'a',
      label: 'α',
      help: 'Output scale α / r_init, the same for every module and rank.',
      group: 'LoRA',
      default: 16,
      min: 0,
      max: 1024,
      step: 1,
    }),
    multi('targetModules', {
      urlKey: 'tm',
      label: 'Target modules',
      help: 'The linears of every layer that get gated ranks.',
      group: 'LoRA',
      choices: MODULE_CHOICES,
      default: ['query', 'key', 'value', 'attn_out', 'inter', 'out'],
      minCount: 1,
    }),
    span('superEpochs', {
      urlKey: 'k1',
      label: 'Super-network training K1',
      help: 'Training before the first allocation round.',
      group: ALLOCATION,
      default: { value: 1, unit: 'epochs' },
      max: { steps: 10_000_000, epochs: 100 },
    }),
    span('roundEvery', {
      urlKey: 'k2',
      label: 'Between rounds K2',
      help: 'Training after each allocation round, before the next.',
      group: ALLOCATION,
      default: { value: 0.25, unit: 'epochs' },
      max: { steps: 10_000_000, epochs: 100 },
    }),
    int('rounds', {
      urlKey: 'na',
      label: 'Rounds N_A',
      help: 'Allocation rounds at most (fewer when the run ends first).',
      group: ALLOCATION,
      default: 8,
      min: 0,
      max: 1000,
    }),
    optionalInt('pruneCount', {
      urlKey: 'np',
      label: 'Ranks pruned per round n_A',
      help: 'Lowest-importance ranks removed and reallocated each round.',
      group: ALLOCATION,
      default: null,
      min: 1,
      max: 100_000,
      nullLabel: 'one per module (N_mod)',
    }),
    int('probeSize', {
      urlKey: 'pb',
      label: 'Probe batch |B_val|',
      help: 'Validation rows the ablations are scored on (training rows without a validation set).',
      group: ALLOCATION,
      default: 32,
      min: 1,
      max: 1024,
    }),
  ],
});

export type AloraOptions = OptionsOf<typeof aloraEntry.options>;

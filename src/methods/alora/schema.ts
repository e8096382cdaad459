/**
 * ALoRA's catalog entry and option schema. Defaults: the paper's (Liu et al., NAACL 2024, §4.3 "Hyper-parameters
 * for ALoRA"): r_init 8, n_A = N_mod, |B_val| = 32, K1 = 1 epoch, K2 = 0.25 epoch, N_A <= 8. Presets: its three GLUE
 * tasks (Table 1) with the training settings of its Appendix E (the paper has no per-task table).
 */
import { int, multi, num, optionalInt, span, spanSteps, type OptionsOf } from '../../engine/options';
import { defineMethod, MODULE_CHOICES, type Preset } from '../entry';
import { roundSteps } from './schedule';

const ALLOCATION = 'Allocation';

export const ALORA_OPTIONS = [
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
] as const;

/**
 * The paper's GLUE tasks (Table 1: SST-2, RTE, QNLI) with Appendix E's training settings, the same for every task:
 * lr 1e-4, at most 10 epochs, batch 16 below 10k training rows (RTE) and 128 otherwise, linear decay after 6 %
 * warm-up, AdamW, transformers' other defaults (weight decay 0, grad norm 1); r_init 8 (§4.3). Left out: its
 * length 2048 (LLaMA-2 7B; ours stops at 512), early stopping (patience 10 on the dev loss) and the LM-head
 * prompts (we train a classification head, as its RoBERTa-large runs in Appendix G do).
 */
const APPENDIX_E_LR = 1e-4;

function appendixEPresets(): Preset<typeof ALORA_OPTIONS>[] {
  const tasks = [
    { id: 'sst2', label: 'SST-2', batchSize: 128 },
    { id: 'rte', label: 'RTE', batchSize: 16 },
    { id: 'qnli', label: 'QNLI', batchSize: 128 },
  ];
  return tasks.map((task) => ({
    id: task.id,
    label: task.label,
    note:
      `ALoRA paper, Table 1 task with Appendix E's settings: lr 1e-4, 10 epochs (the paper stops early), batch ${task.batchSize}, ` +
      'warm-up 6 %, AdamW, weight decay 0; r_init 8, K1 1 epoch, K2 0.25 epoch, N_A 8 (§4.3). Length 512 (the paper: 2048 on LLaMA-2).',
    recipe: { adapterLr: APPENDIX_E_LR, classifierLr: APPENDIX_E_LR, epochs: 10, batchSize: task.batchSize, maxLength: 512, warmupRatio: 0.06, weightDecay: 0, classifierWeightDecay: 0, maxGradNorm: 1, optimizer: 'adamw_torch' },
    options: { rInit: 8 },
    metric: 'accuracy',
  }));
}

export const aloraEntry = defineMethod({
  id: 'alora',
  label: 'ALoRA',
  suggestedAdapterLr: APPENDIX_E_LR,
  blurb: 'Prunes the least important LoRA ranks and hands their budget to the modules that kept theirs (reimplemented from the paper: no official code).',
  description:
    'Liu et al. 2024 (NAACL), reimplemented from the paper (no official code exists): LoRA with a 0/1 gate per ' +
    'rank; after K1 epochs and then every K2 epochs, AB-LoRA scores each rank on a fixed validation batch by ' +
    'ablation (S(M) − S(M∖r) + S(only r)), the n_A lowest are pruned and their ranks go to modules that lost none.',
  view: 'rank',
  options: ALORA_OPTIONS,
  presets: appendixEPresets(),
  resolved(options, run) {
    const rounds = roundSteps(options, run.stepsPerEpoch, run.totalSteps);
    const first = spanSteps(options.superEpochs, run.stepsPerEpoch);
    const at = rounds.length === 0 ? '' : ` (after steps ${rounds.map((s) => s + 1).join(', ')})`;
    const cut = rounds.length < options.rounds ? `; N_A = ${options.rounds}, the run ends first` : '';
    let warning: string | null = null;
    if (options.rounds > 0 && rounds.length === 0) {
      warning =
        `K1 (${first} steps) covers the whole run of ${run.totalSteps} steps: no allocation round runs and every module keeps ` +
        `r_init. Lower K1 (it can be given in steps) or train longer.`;
    }
    return {
      text:
        `Rounds of this run (${run.totalSteps} steps, ${run.stepsPerEpoch} per epoch): super-network training for ${first} steps (K1), ` +
        `then ${rounds.length} allocation round${rounds.length === 1 ? '' : 's'}${at}, every ${Math.max(1, spanSteps(options.roundEvery, run.stepsPerEpoch))} steps (K2)${cut}.`,
      warning,
    };
  },
});

export type AloraOptions = OptionsOf<typeof ALORA_OPTIONS>;

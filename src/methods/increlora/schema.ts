/**
 * IncreLoRA's catalog entry and option schema. Option keys are the official flags (run_glue.py / RankAllocator) in
 * camelCase; defaults are the official rank=8 RTE script's (NLU/scripts/rank=8/run_rte.sh), because run_glue.py's
 * own defaults do not run (target_rank 16 has no incre_rank_num, lora_alpha None). Presets: the rank=8 scripts.
 */
import { bool, int, multi, num, optionalInt, type OptionsOf } from '../../engine/options';
import { defineMethod, MODULE_CHOICES, type Preset } from '../entry';
import { growthStepCount } from './schedule';

const MODULE = 'Module';
const GROWTH = 'Growth';

export const INCRELORA_OPTIONS = [
  int('loraR', { urlKey: 'r', label: 'lora_r', help: 'Initial rank of every module (official scripts: 1).', group: MODULE, default: 1, min: 1, max: 64 }),
  num('loraAlpha', { urlKey: 'a', label: 'lora_alpha', help: 'ΔW is scaled by lora_alpha / (current rank + 1e-5) (0: lora_r).', group: MODULE, default: 32, min: 0, max: 1024, step: 1 }),
  multi('targetModules', { urlKey: 'tm', label: 'lora_module', help: 'The linears of every layer that get a growing adapter.', group: MODULE, choices: MODULE_CHOICES, default: ['query', 'key', 'value', 'attn_out', 'inter', 'out'], minCount: 1 }),
  num('regOrthCoef', { urlKey: 'orth', label: 'reg_orth_coef', help: 'Weight of the orthogonal regulariser ‖AAᵀ − I‖ + ‖BᵀB − I‖ (mean over matrices).', group: MODULE, default: 0.3, min: 0, max: 10, step: 0.05 }),
  int('targetRank', { urlKey: 'tr', label: 'target_rank', help: 'Average final rank per module; the total budget is target_rank × modules.', group: GROWTH, default: 8, min: 1, max: 256 }),
  optionalInt('targetTotalRank', { urlKey: 'ttr', label: 'target_total_rank', help: 'Total rank budget; overrides target_rank × modules.', group: GROWTH, default: null, min: 1, max: 100_000, nullLabel: 'target_rank × modules' }),
  int('initWarmup', { urlKey: 'iw', label: 'init_warmup', help: 'Steps before the first growth round (rounds at steps > init_warmup).', group: GROWTH, default: 100, min: 0, max: 10_000_000 }),
  int('increInterval', { urlKey: 'ii', label: 'incre_interval', help: 'A growth round at every step that is a multiple of this.', group: GROWTH, default: 100, min: 1, max: 10_000_000 }),
  int('topH', { urlKey: 'th', label: 'top_h', help: 'Modules that grow per round (the k-th best score is the threshold; ties all grow).', group: GROWTH, default: 9, min: 1, max: 10_000 }),
  optionalInt('increRankNum', { urlKey: 'irn', label: 'incre_rank_num', help: 'Rank added to a module per round; default from target_rank (2→1, 4→2, 6→3, 8→4).', group: GROWTH, default: null, min: 1, max: 64, nullLabel: 'from target_rank' }),
  bool('advanceLearn', { urlKey: 'al', label: 'advance_learn', help: 'Reserve components (E = 1e-5, frozen) train their A/B before they are added.', group: GROWTH, default: true }),
  bool('multiLr', { urlKey: 'ml', label: 'multi_lr', help: 'Every parameter group added while training restarts the warm-up and decays to the end.', group: GROWTH, default: true }),
  num('beta1', { urlKey: 'b1', label: 'beta1', help: 'EMA factor of the sensitivity Ī.', group: GROWTH, default: 0.85, min: 0.0001, max: 0.9999, step: 0.01 }),
  num('beta2', { urlKey: 'b2', label: 'beta2', help: 'EMA factor of the uncertainty Ū.', group: GROWTH, default: 0.85, min: 0.0001, max: 0.9999, step: 0.01 }),
] as const;

export type IncreLoraOptions = OptionsOf<typeof INCRELORA_OPTIONS>;

interface ScriptRow {
  id: string;
  label: string;
  lr: number;
  epochs: number;
  maxLength: number;
  weightDecay: number;
  topH: number;
  targetRank: number;
  interval: number;
  loraAlpha: number;
  regOrthCoef: number;
  metric: string;
}

// NLU/scripts/rank=8/run_<task>.sh (batch 32 everywhere; init_warmup = incre_interval = warmup_steps). STS-B's
// script in that folder sets target_rank=2; QQP's learning rate is its ${lr}=6e-4.
const RANK8_SCRIPTS: readonly ScriptRow[] = [
  { id: 'cola', label: 'CoLA', lr: 1e-3, epochs: 25, maxLength: 64, weightDecay: 0, topH: 3, targetRank: 8, interval: 100, loraAlpha: 32, regOrthCoef: 0.1, metric: 'matthews' },
  { id: 'sst2', label: 'SST-2', lr: 8e-4, epochs: 24, maxLength: 128, weightDecay: 0.01, topH: 6, targetRank: 8, interval: 1000, loraAlpha: 16, regOrthCoef: 0.1, metric: 'accuracy' },
  { id: 'mrpc', label: 'MRPC', lr: 1e-3, epochs: 30, maxLength: 320, weightDecay: 0.01, topH: 10, targetRank: 8, interval: 100, loraAlpha: 32, regOrthCoef: 0.1, metric: 'f1' },
  { id: 'qnli', label: 'QNLI', lr: 9e-4, epochs: 5, maxLength: 512, weightDecay: 0.01, topH: 22, targetRank: 8, interval: 500, loraAlpha: 32, regOrthCoef: 0.1, metric: 'accuracy' },
  { id: 'stsb', label: 'STS-B', lr: 2.2e-3, epochs: 25, maxLength: 128, weightDecay: 0.1, topH: 4, targetRank: 2, interval: 100, loraAlpha: 32, regOrthCoef: 0.3, metric: 'pearson' },
  { id: 'rte', label: 'RTE', lr: 1.2e-3, epochs: 50, maxLength: 320, weightDecay: 0.01, topH: 9, targetRank: 8, interval: 100, loraAlpha: 32, regOrthCoef: 0.3, metric: 'accuracy' },
  { id: 'mnli', label: 'MNLI', lr: 5e-4, epochs: 7, maxLength: 256, weightDecay: 0, topH: 18, targetRank: 8, interval: 1000, loraAlpha: 16, regOrthCoef: 0.1, metric: 'accuracy' },
  { id: 'qqp', label: 'QQP', lr: 6e-4, epochs: 7, maxLength: 320, weightDecay: 0.01, topH: 3, targetRank: 8, interval: 1000, loraAlpha: 16, regOrthCoef: 0.1, metric: 'accuracy' },
];

function scriptPresets(): Preset<typeof INCRELORA_OPTIONS>[] {
  return RANK8_SCRIPTS.map((row) => ({
    id: row.id,
    label: row.label,
    note:
      `IncreLoRA's NLU/scripts/rank=8/run_${row.id}.sh: lr ${row.lr} (one lr for adapter and head), ${row.epochs} epochs, batch 32, ` +
      `length ${row.maxLength}, top_h ${row.topH}, init_warmup = incre_interval = ${row.interval}. The script warms up for ${row.interval} ` +
      'steps; here the warm-up ratio stays the recipe\'s.',
    recipe: { adapterLr: row.lr, classifierLr: row.lr, epochs: row.epochs, batchSize: 32, maxLength: Math.min(row.maxLength, 512), weightDecay: row.weightDecay, classifierWeightDecay: row.weightDecay, maxGradNorm: 1 },
    options: { topH: row.topH, targetRank: row.targetRank, initWarmup: row.interval, increInterval: row.interval, loraAlpha: row.loraAlpha, regOrthCoef: row.regOrthCoef, loraR: 1 },
    metric: row.metric,
  }));
}

export const increloraEntry = defineMethod({
  id: 'increlora',
  label: 'IncreLoRA',
  // The official rank=8 scripts use 5e-4 .. 2.2e-3; MRPC's (and CoLA's) 1e-3.
  suggestedAdapterLr: RANK8_SCRIPTS.find((row) => row.id === 'mrpc')!.lr,
  blurb: 'Starts every module at rank 1 and grows the most important ones, round by round, up to a rank budget.',
  description:
    'Zhang et al. 2023, as the official code (FeiyuZhang98/IncreLoRA loralib + trainer) does it: rank-1 components ' +
    'B E A scaled by α / rank; a module score Σ|ΔW ⊙ ∂L/∂ΔW| / √(out·in) smoothed by Ī·Ū; every incre_interval steps ' +
    'the top_h modules grow; reserve components learn ahead ("advance learning"); new parameters restart the warm-up.',
  view: 'rank',
  options: INCRELORA_OPTIONS,
  presets: scriptPresets(),
  resolved(options, run) {
    const steps = growthStepCount(options, run.totalSteps);
    const budget = options.targetTotalRank === null ? `target_rank ${options.targetRank} × modules` : `target_total_rank ${options.targetTotalRank}`;
    const warning =
      steps === 0
        ? `No growth round falls in this run of ${run.totalSteps} steps (rounds come at steps after init_warmup ${options.initWarmup} that are ` +
          `multiples of incre_interval ${options.increInterval}): every module stays at lora_r = ${options.loraR}. The presets' intervals are ` +
          'for the full GLUE sets: lower init_warmup / incre_interval (they are steps), or train longer.'
        : null;
    return {
      text:
        `Growth of this run (${run.totalSteps} steps, ${run.stepsPerEpoch} per epoch): every module starts at lora_r = ${options.loraR}; ` +
        `${steps} step${steps === 1 ? '' : 's'} may hold a round (after step ${options.initWarmup}, every ${options.increInterval}), each growing ` +
        `the top_h = ${options.topH} modules, until the total reaches ${budget}.`,
      warning,
    };
  },
});

/**
 * AdaLoRA's catalog entry and option schema: PEFT's AdaLoraConfig fields (camelCase here, PEFT's names in the
 * labels and in the exported adapter_config.json) with PEFT's defaults (peft 0.21 tuners/adalora/config.py,
 * LoraConfig's lora_alpha 8; target modules: PEFT's BERT mapping, query + value). Presets: the paper's GLUE table
 * (Table 8). README.md says what the method does and where PEFT's code and the paper differ.
 */
import { int, multi, num, type OptionsOf } from '../../engine/options';
import { defineMethod, MODULE_CHOICES, type Preset } from '../entry';
import { summarizeBudget } from './schedule';

const SVD = 'SVD adapter';
const BUDGET = 'Rank budget';
const STEPS = { min: 0, max: 10_000_000 } as const;

export const ADALORA_OPTIONS = [
  int('initR', { urlKey: 'ri', label: 'init_r', help: 'Initial rank of every module (its singular triplets); PEFT default 12.', group: SVD, default: 12, min: 1, max: 256 }),
  int('targetR', { urlKey: 'rt', label: 'target_r', help: 'Average rank per module at the end: the final budget is target_r × modules. Below init_r.', group: SVD, default: 8, min: 1, max: 256 }),
  num('loraAlpha', { urlKey: 'a', label: 'lora_alpha', help: 'Output scale α / r (r = init_r: PEFT divides by the initial rank for the whole run).', group: SVD, default: 8, min: 0, max: 1024, step: 1 }),
  multi('targetModules', { urlKey: 'tm', label: 'target_modules', help: 'The linears of every layer that get an SVD adapter.', group: SVD, choices: MODULE_CHOICES, default: ['query', 'value'], minCount: 1 }),
  num('orthRegWeight', { urlKey: 'orth', label: 'orth_reg_weight', help: 'Weight of the orthogonal regulariser mean ‖PᵀP − I‖_F over A and B (not squared, as PEFT).', group: SVD, default: 0.5, min: 0, max: 100, step: 0.05 }),
  int('tinit', { urlKey: 'tinit', label: 'tinit (steps)', help: 'Steps at the full budget before any triplet is masked.', group: BUDGET, default: 0, ...STEPS }),
  int('tfinal', { urlKey: 'tfinal', label: 'tfinal (steps)', help: 'Final steps with the rank pattern fixed (tinit < total steps − tfinal).', group: BUDGET, default: 0, ...STEPS }),
  int('deltaT', { urlKey: 'dt', label: 'deltaT', help: 'Steps between two budget allocations (masking rounds).', group: BUDGET, default: 1, min: 1, max: 100_000 }),
  num('beta1', { urlKey: 'b1', label: 'beta1', help: 'EMA factor of the sensitivity Ī.', group: BUDGET, default: 0.85, min: 0.0001, max: 0.9999, step: 0.01 }),
  num('beta2', { urlKey: 'b2', label: 'beta2', help: 'EMA factor of the uncertainty Ū.', group: BUDGET, default: 0.85, min: 0.0001, max: 0.9999, step: 0.01 }),
] as const;

interface Table8Row {
  id: string;
  label: string;
  lr: number;
  epochs: number;
  /** γ, the orthogonal regulariser's weight. */
  orth: number;
  tinit: number;
  deltaT: number;
  tfinal: number;
  /** Not in Table 8: the official script's max_seq_length and weight_decay (NLU/scripts/run_debertav3_<task>.sh). */
  maxLength: number;
  weightDecay: number;
  metric: string;
  /** Where the official script differs from the table (we follow the table). */
  script?: string;
}

// AdaLoRA paper (Zhang et al., ICLR 2023, arXiv 2303.10512 v2), Appendix C.2, Table 8 "Hyper-parameter setup of
// AdaLoRA for GLUE benchmark" (DeBERTaV3-base; batch 32 for every task).
const TABLE8: readonly Table8Row[] = [
  { id: 'mnli', label: 'MNLI', lr: 5e-4, epochs: 7, orth: 0.1, tinit: 8000, deltaT: 100, tfinal: 50000, maxLength: 256, weightDecay: 0, metric: 'accuracy' },
  { id: 'rte', label: 'RTE', lr: 1.2e-3, epochs: 50, orth: 0.3, tinit: 600, deltaT: 1, tfinal: 1800, maxLength: 320, weightDecay: 0.01, metric: 'accuracy' },
  { id: 'qnli', label: 'QNLI', lr: 1.2e-3, epochs: 5, orth: 0.1, tinit: 2000, deltaT: 100, tfinal: 8000, maxLength: 512, weightDecay: 0.01, metric: 'accuracy', script: 'lr 5e-4' },
  { id: 'mrpc', label: 'MRPC', lr: 1e-3, epochs: 30, orth: 0.1, tinit: 600, deltaT: 1, tfinal: 1800, maxLength: 320, weightDecay: 0.01, metric: 'f1' },
  { id: 'qqp', label: 'QQP', lr: 5e-4, epochs: 5, orth: 0.1, tinit: 8000, deltaT: 100, tfinal: 25000, maxLength: 320, weightDecay: 0.01, metric: 'accuracy', script: 'lr 8e-4' },
  { id: 'sst2', label: 'SST-2', lr: 8e-4, epochs: 24, orth: 0.1, tinit: 6000, deltaT: 100, tfinal: 22000, maxLength: 128, weightDecay: 0.01, metric: 'accuracy' },
  { id: 'cola', label: 'CoLA', lr: 5e-4, epochs: 25, orth: 0.5, tinit: 800, deltaT: 10, tfinal: 3500, maxLength: 64, weightDecay: 0, metric: 'matthews', script: 'lr 8e-4, γ 0.1' },
  { id: 'stsb', label: 'STS-B', lr: 2.2e-3, epochs: 25, orth: 0.1, tinit: 800, deltaT: 10, tfinal: 2000, maxLength: 128, weightDecay: 0.1, metric: 'pearson', script: 'γ 0.3' },
];

/**
 * One preset per GLUE task: Table 8's learning rate (adapter and head alike, as the official run_glue.py trains
 * both), epochs, batch 32, γ, t_i, ΔT, t_f; the 1.2M budget of Table 7 / C.1 (init_r 12 -> average r 8); AdaLoRA on
 * all six linears (the paper's setup). t_i, ΔT, t_f are steps of the full GLUE training set: on fewer rows the
 * schedule may not fit (the settings warn: summarizeBudget; tinit < T − tfinal is checked at Train).
 */
function table8Presets(): Preset<typeof ADALORA_OPTIONS>[] {
  return TABLE8.map((row) => ({
    id: row.id,
    label: row.label,
    note:
      `AdaLoRA paper Table 8: lr ${row.lr}, batch 32, ${row.epochs} epochs, γ ${row.orth}, t_i ${row.tinit}, ΔT ${row.deltaT}, t_f ${row.tfinal} ` +
      `(steps of the full ${row.label} training set); budget init_r 12 -> target_r 8 (Table 7, 1.2M); length ${row.maxLength} and weight decay ` +
      `${row.weightDecay} from the official script${row.script ? ` (which differs from the table: ${row.script})` : ''}; transformers' AdamW, grad norm 1.`,
    // The official runs' transformers 4.4.2 Trainer: its AdamW (adamw_hf) and max_grad_norm 1.
    recipe: { adapterLr: row.lr, classifierLr: row.lr, epochs: row.epochs, batchSize: 32, maxLength: row.maxLength, weightDecay: row.weightDecay, classifierWeightDecay: row.weightDecay, maxGradNorm: 1, optimizer: 'adamw_hf' },
    options: {
      initR: 12,
      targetR: 8,
      targetModules: ['query', 'key', 'value', 'attn_out', 'inter', 'out'],
      orthRegWeight: row.orth,
      tinit: row.tinit,
      deltaT: row.deltaT,
      tfinal: row.tfinal,
    },
    metric: row.metric,
  }));
}

export const adaloraEntry = defineMethod({
  id: 'adalora',
  label: 'AdaLoRA',
  // AdaLoRA paper Table 8: 5e-4 .. 2.2e-3 over the GLUE tasks; MRPC's 1e-3, mid-range.
  suggestedAdapterLr: TABLE8.find((row) => row.id === 'mrpc')!.lr,
  blurb: 'SVD-form adapters whose least important singular triplets are masked on a cubic budget.',
  description:
    'Zhang et al. 2023 (ICLR), as huggingface/peft implements it: ΔW = B (A ⊙ E) · α / r per module; after every ' +
    'step the importance |p · ∇p| is smoothed (β1) and its uncertainty tracked (β2); every ΔT steps the triplets ' +
    'with the lowest score s(E_i) + mean s(A_i,·) + mean s(B_·,i) are masked until the total rank meets a budget that ' +
    'falls cubically from init_r to target_r per module between t_init and T − t_final; then the pattern is fixed.',
  view: 'rank',
  options: ADALORA_OPTIONS,
  presets: table8Presets(),
  resolved(options, run) {
    const s = summarizeBudget(options, run.totalSteps);
    return {
      text:
        `Budget of this run (${run.totalSteps} steps, ${run.stepsPerEpoch} per epoch): every module keeps init_r = ${options.initR} ` +
        `until step ${options.tinit} (tinit); the total falls cubically to target_r = ${options.targetR} per module by step ` +
        `${s.finalStep} (T − tfinal) in ${s.rounds} allocation${s.rounds === 1 ? '' : 's'} (every ${options.deltaT} steps); then the rank pattern is fixed.`,
      warning: s.warning,
    };
  },
});

export type AdaloraOptions = OptionsOf<typeof ADALORA_OPTIONS>;

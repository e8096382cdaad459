/**
 * AdaLoRA's catalog entry and option schema: PEFT's AdaLoraConfig fields (camelCase here, PEFT's names in the
 * labels and in the exported adapter_config.json) with PEFT's defaults (peft 0.21 tuners/adalora/config.py,
 * LoraConfig's lora_alpha 8; target modules: PEFT's BERT mapping, query + value). README.md says what the
 * method does and where PEFT's code and the paper differ.
 */
import { int, multi, num, type OptionsOf } from '../../engine/options';
import { defineMethod, MODULE_CHOICES } from '../entry';

const SVD = 'SVD adapter';
const BUDGET = 'Rank budget';
const STEPS = { min: 0, max: 10_000_000 } as const;

export const adaloraEntry = defineMethod({
  id: 'adalora',
  label: 'AdaLoRA',
  blurb: 'SVD-form adapters whose least important singular triplets are masked on a cubic budget.',
  description:
    'Zhang et al. 2023 (ICLR), as huggingface/peft implements it: ΔW = B (A ⊙ E) · α / r per module; after every ' +
    'step the importance |p · ∇p| is smoothed (β1) and its uncertainty tracked (β2); every ΔT steps the triplets ' +
    'with the lowest score s(E_i) + mean s(A_i,·) + mean s(B_·,i) are masked until the total rank meets a budget that ' +
    'falls cubically from init_r to target_r per module between t_init and T − t_final; then the pattern is fixed.',
  view: 'rank',
  options: [
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
  ],
});

export type AdaloraOptions = OptionsOf<typeof adaloraEntry.options>;

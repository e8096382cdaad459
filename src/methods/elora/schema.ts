/** ELoRA's catalog entry and option schema. */
import { int, multi, type OptionsOf } from '../../engine/options';
import { defineMethod, MODULE_CHOICES } from '../entry';

export const eloraEntry = defineMethod({
  id: 'elora',
  label: 'ELoRA / VeRA',
  // VeRA paper (Kopiczko et al., ICLR 2024) Table 8, RoBERTa-base: VeRA learning rate 4e-3 on most GLUE tasks (1e-2 on CoLA).
  suggestedAdapterLr: 4e-3,
  blurb: 'Frozen random A/B, only the scaling vectors train.',
  description: 'Kopiczko et al. 2024, as the AFLoRA code runs it: frozen random low-rank matrices (Kaiming uniform, a = 0) on every linear; only the vectors Λd (init 0.1) and Λb (init 0) train.',
  options: [
    int('rank', { urlKey: 'r', label: 'Rank', help: 'Rank of the frozen random A/B (capped at 4 x hidden size).', group: 'ELoRA', default: 1024, min: 1, max: 4096 }),
    multi('targetModules', { urlKey: 'tm', label: 'Target modules', help: 'The linears of every layer that get the frozen pair (the AFLoRA paper: all six).', group: 'ELoRA', choices: MODULE_CHOICES, default: ['query', 'key', 'value', 'attn_out', 'inter', 'out'], minCount: 1 }),
  ],
});

export type EloraOptions = OptionsOf<typeof eloraEntry.options>;

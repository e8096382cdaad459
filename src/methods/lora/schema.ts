/** LoRA's catalog entry and option schema (PEFT semantics, defaults of the AFLoRA paper's LoRA baseline: r = 8 on all six linears). */
import { int, multi, num, type OptionsOf } from '../../engine/options';
import { defineMethod, MODULE_CHOICES } from '../entry';

export const loraEntry = defineMethod({
  id: 'lora',
  label: 'LoRA',
  // LoRA paper (Hu et al. 2021) Table 9, RoBERTa-base: 5e-4 (MNLI, SST-2, QQP, RTE), 4e-4 (MRPC, CoLA, QNLI, STS-B).
  suggestedAdapterLr: 5e-4,
  blurb: 'Classic LoRA: all A/B matrices train for the whole run.',
  description: 'Hu et al. 2021, as huggingface/peft implements it: y = W0 x + (α / r) B A x; A Kaiming-uniform, B = 0.',
  options: [
    int('r', { urlKey: 'r', label: 'Rank r', help: 'Rank of every adapter.', group: 'LoRA', default: 8, min: 1, max: 256 }),
    num('alpha', { urlKey: 'a', label: 'α', help: 'Scaling α / r of the adapter output.', group: 'LoRA', default: 16, min: 0, max: 1024, step: 1 }),
    // All six: the AFLoRA paper's LoRA baseline (r = 8 on every linear: its 1.33M on DeBERTaV3-base); PEFT's own
    // BERT default is query + value.
    multi('targetModules', { urlKey: 'tm', label: 'Target modules', help: 'The linears of every layer that get an adapter (the AFLoRA paper\'s LoRA baseline: all six; PEFT\'s BERT default: query, value).', group: 'LoRA', choices: MODULE_CHOICES, default: ['query', 'key', 'value', 'attn_out', 'inter', 'out'], minCount: 1 }),
    num('loraDropout', { urlKey: 'drop', label: 'Dropout', help: "Dropout on the adapter's input while training (PEFT's lora_dropout).", group: 'LoRA', default: 0, min: 0, max: 0.9, step: 0.05 }),
  ],
});

export type LoraOptions = OptionsOf<typeof loraEntry.options>;

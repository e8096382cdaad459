/**
 * Checkpoints offered in the model picker, per family (engine/families.ts). Sizes are the weights file as
 * downloaded, rounded (float32, except the deberta-v3 repos' float16 pytorch_model.bin); licences as their model
 * cards state them. DeBERTa-v3's parameters are mostly its 128k-token embedding table (backbone in the note).
 */
import type { FamilyId } from '../engine/families';

export interface ModelPreset {
  repo: string;
  family: FamilyId;
  label: string;
  layers: number;
  hidden: number;
  heads: number;
  /** Approximate parameter count (millions). */
  paramsM: number;
  /** Approximate download size of the weights file (MB). */
  downloadMB: number;
  /** SPDX id from the model card. */
  licence: string;
  note?: string;
}

export const MODEL_PRESETS: readonly ModelPreset[] = [
  { repo: 'google/bert_uncased_L-2_H-128_A-2', family: 'bert', label: 'BERT tiny (L2 H128)', layers: 2, hidden: 128, heads: 2, paramsM: 4.4, licence: 'Apache-2.0', downloadMB: 18 },
  { repo: 'google/bert_uncased_L-4_H-256_A-4', family: 'bert', label: 'BERT mini (L4 H256)', layers: 4, hidden: 256, heads: 4, paramsM: 11.2, licence: 'Apache-2.0', downloadMB: 45 },
  { repo: 'google/bert_uncased_L-4_H-512_A-8', family: 'bert', label: 'BERT small (L4 H512)', layers: 4, hidden: 512, heads: 8, paramsM: 28.8, licence: 'Apache-2.0', downloadMB: 116 },
  { repo: 'google/bert_uncased_L-8_H-512_A-8', family: 'bert', label: 'BERT medium (L8 H512)', layers: 8, hidden: 512, heads: 8, paramsM: 41.4, licence: 'Apache-2.0', downloadMB: 166 },
  { repo: 'prajjwal1/bert-tiny', family: 'bert', label: 'prajjwal1 bert-tiny (L2 H128)', layers: 2, hidden: 128, heads: 2, paramsM: 4.4, licence: 'MIT', downloadMB: 18 },
  { repo: 'prajjwal1/bert-mini', family: 'bert', label: 'prajjwal1 bert-mini (L4 H256)', layers: 4, hidden: 256, heads: 4, paramsM: 11.2, licence: 'MIT', downloadMB: 45 },
  { repo: 'prajjwal1/bert-small', family: 'bert', label: 'prajjwal1 bert-small (L4 H512)', layers: 4, hidden: 512, heads: 8, paramsM: 28.8, licence: 'MIT', downloadMB: 116 },
  {
    repo: 'bert-base-uncased',
    family: 'bert',
    label: 'BERT base uncased (L12 H768)',
    layers: 12,
    hidden: 768,
    heads: 12,
    paramsM: 110,
    downloadMB: 440,
    licence: 'Apache-2.0',
    note: 'Large: slow to download and to train in a browser; needs a GPU with several GB free.',
  },
  { repo: 'google/electra-small-discriminator', family: 'electra', label: 'ELECTRA small discriminator (L12 H256, E128)', layers: 12, hidden: 256, heads: 4, paramsM: 13.5, licence: 'Apache-2.0', downloadMB: 54 },
  { repo: 'distilbert/distilbert-base-uncased', family: 'distilbert', label: 'DistilBERT base uncased (L6 H768)', layers: 6, hidden: 768, heads: 12, paramsM: 66, licence: 'Apache-2.0', downloadMB: 268, note: 'Large: needs a GPU with a few GB free.' },
  { repo: 'distilbert/distilroberta-base', family: 'roberta', label: 'DistilRoBERTa base (L6 H768)', layers: 6, hidden: 768, heads: 12, paramsM: 82, licence: 'Apache-2.0', downloadMB: 331, note: 'Large: needs a GPU with a few GB free.' },
  { repo: 'FacebookAI/roberta-base', family: 'roberta', label: 'RoBERTa base (L12 H768)', layers: 12, hidden: 768, heads: 12, paramsM: 125, licence: 'MIT', downloadMB: 499, note: 'Large: slow to download and to train in a browser; needs a GPU with several GB free.' },
  { repo: 'microsoft/deberta-v3-xsmall', family: 'deberta-v2', label: 'DeBERTa-v3 xsmall (L12 H384)', layers: 12, hidden: 384, heads: 6, paramsM: 71, licence: 'MIT', downloadMB: 142, note: '22M backbone + 49M embedding parameters.' },
  { repo: 'microsoft/deberta-v3-small', family: 'deberta-v2', label: 'DeBERTa-v3 small (L6 H768)', layers: 6, hidden: 768, heads: 12, paramsM: 142, licence: 'MIT', downloadMB: 286, note: '44M backbone + 98M embedding parameters; needs a GPU with a few GB free.' },
  { repo: 'microsoft/deberta-v3-base', family: 'deberta-v2', label: 'DeBERTa-v3 base (L12 H768), the AFLoRA paper\'s model', layers: 12, hidden: 768, heads: 12, paramsM: 184, licence: 'MIT', downloadMB: 371, note: '86M backbone + 98M embedding parameters. Large: slow to train in a browser; needs a GPU with several GB free.' },
  { repo: 'google/electra-base-discriminator', family: 'electra', label: 'ELECTRA base discriminator (L12 H768)', layers: 12, hidden: 768, heads: 12, paramsM: 110, licence: 'Apache-2.0', downloadMB: 440, note: 'Large: slow to download and to train in a browser; needs a GPU with several GB free.' },
];

/** BERT checkpoints offered in the model picker. Sizes are float32 weights, rounded (what gets downloaded). */

export interface ModelPreset {
  repo: string;
  label: string;
  layers: number;
  hidden: number;
  heads: number;
  /** Approximate parameter count (millions). */
  paramsM: number;
  /** Approximate download size of the weights file (MB). */
  downloadMB: number;
  note?: string;
}

export const MODEL_PRESETS: readonly ModelPreset[] = [
  { repo: 'google/bert_uncased_L-2_H-128_A-2', label: 'BERT tiny (L2 H128)', layers: 2, hidden: 128, heads: 2, paramsM: 4.4, downloadMB: 18 },
  { repo: 'google/bert_uncased_L-4_H-256_A-4', label: 'BERT mini (L4 H256)', layers: 4, hidden: 256, heads: 4, paramsM: 11.2, downloadMB: 45 },
  { repo: 'google/bert_uncased_L-4_H-512_A-8', label: 'BERT small (L4 H512)', layers: 4, hidden: 512, heads: 8, paramsM: 28.8, downloadMB: 116 },
  { repo: 'google/bert_uncased_L-8_H-512_A-8', label: 'BERT medium (L8 H512)', layers: 8, hidden: 512, heads: 8, paramsM: 41.4, downloadMB: 166 },
  { repo: 'prajjwal1/bert-tiny', label: 'prajjwal1 bert-tiny (L2 H128)', layers: 2, hidden: 128, heads: 2, paramsM: 4.4, downloadMB: 18 },
  { repo: 'prajjwal1/bert-mini', label: 'prajjwal1 bert-mini (L4 H256)', layers: 4, hidden: 256, heads: 4, paramsM: 11.2, downloadMB: 45 },
  { repo: 'prajjwal1/bert-small', label: 'prajjwal1 bert-small (L4 H512)', layers: 4, hidden: 512, heads: 8, paramsM: 28.8, downloadMB: 116 },
  {
    repo: 'bert-base-uncased',
    label: 'BERT base uncased (L12 H768)',
    layers: 12,
    hidden: 768,
    heads: 12,
    paramsM: 110,
    downloadMB: 440,
    note: 'Large: slow to download and to train in a browser; needs a GPU with several GB free.',
  },
];

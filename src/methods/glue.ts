/** GLUE presets from the AFLoRA paper's Table 5 (learning rates, epochs; batch 64, length 256), per task. */
import type { OptionSchema, OptionsOf } from '../engine/options';
import type { Preset } from './entry';


interface Table5Row {
  id: string;
  label: string;
  adapterLr: number;
  classifierLr: number;
  epochs: number;
  metric: string;
  note?: string;
}

const TABLE5: readonly Table5Row[] = [
  { id: 'cola', label: 'CoLA', adapterLr: 1e-2, classifierLr: 4e-2, epochs: 20, metric: 'matthews' },
  { id: 'sst2', label: 'SST-2', adapterLr: 4e-3, classifierLr: 4e-3, epochs: 10, metric: 'accuracy' },
  { id: 'mrpc', label: 'MRPC', adapterLr: 1e-2, classifierLr: 8e-2, epochs: 20, metric: 'f1' },
  { id: 'qnli', label: 'QNLI', adapterLr: 1e-3, classifierLr: 4e-3, epochs: 10, metric: 'accuracy' },
  { id: 'stsb', label: 'STS-B', adapterLr: 2e-2, classifierLr: 2e-2, epochs: 20, metric: 'pearson', note: 'Adapter LR from the reference code (paper text: 2e-3).' },
  { id: 'rte', label: 'RTE', adapterLr: 1e-2, classifierLr: 4e-2, epochs: 20, metric: 'accuracy', note: 'Adapter LR from the reference code (paper text: 1e-3).' },
  { id: 'mnli', label: 'MNLI', adapterLr: 1e-3, classifierLr: 4e-3, epochs: 10, metric: 'accuracy' },
  { id: 'qqp', label: 'QQP', adapterLr: 4e-3, classifierLr: 4e-3, epochs: 10, metric: 'accuracy' },
];

/** One preset per task: Table 5's recipe, plus `options` of the method that uses them (AFLoRA: t_i, t_f). */
export function table5Presets<S extends OptionSchema>(options?: Partial<OptionsOf<S>>): Preset<S>[] {
  return TABLE5.map((row) => ({
    id: row.id,
    label: row.label,
    note: `AFLoRA paper Table 5: adapter LR ${row.adapterLr}, classifier LR ${row.classifierLr}, ${row.epochs} epochs, batch 64, length 256, transformers' AdamW (adamw_hf, as the official runs).${row.note ? ' ' + row.note : ''}`,
    recipe: {
      adapterLr: row.adapterLr,
      classifierLr: row.classifierLr,
      epochs: row.epochs,
      batchSize: 64,
      maxLength: 256,
      weightDecay: 0.1,
      warmupRatio: 0.06,
      maxGradNorm: 0.1,
      // The official runs: transformers 4.31's Trainer with its default optim.
      optimizer: 'adamw_hf',
    },
    options,
    metric: row.metric,
  }));
}

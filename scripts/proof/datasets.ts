/** A sample dataset of public/datasets (index.json) read and prepared the way the app does, for the proof scripts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareDataset, type PreparedDataset } from '../../src/io/datasets';

export interface DatasetEntry {
  id: string;
  textColumns: string[];
  labelColumn: string;
  files: { train: string; validation: string };
}

export function loadDataset(
  datasetsDir: string,
  id: string,
): { entry: DatasetEntry; prepared: PreparedDataset } {
  const index = JSON.parse(readFileSync(join(datasetsDir, 'index.json'), 'utf8')) as {
    datasets: DatasetEntry[];
  };
  const entry = index.datasets.find((d) => d.id === id);
  if (!entry) throw new Error(`unknown dataset ${id} (known: ${index.datasets.map((d) => d.id).join(', ')})`);
  const read = (file: string) => ({ name: file, text: readFileSync(join(datasetsDir, file), 'utf8') });
  const prepared = prepareDataset(read(entry.files.train), {
    validation: read(entry.files.validation),
    mapping: { text: entry.textColumns[0], textPair: entry.textColumns[1] ?? null, label: entry.labelColumn },
    task: 'classification',
  });
  if (prepared.errors.length > 0)
    throw new Error(`${id}: ${prepared.errors.map((e) => e.message).join('; ')}`);
  return { entry, prepared };
}

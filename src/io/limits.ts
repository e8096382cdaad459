import { LimitError } from '../engine/errors';
import type { BertConfig } from '../engine/types';

/**
 * Every limit the io layer checks before it allocates, in one table: the parsers read them from here and
 * docs/security.md's table is generated from it (`npm run limits:doc`; tests/io/limits.test.ts fails when the
 * doc is stale). Sized for the models and datasets a browser tab can fine-tune, with room to spare.
 */

export interface Limit {
  value: number;
  unit: 'count' | 'bytes' | 'chars' | 'levels';
  /** What is limited, as a phrase ("tensors in a weights file"). */
  what: string;
  /** What to do when it is exceeded. */
  hint: string;
}

const MB = 2 ** 20;
const SMALLER_MODEL = 'Pick a smaller model (this app fine-tunes BERT-base size and below).';
const SAMPLE_DATA = 'Sample the data down first (a browser tab trains on thousands of rows, not millions).';

export const LIMITS = {
  downloadBytes: { value: 1024 * MB, unit: 'bytes', what: 'one downloaded model file', hint: SMALLER_MODEL },
  weightsBytes: { value: 1024 * MB, unit: 'bytes', what: 'the tensor data of a weights file', hint: SMALLER_MODEL },
  tensorCount: { value: 4096, unit: 'count', what: 'tensors in a weights file', hint: SMALLER_MODEL },
  tensorDims: { value: 8, unit: 'count', what: 'dimensions of one tensor', hint: 'This is not a transformer checkpoint: use the files that came with the model.' },
  tensorElements: { value: 256 * MB, unit: 'count', what: 'elements of one tensor', hint: SMALLER_MODEL },
  safetensorsHeaderBytes: { value: 16 * MB, unit: 'bytes', what: 'a safetensors JSON header', hint: 'This is not a safetensors file from transformers: use the one that came with the model.' },
  jsonDepth: { value: 64, unit: 'levels', what: 'nesting of a JSON file', hint: 'Use the JSON file that came with the model; hand-edited files may be broken.' },
  zipEntries: { value: 8192, unit: 'count', what: 'entries in a zip archive', hint: 'Use the file as torch.save or this app wrote it.' },
  zipEntryBytes: { value: 1024 * MB, unit: 'bytes', what: 'one zip entry, uncompressed', hint: SMALLER_MODEL },
  zipCompressionRatio: { value: 1000, unit: 'count', what: 'the compression ratio of a zip entry', hint: 'The archive looks like a zip bomb: use the file as it was saved.' },
  pickleBytes: { value: 64 * MB, unit: 'bytes', what: 'data.pkl of a pytorch_model.bin', hint: 'This is not a plain state dict: save one with torch.save(model.state_dict()).' },
  pickleOps: { value: 4_000_000, unit: 'count', what: 'pickle opcodes in data.pkl', hint: 'This is not a plain state dict: save one with torch.save(model.state_dict()).' },
  layerCount: { value: 48, unit: 'count', what: 'num_hidden_layers', hint: SMALLER_MODEL },
  hiddenSize: { value: 4096, unit: 'count', what: 'hidden_size', hint: SMALLER_MODEL },
  intermediateSize: { value: 16384, unit: 'count', what: 'intermediate_size', hint: SMALLER_MODEL },
  attentionHeads: { value: 64, unit: 'count', what: 'num_attention_heads', hint: SMALLER_MODEL },
  vocabSize: { value: 500_000, unit: 'count', what: 'vocab_size (and tokenizer vocabulary)', hint: SMALLER_MODEL },
  maxPositions: { value: 8192, unit: 'count', what: 'max_position_embeddings', hint: SMALLER_MODEL },
  typeVocabSize: { value: 16, unit: 'count', what: 'type_vocab_size', hint: SMALLER_MODEL },
  labelCount: { value: 1000, unit: 'count', what: 'classes (num_labels of config.json, label values of a dataset)', hint: 'Merge rare classes first.' },
  tokenizerBytes: { value: 64 * MB, unit: 'bytes', what: 'tokenizer.json / vocab.txt', hint: 'Use the tokenizer files that came with the model.' },
  tokenizerDepth: { value: 16, unit: 'levels', what: 'nesting of tokenizer.json normalizers', hint: 'Use the tokenizer.json that came with the model.' },
  wordChars: { value: 200, unit: 'chars', what: 'max_input_chars_per_word (longer words become [UNK])', hint: 'Longer words become [UNK], as in BERT.' },
  datasetBytes: { value: 50 * MB, unit: 'bytes', what: 'one dataset file', hint: SAMPLE_DATA },
  datasetRows: { value: 200_000, unit: 'count', what: 'rows of one dataset file', hint: SAMPLE_DATA },
  datasetColumns: { value: 512, unit: 'count', what: 'columns of one dataset file', hint: 'Keep the text and label columns (a dataset has a handful).' },
  datasetFieldChars: { value: 100_000, unit: 'chars', what: 'one field of a dataset row (BERT reads the first 512 tokens)', hint: 'Cut long texts down first: the model sees only their start.' },
  checkpointBytes: {
    value: 256 * MB,
    unit: 'bytes',
    what: "a running run's checkpoint for resume after a reload (trained values and AdamW moments)",
    hint: 'Keep this tab open until the run ends: a reload loses it. An adapter method (LoRA, AFLoRA) checkpoints in a few MB.',
  },
  adapterBytes: { value: 600 * MB, unit: 'bytes', what: 'an imported adapter (files or zip)', hint: 'Pick the adapter files this app or PEFT wrote.' },
} as const satisfies Record<string, Limit>;

export type LimitName = keyof typeof LIMITS;

/** Throws the typed LimitError when `actual` is over the named limit (or not a number at all). */
export function checkLimit(name: LimitName, actual: number, file?: string): void {
  const limit: Limit = LIMITS[name];
  if (!(actual <= limit.value)) throw new LimitError(limit.what, formatLimit(limit.unit, actual), formatLimit(limit.unit, limit.value), limit.hint, file);
}

export function formatLimit(unit: Limit['unit'], value: number): string {
  if (unit !== 'bytes' || !Number.isFinite(value)) return Number.isFinite(value) ? value.toLocaleString('en-US') : String(value);
  return value >= 2 ** 30 ? `${+(value / 2 ** 30).toFixed(1)} GB` : value >= MB ? `${+(value / MB).toFixed(1)} MB` : `${value.toLocaleString('en-US')} bytes`;
}

/** A parsed config.json against the limits: before any name list or buffer is sized by it. */
export function checkModelLimits(config: BertConfig, file = 'config.json'): void {
  checkLimit('layerCount', config.numLayers, file);
  checkLimit('hiddenSize', config.hiddenSize, file);
  checkLimit('intermediateSize', config.intermediateSize, file);
  checkLimit('attentionHeads', config.numHeads, file);
  checkLimit('vocabSize', config.vocabSize, file);
  checkLimit('maxPositions', config.maxPositions, file);
  checkLimit('typeVocabSize', config.typeVocabSize, file);
  checkLimit('labelCount', config.numLabels, file);
}

/** The limits as the Markdown table of docs/security.md (written by `npm run limits:doc`). */
export function limitsTable(): string {
  const rows = Object.entries(LIMITS).map(([name, l]: [string, Limit]) => `| \`${name}\` | ${l.what} | ${formatLimit(l.unit, l.value)}${l.unit === 'chars' || l.unit === 'levels' ? ` ${l.unit}` : ''} |`);
  return ['| limit | what | at most |', '| --- | --- | --- |', ...rows].join('\n');
}

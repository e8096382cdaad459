/**
 * Every training knob of the playground, described once (FIELDS) so that the settings form, the
 * URL query (a setup is a shareable link) and the worker's `start` command all derive from it.
 * Defaults are the paper's (AFLoRA spec, /work/shared/docs/aflora-spec.md) except where a browser
 * run needs smaller numbers (batch, length, epochs), which the GLUE presets set back to Table 5.
 */
import type { MethodId, Recipe } from '../worker/protocol';

export const METHODS: { id: MethodId; label: string; blurb: string }[] = [
  { id: 'aflora', label: 'AFLoRA', blurb: 'Low-rank adapters whose A/B matrices freeze one by one as their scores settle.' },
  { id: 'lora', label: 'LoRA', blurb: 'Classic LoRA (r = 8): all A/B matrices train for the whole run.' },
  { id: 'elora', label: 'ELoRA / VeRA', blurb: 'Frozen random A/B, only the scaling vectors train.' },
  { id: 'pm-trainable', label: 'PM trainable', blurb: 'AFLoRA module without freezing (ablation).' },
  { id: 'pm-frozen', label: 'PM frozen', blurb: 'AFLoRA module with A/B frozen from step 0 (ablation).' },
  { id: 'full', label: 'Full fine-tuning', blurb: 'Every base weight trains (reference, slow).' },
];

export type Sensitivity = 'grad' | 'paramGrad' | 'gradOverParam';
export type AbScope = 'ffn' | 'attention' | 'both';
export type MetricName = 'accuracy' | 'f1' | 'matthews' | 'pearson';

export interface Settings {
  method: MethodId;
  // AFLoRA (and the PM ablations, which share the module)
  rank: number;
  deltaT: number;
  beta1: number;
  beta2: number;
  tiEpochs: number;
  tfFraction: number;
  sensitivity: Sensitivity;
  abScope: AbScope;
  freezeTogether: boolean;
  lambdaDInit: number;
  // LoRA / ELoRA
  loraRank: number;
  loraAlpha: number;
  eloraRank: number;
  // recipe
  epochs: number;
  batchSize: number;
  maxLength: number;
  adapterLr: number;
  classifierLr: number;
  weightDecay: number;
  warmupRatio: number;
  maxGradNorm: number;
  seed: number;
  logEvery: number;
  validationFraction: number;
  metric: MetricName;
}

type Group = 'aflora' | 'lora' | 'elora' | 'recipe';

interface BaseField {
  key: keyof Settings;
  /** Short name in the URL query. */
  query: string;
  label: string;
  help: string;
  group: Group;
}
export interface NumberField extends BaseField {
  kind: 'number' | 'int';
  min: number;
  max: number;
  step?: number;
}
export interface EnumField extends BaseField {
  kind: 'enum';
  options: { value: string; label: string }[];
}
export interface BoolField extends BaseField {
  kind: 'bool';
}
export type Field = NumberField | EnumField | BoolField;

export const DEFAULT_SETTINGS: Settings = {
  method: 'aflora',
  rank: 4,
  deltaT: 10,
  beta1: 0.85,
  beta2: 0.95,
  tiEpochs: 1,
  tfFraction: 0.7,
  sensitivity: 'grad',
  abScope: 'ffn',
  freezeTogether: false,
  lambdaDInit: 0.1,
  loraRank: 8,
  loraAlpha: 16,
  eloraRank: 1024,
  epochs: 10,
  batchSize: 32,
  maxLength: 128,
  adapterLr: 1e-2,
  classifierLr: 4e-2,
  weightDecay: 0.1,
  warmupRatio: 0.06,
  maxGradNorm: 0.1,
  seed: 42,
  logEvery: 5,
  validationFraction: 0.1,
  metric: 'accuracy',
};

export const FIELDS: Field[] = [
  { key: 'rank', query: 'r', label: 'Rank r', help: 'Rows of A / columns of B.', group: 'aflora', kind: 'int', min: 1, max: 64 },
  { key: 'deltaT', query: 'dt', label: 'Score window ΔT', help: 'Steps per sensitivity window and between masking rounds.', group: 'aflora', kind: 'int', min: 1, max: 1000 },
  { key: 'beta1', query: 'b1', label: 'β1 (smoothing)', help: 'EMA factor of the sensitivity Ī.', group: 'aflora', kind: 'number', min: 0, max: 0.9999, step: 0.01 },
  { key: 'beta2', query: 'b2', label: 'β2 (uncertainty)', help: 'EMA factor of the uncertainty Ū.', group: 'aflora', kind: 'number', min: 0, max: 0.9999, step: 0.01 },
  { key: 'tiEpochs', query: 'ti', label: 't_i (epochs)', help: 'Warm-up epochs before any matrix may freeze.', group: 'aflora', kind: 'number', min: 0, max: 100, step: 0.5 },
  { key: 'tfFraction', query: 'tf', label: 't_f (fraction)', help: 'Final fraction of training during which everything is frozen as soon as possible.', group: 'aflora', kind: 'number', min: 0, max: 0.99, step: 0.05 },
  {
    key: 'sensitivity', query: 'sens', label: 'Sensitivity', help: 'Per-element importance (paper Fig. 4).', group: 'aflora', kind: 'enum',
    options: [
      { value: 'grad', label: '|g| (default)' },
      { value: 'paramGrad', label: '|p·g|' },
      { value: 'gradOverParam', label: '|g / p|' },
    ],
  },
  {
    key: 'abScope', query: 'ab', label: 'Trainable A/B in', help: 'Where A/B train (paper Table 3); elsewhere they stay frozen random.', group: 'aflora', kind: 'enum',
    options: [
      { value: 'ffn', label: 'FFN (default)' },
      { value: 'attention', label: 'Attention' },
      { value: 'both', label: 'Attention + FFN' },
    ],
  },
  { key: 'freezeTogether', query: 'sim', label: 'Freeze A and B together', help: 'Paper Table 6 "simultaneously".', group: 'aflora', kind: 'bool' },
  { key: 'lambdaDInit', query: 'ld', label: 'Λd init', help: 'Initial value of the rank-side scaling vector.', group: 'aflora', kind: 'number', min: 0, max: 10, step: 0.01 },
  { key: 'loraRank', query: 'lr_r', label: 'LoRA rank', help: 'Rank of the LoRA baseline.', group: 'lora', kind: 'int', min: 1, max: 256 },
  { key: 'loraAlpha', query: 'lr_a', label: 'LoRA α', help: 'Scaling α / r.', group: 'lora', kind: 'number', min: 0, max: 1024, step: 1 },
  { key: 'eloraRank', query: 'el_r', label: 'ELoRA rank', help: 'Rank of the frozen random A/B.', group: 'elora', kind: 'int', min: 1, max: 4096 },
  { key: 'epochs', query: 'ep', label: 'Epochs', help: 'Passes over the training rows.', group: 'recipe', kind: 'int', min: 1, max: 200 },
  { key: 'batchSize', query: 'bs', label: 'Batch size', help: 'Rows per step (paper: 64).', group: 'recipe', kind: 'int', min: 1, max: 512 },
  { key: 'maxLength', query: 'len', label: 'Max length', help: 'Tokens per row after truncation (paper: 256).', group: 'recipe', kind: 'int', min: 8, max: 512 },
  { key: 'adapterLr', query: 'alr', label: 'Adapter LR', help: 'Peak learning rate of adapter parameters.', group: 'recipe', kind: 'number', min: 0, max: 1, step: 0.0001 },
  { key: 'classifierLr', query: 'clr', label: 'Classifier LR', help: 'Peak learning rate of the classification head.', group: 'recipe', kind: 'number', min: 0, max: 1, step: 0.0001 },
  { key: 'weightDecay', query: 'wd', label: 'Weight decay', help: 'AdamW decay (0 on biases).', group: 'recipe', kind: 'number', min: 0, max: 1, step: 0.01 },
  { key: 'warmupRatio', query: 'wu', label: 'Warm-up ratio', help: 'Linear warm-up share of the steps, then linear decay.', group: 'recipe', kind: 'number', min: 0, max: 0.5, step: 0.01 },
  { key: 'maxGradNorm', query: 'gn', label: 'Max grad norm', help: 'Global gradient clipping.', group: 'recipe', kind: 'number', min: 0, max: 100, step: 0.01 },
  { key: 'seed', query: 'seed', label: 'Seed', help: 'Initialisation and shuffling.', group: 'recipe', kind: 'int', min: 0, max: 2 ** 31 - 1 },
  { key: 'logEvery', query: 'log', label: 'Log every (steps)', help: 'Steps between reads of loss and lr from the GPU.', group: 'recipe', kind: 'int', min: 1, max: 1000 },
  { key: 'validationFraction', query: 'val', label: 'Validation split', help: 'Share of train rows held out when no validation file is given.', group: 'recipe', kind: 'number', min: 0, max: 0.5, step: 0.05 },
  {
    key: 'metric', query: 'metric', label: 'Primary metric', help: 'Charted validation metric.', group: 'recipe', kind: 'enum',
    options: [
      { value: 'accuracy', label: 'Accuracy' },
      { value: 'f1', label: 'F1' },
      { value: 'matthews', label: 'Matthews corr.' },
      { value: 'pearson', label: 'Pearson' },
    ],
  },
];

/** Which knob groups a method uses. */
export function groupsFor(method: MethodId): Group[] {
  switch (method) {
    case 'aflora':
      return ['aflora', 'recipe'];
    case 'pm-trainable':
    case 'pm-frozen':
      return ['recipe'];
    case 'lora':
      return ['lora', 'recipe'];
    case 'elora':
      return ['elora', 'recipe'];
    case 'full':
      return ['recipe'];
  }
}

/* -------------------------------------------------------------- GLUE presets (paper Table 5) */

export interface Preset {
  id: string;
  label: string;
  note: string;
  values: Partial<Settings>;
}

function glue(id: string, label: string, adapterLr: number, classifierLr: number, epochs: number, metric: MetricName, note = ''): Preset {
  return {
    id,
    label,
    note: `Paper Table 5: adapter LR ${adapterLr}, classifier LR ${classifierLr}, ${epochs} epochs, t_f 70 %, batch 64, length 256.${note ? ' ' + note : ''}`,
    values: {
      adapterLr, classifierLr, epochs, metric,
      tiEpochs: 1, tfFraction: 0.7, batchSize: 64, maxLength: 256, weightDecay: 0.1, warmupRatio: 0.06, maxGradNorm: 0.1,
    },
  };
}

export const PRESETS: Preset[] = [
  {
    id: 'quick',
    label: 'Playground (quick)',
    note: 'Small batch and length so a laptop GPU finishes in minutes.',
    values: {
      epochs: DEFAULT_SETTINGS.epochs, batchSize: DEFAULT_SETTINGS.batchSize, maxLength: DEFAULT_SETTINGS.maxLength,
      adapterLr: DEFAULT_SETTINGS.adapterLr, classifierLr: DEFAULT_SETTINGS.classifierLr, tiEpochs: 1, tfFraction: 0.7,
    },
  },
  glue('cola', 'CoLA', 1e-2, 4e-2, 20, 'matthews'),
  glue('sst2', 'SST-2', 4e-3, 4e-3, 10, 'accuracy'),
  glue('mrpc', 'MRPC', 1e-2, 8e-2, 20, 'f1'),
  glue('qnli', 'QNLI', 1e-3, 4e-3, 10, 'accuracy'),
  glue('stsb', 'STS-B', 2e-2, 2e-2, 20, 'pearson', 'Adapter LR from the reference code (paper text: 2e-3).'),
  glue('rte', 'RTE', 1e-2, 4e-2, 20, 'accuracy', 'Adapter LR from the reference code (paper text: 1e-3).'),
  glue('mnli', 'MNLI', 1e-3, 4e-3, 10, 'accuracy'),
  glue('qqp', 'QQP', 4e-3, 4e-3, 10, 'accuracy'),
];

export function applyPreset(settings: Settings, presetId: string): Settings {
  const preset = PRESETS.find((p) => p.id === presetId);
  return preset ? { ...settings, ...preset.values } : settings;
}

/* -------------------------------------------------------------- URL query round trip */

const METHOD_IDS = new Set<string>(METHODS.map((m) => m.id));

/** Parses one field's query value; undefined when it is malformed or out of range (then the default stays). */
export function parseField(field: Field, raw: string): Settings[keyof Settings] | undefined {
  switch (field.kind) {
    case 'int':
    case 'number': {
      if (raw.trim() === '') return undefined;
      const value = Number(raw);
      if (!Number.isFinite(value) || value < field.min || value > field.max) return undefined;
      if (field.kind === 'int' && !Number.isInteger(value)) return undefined;
      return value;
    }
    case 'enum':
      return field.options.some((o) => o.value === raw) ? (raw as Settings[keyof Settings]) : undefined;
    case 'bool':
      return raw === '1' ? true : raw === '0' ? false : undefined;
  }
}

function formatField(field: Field, value: Settings[keyof Settings]): string {
  if (field.kind === 'bool') return value ? '1' : '0';
  return String(value);
}

/** Only the values that differ from the defaults go into the link, so links stay short and readable. */
export function settingsToQuery(settings: Settings, extra: Record<string, string> = {}): URLSearchParams {
  const params = new URLSearchParams();
  if (settings.method !== DEFAULT_SETTINGS.method) params.set('method', settings.method);
  for (const field of FIELDS) {
    const value = settings[field.key];
    if (value !== DEFAULT_SETTINGS[field.key]) params.set(field.query, formatField(field, value));
  }
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

export function settingsFromQuery(params: URLSearchParams): Settings {
  const settings: Settings = { ...DEFAULT_SETTINGS };
  const method = params.get('method');
  if (method && METHOD_IDS.has(method)) settings.method = method as MethodId;
  for (const field of FIELDS) {
    const raw = params.get(field.query);
    if (raw === null) continue;
    const value = parseField(field, raw);
    if (value !== undefined) (settings as unknown as Record<string, unknown>)[field.key] = value;
  }
  return settings;
}

/* -------------------------------------------------------------- to the worker */

export function recipeOf(settings: Settings): Recipe {
  return {
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    maxLength: settings.maxLength,
    adapterLr: settings.adapterLr,
    classifierLr: settings.classifierLr,
    weightDecay: settings.weightDecay,
    classifierWeightDecay: settings.weightDecay,
    optimizer: 'adamw_torch',
    warmupRatio: settings.warmupRatio,
    maxGradNorm: settings.maxGradNorm,
    seed: settings.seed,
    logEvery: settings.logEvery,
  };
}

/** UI knobs in the method's own option vocabulary; merged over the registry's defaults by the worker. */
export function methodOptionsOf(settings: Settings): Record<string, unknown> {
  switch (settings.method) {
    case 'aflora':
      return {
        rank: settings.rank,
        deltaT: settings.deltaT,
        beta1: settings.beta1,
        beta2: settings.beta2,
        tiEpochs: settings.tiEpochs,
        tfFraction: settings.tfFraction,
        sensitivity: settings.sensitivity,
        trainableMatrices: settings.abScope,
        freezeTogether: settings.freezeTogether,
        lambdaDInit: settings.lambdaDInit,
      };
    case 'pm-trainable':
    case 'pm-frozen':
      return { rank: settings.rank, lambdaDInit: settings.lambdaDInit };
    case 'lora':
      return { r: settings.loraRank, alpha: settings.loraAlpha };
    case 'elora':
      return { rank: settings.eloraRank };
    case 'full':
      return {};
  }
}

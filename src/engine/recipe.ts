/**
 * The training recipe every method shares (the paper's Table 5 knobs), described once: its schema gives the
 * Trainer's type, the one default recipe, the limits the form and the run-config parser enforce. Defaults are a
 * browser run's (batch 32, length 128, 10 epochs); the GLUE presets in src/methods/glue.ts set Table 5's values.
 */
import { choice, choicesOf, defaultsOf, int, num, optionalInt, type OptionsOf } from './options';

const RUN = 'Run';
const OPTIMISATION = 'Optimisation';

export const RECIPE_SCHEMA = [
  int('epochs', { urlKey: 'ep', label: 'Epochs', help: 'Passes over the training rows.', group: RUN, default: 10, min: 1, max: 200 }),
  int('batchSize', { urlKey: 'bs', label: 'Batch size', help: 'Rows per step (paper: 64).', group: RUN, default: 32, min: 1, max: 512 }),
  int('maxLength', { urlKey: 'len', label: 'Max length', help: 'Tokens per row after truncation (paper: 256).', group: RUN, default: 128, min: 8, max: 512 }),
  int('seed', { urlKey: 'seed', label: 'Seed', help: 'Initialisation, shuffling and dropout.', group: RUN, default: 42, min: 0, max: 2 ** 31 - 1 }),
  int('logEvery', { urlKey: 'log', label: 'Log every (steps)', help: 'Steps between reads of loss and lr from the GPU.', group: RUN, default: 5, min: 1, max: 1000 }),
  optionalInt('evalEvery', {
    urlKey: 'ev',
    label: 'Evaluate every (steps)',
    help: 'Steps between validation passes, besides the one at each epoch end.',
    group: RUN,
    default: null,
    min: 1,
    max: 100_000,
    nullLabel: 'each epoch',
  }),
  num('adapterLr', { urlKey: 'alr', label: 'Adapter LR', help: 'Peak learning rate of the adapter (or, fully fine-tuned, base) parameters.', group: OPTIMISATION, default: 1e-2, min: 0, max: 1, step: 1e-4 }),
  num('classifierLr', { urlKey: 'clr', label: 'Classifier LR', help: 'Peak learning rate of the classification head.', group: OPTIMISATION, default: 4e-2, min: 0, max: 1, step: 1e-4 }),
  num('weightDecay', { urlKey: 'wd', label: 'Weight decay', help: 'Decoupled AdamW decay of adapter weights (none on biases and LayerNorm).', group: OPTIMISATION, default: 0.1, min: 0, max: 1, step: 0.01 }),
  num('classifierWeightDecay', { urlKey: 'cwd', label: 'Classifier weight decay', help: "Decay of classifier.weight (the reference's classifier_wd); its bias never decays.", group: OPTIMISATION, default: 0.1, min: 0, max: 1, step: 0.01 }),
  num('warmupRatio', { urlKey: 'wu', label: 'Warm-up ratio', help: 'Linear warm-up share of the steps, then linear decay to 0.', group: OPTIMISATION, default: 0.06, min: 0, max: 0.5, step: 0.01 }),
  num('maxGradNorm', { urlKey: 'gn', label: 'Max grad norm', help: 'Global gradient clipping (0: none).', group: OPTIMISATION, default: 0.1, min: 0, max: 100, step: 0.01 }),
  choice('optimizer', {
    urlKey: 'opt',
    label: 'Optimizer',
    help:
      'AdamW variant: adamw_torch is torch.optim.AdamW (eps after the bias-corrected sqrt, decay before the update); ' +
      "adamw_hf is transformers 4.31's own AdamW, the official AFLoRA runs' default (eps before the bias correction, " +
      'decay after the update): it differs while gradients are ~eps, e.g. early A/B gradients with Λb = 0.',
    group: OPTIMISATION,
    choices: choicesOf({ adamw_torch: 'AdamW (torch)', adamw_hf: 'AdamW (transformers, adamw_hf)' }),
    default: 'adamw_torch',
  }),
] as const;

/** A complete recipe, as a run config holds it. */
export type Recipe = OptionsOf<typeof RECIPE_SCHEMA>;

export const DEFAULT_RECIPE: Recipe = defaultsOf(RECIPE_SCHEMA);

/** What the Trainer takes: a recipe (but when to evaluate, which the worker decides), plus two knobs only tests and benchmarks turn. */
export interface TrainingRecipe extends Omit<Recipe, 'evalEvery'> {
  /** Shuffle the training set every epoch (seeded). Default true. */
  shuffle?: boolean;
  /** Overrides epochs * ceil(count / batchSize); batches then cycle through the data. */
  totalSteps?: number;
  /** How steps run (TrainerInit.execution). */
  execution?: Execution;
}

/**
 * How training steps run: 'replayed' (the fused kernels recorded once and replayed: engine/replay.ts; WebGPU
 * only, elsewhere it is 'plain'), 'engine' (the kernels, every op through TF.js) or 'plain' (TF.js composites, the
 * reference path). Not part of a run config: the paths agree to float rounding (same dropout masks on the
 * kernels), so it is a setting of this browser, like the backend.
 */
export const EXECUTION_SCHEMA = [
  choice('execution', {
    urlKey: 'exec',
    label: 'Step execution',
    help:
      'Replayed: the step is recorded once and replayed on the GPU (fastest; WebGPU only). Kernels op by op: the ' +
      "same kernels through TF.js's per-op bookkeeping. Plain TF.js: composite ops, the reference path (slowest).",
    group: 'Advanced',
    choices: choicesOf({ replayed: 'Replayed (recorded once)', engine: 'Kernels op by op', plain: 'Plain TF.js' }),
    default: 'replayed',
  }),
] as const;

export type Execution = OptionsOf<typeof EXECUTION_SCHEMA>['execution'];
export const EXECUTIONS: readonly Execution[] = EXECUTION_SCHEMA[0].choices.map((c) => c.value);
export const DEFAULT_EXECUTION: Execution = EXECUTION_SCHEMA[0].default;

/** How steps run, as the Train panel shows it (issue #12): the last step's path, and why it was not replayed. */
export interface ExecutionReport {
  /** What the trainer was asked for (TrainerInit.execution or its default). */
  requested: Execution;
  /** How the last step ran: replayed, the kernels op by op ('engine'), or TF.js composites ('plain'). */
  path: Execution;
  /** Why the last step was not replayed; null when it was. */
  reason: string | null;
  replayedSteps: number;
  steps: number;
}

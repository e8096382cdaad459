/**
 * A method's tensor-free description, one row of the catalog: its id, what the page says about it, its option
 * schema (the only place its defaults and limits are written), its presets and the live view its runs show.
 * Each method folder writes its entry in `schema.ts`; the UI and the run config read entries, never runtimes.
 */
import { choicesOf, type Choice, type OptionSchema, type OptionsOf } from '../engine/options';
import type { Recipe } from '../engine/recipe';
import type { ModuleKind } from '../engine/types';
import { table5Presets } from './glue';

/**
 * The live view a method's run shows next to the common charts (src/ui/components/MethodView.tsx has one
 * component per kind). 'freeze' draws the method's freeze events (Figure 5), its SCORE_SERIES values per cell
 * and its schedule events; 'rank' draws a rank method's modules (cells without `matrix`): their RANK_SERIES
 * values as a layer x module heatmap with a step scrubber, their IMPORTANCE_SERIES values, and its budget
 * events; 'none' draws nothing extra.
 */
export type LiveView = 'freeze' | 'rank' | 'none';

/** The 'values' series the freeze view draws: each cell's freezing score. */
export const SCORE_SERIES = 'score';
/**
 * The rank view's series, one value per module cell: the rank it holds (reported at step 0 and whenever a
 * rank changes; the view replays them as frames) and the score behind it (reported with each allocation).
 */
export const RANK_SERIES = 'rank';
export const IMPORTANCE_SERIES = 'importance';

export interface Preset<S extends OptionSchema = OptionSchema> {
  id: string;
  label: string;
  note: string;
  recipe?: Partial<Recipe>;
  options?: Partial<OptionsOf<S>>;
  /** The validation metric the page charts for this task. */
  metric?: string;
}

export interface MethodEntry<Id extends string = string, S extends OptionSchema = OptionSchema> {
  id: Id;
  label: string;
  /** One line for the method card. */
  blurb: string;
  /** What it decides and where it comes from (the card's details). */
  description: string;
  view: LiveView;
  /**
   * The adapter (or, fully fine-tuned, base) learning rate this method is run with in its own paper: what the form's
   * Adapter LR shows until the user sets one, and each Compare arm's default (one shared LR would train every method
   * at AFLoRA's, issue #11). The entry's comment cites the table.
   */
  suggestedAdapterLr: number;
  options: S;
  presets: readonly Preset<S>[];
  /**
   * What the options resolve to on a run of this shape, shown next to the settings before training (AFLoRA: its
   * schedule in steps), with a warning when they would hardly do anything. Absent: nothing to show.
   */
  resolved?(options: OptionsOf<S>, run: RunShape): ResolvedSettings;
}

/** A run's length as the Trainer counts it: ceil(training rows / batch) steps per epoch. */
export interface RunShape {
  totalSteps: number;
  epochs: number;
  stepsPerEpoch: number;
}

export interface ResolvedSettings {
  text: string;
  warning: string | null;
}

/**
 * Fewer masking rounds than this on a schedule's ramp (AFLoRA's freezing, AdaLoRA's budget): the outcome is decided
 * by one or two rounds, and `resolved` warns (issue #11).
 */
export const MIN_RAMP_ROUNDS = 5;

/** How many multiples of `every` lie in (after, through]: the masking or growth steps of a schedule. */
export function multiplesIn(after: number, through: number, every: number): number {
  return through > after ? Math.floor(through / every) - Math.floor(after / every) : 0;
}

export function runShape(trainRows: number, batchSize: number, epochs: number): RunShape {
  const stepsPerEpoch = Math.max(1, Math.ceil(trainRows / Math.max(1, batchSize)));
  return { totalSteps: stepsPerEpoch * epochs, epochs, stepsPerEpoch };
}

/**
 * An entry as a method folder writes it; without `view` it has none, without `presets` it gets the GLUE task
 * presets with the AFLoRA paper's Table 5 recipe (a method from another paper gives that paper's table).
 */
type EntryInput<Id extends string, S extends OptionSchema> = Omit<MethodEntry<Id, S>, 'view' | 'presets'> & Partial<Pick<MethodEntry<Id, S>, 'view' | 'presets'>>;

/** Keeps the entry's literal id and schema types (MethodId and each method's options type derive from them). */
export function defineMethod<const Id extends string, const S extends OptionSchema>(entry: EntryInput<Id, S>): MethodEntry<Id, S> {
  return { view: 'none', presets: table5Presets<S>(), ...entry };
}

/** The six adaptable linears of a BERT layer, as target-module choices (labels as the heatmaps show them). */
export const MODULE_CHOICES: readonly Choice<ModuleKind>[] = choicesOf({ query: 'query', key: 'key', value: 'value', attn_out: 'attn-out', inter: 'inter', out: 'out' });

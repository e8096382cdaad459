/**
 * IncreLoRA's budget arithmetic and growth decision, tensor-free (the official RankAllocator's, quirks kept; each
 * is named where it happens). scripts/reference/increlora_reference.py is the same logic in PyTorch.
 */
import { InputError, LimitError } from '../../engine/errors';
import type { IncreLoraOptions } from './schema';
import { isGrowthStep } from './schedule';

/** run_glue.py's incre_rank_num default: rank_dic[target_rank]. */
const RANK_DIC: Readonly<Record<number, number>> = { 2: 1, 4: 2, 6: 3, 8: 4 };

/** Most blocks a module may hold (initial + grown + reserve): each is three variables, so this bounds the count. */
export const MAX_BLOCKS = 128;

/** Reserve components' E: official add_reserve_param with advance learning. */
export const RESERVE_E = 1e-5;

export interface GrowthPlan {
  /** Rank added to a grown module (incre_rank_num). */
  addRank: number;
  /** The budget: target_total_rank, else target_rank x modules. */
  targetTotal: number;
  initialTotal: number;
  /** Upper bound on the rounds of this run (steps that qualify, rounds to reach the target). */
  maxRounds: number;
  /** Rows of each block a module can hold: [lora_r, add_r, ..., add_r] (initial, one per round, the last reserve). */
  blockSizes: number[];
  /** Total rank after each planned round (official set_total_step's plan: top_h x add_r per round), capped. */
  plannedTotal(round: number): number;
}

export function addRankOf(options: IncreLoraOptions): number {
  if (options.increRankNum !== null) return options.increRankNum;
  const fromDic = RANK_DIC[options.targetRank];
  if (fromDic === undefined) {
    throw new InputError(
      `IncreLoRA: incre_rank_num has no default for target_rank ${options.targetRank} (the official table covers 2, 4, 6, 8)`,
      'Set incre_rank_num, or choose target_rank 2, 4, 6 or 8.',
    );
  }
  return fromDic;
}


export function growthPlan(options: IncreLoraOptions, modules: number, totalSteps: number): GrowthPlan {
  const addRank = addRankOf(options);
  const initialTotal = options.loraR * modules;
  const targetTotal = options.targetTotalRank ?? options.targetRank * modules;
  // k is clamped to the module count (the official torch.topk raises for k > modules).
  const perRound = Math.min(options.topH, modules) * addRank;
  const toTarget = Math.max(0, Math.ceil((targetTotal - initialTotal) / perRound));
  let qualifying = 0;
  for (let step = options.initWarmup + 1; step < totalSteps && qualifying < toTarget; step++) {
    if (isGrowthStep(step, options)) qualifying++;
  }
  const maxRounds = Math.min(toTarget, qualifying);
  const blocks = maxRounds + 2;
  if (blocks > MAX_BLOCKS) {
    throw new LimitError(
      `IncreLoRA parameter blocks per module (${maxRounds} possible growth rounds + initial + reserve)`,
      blocks,
      MAX_BLOCKS,
      'Raise top_h, incre_rank_num or incre_interval, or lower the target rank.',
    );
  }
  return {
    addRank,
    targetTotal,
    initialTotal,
    maxRounds,
    blockSizes: [options.loraR, ...new Array<number>(maxRounds + 1).fill(addRank)],
    plannedTotal: (round) => Math.min(targetTotal, initialTotal + round * perRound),
  };
}

export interface GrowthDecision {
  /** k = min(top_h, target - total), clamped to the module count. */
  k: number;
  /** The k-th largest score. */
  threshold: number;
  /** Indices of the modules that grow: every score >= threshold, so ties at the threshold all grow. */
  grown: number[];
}

/**
 * One growth round (official increase_to_target_rank): threshold = k-th largest score; every module at or above it
 * grows by add_r, so the total can pass the target (ties, or add_r > 1 on the last round: k counts modules, the
 * remaining budget counts ranks). Scores are float32 as on the device; NaN scores never grow.
 */
export function decideGrowth(scores: ArrayLike<number>, topH: number, remaining: number): GrowthDecision {
  const n = scores.length;
  const k = Math.max(1, Math.min(topH, remaining, n));
  const sorted = Float32Array.from(scores).filter((s) => !Number.isNaN(s)).sort((a, b) => b - a);
  const threshold = sorted.length >= k ? sorted[k - 1] : Number.NEGATIVE_INFINITY;
  const grown: number[] = [];
  for (let i = 0; i < n; i++) if (Math.fround(scores[i]) >= threshold) grown.push(i);
  return { k, threshold, grown };
}

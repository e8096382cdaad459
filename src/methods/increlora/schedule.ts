/**
 * When IncreLoRA's growth rounds may run (tensor-free, so the catalog entry can show them before training; plan.ts
 * has the budget arithmetic and the growth decision).
 */
import { multiplesIn } from '../entry';
import type { IncreLoraOptions } from './schema';

type GrowthTiming = Pick<IncreLoraOptions, 'initWarmup' | 'increInterval'>;

/** The official condition: global_step > init_warmup and global_step % incre_interval == 0. */
export function isGrowthStep(step: number, options: GrowthTiming): boolean {
  return step > options.initWarmup && step % options.increInterval === 0;
}

/** Steps of a run of `totalSteps` (0-based) that qualify for a round; rounds stop earlier once the target is met. */
export function growthStepCount(options: GrowthTiming, totalSteps: number): number {
  return multiplesIn(options.initWarmup, totalSteps - 1, options.increInterval);
}

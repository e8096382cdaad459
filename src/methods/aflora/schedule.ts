/**
 * AFLoRA's freezing schedule as the reference code runs it (PLATON/AdaLoRA cubic): pure functions of the step.
 * Steps are 0-based optimizer steps.
 */

export interface FreezeSchedule {
  totalSteps: number;
  /** t_i: no masking while step <= t_i. */
  initialWarmup: number;
  /** t_f: every step after totalSteps - t_f masks with remaining fraction 0. */
  finalWarmup: number;
  /** Window length of the score averages; masking rounds on the ramp fall on multiples of it. */
  deltaT: number;
}

/** Steps per epoch as the reference counts them: floor(total / epochs). */
export function stepsPerEpoch(totalSteps: number, epochs: number): number {
  return Math.max(1, Math.floor(totalSteps / Math.max(1, epochs)));
}

/** Scheduled fraction r(t) of A/B elements that should still train after step t. */
export function remainingFraction(step: number, s: FreezeSchedule): number {
  if (step <= s.initialWarmup) return 1;
  if (step > s.totalSteps - s.finalWarmup) return 0;
  const ramp = s.totalSteps - s.initialWarmup - s.finalWarmup;
  // ramp <= 0 cannot reach here: then every step > t_i is also > T - t_f.
  const mul = 1 - (step - s.initialWarmup) / ramp;
  return mul ** 3;
}

/** Whether step t runs a masking round: every deltaT steps on the ramp, every step after T - t_f. */
export function isMaskingStep(step: number, s: FreezeSchedule): boolean {
  if (step <= s.initialWarmup) return false;
  if (step > s.totalSteps - s.finalWarmup) return true;
  return step % s.deltaT === 0;
}

/**
 * 1-based rank k of the threshold among N still-trainable element scores: floor(N (1 - r)), at least 1
 * (the reference's kthvalue fails on k = 0; k = 1 freezes nothing since no mean is below the minimum).
 */
export function thresholdRank(numElements: number, remaining: number): number {
  return Math.max(1, Math.floor(numElements * (1 - remaining)));
}

/** The options the schedule reads (AFLoRA's; README.md says how the reference counts them). */
export interface ScheduleOptions {
  deltaT: number;
  /** t_i in steps; null: round(tiEpochs x steps per epoch). */
  initialWarmup: number | null;
  /** t_f in steps; null: round(tfFraction x epochs x steps per epoch). */
  finalWarmup: number | null;
  tiEpochs: number;
  tfFraction: number;
}

/** t_i / t_f in steps for a run of `totalSteps` over `epochs` (the reference counts both in whole epochs). */
export function resolveSchedule(options: ScheduleOptions, totalSteps: number, epochs: number): FreezeSchedule {
  const perEpoch = stepsPerEpoch(totalSteps, epochs);
  return {
    totalSteps,
    initialWarmup: options.initialWarmup ?? Math.round(options.tiEpochs * perEpoch),
    finalWarmup: options.finalWarmup ?? Math.round(options.tfFraction * epochs * perEpoch),
    deltaT: options.deltaT,
  };
}

/**
 * AFLoRA's freezing schedule as the reference code runs it (PLATON/AdaLoRA cubic): pure functions of the step.
 * Steps are 0-based optimizer steps.
 */
import { MIN_RAMP_ROUNDS } from '../entry';

export interface FreezeSchedule {
  totalSteps: number;
  /** t_i: no masking while step <= t_i. */
  initialWarmup: number;
  /** t_f: every step after totalSteps - t_f masks with remaining fraction 0. */
  finalWarmup: number;
  /** Window length of the score averages; masking rounds on the ramp fall on multiples of it. */
  deltaT: number;
  /** r_f: the remaining fraction the ramp ends at (the reference's final_threshold, default 0). */
  finalRatio: number;
}

/** Steps per epoch as the reference counts them: floor(total / epochs). */
export function stepsPerEpoch(totalSteps: number, epochs: number): number {
  return Math.max(1, Math.floor(totalSteps / Math.max(1, epochs)));
}

/** Scheduled fraction r(t) of A/B elements that should still train after step t: r_f + (1 - r_f) (1 - ramp)^3. */
export function remainingFraction(step: number, s: FreezeSchedule): number {
  if (step <= s.initialWarmup) return 1;
  if (step > s.totalSteps - s.finalWarmup) return s.finalRatio;
  const ramp = s.totalSteps - s.initialWarmup - s.finalWarmup;
  // ramp <= 0 cannot reach here: then every step > t_i is also > T - t_f.
  const mul = 1 - (step - s.initialWarmup) / ramp;
  return s.finalRatio + (1 - s.finalRatio) * mul ** 3;
}

/** Whether step t runs a masking round: every deltaT steps on the ramp, every step after T - t_f. */
export function isMaskingStep(step: number, s: FreezeSchedule): boolean {
  if (step <= s.initialWarmup) return false;
  if (step > s.totalSteps - s.finalWarmup) return true;
  return step % s.deltaT === 0;
}

/**
 * Most window starts (steps t with t mod deltaT = 0) between two reads of the scores, the read's own step included:
 * masking rounds and the last step read them. The rows the GPU score history holds (scores.ts).
 */
export function windowStartsBetweenReads(s: FreezeSchedule): number {
  let most = 1;
  let unread = 0;
  for (let step = 0; step < s.totalSteps; step++) {
    if (step % s.deltaT === 0) most = Math.max(most, ++unread);
    if (isMaskingStep(step, s) || step >= s.totalSteps - 1) unread = 0;
  }
  return most;
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
  finalRatio: number;
}

/** t_i / t_f in steps for a run of `totalSteps` over `epochs` (the reference counts both in whole epochs). */
export function resolveSchedule(options: ScheduleOptions, totalSteps: number, epochs: number): FreezeSchedule {
  const perEpoch = stepsPerEpoch(totalSteps, epochs);
  return {
    totalSteps,
    initialWarmup: options.initialWarmup ?? Math.round(options.tiEpochs * perEpoch),
    finalWarmup: options.finalWarmup ?? Math.round(options.tfFraction * epochs * perEpoch),
    deltaT: options.deltaT,
    finalRatio: options.finalRatio,
  };
}

/** A resolved schedule as the settings show it, in optimizer steps. */
export interface ScheduleSummary extends FreezeSchedule {
  /** T - t_f: the last step of the ramp; every later step masks with r = r_f. */
  rampEnd: number;
  /** Masking rounds on the ramp (steps in (t_i, T - t_f] on multiples of deltaT). */
  rampRounds: number;
  /** Why this schedule hardly decides anything (an empty or short ramp), or null. */
  warning: string | null;
}


export function summarizeSchedule(s: FreezeSchedule): ScheduleSummary {
  const rampEnd = s.totalSteps - s.finalWarmup;
  const first = Math.floor(s.initialWarmup / s.deltaT) * s.deltaT + s.deltaT; // first multiple of deltaT > t_i
  const last = Math.min(rampEnd, s.totalSteps - 1);
  const rampRounds = last >= first ? Math.floor((last - first) / s.deltaT) + 1 : 0;
  let warning: string | null = null;
  if (s.initialWarmup >= s.totalSteps - 1) {
    warning = `t_i (${s.initialWarmup} steps) covers the whole run of ${s.totalSteps} steps: nothing will freeze. Lower t_i or train longer.`;
  } else if (rampRounds < MIN_RAMP_ROUNDS) {
    const what = rampRounds === 0 ? 'no masking round' : `only ${rampRounds} masking round${rampRounds === 1 ? '' : 's'}`;
    warning =
      `The freezing ramp (steps ${s.initialWarmup + 1}..${rampEnd}) has ${what}: everything left freezes together at ` +
      `step ${Math.max(s.initialWarmup + 1, rampEnd + 1)}. Train more epochs, or shorten t_i / t_f (they can be given in steps), ` +
      `to get at least ${MIN_RAMP_ROUNDS}.`;
  }
  return { ...s, rampEnd, rampRounds, warning };
}

/**
 * AdaLoRA's budget schedule and threshold as PEFT's RankAllocator computes them (peft 0.21
 * tuners/adalora/layer.py budget_schedule, mask_to_budget): pure functions of the step and the scores.
 */
import { MIN_RAMP_ROUNDS, multiplesIn } from '../entry';

export interface BudgetSchedule {
  initBudget: number;
  targetBudget: number;
  tinit: number;
  tfinal: number;
  deltaT: number;
  totalStep: number;
}

/**
 * The total rank allowed after step `step` and whether it is a masking step (PEFT budget_schedule): init_bgt up to
 * tinit, then int((init − target) · (1 − (t − tinit) / (T − tfinal − tinit))³ + target), masking when t % deltaT = 0;
 * target after T − tfinal (where update_and_allocate no longer asks).
 */
export function budgetAt(step: number, s: BudgetSchedule): { budget: number; mask: boolean } {
  if (step <= s.tinit) return { budget: s.initBudget, mask: false };
  if (step > s.totalStep - s.tfinal) return { budget: s.targetBudget, mask: true };
  const mulCoeff = 1 - (step - s.tinit) / (s.totalStep - s.tfinal - s.tinit);
  // Python's int() truncates toward zero; the value is positive.
  return { budget: Math.trunc((s.initBudget - s.targetBudget) * mulCoeff ** 3 + s.targetBudget), mask: step % s.deltaT === 0 };
}

/**
 * PEFT's mask_threshold = torch.kthvalue(all scores, k = init_bgt − budget): the k-th smallest (float32 values, so
 * the comparison is the one torch makes). Triplets with score <= threshold are masked: ties at the threshold all go,
 * so the kept total can fall below the budget. null when k < 1 (torch would raise; PEFT never gets there with
 * target_r < init_r, which create() requires).
 */
export function maskThreshold(scores: Float32Array, k: number): number | null {
  if (k < 1) return null;
  if (k > scores.length) throw new Error(`AdaLoRA: k = ${k} exceeds the ${scores.length} triplets`);
  return Float32Array.from(scores).sort()[k - 1];
}

/** The options the budget schedule reads (AdaLoRA's, in steps). */
export interface BudgetOptions {
  initR: number;
  targetR: number;
  tinit: number;
  tfinal: number;
  deltaT: number;
}

/** A run's budget schedule as the settings show it, before training. */
export interface BudgetSummary {
  /** T − tfinal: the forced last allocation at target_r; the rank pattern is fixed after it. */
  finalStep: number;
  /** Allocations: masking steps in (tinit, T − tfinal) on multiples of deltaT, plus the last one if the run gets there. */
  rounds: number;
  /** Why this schedule cannot run or hardly decides anything, or null. */
  warning: string | null;
}

export function summarizeBudget(o: BudgetOptions, totalSteps: number): BudgetSummary {
  const finalStep = totalSteps - o.tfinal;
  // Multiples of deltaT in (tinit, finalStep − 1], and the forced round at finalStep when it is a step of the run.
  const ramp = multiplesIn(o.tinit, finalStep - 1, o.deltaT);
  const rounds = ramp + (finalStep <= totalSteps - 1 && finalStep > o.tinit ? 1 : 0);
  let warning: string | null = null;
  if (o.targetR >= o.initR) {
    warning = `target_r (${o.targetR}) is not below init_r (${o.initR}): the budget cannot fall, and Train will refuse it. Lower target_r.`;
  } else if (!(o.tinit < finalStep)) {
    warning =
      `tinit (${o.tinit}) and tfinal (${o.tfinal}) leave no budgeting phase in this run of ${totalSteps} steps (PEFT needs ` +
      `tinit < total steps − tfinal): the ranks would never move, and Train will refuse it. Both are steps (the paper presets ` +
      `count them on the full GLUE training set): lower them, or train longer.`;
  } else if (rounds < MIN_RAMP_ROUNDS) {
    warning =
      `The budget falls from init_r to target_r in only ${rounds} allocation${rounds === 1 ? '' : 's'} (steps ${o.tinit + 1}..${finalStep}, ` +
      `every ${o.deltaT} steps): the ranks are decided at once. Lower deltaT, tinit or tfinal, or train longer, to get at ` +
      `least ${MIN_RAMP_ROUNDS}.`;
  }
  return { finalStep, rounds, warning };
}

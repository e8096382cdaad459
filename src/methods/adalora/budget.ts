/**
 * AdaLoRA's budget schedule and threshold as PEFT's RankAllocator computes them (peft 0.21
 * tuners/adalora/layer.py budget_schedule, mask_to_budget): pure functions of the step and the scores.
 */

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

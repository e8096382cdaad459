/** Learning-rate schedule of Hugging Face's Trainer: linear warm-up, then linear decay to 0. */

/** Warm-up steps as TrainingArguments.get_warmup_steps: ceil(totalSteps * ratio). */
export function warmupSteps(totalSteps: number, warmupRatio: number): number {
  return Math.ceil(totalSteps * warmupRatio);
}

/**
 * Multiplier of the base lr used by optimizer step `step` (0-based), as get_linear_schedule_with_warmup:
 * the scheduler is stepped after each optimizer step, so step 0 runs with lambda(0) (= 0 when warming up).
 */
export function linearScheduleFactor(step: number, totalSteps: number, warmup: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmup));
}

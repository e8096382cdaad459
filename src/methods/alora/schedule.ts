/**
 * When ALoRA's allocation rounds run (tensor-free, so the catalog entry can show them before training):
 * K1 steps of super-network training, then a round every K2 steps, N_A at most, none on or after the last step.
 */
import { spanSteps } from '../../engine/options';
import type { AloraOptions } from './schema';

/** 0-based optimizer steps after whose update a round runs: K1, K1 + K2, ... steps done, N_A of them, before the end. */
export function roundSteps(
  options: Pick<AloraOptions, 'superEpochs' | 'roundEvery' | 'rounds'>,
  stepsPerEpoch: number,
  totalSteps: number,
): number[] {
  const first = spanSteps(options.superEpochs, stepsPerEpoch);
  const every = Math.max(1, spanSteps(options.roundEvery, stepsPerEpoch));
  const steps: number[] = [];
  for (let k = 0; k < options.rounds; k++) {
    const done = first + k * every;
    if (done > 0 && done < totalSteps) steps.push(done - 1);
  }
  return steps;
}


import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, newRun, type AppState } from '../../src/ui/state';
import { titleFor } from '../../src/ui/useTitleProgress';
import type { TrainingPlan } from '../../src/worker/protocol';

const plan = { totalSteps: 400 } as TrainingPlan;

function runningAt(step: number, training: AppState['training']): AppState {
  const run = { ...newRun({ id: 'r', label: 'r', createdAt: 0, config: {} as never }), plan };
  run.metrics = { ...run.metrics, step: Float64Array.of(step - 1) };
  return { ...INITIAL_STATE, training, run };
}

describe('tab title', () => {
  it('shows progress while training and paused, a word when done', () => {
    expect(titleFor(INITIAL_STATE)).toBe('AFLoRA Playground');
    expect(titleFor(runningAt(148, 'running'))).toBe('37% · step 148/400 · AFLoRA Playground');
    expect(titleFor(runningAt(148, 'paused'))).toBe('Paused 37% · step 148/400 · AFLoRA Playground');
    const done = runningAt(400, 'finished');
    done.run!.finished = { reason: 'completed', step: 399, seconds: 1 };
    expect(titleFor(done)).toBe('Done · AFLoRA Playground');
  });
});

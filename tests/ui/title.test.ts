import { afterEach, describe, expect, it, vi } from 'vitest';
import { INITIAL_STATE, newRun, type AppState } from '../../src/ui/state';
import { followTitle, titleFor, TITLE_EVERY_MS } from '../../src/ui/useTitleProgress';
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

  afterEach(() => {
    vi.useRealTimers();
  });

  it('follows a fast stream with a few writes, and ends on the last state', () => {
    vi.useFakeTimers();
    let state = runningAt(1, 'running');
    const listeners = new Set<() => void>();
    const store = { getState: () => state, subscribe: (l: () => void) => (listeners.add(l), () => listeners.delete(l)) };
    const written: string[] = [];
    const stop = followTitle(store, (title) => written.push(title));
    // 400 steps in one second, a store change every 2.5 ms: a write now and then, not one per step.
    for (let step = 2; step <= 400; step++) {
      state = runningAt(step, 'running');
      listeners.forEach((l) => l());
      vi.advanceTimersByTime(2.5);
    }
    expect(written.length).toBeLessThanOrEqual(1 + Math.ceil(1000 / TITLE_EVERY_MS) + 1);
    expect(written.length).toBeGreaterThanOrEqual(2);
    state = { ...runningAt(400, 'finished') };
    state.run!.finished = { reason: 'completed', step: 399, seconds: 1 };
    listeners.forEach((l) => l());
    vi.advanceTimersByTime(TITLE_EVERY_MS);
    expect(written.at(-1)).toBe('Done · AFLoRA Playground');
    stop();
    expect(listeners.size).toBe(0);
  });
});

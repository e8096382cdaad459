import { useEffect } from 'react';
import { useController } from './context';
import type { AppState } from './state';

const BASE_TITLE = 'AFLoRA Playground';

/** The tab title while training ("37% · step 148/400 · AFLoRA Playground"), so a background tab shows progress. */
export function titleFor(state: AppState): string {
  const plan = state.run?.plan;
  const steps = state.run?.metrics.step;
  const done = steps && steps.length > 0 ? steps[steps.length - 1] + 1 : 0;
  if (!plan) return state.training === 'starting' ? `Starting · ${BASE_TITLE}` : BASE_TITLE;
  const progress = `${Math.floor((100 * done) / plan.totalSteps)}% · step ${done}/${plan.totalSteps}`;
  switch (state.training) {
    case 'running':
    case 'pausing':
    case 'stopping':
      return `${progress} · ${BASE_TITLE}`;
    case 'paused':
      return `Paused ${progress} · ${BASE_TITLE}`;
    case 'finished':
      return `${state.run?.finished?.reason === 'completed' ? 'Done' : 'Stopped'} · ${BASE_TITLE}`;
    default:
      return BASE_TITLE;
  }
}

/**
 * At most one title write per this many ms: the store changes hundreds of times a second while a fast GPU streams
 * a run, and each write costs the browser a tab-strip update (the largest self time in the synthetic stream's
 * profile, scripts/profile/synthetic-stream.ts); a tab title needs no more.
 */
export const TITLE_EVERY_MS = 500;

/** Calls `write` with the store's title now and on changes, at most once per `everyMs` (trailing); returns the stop. */
export function followTitle(
  store: { getState(): AppState; subscribe(listener: () => void): () => void },
  write: (title: string) => void,
  everyMs = TITLE_EVERY_MS,
): () => void {
  let shown: string | null = null;
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    timer = null;
    last = performance.now();
    const title = titleFor(store.getState());
    if (title !== shown) write((shown = title));
  };
  const unsubscribe = store.subscribe(() => {
    if (timer !== null) return;
    const wait = everyMs - (performance.now() - last);
    if (wait <= 0) flush();
    else timer = setTimeout(flush, wait);
  });
  flush();
  return () => {
    unsubscribe();
    if (timer !== null) clearTimeout(timer);
  };
}

/** Keeps document.title in step with the store without re-rendering anything. */
export function useTitleProgress(): void {
  const { store } = useController();
  useEffect(() => followTitle(store, (title) => (document.title = title)), [store]);
}

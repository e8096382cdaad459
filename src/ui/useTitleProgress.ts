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

/** Keeps document.title in step with the store without re-rendering anything. */
export function useTitleProgress(): void {
  const { store } = useController();
  useEffect(() => {
    const update = () => {
      const title = titleFor(store.getState());
      if (document.title !== title) document.title = title;
    };
    update();
    return store.subscribe(update);
  }, [store]);
}

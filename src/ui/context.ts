import { createContext, useContext } from 'react';
import type { Controller } from './controller';
import { useStore } from './store';
import type { AppState } from './state';

export const ControllerContext = createContext<Controller | null>(null);

export function useController(): Controller {
  const controller = useContext(ControllerContext);
  if (!controller) throw new Error('useController outside <ControllerContext.Provider>');
  return controller;
}

/** Subscribes to one slice of the app state (re-renders only when that slice changes). */
export function useAppState<T>(select: (state: AppState) => T): T {
  return useStore(useController().store, select);
}

/**
 * Live views redraw on a fixed cadence that incoming data cannot postpone. A real GPU sends metrics
 * many times a second; a redraw per message would swamp the main thread, and a redraw timer that each
 * message restarts never fires at all. So one ticker per page walks through SLOTS slots per period;
 * each view owns a slot, reads the latest value when its slot comes round and re-renders only if that
 * value changed. Views in different slots redraw in different tasks.
 */
import { useEffect, useRef, useState } from 'react';
import { useController } from './context';
import type { AppState } from './state';

/** Redraw period of every live view while training: smooth enough to watch, cheap enough for the main thread. */
export const REDRAW_PERIOD_MS = 1000;
/** Slots per period; slot 0 stays empty (a run's start sends a burst of messages). */
export const SLOTS = 8;

export interface IntervalClock {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const browserClock: IntervalClock = {
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

export class Cadence {
  private readonly listeners: Set<() => void>[];
  private timer: unknown = null;
  private tick = 0;

  constructor(
    private readonly periodMs = REDRAW_PERIOD_MS,
    private readonly slots = SLOTS,
    private readonly clock: IntervalClock = browserClock,
  ) {
    this.listeners = Array.from({ length: slots }, () => new Set());
  }

  /** Calls `onSlot` once per period, in slot `slot` (taken modulo the slot count); returns the unsubscribe. */
  subscribe(slot: number, onSlot: () => void): () => void {
    const set = this.listeners[((slot % this.slots) + this.slots) % this.slots];
    set.add(onSlot);
    // The ticker runs only while someone listens.
    this.timer ??= this.clock.setInterval(() => this.advance(), this.periodMs / this.slots);
    return () => {
      set.delete(onSlot);
      if (this.timer !== null && this.listeners.every((s) => s.size === 0)) {
        this.clock.clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  private advance(): void {
    this.tick = (this.tick + 1) % this.slots;
    for (const listener of this.listeners[this.tick]) listener();
  }
}

/** The page's one cadence. */
export const liveCadence = new Cadence();

/**
 * A slice of the app state as a live view shows it: sampled in the view's cadence slot rather than on
 * every store change, so a message stream re-renders nothing between slots. The selector must return a
 * stable reference for unchanged state (as for useAppState).
 */
export function useSampledState<T>(select: (state: AppState) => T, slot: number, cadence: Cadence = liveCadence): T {
  const { store } = useController();
  const [shown, setShown] = useState(() => select(store.getState()));
  const selectRef = useRef(select);
  useEffect(() => {
    selectRef.current = select;
  });
  useEffect(() => {
    const sample = () => {
      const next = selectRef.current(store.getState());
      setShown((previous) => (Object.is(previous, next) ? previous : next));
    };
    // A view mounted (or re-slotted) mid-run catches up at once rather than a period later.
    sample();
    return cadence.subscribe(slot, sample);
  }, [store, slot, cadence]);
  return shown;
}

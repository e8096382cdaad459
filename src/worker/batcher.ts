/**
 * Rate-limits worker -> page traffic: events are queued and posted together at most once per
 * `minIntervalMs` (default 50 ms, i.e. <= 20 messages/s) however fast training runs. Frequent
 * events are merged on the way (step metrics concatenated, progress replaced) so a batch stays small.
 */
import { MERGEABLE, mergeEvents } from './events';
import type { EventBatchMessage, WorkerEvent } from './protocol';

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class EventBatcher {
  private pending: WorkerEvent[] = [];
  /** Merging may only reach back to just after the last non-mergeable event, to keep the order meaningful. */
  private mergeFrom = 0;
  private lastFlush = -Infinity;
  private timer: unknown = null;
  /** Messages posted so far (for tests and diagnostics). */
  posted = 0;

  constructor(
    private readonly post: (message: EventBatchMessage) => void,
    private readonly minIntervalMs = 50,
    private readonly clock: Clock = realClock,
  ) {}

  push(event: WorkerEvent): void {
    if (MERGEABLE.has(event.type)) {
      for (let i = this.pending.length - 1; i >= this.mergeFrom; i--) {
        const merged = mergeEvents(this.pending[i], event);
        if (merged) {
          this.pending[i] = merged;
          this.schedule();
          return;
        }
      }
      this.pending.push(event);
    } else {
      this.pending.push(event);
      this.mergeFrom = this.pending.length;
    }
    this.schedule();
  }

  /** Posts everything queued now (e.g. before the worker goes idle); respects nothing. */
  flush(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.mergeFrom = 0;
    this.lastFlush = this.clock.now();
    this.posted++;
    this.post({ events });
  }

  private schedule(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastFlush + this.minIntervalMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }
}

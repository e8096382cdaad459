import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Cadence, REDRAW_PERIOD_MS, SLOTS } from '../../src/ui/cadence';

describe('Cadence (live-view redraws)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('samples every slot once per period while data streams in at 50 messages/s', () => {
    const cadence = new Cadence();
    const calls: { slot: number; at: number }[] = [];
    const start = Date.now();
    for (let slot = 1; slot < SLOTS; slot++) cadence.subscribe(slot, () => calls.push({ slot, at: Date.now() - start }));
    // A message every 20 ms: under the old per-message timer restart, the later slots never fired.
    let messages = 0;
    const stream = setInterval(() => messages++, 20);
    vi.advanceTimersByTime(10 * REDRAW_PERIOD_MS);
    clearInterval(stream);
    expect(messages).toBe(500);
    for (let slot = 1; slot < SLOTS; slot++) {
      const times = calls.filter((c) => c.slot === slot).map((c) => c.at);
      expect(times.length, `slot ${slot}`).toBe(10);
      // Fixed cadence: exactly one period between two samples of a slot.
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(REDRAW_PERIOD_MS);
    }
    // No two slots share a tick (each redraw is its own task).
    expect(new Set(calls.map((c) => c.at)).size).toBe(calls.length);
  });

  it('runs its timer only while someone listens', () => {
    const cadence = new Cadence();
    expect(vi.getTimerCount()).toBe(0);
    const off1 = cadence.subscribe(1, () => {});
    const off2 = cadence.subscribe(9, () => {}); // wraps to slot 1
    expect(vi.getTimerCount()).toBe(1);
    off1();
    expect(vi.getTimerCount()).toBe(1);
    off2();
    expect(vi.getTimerCount()).toBe(0);
  });
});

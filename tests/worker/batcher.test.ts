import { describe, expect, it } from 'vitest';
import { EventBatcher, type Clock } from '../../src/worker/batcher';
import type { EventBatchMessage, StepMetricsBatch, WorkerEvent } from '../../src/worker/protocol';

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements Clock {
  time = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;
  now() {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, callback, id });
    return id;
  }
  clearTimeout(handle: unknown) {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  advance(ms: number) {
    const end = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.time = next.at;
      next.callback();
    }
    this.time = end;
  }
}

function metrics(step: number): WorkerEvent {
  const one = (v: number) => Float64Array.of(v);
  const batch: StepMetricsBatch = { step: one(step), epoch: one(0), loss: one(1 / (step + 1)), lr: one(1e-3), trainableParams: one(100) };
  return { type: 'stepMetrics', batch };
}

function setup(interval = 50) {
  const clock = new FakeClock();
  const posted: { at: number; message: EventBatchMessage }[] = [];
  const batcher = new EventBatcher((message) => posted.push({ at: clock.time, message }), interval, clock);
  return { clock, posted, batcher };
}

describe('EventBatcher', () => {
  it('posts at most one message per interval however many events arrive', () => {
    const { clock, posted, batcher } = setup();
    // 1000 steps per second for 2 seconds.
    for (let step = 0; step < 2000; step++) {
      batcher.push(metrics(step));
      clock.advance(1);
    }
    clock.advance(100);
    expect(posted.length).toBeLessThanOrEqual(2000 / 50 + 2);
    expect(posted.length).toBeGreaterThan(30);
    for (let i = 1; i < posted.length; i++) expect(posted[i].at - posted[i - 1].at).toBeGreaterThanOrEqual(50);
    // Nothing lost, nothing reordered.
    const steps = posted.flatMap(({ message }) =>
      message.events.flatMap((e) => (e.type === 'stepMetrics' ? Array.from(e.batch.step) : [])),
    );
    expect(steps).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  it('merges consecutive step metrics into one event per message', () => {
    const { clock, posted, batcher } = setup();
    batcher.push(metrics(0));
    batcher.push(metrics(1));
    batcher.push(metrics(2));
    clock.advance(0);
    expect(posted).toHaveLength(1);
    expect(posted[0].message.events).toHaveLength(1);
    const event = posted[0].message.events[0];
    expect(event.type === 'stepMetrics' && Array.from(event.batch.loss)).toEqual([1, 1 / 2, 1 / 3]);
  });

  it('never merges across a non-mergeable event, so a new run does not swallow old metrics', () => {
    const { clock, posted, batcher } = setup();
    batcher.push(metrics(0));
    batcher.push({ type: 'finished', reason: 'completed', step: 0, seconds: 1 });
    batcher.push(metrics(0));
    clock.advance(0);
    expect(posted[0].message.events.map((e) => e.type)).toEqual(['stepMetrics', 'finished', 'stepMetrics']);
  });

  it('keeps only the latest progress of a phase', () => {
    const { clock, posted, batcher } = setup();
    for (let done = 0; done <= 100; done++) batcher.push({ type: 'progress', phase: 'download', done, total: 100 });
    batcher.push({ type: 'progress', phase: 'tokenize', done: 1, total: 2 });
    clock.advance(0);
    expect(posted[0].message.events).toEqual([
      { type: 'progress', phase: 'download', done: 100, total: 100 },
      { type: 'progress', phase: 'tokenize', done: 1, total: 2 },
    ]);
  });

  it('delivers a lone event within one interval', () => {
    const { clock, posted, batcher } = setup();
    batcher.push({ type: 'paused', step: 3 });
    clock.advance(0);
    expect(posted).toHaveLength(1);
    batcher.push({ type: 'resumed', step: 3 });
    clock.advance(49);
    expect(posted).toHaveLength(1);
    clock.advance(1);
    expect(posted).toHaveLength(2);
  });
});

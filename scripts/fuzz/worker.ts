/** One fuzz worker thread: runs inputs [start, end) of one target, posting before and after each one. */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../../src/engine/errors';
import { generate, TARGETS } from './targets';

export type Outcome = 'ok' | 'clear' | 'crash';
export type WorkerMessage = { type: 'begin'; i: number } | { type: 'end'; i: number; outcome: Outcome; detail?: string };

const { target: name, seed, start, end } = workerData as { target: string; seed: number; start: number; end: number };
const target = TARGETS.find((t) => t.name === name)!;
const seeds = target.seeds();
const post = (message: WorkerMessage) => parentPort!.postMessage(message);

for (let i = start; i < end; i++) {
  const input = generate(target, seeds, seed, i);
  post({ type: 'begin', i });
  try {
    target.run(input);
    post({ type: 'end', i, outcome: 'ok' });
  } catch (error) {
    // A typed error that is not a bug is the clear refusal every bad input must end in.
    if (error instanceof AppError && error.kind !== 'bug') post({ type: 'end', i, outcome: 'clear' });
    else post({ type: 'end', i, outcome: 'crash', detail: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : String(error) });
  }
}

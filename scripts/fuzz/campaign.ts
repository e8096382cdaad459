/**
 * The fuzz campaign: every target's inputs run in worker threads with a heap cap (a blow-up kills the
 * worker with ERR_WORKER_OUT_OF_MEMORY) and a per-input watchdog (a hang is terminated); the worker is
 * restarted after the input that killed it. `npm run fuzz -- --count 20000 [--seed 1] [--json out.json]`
 * prints parser | inputs | ok | clear error | crash | hang | blow-up; tests/fuzz.test.ts runs a CI budget.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TARGETS } from './targets';
import type { WorkerMessage } from './worker';

export interface TargetResult {
  parser: string;
  inputs: number;
  ok: number;
  clear: number;
  crash: number;
  hang: number;
  blowUp: number;
  /** The first few failures, by input index (reproduce with generate(target, seeds, seed, index)). */
  failures: { index: number; kind: 'crash' | 'hang' | 'blow-up'; detail: string }[];
}

export interface CampaignOptions {
  count: number;
  seed?: number;
  /** Per-input time limit. */
  timeoutMs?: number;
  heapMb?: number;
  parallel?: number;
  targets?: string[];
}

const WORKER = new URL('./worker-entry.mjs', import.meta.url);

/** Runs one target's inputs [0, count), restarting the worker after a hang or a blow-up. */
function runTarget(name: string, options: Required<Omit<CampaignOptions, 'targets' | 'parallel'>>): Promise<TargetResult> {
  const result: TargetResult = { parser: name, inputs: options.count, ok: 0, clear: 0, crash: 0, hang: 0, blowUp: 0, failures: [] };
  const note = (index: number, kind: TargetResult['failures'][number]['kind'], detail: string) => {
    if (result.failures.length < 10) result.failures.push({ index, kind, detail });
  };
  return new Promise((resolve, reject) => {
    const spawn = (start: number) => {
      if (start >= options.count) return resolve(result);
      let current = -1;
      let started = 0;
      let finished = false;
      const worker = new Worker(WORKER, {
        workerData: { target: name, seed: options.seed, start, end: options.count },
        resourceLimits: { maxOldGenerationSizeMb: options.heapMb, maxYoungGenerationSizeMb: 64 },
      });
      const watchdog = setInterval(() => {
        if (current >= 0 && performance.now() - started > options.timeoutMs) {
          finished = true;
          clearInterval(watchdog);
          result.hang++;
          note(current, 'hang', `no result after ${options.timeoutMs} ms`);
          const next = current + 1;
          void worker.terminate().then(() => spawn(next));
        }
      }, Math.min(250, options.timeoutMs / 4));
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'begin') {
          current = message.i;
          started = performance.now();
          return;
        }
        current = -1;
        if (message.outcome === 'ok') result.ok++;
        else if (message.outcome === 'clear') result.clear++;
        else {
          result.crash++;
          note(message.i, 'crash', message.detail ?? '');
        }
      });
      const done = (error?: Error) => {
        if (finished) return;
        finished = true;
        clearInterval(watchdog);
        if (current < 0 && !error) return resolve(result);
        if (current < 0) return reject(error);
        // The worker died inside input `current`: out of its heap, or a crash of the thread itself.
        const oom = error && (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        if (oom) result.blowUp++;
        else result.crash++;
        note(current, oom ? 'blow-up' : 'crash', error?.message ?? 'the worker exited');
        spawn(current + 1);
      };
      worker.on('error', done);
      worker.on('exit', () => done());
    };
    spawn(0);
  });
}

export async function runCampaign(options: CampaignOptions): Promise<TargetResult[]> {
  const settings = { count: options.count, seed: options.seed ?? 1, timeoutMs: options.timeoutMs ?? 5000, heapMb: options.heapMb ?? 512 };
  const names = options.targets ?? TARGETS.map((t) => t.name);
  const parallel = Math.max(1, options.parallel ?? Math.min(2, availableParallelism()));
  const results: TargetResult[] = new Array(names.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < names.length) {
        const at = next++;
        results[at] = await runTarget(names[at], settings);
      }
    }),
  );
  return results;
}

export function formatTable(results: readonly TargetResult[]): string {
  const header = ['parser', 'inputs', 'ok', 'clear error', 'crash', 'hang', 'blow-up'];
  const rows = results.map((r) => [r.parser, r.inputs, r.ok, r.clear, r.crash, r.hang, r.blowUp].map(String));
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = Number(arg('count') ?? 1000);
  const started = performance.now();
  const results = await runCampaign({ count, seed: Number(arg('seed') ?? 1), timeoutMs: Number(arg('timeout') ?? 5000), heapMb: Number(arg('heap') ?? 512) });
  console.log(formatTable(results));
  console.log(`\n${count} inputs per parser, seed ${arg('seed') ?? 1}, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const json = JSON.stringify({ count, seed: Number(arg('seed') ?? 1), results }, null, 2);
  const out = arg('json');
  if (out) writeFileSync(out, json);
  else console.log(json);
  process.exitCode = results.some((r) => r.crash + r.hang + r.blowUp > 0) ? 1 : 0;
}

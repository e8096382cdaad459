/**
 * Where the page's main thread goes while a fast GPU streams a run in: the e2e's synthetic worker (4000 steps,
 * 48 matrices, at the message rate of a fast GPU) in headless Chromium, with V8's sampling profiler on the page.
 * Prints the long tasks (the #12 bar: none over 50 ms) and the functions with the most self time, grouped by
 * source file (an unminified build, so the names are the sources'); writes the numbers as JSON. A diagnosis tool, not a test: absolute times depend on the box.
 *
 *   npx tsx scripts/profile/synthetic-stream.ts [--json out.json] [--top 30]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../tests/e2e/chromium';
import { serveStatic } from '../../tests/e2e/server';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({ options: { json: { type: 'string' }, top: { type: 'string', default: '30' } } });

const work = mkdtempSync(join(tmpdir(), 'aflora-profile-'));
const dist = join(work, 'dist');
execFileSync(join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn', '--minify', 'false'], { cwd: ROOT, stdio: 'inherit' });
const server = await serveStatic(dist);
const context = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 1000 } });
try {
  const page = await context.newPage();
  const worker = readFileSync(join(ROOT, 'tests', 'fixtures', 'e2e', 'synthetic-worker.js'), 'utf8');
  await page.route('**/assets/worker-*.js', (route) => route.fulfill({ contentType: 'text/javascript', body: worker }));
  await page.goto(server.url);
  await page.getByTestId('train').waitFor();
  for (let i = 0; i < 600 && !(await page.getByTestId('train').isEnabled()); i++) await page.waitForTimeout(100);
  await page.evaluate(() => {
    const tasks: { start: number; duration: number }[] = [];
    (window as unknown as { longTasks: typeof tasks }).longTasks = tasks;
    new PerformanceObserver((list) => list.getEntries().forEach((e) => tasks.push({ start: e.startTime, duration: e.duration }))).observe({ type: 'longtask' });
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  // A marker the profile can find: a busy loop in a function of its own at a known performance.now(), which ties
  // the profile's clock to the long tasks'.
  // (A string, so that no bundler renames the function.)
  const markerAt = (await page.evaluate(
    '(() => { function profileMarker(until) { while (performance.now() < until) {} } const at = performance.now(); profileMarker(at + 20); return at; })()',
  )) as number;
  const started = Date.now();
  await page.getByTestId('train').click();
  await page.locator('[data-testid=finished]').waitFor({ timeout: 300_000 });
  const seconds = (Date.now() - started) / 1000;
  const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: Profile };
  const tasks = await page.evaluate(() => (window as unknown as { longTasks: { start: number; duration: number }[] }).longTasks);
  const longTasks = tasks.map((t) => Math.round(t.duration));

  // Self time per node from the samples (each sample's delta is the time up to it).
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url ? url.replace(server.url, '').replace(/-[\w-]{8}\.js$/, '.js') : '(native)';
    const name = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);

  // Sample times on the page's clock: the first marker sample is at markerAt.
  const nameOf = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes as (ProfileNode & { children?: number[] })[]) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const times: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) times.push((t += d) / 1000);
  const markerSample = profile.samples.findIndex((id) => nameOf.get(id)!.callFrame.functionName === 'profileMarker');
  const offset = markerSample >= 0 ? markerAt - times[markerSample] : null;
  const stackOf = (id: number): string[] => {
    const names: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) names.push(nameOf.get(at)!.callFrame.functionName || '(anonymous)');
    return names;
  };
  const windows = offset === null ? [] : tasks.filter((task) => task.duration > 50).map((task) => {
    const inside = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      const at = times[i] + offset;
      if (at < task.start || at > task.start + task.duration) return;
      // The innermost frames that are the app's or React's, not the browser's.
      const frames = stackOf(id).filter((f) => !f.startsWith('(')).slice(0, 3).join(' < ') || nameOf.get(id)!.callFrame.functionName;
      inside.set(frames, (inside.get(frames) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    });
    return { start: Math.round(task.start - markerAt), duration: Math.round(task.duration), top: sorted(inside).slice(0, 8).map(([f, ms]) => `${ms.toFixed(0)} ms ${f}`) };
  });
  const total = (profile.endTime - profile.startTime) / 1000;
  console.log(`synthetic stream: ${seconds.toFixed(1)} s, profile ${total.toFixed(0)} ms of main thread`);
  console.log(`long tasks (ms): ${JSON.stringify(longTasks)}; over 50 ms: ${longTasks.filter((d) => d > 50).length}`);
  for (const w of windows) console.log(`long task at +${w.start} ms (${w.duration} ms):\n    ${w.top.join('\n    ')}`);
  if (offset === null) console.log('(the marker was not sampled: long tasks are not attributed)');
  console.log('self ms  by file');
  for (const [file, ms] of sorted(byFile).slice(0, 10)) console.log(`${ms.toFixed(0).padStart(7)}  ${file}`);
  console.log('self ms  by function');
  for (const [name, ms] of sorted(byFunction).slice(0, Number(values.top))) console.log(`${ms.toFixed(0).padStart(7)}  ${name}`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ seconds, longTasks, windows, byFile: sorted(byFile), byFunction: sorted(byFunction).slice(0, 200) }, null, 1));
} finally {
  await context.close();
  await server.close();
  rmSync(work, { recursive: true, force: true });
}

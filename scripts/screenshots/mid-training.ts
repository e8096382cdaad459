/**
 * README's "training" screenshot: the app as a newcomer opens it (built-in model, the default sample dataset,
 * every setting at its default), trained in headless Chromium on software WebGPU until the Figure-5 heatmap
 * shows its first frozen matrices while others still train, then shot mid-run. The e2e's own shots use a
 * 12-step toy config to stay fast; this one is slow on purpose (minutes) and runs only from `npm run screenshots`.
 *
 *   npx tsx scripts/screenshots/mid-training.ts [--out docs/screenshots/training.png] [--max-minutes 90]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../tests/e2e/chromium';
import { serveStatic } from '../../tests/e2e/server';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/screenshots/training.png' }, 'max-minutes': { type: 'string', default: '90' } } });
const out = resolve(ROOT, values.out!);
const deadline = Date.now() + Number(values['max-minutes']) * 60_000;

const work = mkdtempSync(join(tmpdir(), 'aflora-shot-'));
const dist = join(work, 'dist');
execFileSync(join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
const server = await serveStatic(dist);
const context = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 1000 } });
try {
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByTestId('model-info').waitFor({ timeout: 300_000 });
  await page.getByTestId('data-status').filter({ hasText: /^Ready/ }).waitFor({ timeout: 120_000 });
  await page.getByTestId('train').click();
  const started = Date.now();
  let last = '';
  for (;;) {
    const view = await page.evaluate(() => ({
      step: document.querySelector('[data-testid=step]')?.textContent ?? '',
      frozen: document.querySelectorAll('[data-testid=heatmap-freeze] .heat-cell.filled').length,
      training: document.querySelectorAll('[data-testid=heatmap-freeze] .heat-cell.pending').length,
      finished: document.querySelector('[data-testid=finished]') !== null,
    }));
    if (view.step !== last) console.log(`${((Date.now() - started) / 1000).toFixed(0)} s: step ${view.step}, ${view.frozen} frozen, ${view.training} training`);
    last = view.step;
    if (view.finished) throw new Error('the run finished before a screenshot with frozen and training matrices could be taken');
    if (view.frozen > 0 && view.training > 0) break;
    if (Date.now() > deadline) throw new Error(`no matrix froze within --max-minutes ${values['max-minutes']} (step ${view.step})`);
    await page.waitForTimeout(2_000);
  }
  await page.waitForTimeout(1_500); // one redraw slot of every live view
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await context.close();
  await server.close();
  rmSync(work, { recursive: true, force: true });
}

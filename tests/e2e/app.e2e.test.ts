/**
 * The whole app in headless Chromium on software WebGPU (SwiftShader): built-in model, a CSV uploaded
 * through the file input, a few AFLoRA steps in the worker on WebGPU, live charts and heatmap, PEFT export.
 * Also: no page or console errors; main-thread long tasks are measured while training. Software WebGPU
 * keeps every CPU core busy, which stretches any main-thread task, so the 50 ms bound is asserted on a
 * second page where a synthetic worker (tests/fixtures/e2e/synthetic-worker.js, same protocol) streams a
 * 4000-step run at 50 messages/s (a fast GPU): that isolates what the UI itself costs, and checks that the
 * charts and the heatmap fill in while the stream runs, not only after it. One adaptive-rank run is real (#10): AdaLoRA
 * trains in the worker on the first rows of the spam-ham sample set, its rank heatmap is sampled while it runs, and
 * its PEFT export is loaded with PEFT (.venv's Python: scripts/reference/check_peft_export.py) to reproduce the
 * probabilities Try it computed in the browser.
 * Saves {empty,data-loaded,training,finished}.png into test-results/screenshots (ignored);
 * `npm run screenshots` writes them into docs/screenshots instead (SCREENSHOTS_DIR), then replaces training.png
 * with a run on the default settings mid-training (scripts/screenshots/mid-training.ts).
 *
 * Needs the pretrained built-in model in public/models/builtin (fails until it is there, like
 * tests/builtin/model.test.ts). E2E_RANDOM_MODEL=1 serves a randomly initialised model of the same shape
 * instead, to exercise the app before the model exists; E2E_METHOD overrides the method (default aflora);
 * E2E_RANK_METHODS the real rank runs (default adalora; adalora,increlora,alora for all three).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';
import { writeRandomModel } from './randomModel';
import { serveStatic } from './server';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SCREENSHOTS = resolve(ROOT, process.env.SCREENSHOTS_DIR ?? join('test-results', 'screenshots'));
const TINY_CSV = join(ROOT, 'tests', 'fixtures', 'e2e', 'tiny.csv');
const METHOD = process.env.E2E_METHOD ?? 'aflora';
// Tiny run for software WebGPU: 18 train rows / batch 8 = 3 steps per epoch, 4 epochs = 12 steps; AFLoRA
// scores every 2 steps (dt) so masking rounds happen inside so few steps; metrics read every step.
const QUERY = `?method=${METHOD}&bs=8&len=32&ep=4&dt=2&tf=0.5&log=1&val=0.25`;

/**
 * Real adaptive-rank runs: each method's settings on the 12-step run of the rank test below (query + value of both
 * layers: 4 modules), what its totals must do, and what its PEFT export must say. CI runs AdaLoRA;
 * E2E_RANK_METHODS=adalora,increlora,alora runs the others too (about 2.5 min each on a loaded 2-core box).
 */
interface RankRun {
  label: string;
  query: string;
  startTotal: number;
  checkTotals(totals: number[], finalTotal: number): void;
  checkExport(config: PeftConfig, finalTotal: number): void;
}

/** IncreLoRA / ALoRA: PEFT LoRA naming every kept module with its rank, summing to the final frame's total. */
function expectRankPattern(config: PeftConfig, finalTotal: number): void {
  expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'SEQ_CLS', base_model_name_or_path: 'base' });
  const pattern = config.rank_pattern as Record<string, number>;
  expect(Object.keys(pattern).sort()).toEqual([...config.target_modules].sort());
  expect(Object.values(pattern).reduce((a, b) => a + b, 0), 'ranks in rank_pattern = the final frame').toBe(finalTotal);
}

const RANK_RUNS: Record<string, RankRun> = {
  // Budget 4 x init_r 12 = 48 at step 0, masked every step from 3 to T - tfinal = 10, down to 4 x 8 = 32.
  adalora: {
    label: 'AdaLoRA',
    query: 'tinit=2&tfinal=2&dt=1',
    startTotal: 48,
    checkTotals(totals, finalTotal) {
      expect(Math.min(...totals), 'ranks masked mid-run').toBeLessThan(48);
      // The pattern is fixed after step 10 at the target budget (ties at the threshold may mask one more).
      expect(finalTotal).toBeLessThanOrEqual(32);
      expect(finalTotal).toBeGreaterThan(24);
    },
    checkExport(config, finalTotal) {
      // ADALORA with total_step = the run's steps and a rank_pattern of init_r flags whose kept triplets are the final frame.
      expect(config).toMatchObject({ peft_type: 'ADALORA', task_type: 'SEQ_CLS', init_r: 12, target_r: 8, tinit: 2, tfinal: 2, deltaT: 1, total_step: 12, base_model_name_or_path: 'base' });
      const pattern = config.rank_pattern as Record<string, boolean[]>;
      expect(Object.keys(pattern).length).toBe(4);
      expect(Object.values(pattern).every((flags) => flags.length === 12)).toBe(true);
      expect(Object.values(pattern).flat().filter(Boolean).length, 'kept triplets = the final frame').toBe(finalTotal);
    },
  },
  // lora_r 1 on 4 modules = 4; target_rank 2 (incre_rank_num 1): rounds at steps 4, 6 grow the top 2 to 8 (ties may overshoot).
  increlora: {
    label: 'IncreLoRA',
    query: 'tm=query,value&tr=2&iw=2&ii=2&th=2',
    startTotal: 4,
    checkTotals(totals, finalTotal) {
      expect(Math.max(...totals), 'ranks grown mid-run').toBeGreaterThan(4);
      expect(finalTotal).toBeGreaterThanOrEqual(8);
    },
    checkExport: expectRankPattern,
  },
  // r_init 2 (4 slots) on 4 modules = 8; K1 1 epoch (3 steps), then 2 rounds every ceil(0.25 x 3) = 1 step, 2 ranks
  // pruned each, scored on an 8-row probe (each round ablates every rank: r_init 8 with 3 rounds took over 8 min).
  alora: {
    label: 'ALoRA',
    query: 'tm=query,value&r=2&rmax=4&na=2&np=2&pb=8',
    startTotal: 8,
    checkTotals(totals, finalTotal) {
      // Pruned ranks go to modules that lost none; what fits nowhere is dropped, so the total never grows.
      expect(Math.max(...totals)).toBe(8);
      expect(finalTotal).toBeLessThanOrEqual(8);
    },
    checkExport: expectRankPattern,
  },
};
const RANK_E2E_METHODS = (process.env.E2E_RANK_METHODS ?? 'adalora').split(',');
for (const method of RANK_E2E_METHODS) if (!(method in RANK_RUNS)) throw new Error(`E2E_RANK_METHODS: ${method} is not one of ${Object.keys(RANK_RUNS).join(', ')}`);

let work: string;
let server: Awaited<ReturnType<typeof serveStatic>>;
const contexts: BrowserContext[] = [];

/** A fresh browser profile per page, so IndexedDB runs of one test do not show up in the other. */
async function openPage(name: string): Promise<{ page: Page; problems: string[] }> {
  const context = await chromium.launchPersistentContext(join(work, `profile-${name}`), {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 1000 },
    acceptDownloads: true,
  });
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
  });
  return { page, problems };
}

async function observeLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const durations: number[] = [];
    (window as unknown as { longTasks: number[] }).longTasks = durations;
    new PerformanceObserver((list) => list.getEntries().forEach((e) => durations.push(e.duration))).observe({ type: 'longtask' });
  });
}

function longTasksOf(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks.map(Math.round));
}

interface LiveSample {
  finished: boolean;
  step: number | null;
  lossPoints: number;
  lossPath: string;
  scoreLines: number;
  freezeCells: number;
  title: string;
}

/** One look at the live views: what a user sees at this moment. */
function liveSample(page: Page): Promise<LiveSample> {
  return page.evaluate(() => {
    const line = document.querySelector('[data-testid=chart-loss] path[data-series=loss]');
    const step = document.querySelector('[data-testid=step]')?.textContent?.match(/^(\d+) \//);
    return {
      finished: document.querySelector('[data-testid=finished]') !== null,
      step: step ? Number(step[1]) : null,
      lossPoints: Number(line?.getAttribute('data-points') ?? 0),
      lossPath: line?.getAttribute('d') ?? '',
      scoreLines: document.querySelectorAll('[data-testid=chart-scores] path.series-line').length,
      freezeCells: document.querySelectorAll('[data-testid=heatmap-freeze] .heat-cell.filled').length,
      title: document.title,
    };
  });
}

interface RankSample {
  finished: boolean;
  step: number | null;
  frame: string;
  cells: number;
  /** Each cell's rank as shown, in grid order: the allocation. */
  ranks: string;
  budgetDrawn: boolean;
}

/** One look at the rank view (a rank method's heatmap, its frame line and the budget chart). */
function rankSample(page: Page): Promise<RankSample> {
  return page.evaluate(() => {
    const step = document.querySelector('[data-testid=step]')?.textContent?.match(/^(\d+) \//);
    return {
      finished: document.querySelector('[data-testid=finished]') !== null,
      step: step ? Number(step[1]) : null,
      frame: document.querySelector('[data-testid=rank-frame]')?.textContent ?? '',
      cells: document.querySelectorAll('[data-testid=heatmap-rank] .heat-cell.filled').length,
      ranks: [...document.querySelectorAll('[data-testid=heatmap-rank] .heat-cell')].map((c) => c.getAttribute('aria-label')?.match(/rank (\d+)/)?.[1] ?? '-').join(' '),
      budgetDrawn: document.querySelector('[data-testid=chart-budget]')?.getAttribute('data-empty') === 'false',
    };
  });
}

/** The total ranks the frame line showed, in order. */
function totalRanks(samples: readonly RankSample[]): number[] {
  return samples.map((s) => Number(s.frame.match(/total rank (\d+)/)?.[1])).filter(Number.isFinite);
}

/** The adapter_config.json fields the tests read. */
interface PeftConfig {
  peft_type: string;
  r: number;
  target_modules: string[];
  rank_pattern?: Record<string, boolean[] | number> | null;
  id2label: Record<string, string>;
  label2id: Record<string, number>;
}

const PEFT_ZIP_FILES = ['adapter_config.json', 'adapter_model.safetensors', 'base/config.json', 'base/model.safetensors', 'base/tokenizer.json', 'base/tokenizer_config.json'];

/**
 * Clicks Export PEFT and reads the zip: the adapter files and the built-in model's files under base/ (the folder
 * the adapter names), kept in the work folder as `<prefix><file name>`.
 */
async function downloadPeftExport(page: Page, prefix = ''): Promise<{ files: Record<string, Uint8Array>; config: PeftConfig }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-peft').click()]);
  const zipPath = join(work, `${prefix}${download.suggestedFilename()}`);
  await download.saveAs(zipPath);
  const files = unzipSync(new Uint8Array(readFileSync(zipPath)));
  expect(Object.keys(files).sort()).toEqual(PEFT_ZIP_FILES);
  return { files, config: JSON.parse(new TextDecoder().decode(files['adapter_config.json'])) };
}

/** Records the worker's prediction events (their unrounded probabilities) on window.predictions; call before goto. */
async function recordPredictions(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const predictions: { probabilities: number[] }[] = [];
    (window as unknown as { predictions: typeof predictions }).predictions = predictions;
    const NativeWorker = window.Worker;
    window.Worker = class extends NativeWorker {
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        this.addEventListener('message', (message: MessageEvent<{ events: { type: string; probabilities: number[] }[] }>) => {
          for (const event of message.data.events) if (event.type === 'prediction') predictions.push(event);
        });
      }
    };
  });
}

/** Types `text` into Try it, predicts, and returns the worker's probabilities for it. */
async function predictExactly(page: Page, text: string): Promise<number[]> {
  const count = () => page.evaluate(() => (window as unknown as { predictions: unknown[] }).predictions.length);
  const before = await count();
  await page.getByPlaceholder('Type something to classify').fill(text);
  const predict = page.getByRole('button', { name: 'Predict' });
  await expect.poll(() => predict.isEnabled(), { timeout: 60_000 }).toBe(true);
  await predict.click();
  await expect.poll(count, { timeout: 60_000 }).toBe(before + 1);
  return page.evaluate((i) => (window as unknown as { predictions: { probabilities: number[] }[] }).predictions[i].probabilities, before);
}

/**
 * Loads an exported zip's adapter with PEFT (PeftModel.from_pretrained on its base/ folder, .venv's torch) and
 * compares with the app's probabilities for `texts`: scripts/reference/check_peft_export.py, within 1e-4.
 */
function checkWithPeft(files: Record<string, Uint8Array>, name: string, texts: string[], maxLength: number, probabilities: number[][]): { max_abs_diff: number; adapter_effect: number; passed: boolean } {
  const dir = join(work, name);
  for (const [file, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), bytes);
  }
  const inputs = join(dir, 'inputs.json');
  writeFileSync(inputs, JSON.stringify({ num_labels: probabilities[0].length, texts, max_length: maxLength, probabilities }));
  const python = join(ROOT, '.venv', 'bin', 'python');
  expect(existsSync(python), `${python} is missing: the PEFT check needs the project's Python environment (python/README.md)`).toBe(true);
  const result = join(dir, 'result.json');
  try {
    execFileSync(python, [join(ROOT, 'scripts', 'reference', 'check_peft_export.py'), dir, join(dir, 'base'), inputs, result], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`check_peft_export.py failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
  return JSON.parse(readFileSync(result, 'utf8'));
}

/**
 * Samples the page every `everyMs` until the run it shows has finished (that sample is the last), failing with
 * `what` when it runs past `limitMs` from `started`.
 */
async function sampleUntilFinished<T extends { finished: boolean }>(page: Page, sample: (page: Page) => Promise<T>, started: number, limitMs: number, what: string, everyMs = 200): Promise<T[]> {
  const samples: T[] = [];
  for (;;) {
    const next = await sample(page);
    samples.push(next);
    if (next.finished) return samples;
    expect(Date.now() - started, what).toBeLessThan(limitMs);
    await page.waitForTimeout(everyMs);
  }
}

function safetensorsHeader(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = Number(view.getBigUint64(0, true));
  expect(8 + length).toBeLessThanOrEqual(bytes.byteLength);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
}

describe('AFLoRA Playground in Chromium (software WebGPU)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'aflora-e2e-'));
    const dist = join(work, 'dist');
    execFileSync(join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    if (process.env.E2E_RANDOM_MODEL === '1') {
      writeRandomModel(join(dist, 'models', 'builtin'), [TINY_CSV, join(ROOT, 'public', 'datasets', 'spam-ham', 'train.csv')]);
    }
    expect(existsSync(join(dist, 'models', 'builtin', 'model.safetensors')), 'public/models/builtin/model.safetensors is missing: run the pretraining (see its README)').toBe(true);
    server = await serveStatic(dist);
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    // Closing twice is a no-op: this covers tests that failed before closing their own.
    for (const context of contexts) await context.close();
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('draws charts and heatmap cells while a 4000-step run streams in at 50 messages/s, main-thread tasks under 250 ms', { timeout: 300_000 }, async () => {
    const { page, problems } = await openPage('synthetic');
    const syntheticWorker = readFileSync(join(ROOT, 'tests', 'fixtures', 'e2e', 'synthetic-worker.js'), 'utf8');
    await page.route('**/assets/worker-*.js', (route) => route.fulfill({ contentType: 'text/javascript', body: syntheticWorker }));
    await page.goto(server.url);
    await expect.poll(() => page.getByTestId('train').isEnabled(), { timeout: 60_000 }).toBe(true);
    await observeLongTasks(page);
    const started = Date.now();
    await page.getByTestId('train').click();
    // What the page shows while the stream runs, sampled until it finishes.
    const samples = await sampleUntilFinished(page, liveSample, started, 120_000, 'the synthetic run finishes within 2 minutes');
    const seconds = (Date.now() - started) / 1000;
    const longTasks = await longTasksOf(page);
    console.log(`e2e synthetic: 4000 steps, 48 matrices in ${seconds.toFixed(1)} s; main-thread long tasks (ms): ${JSON.stringify(longTasks)}`);
    const live = samples.filter((s) => !s.finished);
    console.log(`e2e synthetic: ${live.length} samples mid-run; first loss line at step ${live.find((s) => s.lossPoints > 1)?.step ?? '–'}, first heatmap cell at step ${live.find((s) => s.freezeCells > 0)?.step ?? '–'}`);
    // Live, not only at the end: loss lines that grow, score lines and frozen cells, all before the run finished.
    const lossShapes = new Set(live.filter((s) => s.lossPoints > 1).map((s) => s.lossPath));
    expect(lossShapes.size, 'distinct loss lines drawn mid-run').toBeGreaterThanOrEqual(3);
    expect(live.some((s) => s.scoreLines > 0), 'score lines mid-run').toBe(true);
    expect(live.some((s) => s.freezeCells > 0 && s.freezeCells < 48), 'heatmap cells filling in mid-run').toBe(true);
    expect(live.some((s) => s.step !== null && s.step > 0 && s.step < 4000), 'step counter mid-run').toBe(true);
    expect(live.some((s) => /^\d+% · step \d+\/4000 · /.test(s.title)), 'progress in the tab title').toBe(true);
    // Everything arrived and was drawn: 48 heatmap cells, the final step.
    expect(await page.getByTestId('step').textContent()).toBe('4000 / 4000');
    await expect.poll(() => page.locator('[data-testid=heatmap-freeze] .heat-cell.filled').count(), { timeout: 5_000 }).toBe(48);
    // The bar is 50 ms. The test asserts 250 ms, because this software-rendered Chromium shares 2 cores with
    // its GPU process (and, on a loaded CI box, with everything else), and prints how many exceed 50 ms.
    console.log(`e2e synthetic: ${longTasks.filter((d) => d > 50).length} main-thread tasks over 50 ms`);
    expect(longTasks.filter((d) => d > 250), 'main-thread long tasks over 250 ms').toEqual([]);
    // The theme toggle overrides the OS setting, and the charts follow it.
    const background = () => page.evaluate(() => getComputedStyle(document.querySelector('.panel')!).backgroundColor);
    await page.getByTestId('theme-light').click();
    const light = await background();
    await page.getByTestId('theme-dark').click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await background()).not.toBe(light);
    await page.getByTestId('theme-system').click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme ?? null)).toBeNull();
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('fills the rank heatmap in while a rank run streams in: frames advance, total rank falls, the scrubber replays it', { timeout: 300_000 }, async () => {
    const { page, problems } = await openPage('synthetic-ranks');
    const syntheticWorker = readFileSync(join(ROOT, 'tests', 'fixtures', 'e2e', 'synthetic-worker.js'), 'utf8');
    await page.route('**/assets/worker-*.js', (route) => route.fulfill({ contentType: 'text/javascript', body: syntheticWorker }));
    await page.goto(server.url + '?method=adalora');
    await expect.poll(() => page.getByTestId('train').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.getByTestId('train').click();
    const samples = await sampleUntilFinished(page, rankSample, Date.now(), 120_000, 'the synthetic run finishes within 2 minutes');
    const live = samples.filter((s) => !s.finished);
    const totals = totalRanks(live);
    console.log(`e2e rank: ${live.length} samples mid-run, total rank ${totals[0]} -> ${totals[totals.length - 1]} before the end`);
    // Live: the frame moves on and the allocation changes while the run streams, 72 modules (12 layers x 6).
    expect(new Set(live.map((s) => s.frame).filter((f) => f.includes('frame'))).size, 'distinct frames shown mid-run').toBeGreaterThanOrEqual(3);
    expect(Math.min(...totals), 'ranks pruned mid-run').toBeLessThan(Math.max(...totals));
    expect(live.some((s) => s.cells === 72), 'every module has a cell mid-run').toBe(true);
    expect(live.some((s) => s.budgetDrawn), 'budget chart drawn mid-run').toBe(true);
    // The end: the target allocation (288 of 864); the scrubber replays the first frame.
    await expect.poll(() => page.getByTestId('rank-frame').textContent(), { timeout: 5_000 }).toMatch(/^step 3960 · frame 100 \/ 100 · total rank 288$/);
    await page.getByTestId('rank-scrubber').fill('0');
    await expect.poll(() => page.getByTestId('rank-frame').textContent(), { timeout: 5_000 }).toMatch(/^step 0 · frame 1 \/ 100 · total rank 864$/);
    await page.getByTestId('rank-live').click();
    await expect.poll(() => page.getByTestId('rank-frame').textContent(), { timeout: 5_000 }).toMatch(/frame 100 \/ 100/);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('says what to fix for a wrong Hub repo id, and shows no model as loaded after the failed load', { timeout: 120_000 }, async () => {
    const { page, problems } = await openPage('hub');
    // A Hub mimic: the worker's downloads go to huggingface.co; a repo that does not exist answers as the Hub does
    // (401, X-Error-Code: RepoNotFound, exposed to the page by CORS).
    const asked: string[] = [];
    await page.context().route('https://huggingface.co/**', (route) => {
      asked.push(new URL(route.request().url()).pathname);
      return route.fulfill({
        status: 401,
        headers: { 'x-error-code': 'RepoNotFound', 'access-control-allow-origin': '*', 'access-control-expose-headers': 'X-Error-Code' },
        body: 'Repository not found',
      });
    });
    await page.goto(server.url);
    await page.getByTestId('model-info').waitFor({ timeout: 60_000 });
    await page.getByText('Hugging Face', { exact: true }).click();
    await page.getByLabel('Model id').fill('nobody/bert-tiyn');
    await page.getByTestId('load-model').click();
    const errors = page.getByTestId('errors');
    await expect.poll(() => errors.textContent(), { timeout: 30_000 }).toContain('There is no model "nobody/bert-tiyn" on the Hugging Face Hub (or it is private).');
    const text = await errors.textContent();
    expect(text).toContain('Check your input');
    expect(text).toContain('Check the id: it is owner/name as in the model page address');
    expect(text).not.toMatch(/report it|Unexpected error/);
    expect(asked).toEqual(['/nobody/bert-tiyn/resolve/main/config.json']);
    // The built-in model it replaced is not shown as loaded; Train says why it is off.
    expect(await page.getByTestId('model-info').count()).toBe(0);
    await page.getByTestId('model-failed').waitFor();
    expect(await page.getByTestId('train').isEnabled()).toBe(false);
    expect(await page.getByTestId('train-blocker').textContent()).toMatch(/the last load failed/);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('reads a Latin-1 file without a header as such, says so, and lets the user read it as UTF-8 or rename its classes', { timeout: 120_000 }, async () => {
    const { page, problems } = await openPage('encoding');
    await page.goto(server.url);
    await page.getByTestId('model-info').waitFor({ timeout: 60_000 });
    // AG-News style: no header; Windows-1252 bytes (é = 0xe9), which are not valid UTF-8.
    const rows = ['café au lait,1', 'crème brûlée,1', 'bad news,0', 'sad rain,0', 'good day,1', 'awful day,0', 'nice one,1', 'poor show,0'];
    const buffer = Buffer.from(rows.join('\n') + '\n', 'latin1');
    await page.getByTestId('data-file').setInputFiles({ name: 'ag.csv', mimeType: 'text/csv', buffer });
    await expect.poll(() => page.getByTestId('data-encoding').textContent(), { timeout: 30_000 }).toMatch(/^Read as Windows-1252 \/ Latin-1 \(the file is not valid UTF-8/);
    expect(await page.getByTestId('data-preview').textContent()).toContain('café au lait');
    // No header is a note, not a skipped row.
    expect(await page.getByTestId('data-notes').textContent()).toMatch(/no header row detected/);
    expect(await page.getByText(/rows with errors are skipped/).count()).toBe(0);
    // Read as UTF-8 on request: the é does not decode, and the line says so.
    await page.getByTestId('data-encoding-choice').selectOption('utf-8');
    await expect.poll(() => page.getByTestId('data-encoding').textContent(), { timeout: 30_000 }).toMatch(/^Read as UTF-8 \(chosen\): 4 character\(s\) did not decode/);
    // Classes 0 / 1 renamed; a name given twice blocks Train with the reason.
    await page.getByTestId('label-name-0').fill('negative');
    await page.getByTestId('label-name-0').press('Enter');
    await page.getByTestId('label-name-1').fill('negative');
    await page.getByTestId('label-name-1').press('Enter');
    await expect.poll(() => page.getByTestId('train-blocker').textContent(), { timeout: 5_000 }).toMatch(/labelNames names "negative" twice/);
    expect(await page.getByTestId('train').isEnabled()).toBe(false);
    await page.getByTestId('label-name-1').fill('positive');
    await page.getByTestId('label-name-1').press('Enter');
    await expect.poll(() => page.getByTestId('train').isEnabled(), { timeout: 5_000 }).toBe(true);
    // A setting typed out of range stays as typed and blocks Train, saying which and why.
    await page.locator('details.knobs > summary', { hasText: /^Run$/ }).click();
    const batch = page.getByLabel('Batch size', { exact: true });
    await batch.fill('0');
    await batch.blur();
    expect(await batch.inputValue()).toBe('0');
    await expect.poll(() => page.getByTestId('train-blocker').textContent(), { timeout: 5_000 }).toMatch(/^Fix this setting first: Batch size must be in \[1, 512\] \(got 0\)\.$/);
    await batch.fill('8');
    await expect.poll(() => page.getByTestId('train').isEnabled(), { timeout: 5_000 }).toBe(true);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('resumes a run after a mid-run reload from its checkpoint, and exports and predicts after another reload', { timeout: 1_200_000 }, async () => {
    const { page, problems } = await openPage('resume');
    const dialogs: string[] = [];
    // The user leaves anyway when the page warns that a run is going.
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.type());
      void dialog.accept();
    });
    const dataReady = () => expect.poll(() => page.getByTestId('data-status').textContent(), { timeout: 60_000 }).toMatch(/Ready: 17 train \/ 6 validation rows/);
    await page.goto(server.url + QUERY);
    await page.getByTestId('model-info').waitFor({ timeout: 120_000 });
    await page.getByTestId('data-file').setInputFiles(TINY_CSV);
    await dataReady();
    await page.getByTestId('train').click();
    // Checkpoints are kept at epoch ends (every 3 steps here) and every 30 s (here the first already after the
    // compiling first step); the panel says from where it would resume.
    await expect.poll(() => page.getByTestId('checkpoint').textContent(), { timeout: 600_000 }).toMatch(/^Resumable after a reload from step \d+/);
    const seen = Number((await page.getByTestId('checkpoint').textContent())!.match(/step (\d+)/)![1]);
    expect(seen).toBeGreaterThanOrEqual(1);

    await page.reload();
    expect(dialogs, 'a reload mid-run warns first').toEqual(['beforeunload']);
    await page.getByTestId('model-info').waitFor({ timeout: 120_000 });
    // Offered, but the uploaded file is gone with the reload: it says what to load.
    await expect.poll(() => page.getByTestId('resume-offer').textContent(), { timeout: 30_000 }).toMatch(/was interrupted at step \d+ of 12; its checkpoint is kept in this browser\./);
    const offered = Number((await page.getByTestId('resume-offer').textContent())!.match(/at step (\d+) of 12/)![1]);
    expect(offered).toBeGreaterThanOrEqual(seen);
    expect(offered).toBeLessThan(12);
    expect(await page.getByTestId('resume-blocked').textContent()).toBe(' Load tiny.csv (the same rows) to resume it.');
    expect(await page.getByTestId('resume-run').isEnabled()).toBe(false);
    await page.getByTestId('data-file').setInputFiles(TINY_CSV);
    await dataReady();
    await expect.poll(() => page.getByTestId('resume-run').isEnabled(), { timeout: 10_000 }).toBe(true);
    expect(await page.getByTestId('resume-run').textContent()).toBe(`Resume run from step ${offered}`);
    await page.getByTestId('resume-run').click();
    // At once: the run as it stood at the checkpoint (its charts and step), then it goes on from there.
    await expect.poll(async () => (await liveSample(page)).lossPoints, { timeout: 10_000 }).toBeGreaterThanOrEqual(offered);
    await page.getByTestId('finished').waitFor({ timeout: 900_000 });
    expect(await page.getByTestId('finished').textContent()).toMatch(/^Finished after 12 steps/);
    expect(await page.getByTestId('resume-offer').count()).toBe(0);
    await expect.poll(async () => (await liveSample(page)).lossPoints, { timeout: 5_000 }).toBe(12);
    const evaluations = await page.locator('[data-testid=chart-metric]').getAttribute('data-empty');
    expect(evaluations).toBe('false');
    // Its weights are kept with it (the runs list says so) before the next reload.
    await page.locator('[data-testid=run-open][title*="kept weights"]').first().waitFor({ timeout: 30_000 });

    // A reload after the end: no warning, no offer; the finished run comes back and its weights go back onto the
    // model, so Try it and Export work without training again.
    await page.reload();
    await page.getByTestId('model-info').waitFor({ timeout: 120_000 });
    await expect.poll(() => page.getByTestId('finished').textContent(), { timeout: 30_000 }).toMatch(/^Finished after 12 steps/);
    expect(dialogs, 'no warning once the run has ended').toEqual(['beforeunload']);
    expect(await page.getByTestId('resume-offer').count()).toBe(0);
    await page.getByPlaceholder('Type something to classify').fill('what a wonderful sunny day');
    const predict = page.getByRole('button', { name: 'Predict' });
    await expect.poll(() => predict.isEnabled(), { timeout: 60_000 }).toBe(true);
    await predict.click();
    await expect.poll(() => page.getByTestId('prediction').textContent(), { timeout: 60_000 }).toMatch(/negative[\d.]+ %positive[\d.]+ %/);
    const percents = (await page.getByTestId('prediction').textContent())!.match(/[\d.]+(?= %)/g)!.map(Number);
    expect(percents.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
    const { files, config } = await downloadPeftExport(page, 'after-reload-');
    expect(config).toMatchObject({ peft_type: 'LORA', base_model_name_or_path: 'base', id2label: { 0: 'negative', 1: 'positive' } });
    expect(Object.keys(safetensorsHeader(files['adapter_model.safetensors']))).toContain('base_model.model.classifier.weight');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('runs a 2 x 2 comparison with live grid progress, resumes it after a mid-grid reload, and exports its table', { timeout: 900_000 }, async () => {
    const { page, problems } = await openPage('compare');
    page.on('dialog', (dialog) => void dialog.accept());
    const dataReady = () => expect.poll(() => page.getByTestId('data-status').textContent(), { timeout: 60_000 }).toMatch(/Ready: 17 train \/ 6 validation rows/);
    /** The Compare panel as a user sees it now. */
    const gridSample = () =>
      page.evaluate(() => {
        const block = document.querySelector('[data-testid=compare-progress]');
        return {
          fraction: Number(block?.querySelector('progress')?.getAttribute('value') ?? Number.NaN),
          text: block?.querySelector('[role=status]')?.textContent ?? '',
          rows: document.querySelectorAll('[data-testid=compare-table] tbody tr').length,
          checkpoint: document.querySelector('[data-testid=checkpoint]')?.textContent ?? '',
        };
      });
    const started = Date.now();
    // Two epochs of 2 steps per cell (17 rows, batch 16): the checkpoint at the first epoch's end lies inside every cell.
    await page.goto(server.url + '?method=aflora&bs=16&len=16&ep=2&dt=1&tf=0.5&log=1&val=0.25');
    await page.getByTestId('model-info').waitFor({ timeout: 120_000 });
    await page.getByTestId('data-file').setInputFiles(TINY_CSV);
    await dataReady();
    await page.getByTestId('compare-arm-pm-trainable').uncheck();
    await page.getByTestId('compare-seeds').fill('1, 2');
    expect(await page.getByTestId('compare-start').textContent()).toBe('Run comparison (4 runs)');
    await page.getByTestId('compare-start').click();

    // While the grid runs: progress within the first cell, then the first row of the table while the second cell
    // runs; the page reloads once that cell has kept a checkpoint.
    const samples: Awaited<ReturnType<typeof gridSample>>[] = [];
    for (;;) {
      const sample = await gridSample();
      samples.push(sample);
      if (/^1 of 4 runs done · now AFLoRA seed 2/.test(sample.text) && /^Resumable after a reload from step \d+/.test(sample.checkpoint)) break;
      expect(sample.text, 'the reload comes before the second cell ends').not.toMatch(/^[2-4] of 4/);
      expect(Date.now() - started, 'the second cell keeps a checkpoint within 6 minutes').toBeLessThan(360_000);
      await page.waitForTimeout(100);
    }
    await page.reload();
    const beforeReload = samples.at(-1)!;
    console.log(`e2e compare: reloaded after ${((Date.now() - started) / 1000).toFixed(1)} s at "${beforeReload.text}" (${beforeReload.checkpoint})`);
    expect(samples.some((s) => /^0 of 4 runs done · now AFLoRA seed 1/.test(s.text) && s.fraction > 0 && s.fraction < 0.25), 'the first cell moves the bar').toBe(true);
    expect(samples.some((s) => / · about .+ left$/.test(s.text)), 'an ETA for the whole grid').toBe(true);
    expect(beforeReload.rows, 'the first cell is a row while the second runs').toBe(1);
    expect(beforeReload.fraction).toBeGreaterThan(0.25);
    expect(beforeReload.fraction).toBeLessThan(0.5);
    const kept = Number(beforeReload.checkpoint.match(/step (\d+)/)![1]);

    // After the reload: the grid is kept with its one row; it resumes on the same data only.
    await page.getByTestId('model-info').waitFor({ timeout: 120_000 });
    await expect.poll(() => gridSample().then((s) => s.text), { timeout: 30_000 }).toBe('1 of 4 runs done · interrupted: Load the data tiny to resume.');
    expect((await gridSample()).rows).toBe(1);
    const resume = page.getByTestId('compare-resume');
    expect(await resume.textContent()).toBe('Resume (3 left)');
    expect(await resume.isEnabled()).toBe(false);
    await page.getByTestId('data-file').setInputFiles(TINY_CSV);
    await dataReady();
    // The interrupted cell's run is the one on offer; Resume goes on with it from its checkpoint.
    await expect.poll(() => page.getByTestId('resume-offer').textContent(), { timeout: 30_000 }).toMatch(new RegExp(`^Compare · AFLoRA · seed 2 · .+ was interrupted at step ${kept} of 4`));
    await expect.poll(() => resume.isEnabled(), { timeout: 10_000 }).toBe(true);
    await resume.click();
    await expect.poll(async () => (await liveSample(page)).lossPoints, { timeout: 10_000 }).toBeGreaterThanOrEqual(kept);
    await expect.poll(() => gridSample().then((s) => s.text), { timeout: 10_000 }).toMatch(/^1 of 4 runs done · now AFLoRA seed 2/);
    expect(await page.getByTestId('resume-offer').count()).toBe(0);
    // The end state (not the last cell's moment of '4 of 4 runs done · about 0 s left' before the grid stops).
    await expect.poll(() => gridSample().then((s) => s.text), { timeout: 600_000 }).toMatch(/^4 of 4 runs done( \(\d failed\))?$/);
    const failedCells = await page.getByTestId('compare-failed').count();
    if (failedCells > 0) console.log(`e2e compare: ${await page.getByTestId('compare-failed').textContent()} ${await page.getByTestId('errors').textContent()}`);
    expect((await gridSample()).text, 'no cell failed').toBe('4 of 4 runs done');
    console.log(`e2e compare: grid done after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // The table: one row per method, mean ± sd over its 2 seeds; every cell is one kept run (the resumed one once).
    const table = page.getByTestId('compare-table');
    const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(rows.map((r) => r[0])).toEqual(['AFLoRA', 'LoRA']);
    // The caption says what ± is, what ms/step leaves out and that the FLOPs are an estimate.
    expect(await page.getByTestId('compare-caption').textContent()).toMatch(/^Metric: mean ± sample standard deviation over the seeds.* ms\/step: .*without the first step.* rel\. FLOPs\/step: an estimate/);
    // Each arm at its method's own adapter LR (AFLoRA 1e-2, LoRA 5e-4).
    expect(rows.map((r) => r[1])).toEqual(['1e-2', '5e-4']);
    for (const row of rows) {
      expect(row[2]).toMatch(/^\d+\.\d\d ± \d+\.\d\d$/);
      expect(row[3]).toMatch(/^\d+\.\d\d ± \d+\.\d\d$/);
      expect(row[8]).toBe('#1#2');
    }
    const runsList = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('[data-testid=runs] > li')].map((li) => ({
          label: (li.querySelector('.run-head > span')?.firstChild?.textContent ?? '').replace(/ · \d\d:\d\d.*$/, ''),
          weights: li.querySelector('[data-testid=run-open]')?.getAttribute('title')?.includes('kept weights') ?? false,
        })),
      );
    await expect
      .poll(() => runsList().then((runs) => runs.filter((r) => r.weights).length), { timeout: 30_000 })
      .toBe(4)
      .catch(async (error: unknown) => {
        console.log(`e2e compare: runs kept ${JSON.stringify(await runsList())}`);
        throw error;
      });
    expect((await runsList()).map((r) => r.label).sort()).toEqual(['Compare · AFLoRA · seed 1', 'Compare · AFLoRA · seed 2', 'Compare · LoRA · seed 1', 'Compare · LoRA · seed 2']);

    // Each link shows its own run (marked in Runs); its last-epoch accuracy is what the table averages.
    const lastOf: Record<string, number[]> = {};
    const links = table.getByTestId('compare-run-link');
    for (let i = 0; i < 4; i++) {
      await links.nth(i).click();
      const arm = i < 2 ? 'AFLoRA' : 'LoRA';
      await expect.poll(() => page.locator('[data-testid=runs] li.current .run-head > span').first().textContent(), { timeout: 10_000 }).toMatch(new RegExp(`^Compare · ${arm} · seed ${(i % 2) + 1} · .* · shown$`));
      const report = await page.getByTestId('epoch-report').textContent();
      (lastOf[arm] ??= []).push(Number(report!.match(/at the last epoch \(2\) ([\d.]+)/)![1]));
    }

    // The exports: CSV at full precision, Markdown as the paper prints it; one line per method.
    const download = async (testId: string) => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
      expect(file.suggestedFilename()).toBe(`compare-tiny.${testId === 'compare-csv' ? 'csv' : 'md'}`);
      const path = join(work, file.suggestedFilename());
      await file.saveAs(path);
      return readFileSync(path, 'utf8');
    };
    const csv = (await download('compare-csv')).trim().split('\n').map((line) => line.split(','));
    expect(csv[0]).toEqual(['method', 'adapter LR', 'runs', 'last', 'last sd', 'best', 'best sd', 'avg trainable', 'final trainable', 'ms/step', 'rel. FLOPs/step']);
    expect(csv.slice(1).map((r) => [r[0], r[1], r[2]])).toEqual([['AFLoRA', '0.01', '2'], ['LoRA', '0.0005', '2']]);
    for (const r of csv.slice(1)) {
      const [a, b] = lastOf[r[0]];
      expect(Number(r[3])).toBeCloseTo((a + b) / 2, 3); // the run view prints 4 decimals
      expect(Number(r[4])).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 3);
      expect(Number(r[5])).toBeGreaterThanOrEqual(Number(r[3]));
      expect(Number(r[7])).toBeGreaterThan(0);
      expect(Number(r[9])).toBeGreaterThan(0);
    }
    expect(Number(csv[1][10])).toBe(1);
    const md = (await download('compare-md')).split('\n').filter((line) => line.startsWith('|'));
    expect(md).toHaveLength(4);
    expect(md[0]).toMatch(/^\| method \| adapter LR \| runs \| accuracy \(last epoch\) \| accuracy \(best epoch\) \|/);
    expect(md[2]).toMatch(/^\| AFLoRA \| 1e-2 \| 2 \| \d+\.\d\d ± \d+\.\d\d \| /);
    expect(md[3]).toMatch(/^\| LoRA \| 5e-4 \| 2 \| \d+\.\d\d ± \d+\.\d\d \| /);
    console.log(`e2e compare: ${((Date.now() - started) / 1000).toFixed(1)} s in all; table ${JSON.stringify(rows.map((r) => r.slice(0, 7)))}`);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('loads the built-in model and a CSV, trains on WebGPU, charts live, exports a PEFT adapter', { timeout: 900_000 }, async () => {
    const { page, problems } = await openPage('webgpu');
    await page.goto(server.url + QUERY);
    await page.getByRole('heading', { name: 'AFLoRA Playground' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'empty.png'), fullPage: true });

    // The worker picked WebGPU and the built-in model loaded (it loads on its own at startup).
    await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toBe('WEBGPU');
    await page.getByTestId('model-info').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('model-info').textContent()).toContain('2 × hidden 128');

    // Upload the CSV through the file input: preview, label summary, the bad row by its line number.
    await page.getByTestId('data-file').setInputFiles(TINY_CSV);
    await expect.poll(() => page.getByTestId('data-status').textContent(), { timeout: 30_000 }).toMatch(/Ready: 17 train \/ 6 validation rows, 2 labels/);
    const preview = await page.getByTestId('data-preview').textContent();
    expect(preview).toContain('what a wonderful sunny day');
    expect(await page.getByText(/line 13: .*label missing/).count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'data-loaded.png'), fullPage: true });

    // Main-thread long tasks from here to the end of training.
    await observeLongTasks(page);
    const started = Date.now();
    await page.getByTestId('train').click();
    // First metrics: the step counter moves and the loss chart gets a line.
    await expect.poll(() => page.getByTestId('step').textContent(), { timeout: 300_000 }).toMatch(/^[1-9]\d* \/ 12$/);
    await expect.poll(() => page.locator('[data-testid=chart-loss]').getAttribute('data-empty'), { timeout: 30_000 }).toBe('false');
    // Drawn while it trains: a loss line of several points before the run has finished.
    let duringRun = await liveSample(page);
    await expect.poll(async () => ((duringRun = await liveSample(page)), duringRun.lossPoints > 1 || duringRun.finished), { timeout: 300_000 }).toBe(true);
    expect(duringRun.finished, 'the loss chart is drawn before the run ends').toBe(false);
    await page.screenshot({ path: join(SCREENSHOTS, 'training.png'), fullPage: true });

    await page.getByTestId('finished').waitFor({ timeout: 600_000 });
    const trainSeconds = (Date.now() - started) / 1000;
    expect(await page.getByTestId('finished').textContent()).toMatch(/^Finished after 12 steps/);
    // Steps replay by default on WebGPU (#12), AFLoRA's scoring steps too: the panel says so and how many.
    const execution = (await page.getByTestId('execution').textContent()) ?? '';
    console.log(`e2e webgpu: steps ran as "${execution}"`);
    expect(execution).toMatch(/^(replayed steps \(|engine \(not replayed: .+\) · )\d+ of 12 steps/);
    expect(Number(/(\d+) of 12 steps/.exec(execution)![1]), 'replayed steps').toBeGreaterThan(0);
    const longTasks = await longTasksOf(page);
    console.log(`e2e webgpu: 12 steps in ${trainSeconds.toFixed(1)} s (incl. compile); main-thread long tasks (ms): ${JSON.stringify(longTasks)}`);

    // Charts have points; the heatmap has one cell per trainable A/B matrix (FFN: 2 layers x 4).
    await expect.poll(async () => (await liveSample(page)).lossPoints, { timeout: 5_000 }).toBe(12);
    expect(await page.locator('[data-testid=chart-metric]').getAttribute('data-empty')).toBe('false');
    const cells = page.locator('[data-testid=heatmap-freeze] .heat-cell');
    if (METHOD === 'aflora') {
      expect(await cells.count()).toBe(8);
      expect(await page.locator('[data-testid=chart-scores]').getAttribute('data-empty')).toBe('false');
      expect(await page.locator('[data-testid=heatmap-scores] .heat-cell.filled').count()).toBe(8);
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'finished.png'), fullPage: true });

    // PEFT export: a zip of adapter_config.json + adapter_model.safetensors that parse, with the built-in model's
    // files in Hugging Face layout under base/ (the folder the adapter names), the class names in both configs.
    const { files, config } = await downloadPeftExport(page);
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'SEQ_CLS', modules_to_save: ['classifier'], base_model_name_or_path: 'base' });
    expect(Object.keys(config.id2label)).toEqual(['0', '1']);
    const baseConfig = JSON.parse(new TextDecoder().decode(files['base/config.json']));
    expect(baseConfig).toMatchObject({ num_labels: 2, id2label: config.id2label, label2id: config.label2id });
    const header = safetensorsHeader(files['adapter_model.safetensors']);
    const loraA = Object.keys(header).filter((k) => k.endsWith('.lora_A.weight'));
    expect(loraA.length).toBe(config.target_modules.length);
    expect(header['base_model.model.classifier.weight'].shape).toEqual([2, 128]);
    for (const name of loraA) expect(header[name].shape).toEqual([config.r, name.includes('output.dense') && !name.includes('attention') ? 512 : 128]);

    // The heatmap SVG stands on its own and looks like the page: each text keeps its on-page colour and font.
    const [svgDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-heatmap-svg').click()]);
    const svgPath = join(work, svgDownload.suggestedFilename());
    await svgDownload.saveAs(svgPath);
    const onPage = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid=heatmap-freeze] svg text')].map((t) => ({ fill: getComputedStyle(t).fill, font: getComputedStyle(t).fontFamily })),
    );
    const inFile = await page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      return [...doc.querySelectorAll('text')].map((t) => ({ style: t.getAttribute('style') ?? '', cls: t.getAttribute('class') }));
    }, readFileSync(svgPath, 'utf8'));
    expect(inFile.length).toBe(onPage.length);
    inFile.forEach((t, i) => {
      expect(t.style).toContain(`fill:${onPage[i].fill}`);
      expect(t.style).toContain('font-family:');
      expect(t.cls, 'no page classes left in the file').toBeNull();
    });

    // Starved by SwiftShader, tasks stretch (see the header); a blocked main thread would still show here.
    expect(longTasks.filter((d) => d > 1000), 'main-thread tasks over 1 s while training').toEqual([]);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  for (const method of RANK_E2E_METHODS) {
    const run = RANK_RUNS[method];
    it(`trains ${run.label} on the built-in model and spam-ham rows: the rank heatmap fills in live as ranks change, the export loads in PEFT`, { timeout: 600_000 }, async () => {
      const { page, problems } = await openPage(method);
      await recordPredictions(page);
      // The sample set's first 32 rows (one row a line; 24 train / 8 validation), batch 8 x 4 epochs = 12 steps.
      const csv = join(work, 'spam-ham-32.csv');
      writeFileSync(csv, readFileSync(join(ROOT, 'public', 'datasets', 'spam-ham', 'train.csv'), 'utf8').split('\n').slice(0, 33).join('\n') + '\n');
      await page.goto(`${server.url}?method=${method}&bs=8&len=16&ep=4&log=1&val=0.25&${run.query}`);
      await page.getByTestId('model-info').waitFor({ timeout: 120_000 });
      await page.getByTestId('data-file').setInputFiles(csv);
      await expect.poll(() => page.getByTestId('data-status').textContent(), { timeout: 30_000 }).toMatch(/Ready: 24 train \/ 8 validation rows, 2 labels/);
      expect(await page.getByTestId('resolved-settings').textContent()).toMatch(/\(12 steps, 3 per epoch\)/);
      expect(await page.getByTestId('resolved-settings').textContent()).not.toContain('⚠');
      const started = Date.now();
      await page.getByTestId('train').click();
      const samples = await sampleUntilFinished(page, rankSample, started, 480_000, 'the 12-step run finishes within 8 minutes', 250);
      const seconds = (Date.now() - started) / 1000;
      const live = samples.filter((s) => !s.finished);
      const totals = totalRanks(live);
      const allocations = new Set(live.map((s) => s.ranks).filter((r) => r !== ''));
      console.log(
        `e2e ${method}: 12 steps in ${seconds.toFixed(1)} s; ${live.length} samples mid-run, total rank ` +
          `${totals.filter((t, i) => i === 0 || t !== totals[i - 1]).join(' -> ')}, ${allocations.size} allocations seen`,
      );
      // Live: frames move on and the allocation changes while the steps run, every module (2 layers x query, value) drawn.
      expect(new Set(live.map((s) => s.frame).filter((f) => f.includes('frame'))).size, 'distinct frames shown mid-run').toBeGreaterThanOrEqual(3);
      expect(allocations.size, 'module ranks changed mid-run').toBeGreaterThanOrEqual(2);
      expect(totals[0], 'the starting total first').toBe(run.startTotal);
      expect(live.some((s) => s.cells === 4), 'every module has a cell mid-run').toBe(true);
      expect(live.some((s) => s.budgetDrawn), 'budget chart drawn mid-run').toBe(true);
      expect(await page.getByTestId('finished').textContent()).toMatch(/^Finished after 12 steps/);
      const finalTotal = Number((await page.getByTestId('rank-frame').textContent())!.match(/total rank (\d+)$/)![1]);
      run.checkTotals(totals, finalTotal);

      // Its PEFT export carries the final frame's ranks.
      const { files, config } = await downloadPeftExport(page, `${method}-`);
      run.checkExport(config, finalTotal);
      // PEFT loads it on the exported base model and reproduces what Try it computed in the browser.
      const texts = ['Congratulations! You have won a FREE prize, call now to claim your cash', 'Can we move the meeting to Thursday? I will send the notes tonight.'];
      const probabilities: number[][] = [];
      for (const text of texts) probabilities.push(await predictExactly(page, text));
      const peft = checkWithPeft(files, `${method}-peft`, texts, 16, probabilities);
      console.log(`e2e ${method}: PEFT vs app logits (row-centred) max |diff| ${peft.max_abs_diff.toExponential(2)}, adapter + head effect ${peft.adapter_effect.toFixed(3)}`);
      expect(peft.passed).toBe(true);
      expect(peft.max_abs_diff).toBeLessThan(1e-4);
      expect(peft.adapter_effect, 'the adapter and trained head move the logits').toBeGreaterThan(1e-2);
      expect(problems).toEqual([]);
      await page.context().close();
    });
  }

});

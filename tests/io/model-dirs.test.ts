/**
 * RoBERTa and DeBERTa-v2 load end to end as the app loads them: tiny seeded Hub-style folders from
 * scripts/reference/model_dirs.py (config.json + model.safetensors + the golden tokenizers' files) go through io's
 * loadModel (from disk, and from a local server that answers as the Hub does), the family's tokenizer and model, and
 * the Trainer: token ids equal transformers' AutoTokenizer, logits within 1e-4 of AutoModelForSequenceClassification;
 * then the worker session trains, predicts and exports a run on each.
 */
import * as tf from '@tensorflow/tfjs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { strFromU8 } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Trainer } from '../../src/engine/trainer';
import { encodeExamples } from '../../src/io/datasets/dataset';
import { loadModel, type NamedBytes } from '../../src/io/model/model-source';
import { parseSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { adapterMethod } from '../../src/methods/registry';
import type { Command, WorkerEvent } from '../../src/worker/protocol';
import { buildRunConfig } from '../../src/worker/run-config';
import { Session } from '../../src/worker/session';
import { toyRecipe } from '../helpers/tinyBert';

const ROOT = join(__dirname, '..', '..');
const FAMILIES = { roberta: { family: 'roberta', fallback: ['vocab.json', 'merges.txt'] }, deberta: { family: 'deberta-v2', fallback: ['spm.model'] } } as const;
type Dir = keyof typeof FAMILIES;

interface Cases {
  tokenizer: string;
  cases: { text: string; pair: string | null; ids: number[]; mask: number[]; logits: number[] }[];
}
interface Golden {
  maxLength: number;
  tokenizerFiles: string[];
  /** Every tokenizer file / without tokenizer.json, as transformers loads each folder. */
  hub: Cases;
  old: Cases;
}
const golden = (dir: Dir) => JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'model-dirs', dir, 'golden.json'), 'utf8')) as Golden;

/** The folder as the Hub has it: config, weights and every tokenizer file (tokenizer.json and its alternatives). */
function folder(dir: Dir): NamedBytes[] {
  const own = ['config.json', 'model.safetensors'].map((name) => join('tests', 'fixtures', 'model-dirs', dir, name));
  return [...own, ...golden(dir).tokenizerFiles].map((path) => ({ name: basename(path), bytes: new Uint8Array(readFileSync(join(ROOT, path))) }));
}

function withoutPooler(bytes: Uint8Array): Uint8Array {
  const kept = new Map([...parseSafetensors(bytes).tensors].filter(([name]) => !name.startsWith('pooler.')));
  return writeSafetensors(new Map([...kept].map(([name, t]) => [name, { shape: t.shape, data: t.data as Float32Array }])));
}

const TINY_CSV = readFileSync(join(ROOT, 'tests', 'fixtures', 'e2e', 'tiny.csv'), 'utf8');

let server: Server;
let hubBase = '';
const requests: string[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
  // Hub-like: /<org>/<repo>/resolve/main/<file>; the -spm / -vocab repos lack tokenizer.json (deberta-v3's own repos do).
  const repos: Record<string, NamedBytes[]> = {};
  for (const dir of Object.keys(FAMILIES) as Dir[]) {
    repos[`org/${dir}`] = folder(dir);
    repos[`org/${dir}-old`] = folder(dir).filter((f) => f.name !== 'tokenizer.json');
  }
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const match = /^\/([\w-]+\/[\w-]+)\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const file = match ? repos[match[1]]?.find((f) => f.name === match[2]) : undefined;
    if (file) {
      res.writeHead(200, { 'content-length': String(file.bytes.byteLength) });
      res.end(file.bytes);
    } else {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' });
      res.end('Entry not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hubBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe.each(Object.keys(FAMILIES) as Dir[])('%s folder through loadModel, tokenizer, model and Trainer', (dir) => {
  const want = golden(dir);
  async function checkAgainstTransformers(model: Awaited<ReturnType<typeof loadModel>>, variant: 'hub' | 'old') {
    const { cases } = want[variant];
    const rows = cases.map((c, i) => ({ text: c.text, textPair: c.pair, label: i % 2, line: i + 2 }));
    expect(model.config.family).toBe(FAMILIES[dir].family);
    expect([model.missing, model.dropped]).toEqual([[], []]);
    const examples = encodeExamples(model.tokenizer, rows, 'classification', want.maxLength);
    cases.forEach((c, i) => {
      expect(Array.from(examples.inputIds.slice(i * want.maxLength, (i + 1) * want.maxLength)), c.text).toEqual(c.ids);
      expect(Array.from(examples.attentionMask.slice(i * want.maxLength, (i + 1) * want.maxLength))).toEqual(c.mask);
    });
    const trainer = new Trainer({ config: model.config, weights: model.weights, method: adapterMethod('lora'), train: examples, recipe: { ...toyRecipe, maxLength: want.maxLength } });
    try {
      // LoRA's B starts at zero: the adapted model is the checkpoint's.
      for (const adapted of [false, true]) {
        const logits = await trainer.logits(examples, adapted);
        let worst = 0;
        cases.forEach((c, i) => c.logits.forEach((v, j) => (worst = Math.max(worst, Math.abs(logits[i * 2 + j] - v)))));
        expect(worst).toBeLessThan(1e-4);
      }
      // It trains, and leaks nothing per step.
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        await trainer.step();
        expect((await trainer.flushMetrics()).every((m) => Number.isFinite(m.loss))).toBe(true);
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts).size).toBe(1);
    } finally {
      trainer.dispose();
    }
  }

  it('from disk: ids equal AutoTokenizer, logits within 1e-4 of transformers, and it trains', async () => {
    const model = await loadModel({ kind: 'files', files: folder(dir) }, { cache: null });
    expect(Object.keys(model.sizes)).toContain('tokenizer.json');
    await checkAgainstTransformers(model, 'hub');
  });

  it(`from a Hub-like server without tokenizer.json (${FAMILIES[dir].fallback.join(' + ')}): the same ids and logits`, async () => {
    requests.length = 0;
    const model = await loadModel({ kind: 'hub', repo: `org/${dir}-old`, hubBase }, { cache: null });
    expect(Object.keys(model.sizes).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer_config.json', ...FAMILIES[dir].fallback].sort());
    expect(requests).toContain(`/org/${dir}-old/resolve/main/tokenizer.json`); // probed first, 404
    await checkAgainstTransformers(model, 'old');
  });

  it('names the files it needs when the folder has no tokenizer', async () => {
    const files = folder(dir).filter((f) => f.name === 'config.json' || f.name === 'model.safetensors');
    const needs = { roberta: /neither tokenizer.json nor vocab.json \+ merges.txt was found/, deberta: /neither tokenizer.json nor spm.model was found/ }[dir];
    await expect(loadModel({ kind: 'files', files }, { cache: null })).rejects.toThrow(needs);
  });

  // deberta-v3 checkpoints have no pooler (pre-trained with an LM head): the engine initialises one, which the
  // PEFT file must then carry, or PEFT draws its own and the logits differ.
  it.each(dir === 'deberta' ? [false, true] : [false])('trains, predicts and exports for PEFT in the worker session, under the family module names (pooler stripped: %s)', { timeout: 120_000 }, async (stripPooler) => {
    const events: WorkerEvent[] = [];
    const session = new Session((e) => events.push(e));
    const send = async (command: Command) => {
      const from = events.length;
      await session.handle(command);
      return events.slice(from);
    };
    const only = <T extends WorkerEvent['type']>(list: WorkerEvent[], type: T) => list.filter((e): e is Extract<WorkerEvent, { type: T }> => e.type === type);
    const files = folder(dir)
      .map((f) => (stripPooler && f.name === 'model.safetensors' ? { ...f, bytes: withoutPooler(f.bytes) } : f))
      .map((f) => new File([f.bytes as Uint8Array<ArrayBuffer>], f.name));
    expect((await send({ type: 'loadModel', source: { kind: 'files', files } })).map((e) => e.type)).toContain('modelLoaded');
    const split = { validationFraction: 0.25, validationSeed: 42 };
    const [loaded] = only(await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split }), 'dataPreview');
    const { preview } = loaded;
    const config = buildRunConfig({
      method: 'aflora',
      options: { initialWarmup: 2, finalWarmup: 4, deltaT: 1 },
      // Not the default seed: an imported run (default seed) would draw another pooler than this one.
      recipe: { epochs: 2, batchSize: 4, maxLength: 16, logEvery: 1, seed: 3 },
      split,
      model: { name: 'local files', hubId: null, revision: null },
      data: { name: preview.name, train: preview.files.train, validation: preview.files.validation, columns: preview.mapping!, task: preview.task, labels: preview.labels.map((l) => l.name) },
    });
    const run = await send({ type: 'start', config });
    expect(only(run, 'error')).toEqual([]);
    expect(only(run, 'finished')).toEqual([expect.objectContaining({ reason: 'completed', step: 9 })]);
    expect(only(run, 'stepMetrics').flatMap((e) => Array.from(e.batch.loss)).every(Number.isFinite)).toBe(true);
    const [prediction] = only(await send({ type: 'predict', requestId: 1, text: 'a happy sunny day' }), 'prediction');
    expect(prediction.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const [peft] = only(await send({ type: 'export', format: 'peft' }), 'exported');
    const file = (name: string) => peft.files.find((f) => f.name === name)?.bytes;
    const adapterConfig = JSON.parse(strFromU8(file('adapter_config.json')!)) as { target_modules: string[]; modules_to_save: string[] };
    const adapterTensors = [...parseSafetensors(file('adapter_model.safetensors')!).tensors.keys()];
    const pooler = ['base_model.model.pooler.dense.bias', 'base_model.model.pooler.dense.weight'];
    expect(adapterConfig.modules_to_save).toEqual(stripPooler ? ['classifier', 'pooler'] : ['classifier']);
    expect(adapterTensors.filter((name) => name.includes('.pooler.')).sort()).toEqual(stripPooler ? pooler : []);
    // Imported back (a LoRA run made from the file, its own recipe seed): the same predictions, pooler included.
    const adapterFiles = ['adapter_config.json', 'adapter_model.safetensors'].map((name) => new File([file(name) as Uint8Array<ArrayBuffer>], name));
    expect(only(await send({ type: 'importAdapter', files: adapterFiles }), 'error')).toEqual([]);
    const [again] = only(await send({ type: 'predict', requestId: 2, text: 'a happy sunny day' }), 'prediction');
    again.probabilities.forEach((p, i) => expect(Math.abs(p - prediction.probabilities[i])).toBeLessThan(1e-5));
    // Not on the Hub: the model goes along under base/, with the tokenizer files it was read from.
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(file(`base/${name}`), name).toBeDefined();
    const root = { roberta: 'roberta.encoder.layer.', deberta: 'deberta.encoder.layer.' }[dir];
    expect(adapterConfig.target_modules.length).toBeGreaterThan(0);
    expect(adapterConfig.target_modules.every((m) => m.startsWith(root))).toBe(true);
  });
});

import { AppError } from '../../src/engine/errors';
import { toWorkerError } from '../../src/worker/errors';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bertWeightShapes } from '../../src/engine/weights';
import { parseBertConfig } from '../../src/engine/config';
import type { FileCache } from '../../src/io/model/fetch';
import { loadModel } from '../../src/io/model/model-source';
import { canonicalName } from '../../src/io/model/weights';
import { writeSafetensors } from '../../src/io/safetensors';
import { parseTorchBin } from '../../src/io/torch-bin';

const CONFIG = {
  architectures: ['BertForMaskedLM'],
  model_type: 'bert',
  vocab_size: 12,
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 16,
  max_position_embeddings: 16,
  type_vocab_size: 2,
  hidden_act: 'gelu',
};
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', '!', '##s'];

/** A BertForMaskedLM-style checkpoint: no `bert.` prefix, TF-style gamma/beta, an MLM head, no pooler. */
function tinyCheckpoint(): Uint8Array {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let counter = 0;
  for (const [name, shape] of bertWeightShapes(parseBertConfig(CONFIG))) {
    if (name.startsWith('classifier') || name.startsWith('bert.pooler')) continue;
    const size = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, (_, i) => counter + i / 1000);
    counter++;
    const stored = name.replace(/^bert\./, '').replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
    tensors.set(stored, { shape, data });
  }
  tensors.set('cls.predictions.bias', { shape: [12], data: new Float32Array(12) });
  return writeSafetensors(tensors);
}

const files: Record<string, Uint8Array> = {
  'config.json': new TextEncoder().encode(JSON.stringify(CONFIG)),
  'vocab.txt': new TextEncoder().encode(VOCAB.join('\n') + '\n'),
};
const weights = tinyCheckpoint();

let server: Server;
let base = '';
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    requests.push(url);
    const hub = /^\/org\/tiny\/resolve\/main\/(.+)$/.exec(url);
    if (hub && hub[1] === 'model.safetensors') {
      // The hub redirects large files to its CDN.
      res.writeHead(302, { location: '/cdn/blob-123' });
      res.end();
    } else if (url === '/cdn/blob-123') {
      res.writeHead(200, { 'content-length': String(weights.byteLength) });
      // Two chunks, so progress is reported more than once.
      res.write(weights.subarray(0, 100));
      setTimeout(() => res.end(weights.subarray(100)), 5);
    } else if (hub && files[hub[1]]) {
      res.writeHead(200, { 'content-length': String(files[hub[1]].byteLength) });
      res.end(files[hub[1]]);
    } else if (url.startsWith('/gated/')) {
      // As the Hub answers without a login: 401 and the reason in X-Error-Code.
      res.writeHead(401, { 'x-error-code': 'GatedRepo' });
      res.end();
    } else if (url.startsWith('/private/')) {
      res.writeHead(401);
      res.end();
    } else if (url.startsWith('/nobody/')) {
      // A repo that does not exist: the Hub says 401 too (it cannot tell it from a private one), with the code.
      res.writeHead(401, { 'x-error-code': 'RepoNotFound' });
      res.end('Repository not found');
    } else if (url.startsWith('/org/tiny/resolve/v9/')) {
      res.writeHead(404, { 'x-error-code': 'RevisionNotFound' });
      res.end('Invalid rev id');
    } else if (url.startsWith('/busy/')) {
      res.writeHead(503);
      res.end();
    } else if (url.startsWith('/org/')) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' });
      res.end('Entry not found');
    } else {
      res.writeHead(404);
      res.end('Entry not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function memoryCache(): FileCache & { store: Map<string, Uint8Array | null> } {
  const store = new Map<string, Uint8Array | null>();
  return {
    store,
    match: async (url) => store.get(url),
    put: async (url, bytes) => void store.set(url, bytes),
  };
}

describe('loadModel from a hub-like server', () => {
  it('downloads with progress, follows the redirect, renames weights, then loads from cache with no request', async () => {
    const cache = memoryCache();
    const progress: { file: string; loaded: number; total: number | null }[] = [];
    requests.length = 0;
    const model = await loadModel({ kind: 'hub', repo: 'org/tiny', hubBase: base }, { cache, onProgress: (p) => progress.push(p) });

    expect(requests).toContain('/org/tiny/resolve/main/tokenizer.json'); // probed, 404
    expect(requests).toContain('/cdn/blob-123');
    expect(model.name).toBe('org/tiny@main');
    expect(model.config.hiddenSize).toBe(8);
    expect(model.weightsFile).toBe('model.safetensors');
    expect(model.sizes['model.safetensors']).toBe(weights.byteLength);
    expect(model.weights.get('bert.embeddings.LayerNorm.weight')!.shape).toEqual([8]);
    expect(model.weights.has('bert.encoder.layer.0.output.LayerNorm.bias')).toBe(true);
    expect([...model.weights.keys()].some((k) => k.includes('gamma') || k.startsWith('cls.'))).toBe(false);
    expect(model.dropped).toEqual(['cls.predictions.bias']);
    expect(model.missing.sort()).toEqual(['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
    expect(model.warnings.join(' ')).toMatch(/no pooler/);
    expect(model.tokenizer.tokenize('Hello worlds!')).toEqual(['hello', 'world', '##s', '!']);

    const weightProgress = progress.filter((p) => p.file === 'model.safetensors');
    expect(weightProgress.length).toBeGreaterThanOrEqual(2);
    expect(weightProgress.at(-1)).toMatchObject({ loaded: weights.byteLength, total: weights.byteLength });

    requests.length = 0;
    const again = await loadModel({ kind: 'hub', repo: 'org/tiny', hubBase: base }, { cache });
    expect(requests).toEqual([]);
    expect(again.weights.get('bert.embeddings.word_embeddings.weight')!.data).toEqual(model.weights.get('bert.embeddings.word_embeddings.weight')!.data);
  });

  it('works without any cache (Node has no Cache Storage)', async () => {
    const model = await loadModel({ kind: 'hub', repo: 'org/tiny', hubBase: base });
    expect(model.parameterCount).toBeGreaterThan(0);
  });

  it('names what is missing: unknown repo, gated repo, bad repo id', async () => {
    await expect(loadModel({ kind: 'hub', repo: 'org/none', hubBase: base }, { cache: null })).rejects.toThrow(/org\/none@main has no config.json: it is not a transformers model/);
    await expect(loadModel({ kind: 'hub', repo: 'gated/x', hubBase: base }, { cache: null })).rejects.toThrow(/needs a login \(HTTP 401\)/);
    await expect(loadModel({ kind: 'hub', repo: 'a b', hubBase: base })).rejects.toThrow(/not a Hugging Face repo id/);
  });

  it('tells a wrong repo id, a wrong revision, a repo without config.json, a busy server and being offline apart', async () => {
    const failure = async (source: Parameters<typeof loadModel>[0], options: Parameters<typeof loadModel>[1] = { cache: null }) => {
      const error = await loadModel(source, options).then(
        () => null,
        (e: unknown) => e,
      );
      if (!(error instanceof AppError)) throw new Error(`not a typed error: ${String(error)}`);
      return { message: error.message, hint: error.hint, kind: toWorkerError(error, 'loading the model').kind };
    };
    // A typo in the id (the Hub's 401 + RepoNotFound, or a bare 401): what to fix, not "report a bug".
    expect(await failure({ kind: 'hub', repo: 'nobody/bert-tiyn', hubBase: base })).toEqual({
      kind: 'bad-input',
      message: 'There is no model "nobody/bert-tiyn" on the Hugging Face Hub (or it is private).',
      hint: 'Check the id: it is owner/name as in the model page address, e.g. prajjwal1/bert-tiny.',
    });
    expect((await failure({ kind: 'hub', repo: 'private/x', hubBase: base })).message).toMatch(/^There is no model "private\/x"/);
    expect(await failure({ kind: 'hub', repo: 'org/tiny', revision: 'v9', hubBase: base })).toMatchObject({ message: '"org/tiny" has no revision "v9".' });
    expect(await failure({ kind: 'hub', repo: 'org/none', hubBase: base })).toMatchObject({ hint: expect.stringMatching(/config.json at the top level/) });
    expect(await failure({ kind: 'hub', repo: 'busy/x', hubBase: base })).toMatchObject({ kind: 'network', hint: expect.stringMatching(/try again in a minute/) });
    // No answer at all: fetch rejects with a TypeError.
    const offline = async () => {
      throw new TypeError('Failed to fetch');
    };
    expect(await failure({ kind: 'hub', repo: 'org/tiny', hubBase: base }, { cache: null, fetch: offline })).toMatchObject({
      kind: 'network',
      message: 'org/tiny@main: could not reach the server for config.json (Failed to fetch).',
      hint: expect.stringMatching(/Check the connection/),
    });
    // From disk without config.json: which files to pick.
    expect(await failure({ kind: 'files', files: [{ name: 'vocab.txt', bytes: files['vocab.txt'] }] })).toMatchObject({ message: 'local files: config.json is missing.' });
  });

  it('does not remember a missing repo as a missing file (it may exist on the next try)', async () => {
    const cache = memoryCache();
    await loadModel({ kind: 'hub', repo: 'nobody/x', hubBase: base }, { cache }).catch(() => {});
    expect([...cache.store.keys()]).toEqual([]);
  });

  it('loads a served folder (built-in model) by base URL', async () => {
    const model = await loadModel({ kind: 'url', baseUrl: `${base}/org/tiny/resolve/main/`, label: 'built-in' });
    expect(model.name).toBe('built-in');
    expect(model.config.numLayers).toBe(1);
  });
});

describe('loadModel from user files', () => {
  it('reads a folder upload (paths in names) and reports file sizes', async () => {
    const model = await loadModel({
      kind: 'files',
      files: [
        { name: 'tiny/config.json', bytes: files['config.json'] },
        { name: 'tiny/vocab.txt', bytes: files['vocab.txt'] },
        { name: 'tiny/model.safetensors', bytes: weights },
      ],
    });
    expect(model.sizes).toEqual({ 'config.json': files['config.json'].byteLength, 'vocab.txt': files['vocab.txt'].byteLength, 'model.safetensors': weights.byteLength });
  });

  it('reports missing weights, missing tokenizer and unsupported architectures', async () => {
    const config = { name: 'config.json', bytes: files['config.json'] };
    const vocab = { name: 'vocab.txt', bytes: files['vocab.txt'] };
    await expect(loadModel({ kind: 'files', files: [config, vocab] })).rejects.toThrow(/no weights: neither model.safetensors nor pytorch_model.bin/);
    await expect(loadModel({ kind: 'files', files: [config] })).rejects.toThrow(/neither tokenizer.json nor vocab.txt/);
    await expect(loadModel({ kind: 'files', files: [vocab] })).rejects.toThrow(/config.json is missing/);
    const gpt2 = { name: 'config.json', bytes: new TextEncoder().encode(JSON.stringify({ ...CONFIG, model_type: 'gpt2' })) };
    await expect(loadModel({ kind: 'files', files: [gpt2, vocab] })).rejects.toThrow(/model_type "gpt2" is not supported. Supported architectures: BERT \("bert"\), DistilBERT \("distilbert"\), RoBERTa \("roberta"\), ELECTRA \("electra"\), DeBERTa-v2\/v3 \("deberta-v2"\)/);
    // DeBERTa v1 (microsoft/deberta-base) is another architecture than v2/v3: refused before any tokenizer is read.
    const debertaV1 = { name: 'config.json', bytes: new TextEncoder().encode(JSON.stringify({ ...CONFIG, model_type: 'deberta' })) };
    await expect(loadModel({ kind: 'files', files: [debertaV1] })).rejects.toThrow(/model_type "deberta" is not supported. Supported architectures: .*DeBERTa-v2\/v3 \("deberta-v2"\)/);
  });

  it('rejects weights whose shapes do not match config.json, naming the tensor', async () => {
    const bigger = { ...CONFIG, hidden_size: 16, num_attention_heads: 2 };
    await expect(
      loadModel({
        kind: 'files',
        files: [
          { name: 'config.json', bytes: new TextEncoder().encode(JSON.stringify(bigger)) },
          { name: 'vocab.txt', bytes: files['vocab.txt'] },
          { name: 'model.safetensors', bytes: weights },
        ],
      }),
    ).rejects.toMatchObject({ kind: 'bad-input', message: expect.stringMatching(/tensor "embeddings\.[\w.]+" has shape \[(\d+, )?8\] but config.json implies \[(\d+, )?16\]/) });
  });

  it('loads a torch.save pytorch_model.bin (TF-style names, MLM head) through the same path', async () => {
    // tests/fixtures/io/make_tiny_bert_bin.py: tensor k (sorted by stored name) holds k + i / 1000.
    const bin = new Uint8Array(readFileSync(join(__dirname, '..', 'fixtures', 'io', 'tiny_bert_pytorch_model.bin')));
    const model = await loadModel({
      kind: 'files',
      files: [
        { name: 'config.json', bytes: files['config.json'] },
        { name: 'vocab.txt', bytes: files['vocab.txt'] },
        { name: 'pytorch_model.bin', bytes: bin },
      ],
    });
    expect(model.sizes['pytorch_model.bin']).toBe(bin.byteLength);
    const stored = [...parseTorchBin(bin).keys()].sort();
    let checked = 0;
    stored.forEach((name, k) => {
      if (name.startsWith('cls.')) return; // the MLM head is not part of BertForSequenceClassification
      const tensor = model.weights.get(canonicalName(name, model.config));
      expect(tensor, `${name} -> ${canonicalName(name, model.config)}`).toBeDefined();
      tensor!.data.forEach((v, i) => expect(v).toBeCloseTo(k + i / 1000, 5));
      checked++;
    });
    expect(checked).toBe(stored.length - 1);
    expect(model.weights.has('bert.embeddings.LayerNorm.weight')).toBe(true);
    expect(canonicalName('module.bert.encoder.layer.0.output.LayerNorm.beta', model.config)).toBe('bert.encoder.layer.0.output.LayerNorm.bias');
  });
});

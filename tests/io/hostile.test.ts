/**
 * Regression tests for issue #13's hostile and broken files: each ends in a typed error (AppError) with a
 * message naming the problem, before anything large is allocated.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/engine/errors';
import { parseTable, prepareDataset } from '../../src/io/datasets';
import { readConfigJson } from '../../src/io/model/model-source';
import { checkBertHeader } from '../../src/io/model/weights';
import { parseBertConfig } from '../../src/engine/config';
import { parseSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { loadTokenizer } from '../../src/io/tokenizer/load';
import { parseTorchBin } from '../../src/io/torch-bin';
import { crc32, ZipReader } from '../../src/io/unzip';
import { floats, tensorPickle, torchZip } from '../helpers/pickle';

function typedError(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw new Error(`not a typed error: ${String(error)}`, { cause: error });
  }
  throw new Error('no error thrown');
}

const one = (t: Parameters<typeof tensorPickle>[0][string]) => torchZip(tensorPickle({ w: t }), { '0': floats(1, 2, 3, 4, 5, 6) });

describe('pytorch_model.bin', () => {
  it('reads a well-formed view (the writer helper is right)', () => {
    const tensors = parseTorchBin(one({ key: '0', offset: 1, size: [2, 2], stride: [1, 2] }));
    expect(Array.from(tensors.get('w')!.data as Float32Array)).toEqual([2, 4, 3, 5]);
  });

  it('refuses a negative BINSTRING length at once (it looped forever, reading backwards)', () => {
    const pickle = [0x80, 0x02, 0x54, 0xf8, 0xff, 0xff, 0xff, 0x2e];
    expect(typedError(() => parseTorchBin(torchZip(pickle))).message).toMatch(/negative length -8/);
  });

  it('refuses a stride-0 view larger than its storage before allocating it', () => {
    const start = performance.now();
    expect(typedError(() => parseTorchBin(one({ key: '0', offset: 0, size: [100_000_000], stride: [0] }))).message).toMatch(/stride-0 or overlapping view/);
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it.each([
    ['offset -1', { offset: -1, size: [2], stride: [1] }, /offset -1/],
    ['stride -1', { offset: 5, size: [2], stride: [-1] }, /stride \[-1\]/],
    ['size 1.5', { offset: 0, size: [1.5], stride: [1] }, /size \[1.5\]/],
    ['size "2"', { offset: 0, size: ['2'], stride: [1] }, /size \["2"\]/],
    ['size -2', { offset: 0, size: [-2], stride: [1] }, /size \[-2\]/],
    ['size None', { offset: 0, size: null, stride: [1] }, /size null/],
    ['size not a list', { offset: 0, size: 6, stride: [1] }, /size 6/],
    ['a view past the storage', { offset: 4, size: [3], stride: [1] }, /reads element 6, past the storage's 6/],
    ['stride of the wrong length', { offset: 0, size: [2, 3], stride: [3] }, /stride \[3\]/],
  ])('refuses %s', (_, view, message) => {
    const error = typedError(() => parseTorchBin(one({ key: '0', ...(view as { offset: never; size: never; stride: never }) })));
    expect(error.kind).toBe('bad-input');
    expect(error.message).toMatch(message);
  });

  it('refuses a storage whose length is not a multiple of its item size', () => {
    const zip = torchZip(tensorPickle({ w: { key: '0', offset: 0, size: [1], stride: [1] } }), { '0': new Uint8Array(7) });
    expect(typedError(() => parseTorchBin(zip)).message).toMatch(/7 bytes, not a whole number of F32 values/);
  });

  it('types NEWOBJ with None and a 200k-item APPENDS (raw TypeError / RangeError before)', () => {
    const newobj = [0x80, 0x02, 0x63, ...new TextEncoder().encode('collections\nOrderedDict\n'), 0x4e, 0x81, 0x2e];
    expect(typedError(() => parseTorchBin(torchZip(newobj))).message).toMatch(/NEWOBJ needs a class and an argument tuple/);
    const appends = [0x80, 0x02, 0x5d, 0x28, ...new Array(200_000).fill(0x4e), 0x65, 0x2e];
    expect(typedError(() => parseTorchBin(torchZip(appends))).message).toMatch(/not a state dict/);
  });

  it('checks the CRC-32: a flipped bit in a stored tensor is refused, not loaded as Infinity', () => {
    const zip = one({ key: '0', offset: 0, size: [6], stride: [1] });
    const data = floats(1, 2, 3, 4, 5, 6);
    const at = zip.findIndex((_, i) => data.every((b, j) => zip[i + j] === b));
    zip[at + 3] ^= 0x40; // 1.0 (0x3f800000) -> 0x7f800000 = Infinity
    expect(typedError(() => parseTorchBin(zip)).message).toMatch(/fails its CRC-32 check/);
  });

  it('checks shapes against config.json from data.pkl before reading any storage (a corrupt storage is not even read)', () => {
    const config = parseBertConfig({ model_type: 'bert', vocab_size: 12, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 16, type_vocab_size: 2 });
    const zip = torchZip(tensorPickle({ 'bert.embeddings.word_embeddings.weight': { key: '0', offset: 0, size: [2, 3], stride: [3, 1] } }), { '0': floats(1, 2, 3, 4, 5, 6) });
    const data = floats(1, 2, 3, 4, 5, 6);
    const at = zip.findIndex((_, i) => data.every((b, j) => zip[i + j] === b));
    zip[at + 3] ^= 0x40;
    expect(typedError(() => parseTorchBin(zip)).message).toMatch(/fails its CRC-32 check/);
    const error = typedError(() => parseTorchBin(zip, 'pytorch_model.bin', { checkHeader: (header) => checkBertHeader(header, config, 'pytorch_model.bin') }));
    expect(error.kind).toBe('bad-input');
    expect(error.message).toBe('pytorch_model.bin: tensor "bert.embeddings.word_embeddings.weight" has shape [2, 3] but config.json implies [12, 8]: the weights do not belong to this config.');
  });

  it('sees every tensor shape of a safetensors header before decoding (a head for other labels passes)', () => {
    const config = parseBertConfig({ model_type: 'bert', vocab_size: 12, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 16, type_vocab_size: 2 });
    const file = writeSafetensors(
      new Map([
        ['classifier.weight', { shape: [5, 8], data: new Float32Array(40) }],
        ['encoder.layer.0.intermediate.dense.weight', { shape: [16, 4], data: new Float32Array(64) }],
      ]),
    );
    const seen: string[] = [];
    const error = typedError(() =>
      parseSafetensors(file, 'model.safetensors', {
        checkHeader: (header) => {
          seen.push(...[...header].map(([name, t]) => `${name} ${t.dtype} [${t.shape.join(', ')}]`));
          checkBertHeader(header, config, 'model.safetensors');
        },
      }),
    );
    expect(seen).toEqual(['classifier.weight F32 [5, 8]', 'encoder.layer.0.intermediate.dense.weight F32 [16, 4]']);
    expect(error.message).toBe('model.safetensors: tensor "encoder.layer.0.intermediate.dense.weight" has shape [16, 4] but config.json implies [16, 8]: the weights do not belong to this config.');
  });

  it('reads a zip entry declaring 2 GB without allocating it', () => {
    const zip = zipSync({ 'm/data.pkl': new Uint8Array(16) }, { level: 6 });
    // Patch the central directory's uncompressed size of the entry to 2 GB.
    const cd = zip.findIndex((_, i) => zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 1 && zip[i + 3] === 2);
    new DataView(zip.buffer).setUint32(cd + 24, 2 ** 31, true);
    const error = typedError(() => parseTorchBin(zip));
    expect(error.kind).toBe('limit-exceeded');
    expect(error.message).toMatch(/one zip entry, uncompressed is 2 GB; the limit is 1 GB/);
  });

  it('matches zlib CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(new ZipReader(zipSync({ a: new Uint8Array([1, 2, 3]) }), 'z', 'h').read('a')).toEqual(new Uint8Array([1, 2, 3]));
  });
});

describe('safetensors', () => {
  const header = (json: string) => {
    const text = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + text.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    return out;
  };

  it('refuses deep JSON nesting with a typed error (crashed building the message)', () => {
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(typedError(() => parseSafetensors(header(deep))).message).toMatch(/nested deeper than 64 levels/);
  });

  it('refuses dtype names from Object.prototype ("constructor")', () => {
    expect(typedError(() => parseSafetensors(header('{"w":{"dtype":"constructor","shape":[1],"data_offsets":[0,0]}}'))).message).toMatch(/unsupported dtype "constructor"/);
  });

  it('refuses shape [0, 1e308]', () => {
    expect(typedError(() => parseSafetensors(header('{"w":{"dtype":"F32","shape":[0,1e308],"data_offsets":[0,0]}}'))).message).toMatch(/shape \[0,1e\+308\]/);
  });

  it('still reads what the writer writes', () => {
    const bytes = writeSafetensors(new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]]));
    expect(Array.from(parseSafetensors(bytes).tensors.get('w')!.data as Float32Array)).toEqual([1, 2]);
  });
});

describe('config.json', () => {
  const base = JSON.parse(readFileSync(join(__dirname, '..', '..', 'public', 'models', 'builtin', 'config.json'), 'utf8')) as Record<string, unknown>;
  const read = (json: unknown) => typedError(() => readConfigJson(JSON.stringify(json), 'm'));

  it('types null and a non-object', () => {
    expect(read(null).message).toMatch(/config.json is not a JSON object/);
    expect(typedError(() => readConfigJson('{"a":', 'm')).message).toMatch(/config.json is not valid JSON/);
  });

  it('refuses absurd num_hidden_layers at once (1e6 took > 4 GB building the weight names)', () => {
    const start = performance.now();
    const error = read({ ...base, num_hidden_layers: 1e6 });
    expect(error.kind).toBe('limit-exceeded');
    expect(error.message).toBe('m: config.json: num_hidden_layers is 1,000,000; the limit is 48.');
    expect(read({ ...base, num_hidden_layers: 1e5 }).kind).toBe('limit-exceeded');
    expect(read({ ...base, hidden_size: 65536, num_attention_heads: 1 }).kind).toBe('limit-exceeded');
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it.each([
    ['layer_norm_eps', 0],
    ['layer_norm_eps', -1e-12],
    ['hidden_dropout_prob', 1],
    ['attention_probs_dropout_prob', -1],
    ['pad_token_id', -1],
  ])('refuses %s = %s', (key, value) => {
    const error = read({ ...base, [key]: value });
    expect(error.kind).toBe('bad-input');
    expect(error.message).toContain(`"${key}" is ${value}`);
  });

  it('still reads the built-in config', () => {
    expect(readConfigJson(JSON.stringify(base), 'm').config.numLayers).toBe(base.num_hidden_layers);
  });
});

describe('tokenizer', () => {
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', '##a'];
  const json = (normalizer: unknown, maxChars?: number) =>
    JSON.stringify({ normalizer, model: { type: 'WordPiece', vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), ...(maxChars ? { max_input_chars_per_word: maxChars } : {}) } });

  it('refuses deeply nested normalizers with a typed error (overflowed the stack)', () => {
    // JSON.stringify itself cannot write 100k levels: build the text by hand.
    const text = `{"normalizer":${'{"type":"Sequence","normalizers":['.repeat(100_000)}{"type":"BertNormalizer"}${']}'.repeat(100_000)},"model":{"type":"WordPiece","vocab":{}}}`;
    expect(typedError(() => loadTokenizer({ tokenizerJson: text })).message).toMatch(/nested deeper than 64 levels/);
    let shallow: unknown = { type: 'BertNormalizer' };
    for (let i = 0; i < 20; i++) shallow = { type: 'Sequence', normalizers: [shallow] };
    expect(typedError(() => loadTokenizer({ tokenizerJson: json(shallow) })).kind).toBe('limit-exceeded');
  });

  it('caps max_input_chars_per_word (a 2,000-char word took 9.5 s)', () => {
    const tokenizer = loadTokenizer({ tokenizerJson: json({ type: 'BertNormalizer' }, 1e9) });
    const start = performance.now();
    const { ids } = tokenizer.encode('a'.repeat(2000) + 'b', null, { maxLength: 8 });
    expect(performance.now() - start).toBeLessThan(2000);
    expect(Array.from(ids).slice(0, 3)).toEqual([2, 1, 3]);
  });
});

describe('datasets', () => {
  it('reads JSONL keys named constructor / toString as plain columns (blanked the page)', () => {
    const text = '{"text":"hi","label":"a","constructor":"x"}\n{"text":"yo","label":"b","toString":"y"}\n{"text":"ok","label":"a"}\n';
    const table = parseTable(text, 'd.jsonl');
    expect(table.columns).toEqual(['text', 'label', 'constructor', 'toString']);
    expect(table.rows.map((r) => r[2])).toEqual(['x', '', '']);
    expect(prepareDataset({ name: 'd.jsonl', text }).errors).toEqual([]);
  });

  it('lists 150k bad validation rows without a RangeError', () => {
    const train = 'text,label\n' + Array.from({ length: 20 }, (_, i) => `t${i},${i % 2 ? 'a' : 'b'}`).join('\n');
    const validation = 'text,label\n' + Array.from({ length: 150_000 }, (_, i) => `v${i},zzz`).join('\n');
    const prepared = prepareDataset({ name: 'train.csv', text: train }, { validation: { name: 'val.csv', text: validation } });
    expect(prepared.errors.length).toBe(150_001);
  });

  it('refuses regression targets beyond float32 per row', () => {
    const text = 'text,score\n' + ['a,1.5', 'b,2.5', 'c,1e39', 'd,0.5'].join('\n');
    const prepared = prepareDataset({ name: 'r.csv', text }, { task: 'regression' });
    expect(prepared.errors.map((e) => e.message)).toEqual(['label 1e39 is beyond float32 (±3.4e38); rescale the targets']);
  });

  it('states the dataset limits from io/limits.ts: columns, classes, rows (parsing stops there), field length', () => {
    const wide = parseTable(Array.from({ length: 600 }, (_, i) => `c${i}`).join(',') + '\n' + 'x,'.repeat(599) + 'y\n', 'wide.csv');
    expect(wide.rows).toEqual([]);
    expect(wide.errors.map((e) => e.message)).toEqual(['600 columns; the limit is 512. Keep the text and label columns (a dataset has a handful).']);
    const wideJson = parseTable(JSON.stringify(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]))) + '\n', 'wide.jsonl');
    expect(wideJson.errors[0].message).toBe('513 columns; the limit is 512. Keep the text and label columns (a dataset has a handful).');

    const classes = prepareDataset({ name: 'c.csv', text: 'text,label\n' + Array.from({ length: 1500 }, (_, i) => `t${i},class${i}`).join('\n') });
    expect(classes.errors.map((e) => e.message)).toContain('1,500 classes in column "label"; the limit is 1,000. Merge rare classes first.');
    expect(classes.train).toEqual([]);

    // 250k rows: parsing stops after the limit (plus the header and one more row), for each format.
    const csv = parseTable('text,label\n' + 'x,1\n'.repeat(250_000), 'big.csv');
    const tsv = parseTable('text\tlabel\n' + 'x\t1\n'.repeat(250_000), 'big.tsv');
    const jsonl = parseTable('{"text":"x","label":1}\n'.repeat(250_000), 'big.jsonl');
    for (const table of [csv, tsv, jsonl]) {
      expect(table.rows.length).toBe(200_000);
      expect(table.errors.map((e) => e.message)).toEqual(['more than 200,000 rows (the limit): rows from here on are ignored. ' + 'Sample the data down first (a browser tab trains on thousands of rows, not millions).']);
    }

    const long = parseTable('text,label\n' + 'a'.repeat(100_001) + ',1\nshort,0\n', 'long.csv');
    expect(long.rows).toEqual([['short', '0']]);
    expect(long.errors).toEqual([{ file: 'long.csv', line: 2, message: 'a field of 100,001 characters; the limit is 100,000. Cut long texts down first: the model sees only their start.' }]);
  });

  it('types a deeply nested JSONL line as a row problem', () => {
    const table = parseTable('{"text":"a","label":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}\n', 'd.jsonl');
    expect(table.errors[0].message).toMatch(/nested deeper than 64 levels/);
  });
});

describe('the page, the Hub and big datasets (issue #13 list)', () => {
  it('refuses Hub ids and revisions with .. segments before any request', async () => {
    const { loadModel } = await import('../../src/io/model/model-source');
    const fetch = () => Promise.reject(new Error('no request may be made'));
    for (const repo of ['a/../b', '../x', 'org/..', 'org/a..b']) {
      await expect(loadModel({ kind: 'hub', repo }, { fetch, cache: null })).rejects.toMatchObject({ kind: 'bad-input', message: `"${repo}" is not a Hugging Face repo id.` });
    }
    await expect(loadModel({ kind: 'hub', repo: 'org/m', revision: '..' }, { fetch, cache: null })).rejects.toMatchObject({ kind: 'bad-input', message: '".." is not a revision.' });
  });

  it('caps downloads: a Content-Length over the limit is refused unread, a stream without one is cut at the limit', async () => {
    const { download } = await import('../../src/io/model/fetch');
    let cancelled = 0;
    const declared = async () =>
      new Response(new ReadableStream({ cancel: () => void cancelled++ }), { headers: { 'content-length': String(2 ** 31) } });
    await expect(download('https://huggingface.co/x', 'model.safetensors', { fetch: declared, cache: null })).rejects.toMatchObject({
      kind: 'limit-exceeded',
      message: 'model.safetensors: one downloaded model file is 2 GB; the limit is 1 GB.',
    });
    expect(cancelled).toBe(1);
    // One shared 64 MB chunk, sent over and over: the count passes 1 GB without that memory being used.
    const chunk = new Uint8Array(64 * 2 ** 20);
    let sent = 0;
    const endless = async () =>
      new Response(
        new ReadableStream({
          pull: (controller) => void (sent++, controller.enqueue(chunk)),
          cancel: () => void cancelled++,
        }),
      );
    await expect(download('https://huggingface.co/x', 'pytorch_model.bin', { fetch: endless, cache: null })).rejects.toMatchObject({ kind: 'limit-exceeded' });
    expect(cancelled).toBe(2);
    expect(sent).toBeLessThanOrEqual(18);
  });

  it('ships a CSP that allows only the own origin and the Hugging Face hosts (no inline scripts in production)', async () => {
    const { contentSecurityPolicy } = await import('../../vite.config');
    const policy = Object.fromEntries(contentSecurityPolicy(false).split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(policy['default-src']).toEqual(["'self'"]);
    expect(policy['script-src']).toEqual(["'self'"]);
    expect(policy['connect-src']).toEqual(["'self'", 'https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co']);
    expect(policy['object-src']).toEqual(["'none'"]);
  });

  it('previews 130k regression rows with their range (Math.min(...values) blanked the page)', async () => {
    const { DataStore } = await import('../../src/worker/data');
    const text = 'text,score\n' + Array.from({ length: 130_000 }, (_, i) => `row ${i},${(i % 1000) / 100 - 2}`).join('\n');
    const preview = await new DataStore().load({ name: 'r', train: { name: 'r.csv', text }, validation: null }, { text: 'text', textPair: null, label: 'score' }, 'regression', { validationFraction: 0.1, validationSeed: 1 });
    expect(preview.usable).toBe(true);
    expect(preview.range).toEqual({ min: -2, max: 7.99 });
    expect(preview.trainRows + preview.validationRows).toBe(130_000);
  });
});

/**
 * The fuzz targets: every parser of untrusted input, its seed files (made by the project's own writers or
 * checked-in fixtures) and a seeded input generator: random bytes, truncations, bit flips and byte patches of
 * the seeds, absurd headers, hostile pickles and zips, deep JSON, CSV/JSONL quirks. Input `i` of a parser
 * depends only on (seed, parser, i), so a failure is reproduced by its index.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { mixSeed, hashString, Rng } from '../../src/engine/random';
import type { StateDict } from '../../src/engine/types';
import { prepareDataset } from '../../src/io/datasets';
import { decodeText } from '../../src/io/datasets/encoding';
import { readAdapterFiles } from '../../src/io/export/import';
import { exportNative } from '../../src/io/export/native';
import { exportPeftAdapter } from '../../src/io/export/peft';
import { readConfigJson } from '../../src/io/model/model-source';
import { parseSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { loadTokenizer } from '../../src/io/tokenizer/load';
import { parseTorchBin } from '../../src/io/torch-bin';
import { tensorPickle, torchZip, type PickleValue } from '../../tests/helpers/pickle';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

export interface Target {
  name: string;
  seeds: () => Uint8Array[];
  /** Structure-aware inputs of this parser (the byte mutations of the seeds come on top). */
  special?: (rng: Rng) => Uint8Array;
  run: (input: Uint8Array) => unknown;
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)];

const ABSURD: PickleValue[] = [-1, -2, 0, 1, 1.5, 2 ** 31 - 1, -(2 ** 31), 1e308, NaN, null, '2', true, [], [-1], [1e9], [2 ** 31 - 1, 2 ** 31 - 1], [0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]];
const JSON_ABSURD: unknown[] = [null, -1, 0, 1e6, 1e308, -1e-12, 1.5, '2', 'constructor', '__proto__', [], {}, true, 'x'.repeat(10_000)];

function deepJson(rng: Rng): string {
  const depth = 1 + rng.int(5000);
  return rng.next() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A JSON seed with one key set to an absurd value, or deep nesting spliced in. */
function mutateJson(rng: Rng, seed: Uint8Array): Uint8Array {
  const json = JSON.parse(dec(seed)) as Record<string, unknown>;
  const walk = (value: unknown): Record<string, unknown> | null => {
    if (!value || typeof value !== 'object') return null;
    const keys = Object.keys(value);
    if (keys.length === 0) return value as Record<string, unknown>;
    const key = pick(rng, keys);
    const inner = (value as Record<string, unknown>)[key];
    return rng.next() < 0.4 && inner && typeof inner === 'object' ? (walk(inner) ?? (value as Record<string, unknown>)) : (value as Record<string, unknown>);
  };
  const target = walk(json);
  if (target) {
    const keys = Object.keys(target);
    const key = keys.length > 0 && rng.next() < 0.8 ? pick(rng, keys) : pick(rng, ['constructor', '__proto__', 'toString', 'extra']);
    target[key] = pick(rng, JSON_ABSURD);
  }
  let text = JSON.stringify(json);
  if (rng.next() < 0.1) text = text.replace(/:(\d+|"[^"]*")/, `:${deepJson(rng)}`);
  return enc(text);
}

function hostilePickle(rng: Rng): Uint8Array {
  const numel = rng.int(8);
  const tensors: Parameters<typeof tensorPickle>[0] = {};
  for (let t = 0; t < 1 + rng.int(3); t++) {
    tensors[`w${t}`] = {
      storage: pick(rng, ['FloatStorage', 'HalfStorage', 'LongStorage', 'BoolStorage']),
      key: pick(rng, ['0', '1', '../x', '0']),
      numel,
      offset: pick(rng, ABSURD),
      size: pick(rng, ABSURD),
      stride: pick(rng, ABSURD),
    };
  }
  const storages: Record<string, Uint8Array> = { '0': new Uint8Array(rng.int(64)), '1': new Uint8Array(4 * rng.int(8)) };
  return torchZip(tensorPickle(tensors), storages);
}

/** A zip whose central directory declares other sizes than its entries hold. */
function hostileZip(rng: Rng, seed: Uint8Array): Uint8Array {
  const zip = seed.slice();
  const view = new DataView(zip.buffer);
  for (let at = 0; at + 46 < zip.length; at++) {
    if (view.getUint32(at, true) !== 0x02014b50 || rng.next() < 0.5) continue;
    const field = pick(rng, [20, 24, 42, 28, 10]);
    if (field === 28 || field === 10) view.setUint16(at + field, rng.int(0x10000), true);
    else view.setUint32(at + field, pick(rng, [0, 0xffffffff, 2 ** 31, rng.int(2 ** 32)]), true);
  }
  return zip;
}

function csvQuirks(rng: Rng): Uint8Array {
  const cells = ['hello', '"quoted, comma"', '"unterminated', '', 'NaN', '1e39', '-1e400', 'Infinity', '0x10', '\u0000', 'ünï', '""""', 'a\tb', '\r', 'constructor', '__proto__'];
  const sep = pick(rng, [',', '\t', ';']);
  const lines: string[] = [];
  if (rng.next() < 0.8) lines.push(['text', 'label', 'constructor'].slice(0, 2 + rng.int(2)).join(sep));
  for (let i = 0; i < 1 + rng.int(40); i++) lines.push(Array.from({ length: 1 + rng.int(4) }, () => pick(rng, cells)).join(sep));
  const bom = rng.next() < 0.1 ? '\ufeff' : '';
  return enc(bom + lines.join(pick(rng, ['\n', '\r\n', '\r'])));
}

function jsonlQuirks(rng: Rng): Uint8Array {
  const keys = ['text', 'label', 'constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'sentence2'];
  const values: unknown[] = ['a', 'b', 1, 1e39, null, [], {}, true, -0, 'x'.repeat(500)];
  const lines: string[] = [];
  for (let i = 0; i < 1 + rng.int(40); i++) {
    const row: Record<string, unknown> = {};
    for (let k = 0; k < 1 + rng.int(5); k++) row[pick(rng, keys)] = pick(rng, values);
    lines.push(rng.next() < 0.05 ? deepJson(rng) : rng.next() < 0.05 ? '{"text": "cut' : JSON.stringify(row));
  }
  return enc(lines.join('\n'));
}

/* ------------------------------------------------------------------ seeds from the project's own writers */

function loraState(): StateDict {
  const state: StateDict = new Map();
  for (const kind of ['query', 'value']) {
    const path = `bert.encoder.layer.0.attention.self.${kind}`;
    state.set(`${path}.lora_A`, { shape: [2, 4], data: Float32Array.from({ length: 8 }, (_, i) => i / 8) });
    state.set(`${path}.lora_B`, { shape: [4, 2], data: Float32Array.from({ length: 8 }, (_, i) => -i / 8) });
  }
  state.set('classifier.weight', { shape: [2, 4], data: new Float32Array(8).fill(0.5) });
  state.set('classifier.bias', { shape: [2], data: Float32Array.of(0.1, -0.1) });
  return state;
}

const builtin = (file: string) => new Uint8Array(readFileSync(join(ROOT, 'public', 'models', 'builtin', file)));
const fixture = (file: string) => new Uint8Array(readFileSync(join(ROOT, 'tests', 'fixtures', 'io', file)));

/** Adapter inputs are one file or a zip of two; the fuzzer mutates the single file it is given. */
function adapterInput(bytes: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  return [{ name: isZip ? 'adapter.zip' : 'adapter.safetensors', bytes }];
}

export const TARGETS: Target[] = [
  {
    name: 'pytorch_model.bin',
    seeds: () => [fixture('tiny_pytorch_model.bin'), fixture('tiny_bert_pytorch_model.bin')],
    special: (rng) => (rng.next() < 0.6 ? hostilePickle(rng) : hostileZip(rng, fixture('tiny_pytorch_model.bin'))),
    run: (input) => parseTorchBin(input),
  },
  {
    name: 'safetensors',
    seeds: () => [
      writeSafetensors(new Map([['a', { shape: [2, 3], data: new Float32Array(6).fill(1) }], ['b', { shape: [4], data: new Int32Array(4) }]]), { format: 'pt' }),
      writeSafetensors(loraState()),
    ],
    special: (rng) => {
      const header = JSON.stringify({ w: { dtype: pick(rng, ['F32', 'constructor', 'toString', 'F8', '__proto__']), shape: pick(rng, [[0, 1e308], [-1], [2 ** 31, 2 ** 31], [1.5], [4], []]), data_offsets: pick(rng, [[0, 16], [16, 0], [-1, 3], [0, 1e308]]) } });
      const text = rng.next() < 0.2 ? `{"w":${deepJson(rng)}}` : header;
      const bytes = enc(text);
      const out = new Uint8Array(8 + bytes.length + 16);
      new DataView(out.buffer).setBigUint64(0, rng.next() < 0.1 ? BigInt(rng.int(2 ** 31)) * 1000n : BigInt(bytes.length), true);
      out.set(bytes, 8);
      return out;
    },
    run: (input) => parseSafetensors(input),
  },
  {
    name: 'config.json',
    seeds: () => [builtin('config.json')],
    special: (rng) => mutateJson(rng, builtin('config.json')),
    run: (input) => readConfigJson(dec(input), 'fuzz'),
  },
  {
    name: 'tokenizer.json',
    seeds: () => [builtin('tokenizer.json')],
    special: (rng) => {
      const json = JSON.parse(dec(builtin('tokenizer.json'))) as Record<string, unknown>;
      const model = json.model as Record<string, unknown>;
      const roll = rng.next();
      if (roll < 0.3) model.max_input_chars_per_word = pick(rng, [1e9, -1, 0, NaN, 1.5, null]);
      else if (roll < 0.6) {
        let normalizer: unknown = { type: 'BertNormalizer' };
        for (let i = 0; i < rng.int(40); i++) normalizer = { type: 'Sequence', normalizers: [normalizer] };
        json.normalizer = normalizer;
      } else return mutateJson(rng, enc(JSON.stringify({ normalizer: json.normalizer, model: { ...model, vocab: Object.fromEntries(Object.entries(model.vocab as object).slice(0, 200)) } })));
      return enc(JSON.stringify(json));
    },
    run: (input) => {
      const tokenizer = loadTokenizer({ tokenizerJson: dec(input) });
      // Long words and odd characters: the matching must stay cheap.
      return tokenizer.encode(`${'x'.repeat(3000)} ünïcödé 漢字 \u0000 [CLS] ${'ab'.repeat(500)}`, 'pair', { maxLength: 64 });
    },
  },
  {
    name: 'tokenizer.json (BPE)',
    seeds: () => [fixture('bpe/hub/tokenizer.json')],
    special: (rng) => {
      const json = JSON.parse(dec(fixture('bpe/hub/tokenizer.json'))) as Record<string, unknown>;
      const model = json.model as Record<string, unknown>;
      const roll = rng.next();
      if (roll < 0.2) model.merges = pick(rng, [[1, 2], [['a']], ['a'], [[null, null]], 'a b', [{}], [['Ġ', 't', 'x']]]);
      else if (roll < 0.35) json.added_tokens = pick(rng, [[{ id: -1, content: '<s>' }], [{ id: 'x' }], [{ content: '' }], [null], [{ id: 1e9, content: '<s>' }], {}]);
      else if (roll < 0.5) json.pre_tokenizer = pick(rng, [{ type: 'Nope' }, { type: 'Sequence', pretokenizers: [null] }, { type: 'Split', pattern: { Regex: '(' } }, null, 3]);
      else if (roll < 0.6) json.post_processor = pick(rng, [{ type: 'RobertaProcessing', cls: null, sep: 5 }, { type: 'TemplateProcessing' }, null]);
      else return mutateJson(rng, enc(JSON.stringify({ ...json, model: { ...model, merges: (model.merges as unknown[]).slice(0, 100) } })));
      return enc(JSON.stringify(json));
    },
    run: (input) => loadTokenizer({ tokenizerJson: dec(input) }, 'bpe').encode(`${'x'.repeat(3000)} ünïcödé 漢字 \u0000 <mask> <s> ${'ab'.repeat(500)}`, 'pair', { maxLength: 64 }),
  },
  {
    name: 'vocab.json + merges.txt',
    seeds: () => [fixture('bpe/files/merges.txt')],
    special: (rng) => enc(pick(rng, ['#version: 0.2\n', 'a b c\n', ' \n', 'Ġ t\r\nh e\r\n', '\u0000 \u0000\n', 'x'.repeat(10_000) + ' y\n', '<s> </s>\n'])),
    run: (input) => {
      const vocabJson = dec(fixture('bpe/files/vocab.json'));
      return loadTokenizer({ vocabJson, mergesTxt: dec(input) }, 'bpe').encode('Hello <mask> world, ünïcödé 漢字', 'pair', { maxLength: 32 });
    },
  },
  {
    name: 'tokenizer.json (Unigram)',
    // 300 pieces and the special tokens: the mutations matter, not the vocabulary's size.
    seeds: () => {
      const json = JSON.parse(dec(fixture('unigram/tokenizer.json'))) as Record<string, Record<string, unknown>>;
      return [enc(JSON.stringify({ ...json, model: { ...json.model, vocab: (json.model.vocab as unknown[]).slice(0, 300) } }))];
    },
    special: (rng) => {
      const json = JSON.parse(dec(fixture('unigram/tokenizer.json'))) as Record<string, Record<string, unknown>>;
      const small: Record<string, Record<string, unknown>> = { ...json, model: { ...json.model, vocab: (json.model.vocab as unknown[]).slice(0, 300) } };
      const roll = rng.next();
      if (roll < 0.3) small.model.vocab = pick(rng, [[], [['a']], [[1, 2]], [null], [['▁', 'x']], [['[PAD]', NaN]]]);
      else if (roll < 0.4) small.model.unk_id = pick(rng, JSON_ABSURD);
      else return mutateJson(rng, enc(JSON.stringify(small)));
      return enc(JSON.stringify(small));
    },
    run: (input) => loadTokenizer({ tokenizerJson: dec(input) }, 'unigram').encode(`${'x'.repeat(3000)} ünïcödé 漢字 \u0000 [CLS] ${'ab'.repeat(500)}`, 'pair', { maxLength: 64 }),
  },
  {
    name: 'spm.model',
    seeds: () => [fixture('unigram/spm.model')],
    run: (input) => loadTokenizer({ spmModel: input }, 'unigram').encode('Hello [MASK] world, ünïcödé 漢字', 'pair', { maxLength: 32 }),
  },
  {
    name: 'vocab.txt',
    seeds: () => [builtin('vocab.txt').subarray(0, 6000)],
    run: (input) => loadTokenizer({ vocabTxt: dec(input) }).encode('hello world', null, { maxLength: 16 }),
  },
  {
    name: 'dataset (CSV/TSV)',
    seeds: () => [enc('text,label\nhello there,pos\nbad day,neg\nfine,pos\nawful,neg\n'), enc('sentence1\tsentence2\tscore\na b\tc d\t0.5\ne f\tg h\t1.5\n')],
    special: csvQuirks,
    run: (input) => prepareDataset({ name: 'fuzz.csv', text: decodeText(input).text }),
  },
  {
    name: 'dataset (JSONL)',
    seeds: () => [enc('{"text":"hi","label":"a"}\n{"text":"yo","label":"b"}\n{"text":"hey","label":"a"}\n')],
    special: jsonlQuirks,
    run: (input) => prepareDataset({ name: 'fuzz.jsonl', text: decodeText(input).text }),
  },
  {
    name: 'adapter import',
    seeds: () => {
      const peft = exportPeftAdapter({ variables: loraState(), loraAlpha: 4, baseModel: 'org/tiny' });
      const native = exportNative({ method: 'lora', options: { r: 2 }, run: { recipe: {} }, freezeLog: {}, baseModel: 'org/tiny', variables: loraState() });
      return [zipSync({ 'adapter_config.json': enc(peft.files['adapter_config.json']), 'adapter_model.safetensors': peft.files['adapter_model.safetensors'] }), native];
    },
    special: (rng) => {
      const peft = exportPeftAdapter({ variables: loraState(), loraAlpha: 4, baseModel: 'org/tiny' });
      const config = mutateJson(rng, enc(peft.files['adapter_config.json']));
      const zip = zipSync({ 'adapter_config.json': config, 'adapter_model.safetensors': peft.files['adapter_model.safetensors'] });
      return rng.next() < 0.3 ? hostileZip(rng, zip) : zip;
    },
    run: (input) => readAdapterFiles(adapterInput(input)),
  },
];

/** Input `i` of a target: a seed, mutated one of several ways, or a structure-aware special. */
export function generate(target: Target, seeds: Uint8Array[], seed: number, i: number): Uint8Array {
  const rng = new Rng(mixSeed(seed, hashString(target.name), i));
  const roll = rng.next();
  if (target.special && roll < 0.35) return target.special(rng);
  if (roll < 0.42) return Uint8Array.from({ length: rng.int(4096) }, () => rng.int(256));
  const base = pick(rng, seeds);
  const kind = rng.int(4);
  if (kind === 0) return base.slice(0, rng.int(base.length + 1));
  const out = base.slice();
  if (out.length === 0) return out;
  const flips = 1 + rng.int(kind === 1 ? 8 : 2);
  for (let f = 0; f < flips; f++) {
    const at = rng.int(out.length);
    if (kind === 1) out[at] ^= 1 << rng.int(8);
    else if (kind === 2) out[at] = pick(rng, [0x00, 0xff, 0x7f, 0x80, 0x22, 0x5b, 0x7b, 0x2d, 0x39]);
    else out.set(Uint8Array.from({ length: Math.min(8, out.length - at) }, () => rng.int(256)), at);
  }
  return out;
}

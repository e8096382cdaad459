/**
 * The byte-level BPE (RoBERTa) tokenizer matches transformers' RobertaTokenizer exactly on the outputs of
 * scripts/reference/bpe_golden.py (tests/fixtures/io/bpe): 1,102 texts (788 single, 314 pairs), each untruncated and
 * truncated longest-first + padded at 5 max lengths, per case and through encodeBatch; from tokenizer.json (hub/,
 * <mask> lstrip as roberta-base) and from vocab.json + merges.txt (files/, as transformers 5 builds it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/engine/errors';
import { BpeTokenizer, robertaTokenizerJson } from '../../src/io/tokenizer/bpe';
import { encodeBatch } from '../../src/io/tokenizer/wordpiece';

const DIR = join(__dirname, '..', 'fixtures', 'io', 'bpe');

interface Encoded {
  ids: number[];
  typeIds: number[];
  mask: number[];
}
interface GoldenCase {
  text: string;
  pair: string | null;
  tokens: string[] | null;
  full: Encoded;
  padded: Record<string, Encoded>;
  /** vocab.json + merges.txt's ids where they differ (no lstrip on <mask>). */
  files?: number[];
}
interface TemplateCase {
  text: string;
  pair: string | null;
  full: { ids: number[]; typeIds: number[] };
  padded: Record<string, { ids: number[]; typeIds: number[] }>;
}
const golden = JSON.parse(readFileSync(join(DIR, 'golden.json'), 'utf8')) as {
  maxLengths: number[];
  cases: GoldenCase[];
  /** hub/'s tokenizer.json with other post-processors, as Rust `tokenizers` encodes with them. */
  templates: { name: string; postProcessor: Record<string, unknown>; cases: TemplateCase[] }[];
};
const text = (path: string) => readFileSync(join(DIR, path), 'utf8');
const json = (path: string) => JSON.parse(text(path)) as Record<string, unknown>;
const tokenizer = new BpeTokenizer(json('hub/tokenizer.json'), json('hub/tokenizer_config.json'));
const label = (c: GoldenCase) => JSON.stringify({ text: c.text, pair: c.pair });

describe('byte-level BPE tokenizer vs transformers RobertaTokenizer', () => {
  it('has the goldens it claims, <mask> cases among them', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(1000);
    expect(golden.cases.filter((c) => c.pair !== null).length).toBeGreaterThanOrEqual(300);
    expect(golden.cases.filter((c) => c.files).length).toBeGreaterThan(0);
    expect(tokenizer.vocabSize).toBe(1200);
    expect([tokenizer.clsId, tokenizer.padId, tokenizer.sepId, tokenizer.modelMaxLength]).toEqual([0, 1, 2, 512]);
  });

  it('pieces, full ids and token types: every case exact', () => {
    const failures: string[] = [];
    // transformers 5's tokenize() shows an lstrip token with the spaces it absorbed (" <mask>"); its ids do not.
    const pieces = (tokens: string[]) => tokens.map((t) => (t.trimStart() === '<mask>' ? '<mask>' : t));
    for (const c of golden.cases) {
      if (c.tokens && JSON.stringify(tokenizer.tokenize(c.text)) !== JSON.stringify(pieces(c.tokens))) failures.push(`${label(c)} tokens ${JSON.stringify(tokenizer.tokenize(c.text))}`);
      const full = tokenizer.encode(c.text, c.pair);
      if (JSON.stringify([full.ids, full.typeIds]) !== JSON.stringify([c.full.ids, c.full.typeIds])) failures.push(`${label(c)} full ${JSON.stringify(full.ids)}`);
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  for (const maxLength of golden.maxLengths) {
    it(`truncated longest-first and padded to ${maxLength}: every case exact, per example and batched`, () => {
      const failures: string[] = [];
      for (const c of golden.cases) {
        const want = c.padded[String(maxLength)];
        const got = tokenizer.encode(c.text, c.pair, { maxLength });
        if (JSON.stringify([got.ids, got.typeIds, got.attentionMask]) !== JSON.stringify([want.ids, want.typeIds, want.mask])) {
          failures.push(`${label(c)}: ${JSON.stringify(got.ids)} != ${JSON.stringify(want.ids)}`);
        }
      }
      expect(failures.slice(0, 10)).toEqual([]);
      // encodeBatch keeps an empty pair as a pair (the batched call): compare the pairs without one.
      const pairs = golden.cases.filter((c) => c.pair !== null && c.pair !== '' && c.padded[String(maxLength)].ids.length === maxLength);
      const batch = encodeBatch(tokenizer, pairs.map((c) => c.text), pairs.map((c) => c.pair), maxLength);
      pairs.forEach((c, i) => {
        const want = c.padded[String(maxLength)];
        expect(Array.from(batch.inputIds.slice(i * maxLength, (i + 1) * maxLength)), label(c)).toEqual(want.ids);
        expect(Array.from(batch.attentionMask.slice(i * maxLength, (i + 1) * maxLength))).toEqual(want.mask);
      });
    });
  }

  it('from vocab.json + merges.txt: the tokenizer.json transformers 5 builds, every case exact', () => {
    const built = robertaTokenizerJson(json('files/vocab.json'), text('files/merges.txt'), json('files/tokenizer_config.json'));
    // roberta-base's own tokenizer.json differs only in its added tokens' flags (normalized, <mask> lstrip).
    const hub = json('hub/tokenizer.json');
    const flagsOff = (hub.added_tokens as Record<string, unknown>[]).map((t) => ({ ...t, lstrip: false, normalized: false }));
    expect(built).toEqual({ ...hub, added_tokens: flagsOff });
    const fromFiles = new BpeTokenizer(built, json('files/tokenizer_config.json'));
    const failures: string[] = [];
    for (const c of golden.cases) {
      const got = fromFiles.encode(c.text, c.pair).ids;
      if (JSON.stringify(got) !== JSON.stringify(c.files ?? c.full.ids)) failures.push(`${label(c)}: ${JSON.stringify(got)}`);
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it.each(golden.templates.map((t) => [t.name, t] as const))('with a %s post-processor: every case exact, truncated and padded too', (_, { postProcessor, cases }) => {
    const withTemplate = new BpeTokenizer({ ...json('hub/tokenizer.json'), post_processor: postProcessor });
    expect(withTemplate.template).toBe(postProcessor.type === 'BertProcessing' || JSON.stringify(postProcessor).includes('"type_id":1') ? 'bert' : 'roberta');
    const failures: string[] = [];
    // Rust's encode keeps an empty pair as a pair; encode() follows transformers' single call, which drops it.
    for (const c of cases.filter((c) => c.pair !== '')) {
      for (const maxLength of [undefined, ...golden.maxLengths]) {
        const want = maxLength === undefined ? c.full : c.padded[String(maxLength)];
        const got = withTemplate.encode(c.text, c.pair, maxLength === undefined ? {} : { maxLength });
        if (JSON.stringify([got.ids, got.typeIds]) !== JSON.stringify([want.ids, want.typeIds])) failures.push(`${JSON.stringify(c.text)} at ${maxLength}: ${JSON.stringify(got.ids)}`);
      }
    }
    expect(cases.filter((c) => c.pair !== null).length).toBeGreaterThanOrEqual(100);
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it('refuses what is not a RoBERTa BPE tokenizer, saying which files to use', () => {
    const hub = json('hub/tokenizer.json');
    expect(() => new BpeTokenizer({ model: { type: 'Unigram', vocab: [] } })).toThrow(InputError);
    // GPT-2's post-processor adds no special tokens; a template with other tokens per side is not the model's input either.
    expect(() => new BpeTokenizer({ ...hub, post_processor: { type: 'ByteLevel', trim_offsets: true } })).toThrow(/ByteLevel post-processor is not a RoBERTa or BERT template/);
    const odd = { ...golden.templates[0].postProcessor, single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }] };
    expect(() => new BpeTokenizer({ ...hub, post_processor: odd })).toThrow(/TemplateProcessing post-processor is not a RoBERTa or BERT template/);
    expect(() => robertaTokenizerJson(['not', 'an', 'object'], '')).toThrow(/vocab.json is not a JSON object/);
    expect(() => robertaTokenizerJson({ a: 0 }, '#version: 0.2\na b c\n')).toThrow(/merges.txt line 2/);
    expect(() => robertaTokenizerJson({ a: 0, b: 1 }, 'a b\n')).toThrow(/vocab.json has no <s> token/);
  });

  it('turns what the library throws on a malformed tokenizer.json into a typed error naming the file (fuzz finds)', () => {
    const hub = json('hub/tokenizer.json');
    const model = hub.model as Record<string, unknown>;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...hub, pre_tokenizer: { type: 'Nope' } }, /^tokenizer.json cannot be used: Unknown PreTokenizer type: Nope/],
      [{ ...hub, pre_tokenizer: { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated' } }, /^tokenizer.json cannot be used: Invalid regular expression/],
      [{ ...hub, model: { ...model, merges: [1, 2] } }, /merge 0 is 1, not two tokens/],
      [{ ...hub, added_tokens: [{ id: 'x' }] }, /an added token is not \{id, content\}/],
      [{ ...hub, model: { ...model, vocab: { a: -1 } } }, /token "a" has id -1/],
    ];
    for (const [file, message] of cases) {
      expect(() => new BpeTokenizer(file), JSON.stringify(message)).toThrow(InputError);
      expect(() => new BpeTokenizer(file)).toThrow(message);
    }
  });
});

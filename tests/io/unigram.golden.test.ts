/**
 * The Unigram (DeBERTa-v3) tokenizer matches transformers' DebertaV2Tokenizer exactly on the outputs of
 * scripts/reference/unigram_golden.py (tests/fixtures/io/unigram): 1,086 texts (774 single, 312 pairs), each
 * untruncated and truncated longest-first + padded at 5 max lengths, both per case and through encodeBatch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debertaTokenizerJsonFromSpm, parseSpmPieces } from '../../src/io/tokenizer/spm';
import { UnigramTokenizer } from '../../src/io/tokenizer/unigram';
import { encodeBatch } from '../../src/io/tokenizer/wordpiece';
import { InputError } from '../../src/engine/errors';

const DIR = join(__dirname, '..', 'fixtures', 'io', 'unigram');

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
}
const golden = JSON.parse(readFileSync(join(DIR, 'golden.json'), 'utf8')) as { maxLengths: number[]; cases: GoldenCase[] };
const read = (name: string) => JSON.parse(readFileSync(join(DIR, name), 'utf8')) as Record<string, unknown>;
const tokenizer = new UnigramTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));

describe('Unigram tokenizer vs transformers DebertaV2Tokenizer', () => {
  it('has the goldens it claims', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(1000);
    expect(golden.cases.filter((c) => c.pair !== null).length).toBeGreaterThanOrEqual(300);
  });

  it('pieces, full ids and token types: every case exact', () => {
    const failures: string[] = [];
    for (const c of golden.cases) {
      const label = JSON.stringify({ text: c.text, pair: c.pair });
      if (c.tokens && JSON.stringify(tokenizer.tokenize(c.text)) !== JSON.stringify(c.tokens)) failures.push(`${label} tokens`);
      const full = tokenizer.encode(c.text, c.pair);
      if (JSON.stringify([full.ids, full.typeIds]) !== JSON.stringify([c.full.ids, c.full.typeIds])) failures.push(`${label} full ${JSON.stringify(full.ids)}`);
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
          failures.push(`${JSON.stringify({ text: c.text, pair: c.pair })}: ${JSON.stringify(got.ids)} != ${JSON.stringify(want.ids)}`);
        }
      }
      expect(failures.slice(0, 10)).toEqual([]);
      // encodeBatch keeps an empty pair as a pair (the batched call): compare the cases without one.
      const batchCases = golden.cases.filter((c) => c.pair !== '' && c.full.ids.length >= Math.min(maxLength, 2));
      const pairs = batchCases.filter((c) => c.pair !== null);
      const batch = encodeBatch(tokenizer, pairs.map((c) => c.text), pairs.map((c) => c.pair), maxLength);
      pairs.forEach((c, i) => {
        const want = c.padded[String(maxLength)];
        if (want.ids.length !== maxLength) return; // below the special-token count: HF returns a longer row
        expect(Array.from(batch.inputIds.slice(i * maxLength, (i + 1) * maxLength)), JSON.stringify(c.text)).toEqual(want.ids);
        expect(Array.from(batch.tokenTypeIds.slice(i * maxLength, (i + 1) * maxLength))).toEqual(want.typeIds);
      });
    });
  }

  it('refuses a tokenizer.json that is not Unigram, saying which file to use', () => {
    const bpe = { model: { type: 'BPE', vocab: {}, merges: [] } };
    expect(() => new UnigramTokenizer(bpe)).toThrow(InputError);
    expect(() => new UnigramTokenizer(bpe)).toThrow(/Unigram/);
  });

  it('turns what the library throws on a malformed tokenizer.json into a typed error naming the file (fuzz finds)', () => {
    const file = read('tokenizer.json');
    const model = file.model as Record<string, unknown>;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...file, normalizer: { type: 0 } }, /^tokenizer.json cannot be used: Unknown Normalizer type: 0/],
      [{ ...file, pre_tokenizer: { type: 'Sequence', pretokenizers: 3 } }, /^tokenizer.json cannot be used/],
      [{ ...file, model: { ...model, vocab: [['a', 'b']] } }, /vocabulary entry 0 is \["a","b"\], not \[piece, score\]/],
      [{ ...file, added_tokens: [null] }, /an added token is not \{id, content\}/],
    ];
    for (const [json, message] of cases) {
      expect(() => new UnigramTokenizer(json), JSON.stringify(message)).toThrow(InputError);
      expect(() => new UnigramTokenizer(json)).toThrow(message);
    }
  });
});

describe('spm.model (Hub folders without tokenizer.json)', () => {
  const spm = new Uint8Array(readFileSync(join(DIR, 'spm.model')));

  it("builds the tokenizer.json transformers' save_pretrained writes", () => {
    expect(debertaTokenizerJsonFromSpm(spm)).toEqual(read('tokenizer.json'));
  });

  it('tokenizes every golden case exactly, truncated at every max length too', () => {
    const fromSpm = new UnigramTokenizer(debertaTokenizerJsonFromSpm(spm), read('tokenizer_config.json'));
    const failures: string[] = [];
    for (const c of golden.cases) {
      for (const maxLength of [undefined, ...golden.maxLengths]) {
        const want = maxLength === undefined ? c.full : c.padded[String(maxLength)];
        const got = fromSpm.encode(c.text, c.pair, maxLength === undefined ? {} : { maxLength });
        if (JSON.stringify(got.ids) !== JSON.stringify(want.ids)) failures.push(`${JSON.stringify(c.text)} at ${maxLength}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it('refuses a file that is not a SentencePiece model, without hanging', () => {
    expect(() => parseSpmPieces(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(InputError);
    expect(() => parseSpmPieces(new TextEncoder().encode('{"model": "json, not protobuf"}'))).toThrow(InputError);
    expect(() => parseSpmPieces(new Uint8Array(0))).toThrow(/no pieces/);
    // A piece that is not UTF-8 (a fuzz find: TextDecoder's TypeError before).
    expect(() => parseSpmPieces(Uint8Array.of(0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe))).toThrow(/piece 0 is not UTF-8 text/);
  });
});

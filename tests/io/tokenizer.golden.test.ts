/**
 * Matches BertTokenizerFast exactly on the outputs of scripts/reference/tokenizer_golden.py
 * (run on the GPU machine; its output folder is copied to tests/fixtures/io/tokenizer/).
 * Fails, never skips, when the fixtures are missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenizerFromJson, tokenizerFromVocab } from '../../src/io/tokenizer/load';
import type { WordPieceTokenizer } from '../../src/io/tokenizer/wordpiece';

const DIR = join(__dirname, '..', 'fixtures', 'io', 'tokenizer');

interface Encoded {
  ids: number[];
  typeIds: number[];
  mask: number[];
}
interface GoldenCase {
  variant: string;
  text: string;
  pair: string | null;
  tokens: string[];
  full: Encoded;
  padded: Record<string, Encoded>;
}
interface Golden {
  maxLengths: number[];
  variants: Record<string, { dir: string; doLowerCase: boolean; stripAccents: boolean | null; tokenizeChineseChars: boolean }>;
  cases: GoldenCase[];
}

function loadGolden(): Golden {
  const file = join(DIR, 'golden.json');
  if (!existsSync(file)) {
    throw new Error(`Missing ${file}: run scripts/reference/tokenizer_golden.py <outdir> on the GPU machine and copy <outdir>/* there`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Golden;
}

function check(tokenizer: WordPieceTokenizer, cases: GoldenCase[], maxLengths: number[]): string[] {
  const failures: string[] = [];
  for (const c of cases) {
    const label = JSON.stringify({ text: c.text, pair: c.pair });
    const pieces = c.pair === null ? tokenizer.tokenize(c.text) : [...tokenizer.tokenize(c.text), ...tokenizer.tokenize(c.pair)];
    if (JSON.stringify(pieces) !== JSON.stringify(c.tokens)) failures.push(`${label} tokens ${JSON.stringify(pieces)} != ${JSON.stringify(c.tokens)}`);
    const full = tokenizer.encode(c.text, c.pair);
    if (JSON.stringify([full.ids, full.typeIds]) !== JSON.stringify([c.full.ids, c.full.typeIds])) {
      failures.push(`${label} full ids ${JSON.stringify(full.ids)} != ${JSON.stringify(c.full.ids)}`);
    }
    for (const maxLength of maxLengths) {
      const want = c.padded[String(maxLength)];
      const got = tokenizer.encode(c.text, c.pair, { maxLength });
      if (JSON.stringify([got.ids, got.typeIds, got.attentionMask]) !== JSON.stringify([want.ids, want.typeIds, want.mask])) {
        failures.push(`${label} maxLength ${maxLength}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
      }
    }
  }
  return failures;
}

describe('tokenizer golden (BertTokenizerFast)', () => {
  const golden = loadGolden();
  const variants = Object.entries(golden.variants);

  it('has cases for every variant', () => {
    expect(variants.length).toBeGreaterThanOrEqual(4);
    for (const [name] of variants) expect(golden.cases.filter((c) => c.variant === name).length).toBeGreaterThan(100);
  });

  for (const [name, meta] of variants) {
    const cases = golden.cases.filter((c) => c.variant === name);
    const read = (file: string) => readFileSync(join(DIR, meta.dir, file), 'utf8');

    it(`${name}: from tokenizer.json + tokenizer_config.json`, () => {
      const tokenizer = tokenizerFromJson(JSON.parse(read('tokenizer.json')), JSON.parse(read('tokenizer_config.json')));
      expect(check(tokenizer, cases, golden.maxLengths).slice(0, 10)).toEqual([]);
    });

    it(`${name}: from vocab.txt + tokenizer_config.json`, () => {
      const tokenizer = tokenizerFromVocab(read('vocab.txt'), JSON.parse(read('tokenizer_config.json')));
      expect(check(tokenizer, cases, golden.maxLengths).slice(0, 10)).toEqual([]);
    });
  }
});

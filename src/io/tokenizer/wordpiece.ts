/**
 * BERT WordPiece tokenizer, matching Hugging Face BertTokenizerFast (the Rust `tokenizers` pipeline:
 * BertNormalizer -> BertPreTokenizer -> WordPiece -> BertProcessing, longest-first truncation).
 *
 * Hand-written because @huggingface/tokenizers 0.2.0 (the maintained pure-JS option) iterates UTF-16
 * code units when spacing CJK characters (misses CJK extension B..F), has a precedence bug in its
 * control-character test, has no truncation or padding, and only loads tokenizer.json (many BERT
 * checkpoints ship vocab.txt alone). Checked against Python goldens: tests/io/tokenizer.golden.test.ts.
 */
import { InputError } from '../../engine/errors';
import { LIMITS } from '../limits';

export interface WordPieceOptions {
  /** Token strings by id (vocab.txt line order). */
  vocab: readonly string[];
  doLowerCase: boolean;
  /** null: follow doLowerCase (Hugging Face default). */
  stripAccents: boolean | null;
  tokenizeChineseChars: boolean;
  cleanText?: boolean;
  maxInputCharsPerWord?: number;
  continuingSubwordPrefix?: string;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maskToken?: string;
  /** Extra strings matched verbatim in raw text and never split (added tokens). */
  extraNeverSplit?: readonly string[];
  /** tokenizer_config.json `model_max_length` when sane; informational. */
  modelMaxLength?: number;
}

export interface Encoding {
  ids: number[];
  typeIds: number[];
  attentionMask: number[];
}

export interface EncodeOptions {
  /** Truncate (longest first) to this many tokens including [CLS]/[SEP]. */
  maxLength?: number;
  /** Pad with [PAD] up to maxLength. Default true when maxLength is given. */
  pad?: boolean;
}

const CONTROL = /\p{C}/u;
const WHITESPACE = /\p{White_Space}/u;
const COMBINING_MARK = /\p{Mn}/gu;
const UNICODE_PUNCT = /\p{P}/u;

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return CONTROL.test(ch);
}

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || WHITESPACE.test(ch);
}

/** BERT's punctuation: every ASCII symbol (so `$`, `+`, `^` split too) plus Unicode P* categories. */
function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return UNICODE_PUNCT.test(ch);
}

/** The CJK Unified Ideographs blocks BERT isolates (not kana or hangul). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

export class WordPieceTokenizer {
  readonly vocab: readonly string[];
  readonly tokenToId: ReadonlyMap<string, number>;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly modelMaxLength: number | undefined;
  private readonly lowercase: boolean;
  private readonly stripAccents: boolean;
  private readonly chineseChars: boolean;
  private readonly cleanText: boolean;
  private readonly maxChars: number;
  private readonly prefix: string;
  private readonly unkToken: string;
  /** Longest first, so `[SEP]x` never matches a shorter added token first. */
  private readonly neverSplit: string[];
  private readonly neverSplitStarts: ReadonlySet<string>;

  constructor(options: WordPieceOptions) {
    this.vocab = options.vocab;
    const map = new Map<string, number>();
    options.vocab.forEach((token, id) => {
      // Duplicate lines in vocab.txt: the later id wins, as in Hugging Face's vocab loading.
      map.set(token, id);
    });
    this.tokenToId = map;
    this.lowercase = options.doLowerCase;
    this.stripAccents = options.stripAccents ?? options.doLowerCase;
    this.chineseChars = options.tokenizeChineseChars;
    this.cleanText = options.cleanText ?? true;
    // Matching a word is quadratic in its length (cubic counting the substrings): cap what a file may ask for.
    const maxChars = options.maxInputCharsPerWord ?? 100;
    this.maxChars = Number.isFinite(maxChars) && maxChars >= 1 ? Math.min(Math.floor(maxChars), LIMITS.wordChars.value) : 100;
    this.prefix = options.continuingSubwordPrefix ?? '##';
    this.unkToken = options.unkToken ?? '[UNK]';
    this.modelMaxLength = options.modelMaxLength;
    const special = {
      cls: options.clsToken ?? '[CLS]',
      sep: options.sepToken ?? '[SEP]',
      pad: options.padToken ?? '[PAD]',
      mask: options.maskToken ?? '[MASK]',
    };
    const need = (token: string, role: string): number => {
      const id = map.get(token);
      if (id === undefined) {
        throw new InputError(`Tokenizer vocabulary has no ${role} token "${token}": not a BERT WordPiece vocabulary?`, 'Use the tokenizer files that came with the model.');
      }
      return id;
    };
    this.unkId = need(this.unkToken, 'unknown');
    this.clsId = need(special.cls, 'classifier ([CLS])');
    this.sepId = need(special.sep, 'separator ([SEP])');
    this.padId = need(special.pad, 'padding ([PAD])');
    const candidates = [this.unkToken, special.cls, special.sep, special.pad, special.mask, ...(options.extraNeverSplit ?? [])];
    this.neverSplit = [...new Set(candidates.filter((t) => t.length > 0 && map.has(t)))].sort((a, b) => b.length - a.length);
    this.neverSplitStarts = new Set(this.neverSplit.map((t) => t[0]));
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Word pieces of one text, without [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    return this.wordPieces(text).flat();
  }

  tokenIds(text: string): number[] {
    return this.wordIds(text).flat();
  }

  /**
   * Ids grouped by pre-tokenized word (an added token such as `[SEP]` in the text is one word).
   * The grouping matters for truncation: see {@link idsForTruncation}.
   */
  wordIds(text: string): number[][] {
    return this.wordPieces(text).map((pieces) => pieces.map((t) => this.tokenToId.get(t) ?? this.unkId));
  }

  /**
   * `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, truncated longest-first and padded to maxLength.
   * An empty-string pair counts as no pair, as in transformers' single-example call
   * (`[(text, text_pair)] if text_pair else [text]`): no second [SEP], all token types 0.
   */
  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    return encodeText(this, text, pair, options);
  }

  /**
   * Template + truncation + padding on ids. With maxLength, pass ids cut by idsForTruncation() to
   * match Rust `tokenizers`; whole-sequence ids give the plain longest-first split.
   */
  encodeIds(firstIds: readonly number[], secondIds: readonly number[] | null, options: EncodeOptions = {}): Encoding {
    return encodeWithTemplate(firstIds, secondIds, { cls: this.clsId, sep: this.sepId, pad: this.padId }, options);
  }

  // ---- pipeline stages -------------------------------------------------------------------------

  /** Pieces per pre-tokenized word, in text order. */
  private wordPieces(text: string): string[][] {
    const words: string[][] = [];
    for (const segment of this.splitOnSpecialTokens(text)) {
      if (segment.special) {
        words.push([segment.text]);
        continue;
      }
      for (const word of this.preTokenize(this.normalize(segment.text))) words.push(this.wordPiece(word));
    }
    return words;
  }

  private splitOnSpecialTokens(text: string): { text: string; special: boolean }[] {
    const out: { text: string; special: boolean }[] = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const hit = this.neverSplitStarts.has(text[i]) ? this.neverSplit.find((t) => text.startsWith(t, i)) : undefined;
      if (hit === undefined) {
        i++;
        continue;
      }
      if (i > start) out.push({ text: text.slice(start, i), special: false });
      out.push({ text: hit, special: true });
      i += hit.length;
      start = i;
    }
    if (start < text.length) out.push({ text: text.slice(start), special: false });
    return out;
  }

  /** BertNormalizer: clean, space CJK, strip accents, lowercase (in that order, as the Rust one). */
  normalize(text: string): string {
    let out = text;
    if (this.cleanText) {
      let cleaned = '';
      for (const ch of out) {
        const cp = ch.codePointAt(0)!;
        if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
        cleaned += isWhitespace(ch) ? ' ' : ch;
      }
      out = cleaned;
    }
    if (this.chineseChars) {
      let spaced = '';
      for (const ch of out) spaced += isChineseChar(ch.codePointAt(0)!) ? ` ${ch} ` : ch;
      out = spaced;
    }
    if (this.stripAccents) out = out.normalize('NFD').replace(COMBINING_MARK, '');
    if (this.lowercase) {
      // Per code point, as Rust's NormalizedString::lowercase: no context rules (final sigma stays σ).
      let lowered = '';
      for (const ch of out) lowered += ch.toLowerCase();
      out = lowered;
    }
    return out;
  }

  /** BertPreTokenizer: split on whitespace (dropped) and punctuation (kept, one char each). */
  private preTokenize(text: string): string[] {
    const words: string[] = [];
    let current = '';
    for (const ch of text) {
      if (isWhitespace(ch)) {
        if (current) words.push(current);
        current = '';
      } else if (isPunctuation(ch)) {
        if (current) words.push(current);
        words.push(ch);
        current = '';
      } else {
        current += ch;
      }
    }
    if (current) words.push(current);
    return words;
  }

  /** Greedy longest-match-first; a word with any unmatched rest becomes one [UNK]. */
  private wordPiece(word: string): string[] {
    const chars = Array.from(word); // code points, as Python and Rust count them
    if (chars.length > this.maxChars) return [this.unkToken];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | null = null;
      while (start < end) {
        const sub = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        if (this.tokenToId.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === null) return [this.unkToken];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }
}

/**
 * The ids that Rust `tokenizers` hands to truncation when truncation is on: it stops word-piecing a
 * sequence after the word that brings it to `maxLength` tokens (the full max_length, special tokens
 * included), so a long sequence enters the longest-first split with that shortened length. This can
 * flip which side of a pair counts as the longer one (e.g. 10 vs 19 tokens become 9 vs 8 at
 * max_length 8, so the first sequence keeps the odd token). Word boundaries matter, hence number[][].
 * Not visible in truncation.rs: measured on tokenizers 0.23.2 (the goldens' version, also published
 * as the npm `tokenizers` Node binding), which this reproduced on 15,000 random pairs.
 */
export function idsForTruncation(words: readonly (readonly number[])[], maxLength: number): number[] {
  const ids: number[] = [];
  for (const word of words) {
    if (ids.length >= maxLength) break;
    ids.push(...word);
  }
  return ids;
}

/**
 * Kept lengths under longest-first truncation, as the Rust `tokenizers` computes them: the shorter
 * sequence keeps what it can up to half the budget, the longer one gets the rest; an odd budget's
 * extra token goes to the longer one (to the second on a tie).
 */
export function truncatedLengths(n1: number, n2: number | null, budget: number): [number, number] {
  if (n2 === null) return [Math.min(n1, budget), 0];
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long: number;
  if (short > budget) long = short;
  else long = Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  const keepShort = Math.min(short, swap ? n2 : n1);
  const keepLong = Math.min(long, swap ? n1 : n2);
  return swap ? [keepLong, keepShort] : [keepShort, keepLong];
}

/**
 * How a family's tokenizer joins a pair: BERT (WordPiece, Unigram/DeBERTa) `[CLS] a [SEP] b [SEP]` with token
 * types 0 / 1; RoBERTa (RobertaProcessing) `<s> a </s></s> b </s>` with token types all 0.
 */
export type PairTemplate = 'bert' | 'roberta';

export const TEMPLATES: Readonly<Record<PairTemplate, { separators: number; secondTypeId: number }>> = {
  bert: { separators: 1, secondTypeId: 1 },
  roberta: { separators: 2, secondTypeId: 0 },
};

/** The template with longest-first truncation to maxLength and padding (single: `cls a sep` in both). */
export function encodeWithTemplate(
  firstIds: readonly number[],
  secondIds: readonly number[] | null,
  special: { cls: number; sep: number; pad: number },
  options: EncodeOptions = {},
  template: PairTemplate = 'bert',
): Encoding {
  const { separators, secondTypeId } = TEMPLATES[template];
  let first = firstIds;
  let second = secondIds;
  const { maxLength } = options;
  if (maxLength !== undefined) {
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`maxLength must be a positive integer, got ${maxLength}`);
    const specials = second === null ? 2 : 2 + separators;
    const budget = Math.max(0, maxLength - specials);
    const [n1, n2] = truncatedLengths(first.length, second?.length ?? null, budget);
    first = first.slice(0, n1);
    if (second !== null) second = second.slice(0, n2);
  }
  const ids = [special.cls, ...first, special.sep];
  const typeIds = new Array<number>(ids.length).fill(0);
  if (second !== null) {
    for (let i = 1; i < separators; i++) ids.push(special.sep);
    ids.push(...second, special.sep);
    while (typeIds.length < ids.length) typeIds.push(secondTypeId);
  }
  const attentionMask = new Array<number>(ids.length).fill(1);
  if (maxLength !== undefined && (options.pad ?? true)) {
    // Lengths can still exceed maxLength when it is below the special-token count (as in HF).
    while (ids.length < maxLength) {
      ids.push(special.pad);
      typeIds.push(0);
      attentionMask.push(0);
    }
  }
  return { ids, typeIds, attentionMask };
}

/** What encodeBatch needs of a tokenizer: ids grouped by pre-tokenized word, and the template. */
export interface PairTokenizer {
  wordIds(text: string): number[][];
  encodeIds(firstIds: readonly number[], secondIds: readonly number[] | null, options?: EncodeOptions): Encoding;
}

/** One example, pair optional (an empty string counts as none), truncated longest-first as Rust `tokenizers`. */
export function encodeText(tokenizer: PairTokenizer, text: string, pair: string | null | undefined, options: EncodeOptions = {}): Encoding {
  const limit = options.maxLength ?? Infinity;
  const first = idsForTruncation(tokenizer.wordIds(text), limit);
  const second = pair === undefined || pair === null || pair === '' ? null : idsForTruncation(tokenizer.wordIds(pair), limit);
  return tokenizer.encodeIds(first, second, options);
}

/** Encodes many texts into fixed-shape [n, maxLength] arrays for the engine. */
export function encodeBatch(
  tokenizer: PairTokenizer,
  texts: readonly string[],
  pairs: readonly (string | null)[] | null,
  maxLength: number,
): { inputIds: Int32Array; tokenTypeIds: Int32Array; attentionMask: Int32Array; truncated: number } {
  const n = texts.length;
  const inputIds = new Int32Array(n * maxLength);
  const tokenTypeIds = new Int32Array(n * maxLength);
  const attentionMask = new Int32Array(n * maxLength);
  let truncated = 0;
  for (let i = 0; i < n; i++) {
    // A batch keeps an empty-string pair as a pair (`[CLS] a [SEP] [SEP]`), as transformers'
    // batched call (`zip(text, text_pair)`, what run_glue uses) does, unlike encode() on one example.
    const pair = pairs ? pairs[i] : null;
    const firstWords = tokenizer.wordIds(texts[i]);
    const secondWords = pair === null || pair === undefined ? null : tokenizer.wordIds(pair);
    const fullLength = countIds(firstWords) + (secondWords ? countIds(secondWords) + 3 : 2);
    if (fullLength > maxLength) truncated++;
    const first = idsForTruncation(firstWords, maxLength);
    const second = secondWords ? idsForTruncation(secondWords, maxLength) : null;
    const enc = tokenizer.encodeIds(first, second, { maxLength, pad: true });
    const len = Math.min(enc.ids.length, maxLength);
    inputIds.set(enc.ids.slice(0, len), i * maxLength);
    tokenTypeIds.set(enc.typeIds.slice(0, len), i * maxLength);
    attentionMask.set(enc.attentionMask.slice(0, len), i * maxLength);
  }
  return { inputIds, tokenTypeIds, attentionMask, truncated };
}

function countIds(words: readonly (readonly number[])[]): number {
  return words.reduce((sum, word) => sum + word.length, 0);
}

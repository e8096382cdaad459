import { describe, expect, it } from 'vitest';
import { encodeBatch, idsForTruncation, truncatedLengths, WordPieceTokenizer } from '../../src/io/tokenizer/wordpiece';
import { loadTokenizer, looksUncased, parseVocabTxt, tokenizerFromJson, tokenizerFromVocab } from '../../src/io/tokenizer/load';

const VOCAB = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', // 0-4
  'hello', 'world', ',', '!', 'un', '##aff', '##able', 'cafe', 'caf', '##é', // 5-14
  '中', '文', 'the', '.', '$', '5', 'a', '##a', 'Hello', '𠀀', // 15-24
];
const id = (t: string): number => VOCAB.indexOf(t);

function tok(opts: Partial<ConstructorParameters<typeof WordPieceTokenizer>[0]> = {}): WordPieceTokenizer {
  return new WordPieceTokenizer({ vocab: VOCAB, doLowerCase: true, stripAccents: null, tokenizeChineseChars: true, ...opts });
}

describe('WordPieceTokenizer', () => {
  it('lower-cases, strips accents, splits punctuation and word pieces', () => {
    expect(tok().tokenize('Hello, World! Unaffable CAFÉ')).toEqual(['hello', ',', 'world', '!', 'un', '##aff', '##able', 'cafe']);
  });

  it('keeps case and accents when cased', () => {
    const cased = tok({ doLowerCase: false });
    expect(cased.tokenize('Hello café')).toEqual(['Hello', 'caf', '##é']);
  });

  it('strip_accents=false keeps accents while lower-casing', () => {
    expect(tok({ stripAccents: false }).tokenize('CAFÉ')).toEqual(['caf', '##é']);
  });

  it('splits CJK ideographs, including astral ones, only when enabled', () => {
    expect(tok().tokenize('中文𠀀')).toEqual(['中', '文', '𠀀']);
    expect(tok({ tokenizeChineseChars: false }).tokenize('中文')).toEqual(['[UNK]']);
  });

  it('treats ASCII symbols as punctuation and removes control characters', () => {
    expect(tok().tokenize('$5\u0000a\u200b\u0007a')).toEqual(['$', '5', '##a', '##a']);
    expect(tok().tokenize('hello\u00a0world\u3000the\tworld\u2028hello')).toEqual(['hello', 'world', 'the', 'world', 'hello']);
  });

  it('turns a word longer than 100 code points into one [UNK], and an unmatched rest into [UNK]', () => {
    expect(tok().tokenize('a'.repeat(100))).toEqual(['a', ...new Array(99).fill('##a')]);
    expect(tok().tokenize('a'.repeat(101))).toEqual(['[UNK]']);
    expect(tok().tokenize('hellox world')).toEqual(['[UNK]', 'world']);
  });

  it('never splits special tokens and does not lower-case them', () => {
    expect(tok().tokenize('hello[SEP]world [MASK]')).toEqual(['hello', '[SEP]', 'world', '[MASK]']);
  });

  it('encodes pairs with token types, truncation and padding', () => {
    const enc = tok().encode('hello world', 'the world', { maxLength: 10 });
    expect(enc.ids).toEqual([2, id('hello'), id('world'), 3, id('the'), id('world'), 3, 0, 0, 0]);
    expect(enc.typeIds).toEqual([0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
    expect(enc.attentionMask).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    const cut = tok().encode('hello world hello world', 'the', { maxLength: 6 });
    expect(cut.ids).toEqual([2, id('hello'), id('world'), 3, id('the'), 3]);
  });

  it('splits the budget like Rust tokenizers (test table of tokenizers/src/utils/truncation.rs)', () => {
    const table: [number, number, number, number][] = [
      [0, 0, 0, 0], [0, 2, 0, 2], [0, 4, 0, 4], [0, 8, 0, 7], [2, 0, 2, 0], [2, 2, 2, 2], [2, 4, 2, 4], [2, 8, 2, 5],
      [4, 0, 4, 0], [4, 2, 4, 2], [4, 4, 3, 4], [4, 8, 3, 4], [8, 0, 7, 0], [8, 2, 5, 2], [8, 4, 4, 3], [8, 8, 3, 4],
    ];
    for (const [n1, n2, k1, k2] of table) expect(truncatedLengths(n1, n2, 7)).toEqual([k1, k2]);
    expect(truncatedLengths(8, null, 3)).toEqual([3, 0]);
  });

  it('treats an empty-string pair as no pair in encode(), as transformers does for one example', () => {
    const single = [2, id('hello'), 3];
    expect(tok().encode('hello', '').ids).toEqual(single);
    expect(tok().encode('hello', '').typeIds).toEqual([0, 0, 0]);
    expect(tok().encode('hello', '', { maxLength: 5 }).ids).toEqual([...single, 0, 0]);
    // A whitespace-only pair is a real (empty) second sequence, as in Rust.
    expect(tok().encode('hello', ' ').ids).toEqual([...single, 3]);
    // The batched call (what dataset encoding mirrors) keeps the pair: zip(text, text_pair).
    const batch = encodeBatch(tok(), ['hello'], [''], 5);
    expect(Array.from(batch.inputIds)).toEqual([...single, 3, 0]);
    expect(Array.from(batch.tokenTypeIds)).toEqual([0, 0, 0, 1, 0]);
  });

  it('stops word-piecing a sequence at max_length tokens before the longest-first split, on word boundaries', () => {
    // Words [1] [2 3] [4 5 6] [7]: stop after the word that reaches the limit.
    expect(idsForTruncation([[1], [2, 3], [4, 5, 6], [7]], 3)).toEqual([1, 2, 3]);
    expect(idsForTruncation([[1], [2, 3], [4, 5, 6], [7]], 4)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(idsForTruncation([[1], [2, 3]], 10)).toEqual([1, 2, 3]);
    // 10 vs 12 tokens at max_length 8 (budget 5): the plain split gives the shorter first sequence 2
    // tokens, but Rust sees 10 (the + 3 x un##aff##able, stopped after reaching 8) vs 8, so the first
    // sequence is the longer one and keeps the odd token.
    const first = 'the unaffable unaffable unaffable';
    const second = new Array(12).fill('hello').join(' ');
    expect(tok().tokenIds(first)).toHaveLength(10);
    const enc = tok().encode(first, second, { maxLength: 8 });
    expect(enc.ids).toEqual([2, id('the'), id('un'), id('##aff'), 3, id('hello'), id('hello'), 3]);
    expect(enc.typeIds).toEqual([0, 0, 0, 0, 0, 1, 1, 1]);
    const batch = encodeBatch(tok(), [first], [second], 8);
    expect(Array.from(batch.inputIds)).toEqual(enc.ids);
    expect(batch.truncated).toBe(1);
    // Both sequences cut to exactly 8: a tie, so the second keeps the odd token, although 20 > 12.
    const tie = tok().encode(new Array(20).fill('the').join(' '), second, { maxLength: 8 });
    expect(tie.ids).toEqual([2, id('the'), id('the'), 3, id('hello'), id('hello'), id('hello'), 3]);
  });

  it('encodeBatch fills fixed-shape arrays and counts truncated rows', () => {
    const batch = encodeBatch(tok(), ['hello', 'hello world the world'], null, 4);
    expect(Array.from(batch.inputIds)).toEqual([2, id('hello'), 3, 0, 2, id('hello'), id('world'), 3]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 0, 1, 1, 1, 1]);
    expect(batch.truncated).toBe(1);
  });
});

describe('tokenizer loading', () => {
  it('reads vocab.txt with CRLF and a trailing newline', () => {
    expect(parseVocabTxt('a\r\nb\r\n')).toEqual(['a', 'b']);
  });

  it('guesses casing from the vocabulary when no config says it', () => {
    expect(looksUncased(['[CLS]', 'hello', 'world'])).toBe(true);
    expect(looksUncased(['[CLS]', ...'ABCDEFGHIJ'.split('')])).toBe(false);
    const lowered = tokenizerFromVocab(VOCAB.filter((t) => t !== 'Hello').join('\n'));
    expect(lowered.tokenize('HELLO')).toEqual(['hello']);
  });

  it('tokenizer_config.json do_lower_case=false wins over the guess', () => {
    const cased = tokenizerFromVocab(VOCAB.join('\n'), { do_lower_case: false, model_max_length: 512 });
    expect(cased.tokenize('Hello')).toEqual(['Hello']);
    expect(cased.modelMaxLength).toBe(512);
  });

  it('reads tokenizer.json (vocab map + BertNormalizer flags)', () => {
    const json = {
      added_tokens: [{ id: 4, content: '[MASK]', special: true }],
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])) },
    };
    const t = tokenizerFromJson(json);
    expect(t.tokenize('CAFÉ [MASK]')).toEqual(['caf', '##é', '[MASK]']);
    expect(loadTokenizer({ tokenizerJson: JSON.stringify(json), vocabTxt: 'ignored' }).vocabSize).toBe(VOCAB.length);
  });

  it('rejects non-WordPiece tokenizers and vocabularies without special tokens, naming the problem', () => {
    expect(() => tokenizerFromJson({ model: { type: 'BPE', vocab: {} } })).toThrow(/BPE.*only BERT WordPiece/);
    expect(() => tokenizerFromVocab('hello\nworld')).toThrow(/no unknown token "\[UNK\]"/);
    expect(() => loadTokenizer({})).toThrow(/vocab.txt or tokenizer.json/);
  });
});

describe('lower-casing like the Rust normalizer', () => {
  it('maps each code point on its own (no final-sigma rule)', () => {
    const greek = new WordPieceTokenizer({ vocab: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'οσ', 'οδοσ'], doLowerCase: true, stripAccents: null, tokenizeChineseChars: true });
    expect(greek.tokenize('ΟΣ ΟΔΟΣ')).toEqual(['οσ', 'οδοσ']);
  });
});

/**
 * What the app needs of a model family's tokenizer (WordPiece, byte-level BPE, Unigram): what
 * encodeBatch needs (ids grouped by pre-tokenized word + the family's template, wordpiece.ts PairTokenizer) plus
 * the size checks and token strings the loader and the UI read.
 */
import type { EncodeOptions, Encoding, PairTokenizer } from './wordpiece';

export interface Tokenizer extends PairTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly modelMaxLength: number | undefined;
  /** Token strings of one text, without special tokens. */
  tokenize(text: string): string[];
  /** One example as transformers' single call encodes it (an empty-string pair counts as no pair). */
  encode(text: string, pair?: string | null, options?: EncodeOptions): Encoding;
}

/**
 * SentencePiece-Unigram tokenizer (DeBERTa-v3) from tokenizer.json, matching transformers' DebertaV2Tokenizer.
 * The pipeline (normalizer, Metaspace, Unigram Viterbi, added tokens) is @huggingface/tokenizers' (pure JS,
 * maintained by Hugging Face): exact on the 1,086 golden texts and pairs of scripts/reference/unigram_golden.py
 * (docs/io.md). It has no truncation or padding: the template, longest-first truncation and padding are
 * wordpiece.ts's, which reproduce Rust `tokenizers` (checked on the same goldens at 5 max lengths).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../../engine/errors';
import { checkLimit } from '../limits';
import { modelMaxLengthOf, type Json } from './fields';
import type { Tokenizer as AppTokenizer } from './tokenizer';
import { encodeText, encodeWithTemplate, type EncodeOptions, type Encoding } from './wordpiece';


const HINT = 'Use the tokenizer.json that came with the model (a DeBERTa-v3 / SentencePiece Unigram tokenizer).';
const WORD_START = '\u2581'; // Metaspace's "▁": every pre-tokenized word's first piece starts with it

export interface UnigramSpecials {
  cls: string;
  sep: string;
  pad: string;
}

export class UnigramTokenizer implements AppTokenizer {
  readonly vocabSize: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly modelMaxLength: number | undefined;
  private readonly tokenizer: Tokenizer;
  private readonly addedTokens: ReadonlySet<string>;

  constructor(tokenizerJson: unknown, tokenizerConfig: Json = {}, specials: UnigramSpecials = { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]' }) {
    const json = tokenizerJson as Json | null;
    const model = json && typeof json === 'object' ? (json.model as Json | undefined) : undefined;
    if (!model || model.type !== 'Unigram' || !Array.isArray(model.vocab)) {
      throw new InputError(`tokenizer.json has no Unigram model (model.type ${JSON.stringify(model?.type)}).`, HINT);
    }
    checkLimit('vocabSize', model.vocab.length, 'tokenizer.json');
    const added = Array.isArray(json!.added_tokens) ? (json!.added_tokens as Json[]) : [];
    // Special tokens the spm vocab lacks ([MASK] in deberta-v3) are added after it.
    this.vocabSize = added.reduce((size, t) => (typeof t.id === 'number' ? Math.max(size, t.id + 1) : size), model.vocab.length);
    this.modelMaxLength = modelMaxLengthOf(tokenizerConfig);
    this.tokenizer = new Tokenizer(json as object, tokenizerConfig);
    const id = (token: string): number => {
      const found = this.tokenizer.token_to_id(token);
      if (found === undefined) throw new InputError(`tokenizer.json has no ${token} token.`, HINT);
      return found;
    };
    this.clsId = id(specials.cls);
    this.sepId = id(specials.sep);
    this.padId = id(specials.pad);
    this.addedTokens = new Set(added.map((t) => t.content).filter((c): c is string => typeof c === 'string'));
  }

  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(text);
  }

  /** Ids per pre-tokenized word (a piece starting with ▁ or an added token opens one): truncation needs them. */
  wordIds(text: string): number[][] {
    const { ids, tokens } = this.tokenizer.encode(text, { add_special_tokens: false });
    const words: number[][] = [];
    tokens.forEach((token, i) => {
      if (words.length === 0 || token.startsWith(WORD_START) || this.addedTokens.has(token) || this.addedTokens.has(tokens[i - 1])) words.push([]);
      words[words.length - 1].push(ids[i]);
    });
    return words;
  }

  /** `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, truncated longest-first and padded to maxLength. */
  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    return encodeText(this, text, pair, options);
  }

  encodeIds(firstIds: readonly number[], secondIds: readonly number[] | null, options: EncodeOptions = {}): Encoding {
    return encodeWithTemplate(firstIds, secondIds, { cls: this.clsId, sep: this.sepId, pad: this.padId }, options);
  }
}

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
import { fromTokenizerFile, modelMaxLengthOf, type Json } from './fields';
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
    const wrong = model.vocab.findIndex((entry) => !Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1]));
    if (wrong >= 0) throw new InputError(`tokenizer.json: vocabulary entry ${wrong} is ${JSON.stringify(model.vocab[wrong])?.slice(0, 80)}, not [piece, score].`, HINT);
    if (!Array.isArray(json!.added_tokens ?? [])) throw new InputError('tokenizer.json: added_tokens is not a list.', HINT);
    const added = ((json!.added_tokens as unknown[] | undefined) ?? []).map((t) => (t !== null && typeof t === 'object' ? (t as Json) : {}));
    if (added.some((t) => typeof t.content !== 'string' || typeof t.id !== 'number')) throw new InputError('tokenizer.json: an added token is not {id, content}.', HINT);
    // Special tokens the spm vocab lacks ([MASK] in deberta-v3) are added after it.
    this.vocabSize = added.reduce((size, t) => (typeof t.id === 'number' ? Math.max(size, t.id + 1) : size), model.vocab.length);
    this.modelMaxLength = modelMaxLengthOf(tokenizerConfig);
    this.tokenizer = fromTokenizerFile('tokenizer.json', HINT, () => new Tokenizer({ ...json, added_tokens: added }, tokenizerConfig));
    const id = (token: string): number => {
      const found = this.tokenizer.token_to_id(token);
      if (found === undefined) throw new InputError(`tokenizer.json has no ${token} token.`, HINT);
      return found;
    };
    this.clsId = id(specials.cls);
    this.sepId = id(specials.sep);
    this.padId = id(specials.pad);
    this.addedTokens = new Set(added.map((t) => t.content).filter((c): c is string => typeof c === 'string'));
    // A file the library reads but cannot run (a normalizer without its fields) fails here, not mid-run.
    this.wordIds('Hello [MASK] wörld 漢字 😀');
  }

  tokenize(text: string): string[] {
    return fromTokenizerFile('tokenizer.json', HINT, () => this.tokenizer.tokenize(text));
  }

  /** Ids per pre-tokenized word (a piece starting with ▁ or an added token opens one): truncation needs them. */
  wordIds(text: string): number[][] {
    const { ids, tokens } = fromTokenizerFile('tokenizer.json', HINT, () => this.tokenizer.encode(text, { add_special_tokens: false }));
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

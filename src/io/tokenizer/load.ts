/**
 * Builds the tokenizer of a model family from Hugging Face files: WordPiece from vocab.txt and/or tokenizer.json,
 * byte-level BPE (RoBERTa) from tokenizer.json or vocab.json + merges.txt, SentencePiece Unigram (DeBERTa-v3) from
 * tokenizer.json or spm.model; tokenizer_config.json optional.
 */
import { InputError } from '../../engine/errors';
import type { TokenizerKind } from '../../engine/families';
import { parseJson } from '../json';
import { asObject, modelMaxLengthOf, optionalBool, tokenString, type Json } from './fields';
import { checkLimit } from '../limits';
import { BpeTokenizer, robertaTokenizerJson } from './bpe';
import { debertaTokenizerJsonFromSpm } from './spm';
import type { Tokenizer } from './tokenizer';
import { UnigramTokenizer } from './unigram';
import { WordPieceTokenizer, type WordPieceOptions } from './wordpiece';

const HINT = 'Use the tokenizer files that came with the model (tokenizer.json or vocab.txt of a BERT-family WordPiece checkpoint).';
const bad = (message: string) => new InputError(message, HINT);

export function parseVocabTxt(text: string): string[] {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  // A trailing newline does not add a token.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw bad('vocab.txt is empty');
  return lines;
}

/** Uncased vocabularies have no upper-case letters outside the [XXX] special tokens. */
export function looksUncased(vocab: readonly string[]): boolean {
  let upper = 0;
  for (const token of vocab) {
    if (/^\[[A-Z_]+\]$/.test(token) || /^\[unused\d+\]$/.test(token)) continue;
    if (/\p{Lu}/u.test(token)) upper++;
  }
  return upper < Math.max(5, vocab.length * 0.002);
}

function configOptions(config: Json | null): Partial<WordPieceOptions> {
  if (!config) return {};
  const out: Partial<WordPieceOptions> = {};
  const lower = optionalBool(config.do_lower_case);
  if (lower !== undefined) out.doLowerCase = lower;
  if (typeof config.strip_accents === 'boolean' || config.strip_accents === null) out.stripAccents = config.strip_accents;
  const cjk = optionalBool(config.tokenize_chinese_chars);
  if (cjk !== undefined) out.tokenizeChineseChars = cjk;
  const maxLen = modelMaxLengthOf(config);
  if (maxLen !== undefined) out.modelMaxLength = maxLen;
  const roles = { unkToken: 'unk_token', clsToken: 'cls_token', sepToken: 'sep_token', padToken: 'pad_token', maskToken: 'mask_token' } as const;
  for (const [key, field] of Object.entries(roles) as [keyof typeof roles, string][]) {
    const token = tokenString(config[field]);
    if (token !== undefined) out[key] = token;
  }
  return out;
}

/** From vocab.txt alone (old checkpoints) plus tokenizer_config.json when present. */
export function tokenizerFromVocab(vocabText: string, tokenizerConfig?: unknown): WordPieceTokenizer {
  const vocab = parseVocabTxt(vocabText);
  const fromConfig = configOptions(asObject(tokenizerConfig));
  const doLowerCase = fromConfig.doLowerCase ?? looksUncased(vocab);
  return new WordPieceTokenizer({
    vocab,
    stripAccents: null,
    tokenizeChineseChars: true,
    ...fromConfig,
    doLowerCase,
  });
}

function findBertNormalizer(normalizer: Json | null, depth = 0): Json | null {
  if (!normalizer) return null;
  checkLimit('tokenizerDepth', depth, 'tokenizer.json: normalizer');
  if (normalizer.type === 'BertNormalizer') return normalizer;
  if (normalizer.type === 'Sequence' && Array.isArray(normalizer.normalizers)) {
    for (const inner of normalizer.normalizers) {
      const found = findBertNormalizer(asObject(inner), depth + 1);
      if (found) return found;
    }
  }
  return null;
}

/** From tokenizer.json (model.vocab + BertNormalizer flags); tokenizer_config.json only adds max length and token names. */
export function tokenizerFromJson(tokenizerJson: unknown, tokenizerConfig?: unknown): WordPieceTokenizer {
  const root = asObject(tokenizerJson);
  const model = asObject(root?.model);
  if (!root || !model) throw bad('tokenizer.json has no "model" object: not a Hugging Face tokenizers file');
  if (model.type !== 'WordPiece') {
    throw bad(
      `tokenizer.json uses a ${String(model.type)} model; only BERT WordPiece tokenizers are supported (pick a BERT-family checkpoint)`,
    );
  }
  const vocabObj = asObject(model.vocab);
  if (!vocabObj) throw bad('tokenizer.json: model.vocab is missing');
  const entries = Object.entries(vocabObj);
  checkLimit('vocabSize', entries.length, 'tokenizer.json');
  const vocab: string[] = new Array<string>(entries.length);
  for (const [token, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length) {
      throw bad(`tokenizer.json: token "${token}" has id ${String(id)}; ids must be 0..${entries.length - 1}`);
    }
    vocab[id] = token;
  }
  for (let i = 0; i < vocab.length; i++) {
    if (vocab[i] === undefined) throw bad(`tokenizer.json: no token has id ${i}`);
  }
  const normalizer = findBertNormalizer(asObject(root.normalizer));
  if (root.normalizer && !normalizer) {
    throw bad('tokenizer.json: the normalizer is not a BertNormalizer; only BERT WordPiece tokenizers are supported');
  }
  const fromConfig = configOptions(asObject(tokenizerConfig));
  const added = Array.isArray(root.added_tokens) ? root.added_tokens : [];
  const extra = added
    .map((t) => asObject(t))
    .filter((t): t is Json => t !== null && typeof t.content === 'string')
    .map((t) => t.content as string);
  const stripAccents = normalizer?.strip_accents;
  return new WordPieceTokenizer({
    ...fromConfig,
    vocab,
    // tokenizer.json is what BertTokenizerFast runs, so its flags win over tokenizer_config.json.
    doLowerCase: optionalBool(normalizer?.lowercase) ?? fromConfig.doLowerCase ?? true,
    stripAccents: typeof stripAccents === 'boolean' ? stripAccents : null,
    tokenizeChineseChars: optionalBool(normalizer?.handle_chinese_chars) ?? fromConfig.tokenizeChineseChars ?? true,
    cleanText: optionalBool(normalizer?.clean_text) ?? true,
    maxInputCharsPerWord: typeof model.max_input_chars_per_word === 'number' ? model.max_input_chars_per_word : undefined,
    continuingSubwordPrefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
    unkToken: typeof model.unk_token === 'string' ? model.unk_token : (fromConfig.unkToken ?? '[UNK]'),
    extraNeverSplit: extra,
  });
}

export interface TokenizerFiles {
  vocabTxt?: string;
  tokenizerJson?: string;
  tokenizerConfigJson?: string;
  /** Byte-level BPE without tokenizer.json: vocab.json + merges.txt. */
  vocabJson?: string;
  mergesTxt?: string;
  /** SentencePiece Unigram without tokenizer.json (the deberta-v3 Hub repos): spm.model. */
  spmModel?: Uint8Array;
}

/** The files each tokenizer kind can be built from, in the order the loader looks for them. */
export const TOKENIZER_FILES: Readonly<Record<TokenizerKind, readonly string[]>> = {
  // First the preferred file, then the alternative (files that go together).
  wordpiece: ['tokenizer.json', 'vocab.txt'],
  bpe: ['tokenizer.json', 'vocab.json', 'merges.txt'],
  unigram: ['tokenizer.json', 'spm.model'],
};

/** The family's tokenizer, from tokenizer.json when present (what the fast tokenizers run), else the older files. */
export function loadTokenizer(files: TokenizerFiles, kind: TokenizerKind = 'wordpiece'): Tokenizer {
  switch (kind) {
    case 'wordpiece':
      return loadWordPiece(files);
    case 'bpe':
      return loadBpe(files);
    case 'unigram':
      return loadUnigram(files);
  }
}

function tokenizerConfigOf(files: TokenizerFiles): Json {
  return (files.tokenizerConfigJson ? asObject(parseJsonFile(files.tokenizerConfigJson, 'tokenizer_config.json')) : null) ?? {};
}

function loadBpe(files: TokenizerFiles): BpeTokenizer {
  const config = tokenizerConfigOf(files);
  if (files.tokenizerJson) return new BpeTokenizer(parseJsonFile(files.tokenizerJson, 'tokenizer.json'), config);
  if (files.vocabJson !== undefined && files.mergesTxt !== undefined) {
    checkLimit('tokenizerBytes', files.mergesTxt.length, 'merges.txt');
    return new BpeTokenizer(robertaTokenizerJson(parseJsonFile(files.vocabJson, 'vocab.json'), files.mergesTxt, config), config);
  }
  throw new InputError('No tokenizer files: provide tokenizer.json, or vocab.json + merges.txt (RoBERTa byte-level BPE).', 'Use the tokenizer files that came with the model.');
}

function loadUnigram(files: TokenizerFiles): UnigramTokenizer {
  const config = tokenizerConfigOf(files);
  const specials = {
    cls: tokenString(config.cls_token) ?? '[CLS]',
    sep: tokenString(config.sep_token) ?? '[SEP]',
    pad: tokenString(config.pad_token) ?? '[PAD]',
  };
  if (files.tokenizerJson) return new UnigramTokenizer(parseJsonFile(files.tokenizerJson, 'tokenizer.json'), config, specials);
  if (files.spmModel) {
    checkLimit('tokenizerBytes', files.spmModel.byteLength, 'spm.model');
    const options = {
      doLowerCase: optionalBool(config.do_lower_case),
      splitByPunct: optionalBool(config.split_by_punct),
      addPrefixSpace: optionalBool(config.add_prefix_space),
    };
    return new UnigramTokenizer(debertaTokenizerJsonFromSpm(files.spmModel, options), config, specials);
  }
  throw new InputError('No tokenizer files: provide tokenizer.json or spm.model (DeBERTa-v3 SentencePiece).', 'Use the tokenizer files that came with the model.');
}

function loadWordPiece(files: TokenizerFiles): WordPieceTokenizer {
  const config = files.tokenizerConfigJson ? parseJsonFile(files.tokenizerConfigJson, 'tokenizer_config.json') : undefined;
  if (files.tokenizerJson) return tokenizerFromJson(parseJsonFile(files.tokenizerJson, 'tokenizer.json'), config);
  if (files.vocabTxt) return tokenizerFromVocab(files.vocabTxt, config);
  throw bad('No tokenizer files: provide vocab.txt or tokenizer.json (BERT WordPiece)');
}

export function parseJsonFile(text: string, fileName: string): unknown {
  checkLimit('tokenizerBytes', text.length, fileName);
  return parseJson(text, fileName, 'Use the tokenizer files that came with the model.');
}

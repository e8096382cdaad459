/**
 * Byte-level BPE tokenizer (RoBERTa) from tokenizer.json, or vocab.json + merges.txt, matching transformers'
 * RobertaTokenizer. The pipeline (added tokens with lstrip/rstrip, ByteLevel pre-tokenizer, BPE merges) is
 * @huggingface/tokenizers' (pure JS, maintained by Hugging Face): exact on the 1,102 golden texts and pairs of
 * scripts/reference/bpe_golden.py (docs/io.md). It has no truncation or padding: those and the template
 * (`<s> a </s></s> b </s>`, token types all 0, or BERT's shape: postProcessor) are wordpiece.ts's, which
 * reproduce Rust `tokenizers`.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { InputError } from '../../engine/errors';
import { checkLimit } from '../limits';
import { asObject, fromTokenizerFile, modelMaxLengthOf, tokenString, type Json } from './fields';
import type { Tokenizer } from './tokenizer';
import { encodeText, encodeWithTemplate, TEMPLATES, type EncodeOptions, type Encoding, type PairTemplate } from './wordpiece';

const HINT = 'Use the tokenizer files that came with the model (tokenizer.json, or vocab.json + merges.txt, of a RoBERTa checkpoint).';
const bad = (message: string) => new InputError(message, HINT);

/** RoBERTa's special tokens, by tokenizer_config.json role, with RobertaTokenizer's defaults. */
function specialTokens(config: Json): { cls: string; sep: string; pad: string; unk: string; mask: string; bos: string; eos: string } {
  const role = (field: string, fallback: string) => tokenString(config[field]) ?? fallback;
  return {
    bos: role('bos_token', '<s>'),
    eos: role('eos_token', '</s>'),
    sep: role('sep_token', '</s>'),
    cls: role('cls_token', '<s>'),
    unk: role('unk_token', '<unk>'),
    pad: role('pad_token', '<pad>'),
    mask: role('mask_token', '<mask>'),
  };
}

/**
 * vocab.json + merges.txt -> the tokenizer.json transformers 5 builds for RobertaTokenizer (what save_pretrained
 * writes): BPE without unk, ByteLevel pre-tokenizer without a prefix space, RobertaProcessing, every special token
 * an added token (not lstrip: transformers 5 does not set it here, unlike roberta-base's own tokenizer.json).
 */
export function robertaTokenizerJson(vocabJson: unknown, mergesTxt: string, tokenizerConfig: unknown = {}): Json {
  const vocab = asObject(vocabJson);
  if (!vocab) throw bad('vocab.json is not a JSON object of token -> id');
  checkLimit('vocabSize', Object.keys(vocab).length, 'vocab.json');
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw bad(`vocab.json: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids are non-negative integers`);
  }
  const merges: [string, string][] = [];
  mergesTxt.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line === '' || (index === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw bad(`merges.txt line ${index + 1} is not two tokens separated by one space: ${JSON.stringify(line.slice(0, 80))}`);
    merges.push([parts[0], parts[1]]);
  });
  const config = asObject(tokenizerConfig) ?? {};
  const specials = specialTokens(config);
  const addPrefixSpace = config.add_prefix_space === true;
  const trimOffsets = config.trim_offsets !== false;
  const roles = [specials.bos, specials.pad, specials.eos, specials.unk, specials.cls, specials.sep, specials.mask];
  const added = [...new Set(roles)]
    .map((content) => {
      const id = vocab[content];
      if (typeof id !== 'number') throw bad(`vocab.json has no ${content} token: not a RoBERTa vocabulary?`);
      return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
    })
    .sort((a, b) => a.id - b.id);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: [specials.sep, vocab[specials.sep]], cls: [specials.cls, vocab[specials.cls]], trim_offsets: trimOffsets, add_prefix_space: addPrefixSpace },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

/**
 * The pair template of tokenizer.json's post-processor: RobertaProcessing (or none) `<s> a </s></s> b </s>`,
 * BertProcessing `cls a sep b sep`, or a TemplateProcessing of either shape (re-saved RoBERTa checkpoints write
 * one). Any other (GPT-2's ByteLevel, other special tokens per side) is refused: the ids would not be the model's.
 */
export function postProcessor(value: unknown): { template: PairTemplate; cls?: string; sep?: string } {
  const post = asObject(value);
  if (!post) return { template: 'roberta' };
  const token = (field: unknown) => (Array.isArray(field) && typeof field[0] === 'string' ? (field[0] as string) : undefined);
  if (post.type === 'RobertaProcessing' || post.type === 'BertProcessing') {
    return { template: post.type === 'RobertaProcessing' ? 'roberta' : 'bert', cls: token(post.cls), sep: token(post.sep) };
  }
  const refuse = () => bad(`tokenizer.json's ${String(post.type)} post-processor is not a RoBERTa or BERT template (<s> a </s></s> b </s> or cls a sep b sep); this tokenizer is not supported`);
  if (post.type !== 'TemplateProcessing' || !Array.isArray(post.single) || !Array.isArray(post.pair)) throw refuse();
  // Each piece as `S:<token>:<type>` or `A:<type>` / `B:<type>`.
  const pieces = (items: unknown[]) =>
    items.map((item) => {
      const special = asObject(asObject(item)?.SpecialToken);
      const sequence = asObject(asObject(item)?.Sequence);
      if (special && typeof special.id === 'string') return { kind: 'S', token: special.id, type: special.type_id };
      if (sequence && (sequence.id === 'A' || sequence.id === 'B')) return { kind: sequence.id, token: '', type: sequence.type_id };
      throw refuse();
    });
  const single = pieces(post.single);
  const pair = pieces(post.pair);
  const [cls, , sep] = single;
  const shape = (list: typeof single) => list.map((p) => (p.kind === 'S' ? (p.token === cls.token ? 'C' : p.token === sep?.token ? 'S' : '?') : p.kind)).join('');
  if (single.length !== 3 || shape(single) !== 'CAS' || single.some((p) => p.type !== 0)) throw refuse();
  const separators = { CASBS: 1, CASSBS: 2 }[shape(pair)] ?? 0;
  const secondTypeId = pair[pair.length - 2]?.type;
  const template = (Object.keys(TEMPLATES) as PairTemplate[]).find((t) => TEMPLATES[t].separators === separators && TEMPLATES[t].secondTypeId === secondTypeId);
  // As encodeWithTemplate types them: `cls a sep` 0, everything after the first sep the second's type.
  const types = pair.map((p) => p.type);
  if (!template || types.some((type, i) => type !== (i < 3 ? 0 : secondTypeId))) throw refuse();
  return { template, cls: cls.token, sep: sep.token };
}

/** What the library's BPE model is: its encode() receives the pre-tokenized words of one text section. */
interface WordModel {
  encode(words: string[]): string[];
}

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly modelMaxLength: number | undefined;
  readonly template: PairTemplate;
  private readonly tokenizer: HfTokenizer;
  /** Pieces of each pre-tokenized word the BPE model saw during one encode(), in order (see wordIds). */
  private words: string[][] | null = null;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}) {
    const json = asObject(tokenizerJson);
    const model = asObject(json?.model);
    if (!json || !model || model.type !== 'BPE') {
      throw bad(`tokenizer.json has no BPE model (model.type ${JSON.stringify(model?.type)}).`);
    }
    const vocab = asObject(model.vocab);
    if (!vocab || !Array.isArray(model.merges)) throw bad('tokenizer.json: the BPE model has no vocab object or merges list');
    checkLimit('vocabSize', Object.keys(vocab).length, 'tokenizer.json');
    const post = postProcessor(json.post_processor);
    const config = asObject(tokenizerConfig) ?? {};
    const added = Array.isArray(json.added_tokens) ? json.added_tokens.map(asObject) : [];
    for (const [token, id] of Object.entries(vocab)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw bad(`tokenizer.json: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids are non-negative integers`);
    }
    for (const token of added) {
      if (!token || typeof token.content !== 'string' || token.content === '' || typeof token.id !== 'number' || !Number.isInteger(token.id) || token.id < 0) {
        throw bad(`tokenizer.json: an added token is not {id, content}: ${JSON.stringify(token)?.slice(0, 80)}`);
      }
    }
    const merges = model.merges as unknown[];
    const isMerge = (m: unknown) => (typeof m === 'string' && m.split(' ').length === 2) || (Array.isArray(m) && m.length === 2 && m.every((t) => typeof t === 'string'));
    const wrong = merges.findIndex((m) => !isMerge(m));
    if (wrong >= 0) throw bad(`tokenizer.json: merge ${wrong} is ${JSON.stringify(merges[wrong])?.slice(0, 80)}, not two tokens`);
    const library = () => new HfTokenizer({ ...json, added_tokens: added }, config);
    this.tokenizer = fromTokenizerFile('tokenizer.json', HINT, library);
    const ids = [...Object.values(vocab), ...added.map((t) => t?.id)].filter((id): id is number => typeof id === 'number');
    this.vocabSize = ids.reduce((max, id) => Math.max(max, id + 1), 0);
    const specials = specialTokens(config);
    const id = (token: string, role: string): number => {
      const found = this.tokenizer.token_to_id(token);
      if (found === undefined) throw bad(`tokenizer.json has no ${role} token ${token}: not a RoBERTa tokenizer?`);
      return found;
    };
    this.template = post.template;
    this.clsId = id(post.cls ?? specials.cls, 'start (<s>)');
    this.sepId = id(post.sep ?? specials.sep, 'separator (</s>)');
    this.padId = id(specials.pad, 'padding (<pad>)');
    this.modelMaxLength = modelMaxLengthOf(config);
    const wordModel = this.tokenizer.model as unknown as WordModel;
    const encodeWords = wordModel.encode.bind(wordModel);
    wordModel.encode = (words) => {
      const pieces = words.map((word) => encodeWords([word]));
      this.words?.push(...pieces);
      return pieces.flat();
    };
    // A file the library reads but cannot run (a normalizer without its fields) fails here, not mid-run.
    this.wordIds('Hello <mask> wörld 漢字 😀');
  }

  tokenize(text: string): string[] {
    return fromTokenizerFile('tokenizer.json', HINT, () => this.tokenizer.tokenize(text));
  }

  /**
   * Ids per pre-tokenized word (ByteLevel's regex split; an added token is one word): truncation needs them.
   * The pieces of each word are those the BPE model returned for it; what it did not return are added tokens.
   */
  wordIds(text: string): number[][] {
    this.words = [];
    let encoded: { ids: number[]; tokens: string[] };
    let words: string[][];
    try {
      encoded = fromTokenizerFile('tokenizer.json', HINT, () => this.tokenizer.encode(text, { add_special_tokens: false }));
      words = this.words;
    } finally {
      this.words = null;
    }
    const out: number[][] = [];
    let at = 0;
    for (const pieces of words) {
      if (pieces.length === 0) continue;
      // Added tokens sit between the model's words: tokens before the next word's pieces.
      while (at < encoded.tokens.length && !startsAt(encoded.tokens, at, pieces)) out.push([encoded.ids[at++]]);
      out.push(encoded.ids.slice(at, at + pieces.length));
      at += pieces.length;
    }
    while (at < encoded.tokens.length) out.push([encoded.ids[at++]]);
    return out;
  }

  /** `<s> a </s>` or `<s> a </s></s> b </s>`, truncated longest-first and padded to maxLength. */
  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    return encodeText(this, text, pair, options);
  }

  encodeIds(firstIds: readonly number[], secondIds: readonly number[] | null, options: EncodeOptions = {}): Encoding {
    return encodeWithTemplate(firstIds, secondIds, { cls: this.clsId, sep: this.sepId, pad: this.padId }, options, this.template);
  }
}

function startsAt(tokens: readonly string[], at: number, pieces: readonly string[]): boolean {
  return pieces.every((piece, i) => tokens[at + i] === piece);
}

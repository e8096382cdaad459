/**
 * spm.model (SentencePiece ModelProto) -> the tokenizer.json transformers 5 builds from it for DeBERTa-v2/v3
 * (DebertaV2Tokenizer.__init__: Unigram over the pieces and scores; whitespace runs -> " ", NFC, strip right;
 * Metaspace "▁" always prepended; [CLS] a [SEP] b [SEP]), so Hub folders without tokenizer.json
 * (microsoft/deberta-v3-xsmall, -small, -base) load through UnigramTokenizer. Only the pieces are read: a
 * protobuf reader of ~40 lines instead of a protobuf dependency; the spm normaliser rules are not used, as in
 * transformers 5. Checked: the result equals save_pretrained's tokenizer.json on the golden model.
 */
import { InputError } from '../../engine/errors';
import { checkLimit } from '../limits';

const HINT = 'Use the spm.model that came with the model (a SentencePiece Unigram model).';

/** SentencePiece.Type: 2 = UNKNOWN, 3 = CONTROL (special pieces such as [CLS]). */
export interface SpmPiece {
  piece: string;
  score: number;
  type: number;
}

function reader(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fail = (): never => {
    throw new InputError(`spm.model is not a SentencePiece model (malformed protobuf at byte ${at}).`, HINT);
  };
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= bytes.length) fail();
      const byte = bytes[at++];
      if (shift < 53) value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    return fail();
  };
  return {
    done: () => at >= bytes.length,
    /** The next field: number, wire type, and its bytes (length-delimited) or value. */
    field(): { field: number; wire: number; data?: Uint8Array; value?: number } {
      const key = varint();
      const wire = key % 8;
      const field = Math.floor(key / 8);
      if (wire === 0) return { field, wire, value: varint() };
      if (wire === 5) {
        if (at + 4 > bytes.length) fail();
        const value = view.getFloat32(at, true);
        at += 4;
        return { field, wire, value };
      }
      if (wire === 1) {
        at += 8;
        if (at > bytes.length) fail();
        return { field, wire };
      }
      if (wire === 2) {
        const length = varint();
        if (at + length > bytes.length) fail();
        const data = bytes.subarray(at, at + length);
        at += length;
        return { field, wire, data };
      }
      return fail();
    },
  };
}

function utf8(decoder: TextDecoder, data: Uint8Array, index: number): string {
  try {
    return decoder.decode(data);
  } catch {
    throw new InputError(`spm.model is not a SentencePiece model (piece ${index} is not UTF-8 text).`, HINT);
  }
}

/** The pieces of a ModelProto (field 1), in id order. */
export function parseSpmPieces(bytes: Uint8Array): SpmPiece[] {
  checkLimit('tokenizerBytes', bytes.length, 'spm.model');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const pieces: SpmPiece[] = [];
  const model = reader(bytes);
  while (!model.done()) {
    const { field, data } = model.field();
    if (field !== 1 || !data) continue;
    const entry: SpmPiece = { piece: '', score: 0, type: 1 };
    const piece = reader(data);
    while (!piece.done()) {
      const f = piece.field();
      if (f.field === 1 && f.data) entry.piece = utf8(decoder, f.data, pieces.length);
      else if (f.field === 2 && f.wire === 5) entry.score = f.value!;
      else if (f.field === 3 && f.wire === 0) entry.type = f.value!;
    }
    pieces.push(entry);
    checkLimit('vocabSize', pieces.length, 'spm.model');
  }
  if (pieces.length === 0) throw new InputError('spm.model holds no pieces.', HINT);
  return pieces;
}

export interface DebertaSpmOptions {
  doLowerCase?: boolean;
  splitByPunct?: boolean;
  addPrefixSpace?: boolean;
}

const SPECIALS = ['[PAD]', '[CLS]', '[SEP]', '[UNK]', '[MASK]'] as const;

/** tokenizer.json (as an object) for a DeBERTa-v2/v3 spm.model; options from tokenizer_config.json. */
export function debertaTokenizerJsonFromSpm(bytes: Uint8Array, options: DebertaSpmOptions = {}): Record<string, unknown> {
  const pieces = parseSpmPieces(bytes);
  const vocab = pieces.map((p) => [p.piece, p.score] as [string, number]);
  const idOf = new Map(pieces.map((p, i) => [p.piece, i] as const));
  const unk = idOf.get('[UNK]');
  // transformers: the special tokens the vocab lacks ([MASK] in deberta-v3) are appended after it.
  let next = vocab.length;
  const added = SPECIALS.map((content) => ({
    id: idOf.get(content) ?? next++,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })).sort((a, b) => a.id - b.id);
  const prepend = options.addPrefixSpace === false ? 'first' : 'always';
  const special = (id: string, type: number) => ({ SpecialToken: { id, type_id: type } });
  const sequence = (id: string, type: number) => ({ Sequence: { id, type_id: type } });
  const ids = (token: string) => added.find((t) => t.content === token)!.id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        ...(options.doLowerCase ? [{ type: 'Lowercase' }] : []),
        { type: 'Replace', pattern: { Regex: '\\s{2,}|[\\n\\r\\t]' }, content: ' ' },
        { type: 'NFC' },
        { type: 'Strip', strip_left: false, strip_right: true },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        ...(options.splitByPunct ? [{ type: 'Punctuation', behavior: 'Isolated' }] : []),
        { type: 'Metaspace', replacement: '\u2581', prepend_scheme: prepend, split: true },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [ids('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [ids('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: prepend, split: true },
    model: { type: 'Unigram', unk_id: unk ?? 1, vocab, byte_fallback: false },
  };
}

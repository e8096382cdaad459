/**
 * Text encoding of a data file: a byte-order mark decides; else bytes that are valid UTF-8 are UTF-8 (a fatal
 * TextDecoder says so; text in another 8-bit encoding is almost never valid UTF-8 by accident); else the file
 * is read as Windows-1252, which is what "Latin-1" files from Excel and older tools are (the WHATWG decoder
 * maps the label latin1 to it as well). The user can override the guess. TextDecoder does the decoding: no
 * library needed.
 */

export const TEXT_ENCODINGS = ['utf-8', 'windows-1252', 'utf-16le', 'utf-16be'] as const;
export type TextEncoding = (typeof TEXT_ENCODINGS)[number];

export const ENCODING_LABELS: Record<TextEncoding, string> = {
  'utf-8': 'UTF-8',
  'windows-1252': 'Windows-1252 / Latin-1',
  'utf-16le': 'UTF-16 LE',
  'utf-16be': 'UTF-16 BE',
};

export interface DecodedText {
  text: string;
  encoding: TextEncoding;
  /** How the encoding was chosen. */
  how: 'byte-order mark' | 'valid UTF-8' | 'not valid UTF-8' | 'chosen';
  /** Characters that did not decode (U+FFFD), when the encoding was chosen by the user. */
  replaced: number;
}

function bomOf(bytes: Uint8Array): TextEncoding | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return null;
}

// Windows-1252's 0x80-0x9f (the five it leaves undefined map to themselves, as WHATWG says). Node's decoder
// treats windows-1252 as ISO-8859-1 there; browsers do not: the table makes both give the same text.
const CP1252_HIGH = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';

function decodeCp1252(bytes: Uint8Array): string {
  return new TextDecoder('windows-1252').decode(bytes).replace(/[\x80-\x9f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]);
}

function decodeWith(encoding: TextEncoding, bytes: Uint8Array): string {
  return encoding === 'windows-1252' ? decodeCp1252(bytes) : new TextDecoder(encoding).decode(bytes);
}

function countReplaced(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) n++;
  return n;
}

/** Decodes a file's bytes; `choice` null: detect. The byte-order mark is dropped either way. */
export function decodeText(bytes: Uint8Array, choice: TextEncoding | null = null): DecodedText {
  if (choice !== null) {
    const text = decodeWith(choice, bytes);
    return { text, encoding: choice, how: 'chosen', replaced: countReplaced(text) };
  }
  const bom = bomOf(bytes);
  if (bom) return { text: decodeWith(bom, bytes), encoding: bom, how: 'byte-order mark', replaced: 0 };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8', how: 'valid UTF-8', replaced: 0 };
  } catch {
    return { text: decodeCp1252(bytes), encoding: 'windows-1252', how: 'not valid UTF-8', replaced: 0 };
  }
}

/** One line for the data panel: what was used and why. */
export function describeDecoding(decoded: DecodedText): string {
  const label = ENCODING_LABELS[decoded.encoding];
  switch (decoded.how) {
    case 'byte-order mark':
      return `${label} (from the file's byte-order mark)`;
    case 'valid UTF-8':
      return `${label} (detected)`;
    case 'not valid UTF-8':
      return `${label} (the file is not valid UTF-8; if characters look wrong, pick its encoding)`;
    case 'chosen':
      return `${label} (chosen)${decoded.replaced > 0 ? `: ${decoded.replaced} character(s) did not decode; try another encoding` : ''}`;
  }
}

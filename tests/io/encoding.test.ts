import { describe, expect, it } from 'vitest';
import { decodeText, describeDecoding } from '../../src/io/datasets/encoding';

const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x2c, 0x31, 0x0a]); // "café,1\n" in Windows-1252
const utf8 = new TextEncoder().encode('café,1\n');

describe('decodeText', () => {
  it('reads valid UTF-8 as UTF-8', () => {
    expect(decodeText(utf8)).toEqual({ text: 'café,1\n', encoding: 'utf-8', how: 'valid UTF-8', replaced: 0 });
  });

  it('reads a Latin-1 / Windows-1252 file as such instead of as mojibake, and says why', () => {
    const decoded = decodeText(latin1);
    expect(decoded).toMatchObject({ text: 'café,1\n', encoding: 'windows-1252', how: 'not valid UTF-8' });
    expect(describeDecoding(decoded)).toMatch(/not valid UTF-8; if characters look wrong, pick its encoding/);
    // Windows-1252's extra characters (curly quotes, euro) at 0x80-0x9f.
    expect(decodeText(Uint8Array.from([0x93, 0x80, 0x94])).text).toBe('“€”');
  });

  it('follows a byte-order mark and drops it', () => {
    expect(decodeText(Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8]))).toMatchObject({ text: 'café,1\n', how: 'byte-order mark' });
    const le = Uint8Array.from([0xff, 0xfe, 0x61, 0x00, 0xe9, 0x00]);
    expect(decodeText(le)).toMatchObject({ text: 'aé', encoding: 'utf-16le' });
    expect(decodeText(Uint8Array.from([0xfe, 0xff, 0x00, 0x61]))).toMatchObject({ text: 'a', encoding: 'utf-16be' });
  });

  it('uses the encoding the user chose, counting what did not decode', () => {
    const forced = decodeText(latin1, 'utf-8');
    expect(forced).toMatchObject({ encoding: 'utf-8', how: 'chosen', replaced: 1 });
    expect(describeDecoding(forced)).toMatch(/1 character\(s\) did not decode/);
    expect(decodeText(utf8, 'windows-1252').text).toBe('cafÃ©,1\n');
  });
});

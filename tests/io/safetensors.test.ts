import { describe, expect, it } from 'vitest';
import { parseSafetensors, toStateDict, writeSafetensors } from '../../src/io/safetensors';

/** Builds a file by hand (independent of writeSafetensors). */
function build(header: object, data: Uint8Array, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, i) => {
    out[2 * i] = v & 0xff;
    out[2 * i + 1] = v >> 8;
  });
  return out;
}

describe('parseSafetensors', () => {
  it('reads F32, F16, BF16, I64 and metadata, with an unaligned data section', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -2.25]).buffer);
    const f16 = u16le([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00]); // 1, -2, 65504, 2^-24, +inf
    const bf16 = u16le([0x3f80, 0xc0a0]); // 1, -5
    const i64 = new Uint8Array(new BigInt64Array([7n, -3n]).buffer);
    const data = new Uint8Array([...f32, ...f16, ...bf16, ...i64]);
    const file = build(
      {
        __metadata__: { format: 'pt' },
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        h: { dtype: 'F16', shape: [5, 1], data_offsets: [8, 18] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [18, 22] },
        ids: { dtype: 'I64', shape: [1, 2], data_offsets: [22, 38] },
      },
      data,
      1, // header length 1 mod 8 -> tensors start unaligned
    );
    const parsed = parseSafetensors(file);
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect(Array.from(parsed.tensors.get('a')!.data as Float32Array)).toEqual([1.5, -2.25]);
    expect(Array.from(parsed.tensors.get('h')!.data as Float32Array)).toEqual([1, -2, 65504, 2 ** -24, Infinity]);
    expect(parsed.tensors.get('h')!.shape).toEqual([5, 1]);
    expect(Array.from(parsed.tensors.get('b')!.data as Float32Array)).toEqual([1, -5]);
    expect(Array.from(parsed.tensors.get('ids')!.data as BigInt64Array)).toEqual([7n, -3n]);
    const dict = toStateDict(parsed.tensors);
    expect([...dict.keys()].sort()).toEqual(['a', 'b', 'h']);
  });

  it('round-trips through writeSafetensors, with 8-byte aligned data', () => {
    const tensors = new Map([
      ['w', { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
      ['ids', { shape: [3], data: new Int32Array([-1, 0, 9]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const bytes = writeSafetensors(tensors, { note: 'x' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual({ note: 'x' });
    expect(back.tensors.get('w')).toEqual({ dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(back.tensors.get('ids')).toEqual({ dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 9]) });
    expect(back.tensors.get('empty')!.shape).toEqual([0, 4]);
  });

  const four = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(4), /too short/],
    ['header past end', (() => { const b = build({}, new Uint8Array(0)); new DataView(b.buffer).setBigUint64(0, 999n, true); return b; })(), /runs past the end/],
    ['bad JSON', (() => { const b = build({ a: 1 }, new Uint8Array(0)); b[b.length - 1] = 0x2c; return b; })(), /not valid JSON/],
    ['unknown dtype', build({ t: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor "t": unsupported dtype "F8"/],
    ['size mismatch', build({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, four), /tensor "t": F32 shape \[3\] needs 12 bytes but data_offsets span 8/],
    ['out of bounds', build({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, four), /tensor "t": bytes 0..16 run past/],
    ['overlap', build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, four), /overlap/],
    ['gap', build({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, four), /tensor "t": gap of 4/],
    ['trailing bytes', build({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, four), /4 trailing bytes/],
    ['bad shape', build({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor "t": shape \[-1\]/],
  ];
  for (const [label, bytes, message] of cases) {
    it(`rejects: ${label}`, () => {
      expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(message);
      expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(/^x\.safetensors: /);
    });
  }

  it('writeSafetensors refuses a shape that does not match the data', () => {
    expect(() => writeSafetensors(new Map([['t', { shape: [3], data: new Float32Array(2) }]]))).toThrow(/"t" has shape \[3\] but 2 values/);
  });
});

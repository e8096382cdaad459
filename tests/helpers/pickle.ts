/** A tiny pickle writer for hostile-input tests and the fuzzer: torch.save's opcodes, any values in them. */
import { zipSync } from 'fflate';

export type PickleValue = number | string | boolean | null | PickleValue[] | { global: string } | { call: PickleValue; args: PickleValue[] } | { storage: string; key: string; numel: number } | { dict: [PickleValue, PickleValue][] };

const ascii = (s: string) => Array.from(new TextEncoder().encode(s));

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

export function encodeValue(value: PickleValue): number[] {
  if (value === null) return [0x4e];
  if (value === true) return [0x88];
  if (value === false) return [0x89];
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) return [0x4a, ...u32(value >>> 0)];
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, false);
    return [0x47, ...bytes];
  }
  if (typeof value === 'string') {
    const bytes = ascii(value);
    return [0x58, ...u32(bytes.length), ...bytes];
  }
  if (Array.isArray(value)) return [0x28, ...value.flatMap(encodeValue), 0x74];
  if ('global' in value) {
    const dot = value.global.lastIndexOf('.');
    return [0x63, ...ascii(`${value.global.slice(0, dot)}\n${value.global.slice(dot + 1)}\n`)];
  }
  if ('call' in value) return [...encodeValue(value.call), ...encodeValue(value.args), 0x52];
  if ('storage' in value) return [...encodeValue(['storage', { global: `torch.${value.storage}` }, value.key, 'cpu', value.numel]), 0x51];
  return [0x7d, 0x28, ...value.dict.flatMap(([k, v]) => [...encodeValue(k), ...encodeValue(v)]), 0x75];
}

/** A state dict pickle: name -> _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
export function tensorPickle(tensors: Record<string, { storage?: string; key: string; numel?: number; offset: PickleValue; size: PickleValue; stride: PickleValue }>): number[] {
  const dict: [PickleValue, PickleValue][] = Object.entries(tensors).map(([name, t]) => [
    name,
    {
      call: { global: 'torch._utils._rebuild_tensor_v2' },
      args: [{ storage: t.storage ?? 'FloatStorage', key: t.key, numel: t.numel ?? 0 }, t.offset, t.size, t.stride, false, { call: { global: 'collections.OrderedDict' }, args: [] }],
    },
  ]);
  return [0x80, 0x02, ...encodeValue({ dict }), 0x2e];
}

/** A torch.save-shaped zip (stored entries) of a pickle and its storages. */
export function torchZip(pickle: number[], storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, Uint8Array> = { 'm/data.pkl': new Uint8Array(pickle), 'm/byteorder': new TextEncoder().encode('little') };
  for (const [key, bytes] of Object.entries(storages)) files[`m/data/${key}`] = bytes;
  return zipSync(files, { level: 0 });
}

export const floats = (...values: number[]) => new Uint8Array(new Float32Array(values).buffer);

/**
 * safetensors reader/writer (https://github.com/huggingface/safetensors#format):
 * 8-byte little-endian header length N, N bytes of JSON header, then the raw tensor bytes.
 * Float dtypes are widened/narrowed to Float32 on read (the engine computes in float32).
 */
import { InputError } from '../engine/errors';
import type { StateDict } from '../engine/types';
import { parseJson } from './json';
import { checkLimit } from './limits';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export type TensorArray = Float32Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;

export interface RawTensor {
  /** dtype as stored in the file (data is already converted: floats -> Float32Array). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorArray;
}

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export const ITEM_SIZE: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
export const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F64', 'F32', 'F16', 'BF16']);
const HINT = 'Use the model.safetensors that came with the model; re-download it if it was cut short.';

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(ITEM_SIZE, value);
}

/** IEEE half -> float32 (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

export function decodeTensorBytes(dtype: SafetensorsDtype, bytes: Uint8Array): TensorArray {
  // Copy first: the tensor's bytes need not be aligned for a typed-array view (browsers are little-endian).
  // `new Uint8Array(view)` copies exactly the view (a Node Buffer's slice() would not).
  const buffer = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'F64':
      return Float32Array.from(new Float64Array(buffer));
    case 'F16': {
      const half = new Uint16Array(buffer);
      const out = new Float32Array(half.length);
      for (let i = 0; i < half.length; i++) out[i] = halfToFloat(half[i]);
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bf = new Uint16Array(buffer);
      const bits = new Uint32Array(bf.length);
      for (let i = 0; i < bf.length; i++) bits[i] = bf[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64':
      return new BigInt64Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'I16':
      return new Int16Array(buffer);
    case 'I8':
      return new Int8Array(buffer);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buffer);
  }
}

export interface ParseSafetensorsOptions {
  /** Sees every tensor's name, dtype and shape once the header is checked, before any tensor data is decoded. */
  checkHeader?: (tensors: ReadonlyMap<string, { dtype: SafetensorsDtype; shape: number[] }>) => void;
}

export function parseSafetensors(input: Uint8Array | ArrayBuffer, fileName = 'model.safetensors', options: ParseSafetensorsOptions = {}): SafetensorsFile {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const fail = (problem: string): never => {
    throw new InputError(`${fileName}: ${problem}`, HINT);
  };
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, too short for a safetensors header`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  checkLimit('safetensorsHeaderBytes', headerLength, fileName);
  if (8 + headerLength > bytes.byteLength) {
    fail(`header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file (truncated download?)`);
  }
  const headerText = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(8, 8 + headerLength));
  if (!headerText.startsWith('{')) fail('header does not start with "{" (not a safetensors file?)');
  const header = parseJson(headerText, `${fileName}: the header`, HINT) as Record<string, unknown>;
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return fail('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const rawMeta = header.__metadata__;
  if (rawMeta !== undefined) {
    if (rawMeta === null || typeof rawMeta !== 'object' || Array.isArray(rawMeta)) fail('__metadata__ is not an object');
    for (const [key, value] of Object.entries(rawMeta as Record<string, unknown>)) {
      if (typeof value !== 'string') fail(`__metadata__.${key} is not a string`);
      metadata[key] = value as string;
    }
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  checkLimit('weightsBytes', dataLength, fileName);
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  checkLimit('tensorCount', Object.keys(header).length - (rawMeta === undefined ? 0 : 1), fileName);
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const spec = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (!spec || typeof spec !== 'object') fail(`tensor "${name}": entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = spec!;
    if (!isDtype(dtype)) fail(`tensor "${name}": unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ITEM_SIZE).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    checkLimit('tensorDims', (shape as number[]).length, `${fileName}: tensor "${name}"`);
    checkLimit('tensorElements', (shape as number[]).reduce((a, b) => a * b, 1), `${fileName}: tensor "${name}"`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`tensor "${name}": data_offsets end ${end} is before begin ${begin}`);
    if (end > dataLength) fail(`tensor "${name}": bytes ${begin}..${end} run past the data section (${dataLength} bytes)`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * ITEM_SIZE[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(`tensor "${name}": ${dtype} shape [${(shape as number[]).join(', ')}] needs ${expected} bytes but data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }

  // The format requires the ranges to tile the data section: no gaps, no overlaps.
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const entry of ordered) {
    if (entry.begin < cursor) fail(`tensor "${entry.name}": bytes ${entry.begin}..${entry.end} overlap the previous tensor (ends at ${cursor})`);
    if (entry.begin > cursor) fail(`tensor "${entry.name}": gap of ${entry.begin - cursor} unused bytes before it (ranges must be contiguous)`);
    cursor = entry.end;
  }
  if (cursor !== dataLength) fail(`${dataLength - cursor} trailing bytes after the last tensor (truncated or corrupt file?)`);

  options.checkHeader?.(new Map(entries.map((e) => [e.name, e])));
  const tensors = new Map<string, RawTensor>();
  for (const entry of entries) {
    const raw = bytes.subarray(dataStart + entry.begin, dataStart + entry.end);
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: decodeTensorBytes(entry.dtype, raw) });
  }
  return { tensors, metadata };
}

/** The float tensors as a StateDict (integer buffers such as position_ids are left out). */
export function toStateDict(tensors: ReadonlyMap<string, RawTensor>): StateDict {
  const dict: StateDict = new Map();
  for (const [name, tensor] of tensors) {
    if (tensor.data instanceof Float32Array) dict.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return dict;
}

/** TensorData, RawTensor or an integer array; dtype only matters to tell BOOL from U8. */
export interface WritableTensor {
  shape: number[];
  data: TensorArray;
  dtype?: SafetensorsDtype;
}

function dtypeOf(tensor: WritableTensor): SafetensorsDtype {
  const { data } = tensor;
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  return tensor.dtype === 'BOOL' ? 'BOOL' : 'U8';
}

/** Writes tensors (Float32 as F32, integer arrays as their dtype) sorted by name; header padded to 8 bytes. */
export function writeSafetensors(tensors: ReadonlyMap<string, WritableTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name)!;
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    if (elements !== tensor.data.length) {
      throw new Error(`writeSafetensors: tensor "${name}" has shape [${tensor.shape.join(', ')}] but ${tensor.data.length} values`);
    }
    header[name] = { dtype: dtypeOf(tensor), shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), cursor);
    cursor += data.byteLength;
  }
  return out;
}

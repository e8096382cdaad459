/**
 * A zip reader that checks before it allocates: it reads the central directory itself (fflate's unzipSync
 * allocates every entry's declared size, uncapped), refuses entry counts, sizes and compression ratios over the
 * limits, inflates only the entries asked for into a buffer of the declared size, and checks each one's CRC-32
 * (a flipped bit in a stored tensor would otherwise load silently). Stored entries are returned as views.
 */
import { inflateSync } from 'fflate';
import { InputError } from '../engine/errors';
import { checkLimit, LIMITS } from './limits';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** Offset of the entry's local header. */
  headerOffset: number;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    readonly fileName: string,
    private readonly hint: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readDirectory();
  }

  private fail(problem: string): never {
    throw new InputError(`${this.fileName}: ${problem}`, this.hint);
  }

  private u16(at: number): number {
    if (at < 0 || at + 2 > this.bytes.length) this.fail('the zip archive is truncated');
    return this.view.getUint16(at, true);
  }

  private u32(at: number): number {
    if (at < 0 || at + 4 > this.bytes.length) this.fail('the zip archive is truncated');
    return this.view.getUint32(at, true);
  }

  private u64(at: number): number {
    if (at < 0 || at + 8 > this.bytes.length) this.fail('the zip archive is truncated');
    const value = this.view.getBigUint64(at, true);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(value);
  }

  private readDirectory(): void {
    const { bytes } = this;
    // The end-of-central-directory record: 22 bytes plus a comment of up to 65,535.
    let eocd = -1;
    for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
      if (bytes[at] === 0x50 && bytes[at + 1] === 0x4b && bytes[at + 2] === 0x05 && bytes[at + 3] === 0x06) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) this.fail('no zip directory at the end of the file (truncated download?)');
    let count = this.u16(eocd + 10);
    let dirSize = this.u32(eocd + 12);
    let dirOffset = this.u32(eocd + 16);
    if (count === 0xffff || dirOffset === 0xffffffff || dirSize === 0xffffffff) {
      // ZIP64: the locator sits just before the record and points at the 64-bit one.
      const locator = eocd - 20;
      if (this.u32(locator) !== 0x07064b50) this.fail('a ZIP64 archive without its ZIP64 locator');
      const record = this.u64(locator + 8);
      if (this.u32(record) !== 0x06064b50) this.fail('the ZIP64 directory record is missing');
      count = this.u64(record + 32);
      dirSize = this.u64(record + 40);
      dirOffset = this.u64(record + 48);
    }
    checkLimit('zipEntries', count, this.fileName);
    if (dirOffset + dirSize > bytes.length) this.fail('the zip directory runs past the end of the file (truncated download?)');
    const decoder = new TextDecoder();
    let at = dirOffset;
    for (let i = 0; i < count; i++) {
      if (this.u32(at) !== 0x02014b50) this.fail(`zip directory entry ${i} is corrupt`);
      const method = this.u16(at + 10);
      const crc = this.u32(at + 16);
      let compressedSize = this.u32(at + 20);
      let size = this.u32(at + 24);
      const nameLength = this.u16(at + 28);
      const extraLength = this.u16(at + 30);
      const commentLength = this.u16(at + 32);
      let headerOffset = this.u32(at + 42);
      if (at + 46 + nameLength > bytes.length) this.fail('the zip directory is truncated');
      const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
      // ZIP64 extra field (id 1): the 64-bit values, in this order, for those that are 0xffffffff.
      for (let e = at + 46 + nameLength, end = e + extraLength; e + 4 <= end; ) {
        const id = this.u16(e);
        const length = this.u16(e + 2);
        if (id === 1) {
          let f = e + 4;
          if (size === 0xffffffff) {
            size = this.u64(f);
            f += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = this.u64(f);
            f += 8;
          }
          if (headerOffset === 0xffffffff) headerOffset = this.u64(f);
        }
        e += 4 + length;
      }
      at += 46 + nameLength + extraLength + commentLength;
      if (name.endsWith('/')) continue;
      if (this.entries.has(name)) this.fail(`the zip archive holds "${name}" twice`);
      this.entries.set(name, { name, method, compressedSize, size, crc, headerOffset });
    }
  }

  /** The entry's bytes (a view for stored entries), checked: declared size, ratio, method and CRC-32. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) this.fail(`"${name}" is missing from the archive`);
    checkLimit('zipEntryBytes', entry.size, `${this.fileName}: ${name}`);
    if (this.u32(entry.headerOffset) !== 0x04034b50) this.fail(`"${name}": its local zip header is corrupt`);
    const start = entry.headerOffset + 30 + this.u16(entry.headerOffset + 26) + this.u16(entry.headerOffset + 28);
    if (start + entry.compressedSize > this.bytes.length) this.fail(`"${name}" runs past the end of the archive (truncated download?)`);
    const compressed = this.bytes.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) this.fail(`"${name}" is stored with two different sizes`);
      data = compressed;
    } else if (entry.method === 8) {
      if (entry.size > Math.max(1024, entry.compressedSize) * LIMITS.zipCompressionRatio.value) {
        checkLimit('zipCompressionRatio', entry.size / Math.max(1, entry.compressedSize), `${this.fileName}: ${name}`);
      }
      // Inflating into a buffer of the declared size: a stream that says less than it holds cannot grow it.
      const out = new Uint8Array(entry.size);
      try {
        data = inflateSync(compressed, { out });
      } catch (error) {
        this.fail(`"${name}" does not inflate (${(error as Error).message})`);
      }
      if (data.length !== entry.size) this.fail(`"${name}" inflates to a different size than the archive declares`);
    } else {
      this.fail(`"${name}" uses zip compression method ${entry.method} (only stored and deflate are read)`);
    }
    if (crc32(data) !== entry.crc) this.fail(`"${name}" fails its CRC-32 check: the file is corrupt (download it again)`);
    return data;
  }
}

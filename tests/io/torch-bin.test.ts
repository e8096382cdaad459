import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parseTorchBin, torchBinToStateDict } from '../../src/io/torch-bin';

// Layout written by tests/fixtures/io/make_torch_bin.py (same opcodes and zip layout as torch.save).
const FIXTURE = join(__dirname, '..', 'fixtures', 'io', 'tiny_pytorch_model.bin');

function zipWithPickle(pickle: number[]): Uint8Array {
  return zipSync({ 'm/data.pkl': new Uint8Array(pickle), 'm/byteorder': new TextEncoder().encode('little') });
}
const ascii = (s: string) => Array.from(new TextEncoder().encode(s));

describe('parseTorchBin', () => {
  it('reads shared, offset, transposed, half and int64 tensors', () => {
    const tensors = parseTorchBin(readFileSync(FIXTURE));
    const values = (name: string) => Array.from(tensors.get(name)!.data as ArrayLike<number | bigint>);
    expect(tensors.get('bert.embeddings.word_embeddings.weight')!.shape).toEqual([3, 2]);
    expect(values('bert.embeddings.word_embeddings.weight')).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(values('cls.predictions.decoder.weight')).toEqual([1, 1.5, 2, 2.5]);
    // Storage 10..15 viewed as [2, 3] with strides (1, 2): row 0 = 10, 12, 14; row 1 = 11, 13, 15.
    expect(values('bert.pooler.dense.weight')).toEqual([10, 12, 14, 11, 13, 15]);
    expect(tensors.get('bert.half')!.dtype).toBe('F16');
    expect(values('bert.half')).toEqual([1, -2]);
    expect(values('bert.embeddings.position_ids')).toEqual([0n, 1n, 2n, 3n]);
    expect([...torchBinToStateDict(tensors).keys()]).not.toContain('bert.embeddings.position_ids');
  });

  it('rejects the legacy format and non-zip files with a clear message', () => {
    expect(() => parseTorchBin(new Uint8Array([0x80, 0x02, 0x8a, 0x0a]))).toThrow(/legacy \(pre-1.6\) torch.save format/);
    expect(() => parseTorchBin(new Uint8Array([1, 2, 3, 4]))).toThrow(/not a PyTorch zip checkpoint/);
  });

  it('refuses globals outside the allow-list (no code execution)', () => {
    const evil = [0x80, 0x02, 0x63, ...ascii('os\nsystem\n'), 0x58, 2, 0, 0, 0, ...ascii('ls'), 0x85, 0x52, 0x2e];
    expect(() => parseTorchBin(zipWithPickle(evil))).toThrow(/refuses to load global os.system/);
  });

  it('names a missing storage and an unknown opcode', () => {
    const pid = [0x28, 0x58, 7, 0, 0, 0, ...ascii('storage'), 0x63, ...ascii('torch\nFloatStorage\n'), 0x58, 1, 0, 0, 0, ...ascii('9'), 0x58, 3, 0, 0, 0, ...ascii('cpu'), 0x4b, 1, 0x74, 0x51];
    expect(() => parseTorchBin(zipWithPickle([0x80, 0x02, ...pid, 0x2e]))).toThrow(/storage data\/9 is missing/);
    expect(() => parseTorchBin(zipWithPickle([0x80, 0x02, 0xff]))).toThrow(/unsupported pickle opcode 0xff/);
    expect(() => parseTorchBin(zipSync({ 'x/other.txt': new Uint8Array(1) }))).toThrow(/no data.pkl/);
  });
});

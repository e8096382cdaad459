/** Adapter import: which files make an adapter, and every wrong pick as an InputError that says what to pick. */
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/engine/errors';
import type { StateDict } from '../../src/engine/types';
import { MAX_ADAPTER_BYTES, readAdapterFiles, type AdapterFile } from '../../src/io/export/import';
import { exportNative } from '../../src/io/export/native';
import { exportPeftAdapter, importPeftAdapter, peftDeltaWeights } from '../../src/io/export/peft';
import { importNative } from '../../src/io/export/native';
import { writeSafetensors } from '../../src/io/safetensors';

const enc = (text: string) => new TextEncoder().encode(text);

function loraState(): StateDict {
  const state: StateDict = new Map();
  for (const layer of [0, 1]) {
    for (const kind of ['query', 'value']) {
      const path = `bert.encoder.layer.${layer}.attention.self.${kind}`;
      state.set(`${path}.lora_A`, { shape: [2, 4], data: Float32Array.from({ length: 8 }, (_, i) => i / 8) });
      state.set(`${path}.lora_B`, { shape: [4, 2], data: Float32Array.from({ length: 8 }, (_, i) => -i / 8) });
    }
  }
  state.set('classifier.weight', { shape: [2, 4], data: new Float32Array(8).fill(0.5) });
  state.set('classifier.bias', { shape: [2], data: Float32Array.of(0.1, -0.1) });
  return state;
}

function peftFiles(patch: (config: Record<string, unknown>) => void = () => {}): AdapterFile[] {
  const adapter = exportPeftAdapter({ variables: loraState(), loraAlpha: 4, baseModel: 'org/tiny' });
  const config = JSON.parse(adapter.files['adapter_config.json']) as Record<string, unknown>;
  patch(config);
  return [
    { name: 'adapter_config.json', bytes: enc(JSON.stringify(config)) },
    { name: 'adapter_model.safetensors', bytes: adapter.files['adapter_model.safetensors'] },
  ];
}

function failure(files: AdapterFile[]): InputError {
  try {
    readAdapterFiles(files);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw new Error(`not an InputError: ${String(error)}`);
  }
  throw new Error('no error');
}

describe('readAdapterFiles', () => {
  it('reads a PEFT LoRA adapter as two files, from a zip, with its ranks, targets and id2label', () => {
    for (const files of [peftFiles((c) => (c.id2label = { 0: 'negative', 1: 'positive' })), [{ name: 'run-peft-adapter.zip', bytes: zipSync(Object.fromEntries(peftFiles((c) => (c.id2label = { 0: 'negative', 1: 'positive' })).map((f) => [`adapter/${f.name}`, f.bytes]))) }]]) {
      const adapter = readAdapterFiles(files);
      if (adapter.format !== 'peft') throw new Error('not peft');
      expect(adapter).toMatchObject({ r: 2, alpha: 4, labels: ['negative', 'positive'], baseModel: 'org/tiny' });
      expect(adapter.kinds.sort()).toEqual(['query', 'value']);
      expect(adapter.variables.get('bert.encoder.layer.1.attention.self.value.lora_A')!.shape).toEqual([2, 4]);
      expect(adapter.variables.has('classifier.bias')).toBe(true);
    }
    expect((readAdapterFiles(peftFiles()) as { labels: unknown }).labels).toBeNull();
  });

  it('reads the native file with its run config', () => {
    const bytes = exportNative({ method: 'lora', options: { r: 2 }, run: { format: 'peft-playground/run' }, freezeLog: {}, baseModel: 'org/tiny', variables: loraState() });
    const adapter = readAdapterFiles([{ name: 'lora-adapter.safetensors', bytes }]);
    expect(adapter).toMatchObject({ format: 'native', method: 'lora', run: { format: 'peft-playground/run' }, file: 'lora-adapter.safetensors' });
  });

  it('refuses wrong picks with what to pick instead', () => {
    const [config, weights] = peftFiles();
    expect(failure([config]).message).toBe('A PEFT adapter needs both adapter_config.json and adapter_model.safetensors; only adapter_config.json was picked.');
    expect(failure([config]).hint).toMatch(/Pick the .safetensors file this app exported/);
    expect(failure([{ name: 'adapter_config.json', bytes: enc('{r: 8') }, weights]).message).toMatch(/^adapter_config.json is not valid JSON/);
    expect(failure([{ name: 'adapter_config.json', bytes: enc('null') }, weights]).message).toBe('adapter_config.json is not a JSON object.');
    expect(failure(peftFiles((c) => (c.peft_type = 'ADALORA'))).message).toMatch(/peft_type "ADALORA" cannot be imported; only LORA/);
    expect(failure(peftFiles((c) => (c.r = -4))).message).toBe('adapter_config.json: r must be a positive whole number (got -4).');
    expect(failure(peftFiles((c) => (c.r = 'NaN'))).message).toBe('adapter_config.json: r must be a positive whole number (got "NaN").');
    expect(failure(peftFiles((c) => (c.lora_alpha = null))).message).toMatch(/lora_alpha must be a positive number/);
    expect(failure(peftFiles((c) => (c.rank_pattern = { query: 4 }))).message).toMatch(/per-module ranks \(rank_pattern\) cannot be imported yet/);
    expect(failure([config, { name: 'adapter_model.safetensors', bytes: Uint8Array.of(1, 2, 3) }]).message).toMatch(/^adapter_model.safetensors: /);
    expect(failure([{ name: 'notes.txt', bytes: enc('hi') }]).message).toBe('notes.txt: no adapter among them.');
    expect(failure([{ name: 'model.safetensors', bytes: Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32) }]).message).toMatch(/is not an AFLoRA Playground adapter/);
    expect(failure([{ name: 'a.zip', bytes: enc('PK not a zip') }]).message).toMatch(/^a.zip is not a readable zip/);
    expect(failure([]).message).toBe('No adapter file was picked.');
  });

  it('types every read-side failure of the PEFT and native readers (raw SyntaxError / TypeError / Error before)', () => {
    const thrown = (run: () => unknown): InputError => {
      try {
        run();
      } catch (error) {
        if (error instanceof InputError) return error;
        throw new Error(`not an InputError: ${String(error)}`, { cause: error });
      }
      throw new Error('no error');
    };
    const [config, weights] = peftFiles();
    const text = new TextDecoder().decode(config.bytes);
    const deep = '['.repeat(100) + ']'.repeat(100);
    expect(failure([{ name: 'adapter_config.json', bytes: enc(deep) }, weights]).message).toBe('adapter_config.json: JSON nested deeper than 64 levels.');
    for (const read of [importPeftAdapter, peftDeltaWeights]) {
      expect(thrown(() => read('{r: 8', weights.bytes)).message).toMatch(/^adapter_config.json is not valid JSON/);
      expect(thrown(() => read('null', weights.bytes)).message).toBe('adapter_config.json is not a JSON object');
      expect(thrown(() => read(deep, weights.bytes)).message).toMatch(/nested deeper than 64 levels/);
      expect(thrown(() => read(JSON.stringify({ peft_type: 'IA3' }), weights.bytes)).message).toMatch(/^adapter_config.json: peft_type "IA3" is (not|neither)/);
    }
    // lora_A without its lora_B, and shapes that do not multiply.
    const prefix = 'base_model.model.bert.encoder.layer.0.attention.self.query';
    const lonely = writeSafetensors(new Map([[`${prefix}.lora_A.weight`, { shape: [2, 4], data: new Float32Array(8) }]]));
    expect(thrown(() => peftDeltaWeights(text, lonely)).message).toBe('adapter_model.safetensors: bert.encoder.layer.0.attention.self.query has lora_A but no lora_B');
    const mismatched = writeSafetensors(
      new Map([
        [`${prefix}.lora_A.weight`, { shape: [2, 4], data: new Float32Array(8) }],
        [`${prefix}.lora_B.weight`, { shape: [4, 3], data: new Float32Array(12) }],
      ]),
    );
    expect(thrown(() => peftDeltaWeights(text, mismatched)).message).toMatch(/has lora_A \[2, 4\] and lora_B \[4, 3\], not \[r, in\] and \[out, r\]$/);
    // The native file: metadata that is missing or not JSON.
    const native = (metadata: Record<string, string>) => writeSafetensors(new Map([['w', { shape: [1], data: new Float32Array(1) }]]), metadata);
    expect(thrown(() => importNative(native({ format: 'aflora-playground/1' }))).message).toBe('adapter.safetensors: metadata "method" is missing.');
    expect(thrown(() => importNative(native({ format: 'aflora-playground/1', method: 'lora', options: '{', run: '{}', freeze_log: '{}' }))).message).toMatch(/^adapter.safetensors: metadata "options" is not valid JSON/);
    expect(thrown(() => importNative(native({ format: 'aflora-playground/1', method: 'lora', options: '{}', freeze_log: '{}' }))).message).toBe('adapter.safetensors: metadata "run" is missing.');
  });

  it('checks the sizes a zip declares before inflating anything', () => {
    const zip = zipSync({ 'adapter_model.safetensors': new Uint8Array(10), 'adapter_config.json': enc('{}') });
    // The central directory's uncompressed size of the first entry (offset 24 after its signature) -> 4 GB.
    const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
    let at = zip.byteLength - 22;
    while (view.getUint32(at, true) !== 0x06054b50) at--;
    const central = view.getUint32(at + 16, true);
    view.setUint32(central + 24, 0xfffffff0, true);
    const error = failure([{ name: 'big.zip', bytes: zip }]);
    expect(error.message).toMatch(new RegExp(`^big.zip: its adapter files declare \\d+ MB; the limit is ${MAX_ADAPTER_BYTES / 2 ** 20} MB\\.$`));
  });
});

/** The PyTorch project zip's contents and its guards (the session test exports one from a real run). */
import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { PIP_INSTALL, pytorchProjectFiles, pytorchProjectZip, safePath, TRAIN_COMMAND } from '../../src/io/export/pytorch';

const bytes = (text: string) => new TextEncoder().encode(text);
const config = {
  format: 'peft-playground/run',
  method: { id: 'aflora', options: {} },
  model: { name: 'bert-base-uncased', hubId: 'bert-base-uncased', revision: 'main' },
  data: { name: 'my data', train: '../../etc/train.csv', validation: 'C:\\Users\\me\\val.tsv' },
};

describe('PyTorch project export', () => {
  it('keeps every path inside the project folder', () => {
    expect(safePath('../../etc/passwd')).toBe('etc/passwd');
    expect(safePath('/abs/x.csv')).toBe('abs/x.csv');
    expect(safePath('C:\\Users\\me\\val.tsv')).toBe('Users/me/val.tsv');
    expect(() => safePath('../..')).toThrow(/no usable part/);
  });

  it('writes the run config (with the safe names), the data, the package and the README', () => {
    const files = pytorchProjectFiles({ config, data: [{ name: config.data.train, bytes: bytes('text,label\na,1\n') }, { name: config.data.validation, bytes: bytes('x') }], model: null });
    const run = JSON.parse(files['run.json'] as string);
    expect(run.data.train).toBe('etc/train.csv');
    expect(run.data.validation).toBe('Users/me/val.tsv');
    expect(run.method).toEqual(config.method);
    expect(strFromU8(files['etc/train.csv'] as Uint8Array)).toBe('text,label\na,1\n');
    expect(Object.keys(files).filter((p) => p.startsWith('peft_playground/'))).toEqual(
      expect.arrayContaining(['peft_playground/train.py', 'peft_playground/config.py', 'peft_playground/schema.json', 'peft_playground/__init__.py']),
    );
    expect(files['pyproject.toml']).toContain('name = "peft-playground"');
    const readme = files['README.md'] as string;
    expect(readme).toContain(PIP_INSTALL);
    expect(readme).toContain(TRAIN_COMMAND);
    expect(readme).toContain('`bert-base-uncased` at revision `main` from the Hugging Face Hub');
    expect(readme).toContain('DistilBERT ("distilbert")'); // --model takes every family the app (and peft_playground) loads
    expect(readme).toContain('DeBERTa-v2/v3 ("deberta-v2")');
    expect(Object.keys(files).some((p) => p.startsWith('model/'))).toBe(false);
  });

  it('refuses a project whose data files do not match the run config', () => {
    expect(() => pytorchProjectFiles({ config, data: [{ name: 'other.csv', bytes: bytes('x') }], model: null })).toThrow(/not named in the run config/);
    expect(() => pytorchProjectFiles({ config, data: [{ name: config.data.train, bytes: bytes('x') }], model: null })).toThrow(/its file is missing/);
  });

  it('zips into one folder named after the run, with the model files under model/', () => {
    const local = { ...config, model: { name: 'built-in tiny BERT', hubId: null, revision: null }, data: { ...config.data, validation: null } };
    const zip = pytorchProjectZip({ config: local, data: [{ name: local.data.train, bytes: bytes('t') }], model: [{ name: 'config.json', bytes: bytes('{}') }] });
    expect(zip.name).toBe('aflora-my_data-pytorch.zip');
    const entries = unzipSync(zip.bytes);
    expect(strFromU8(entries['aflora-my_data/model/config.json'])).toBe('{}');
    expect(strFromU8(entries['aflora-my_data/README.md'])).toContain('is in `model/`');
  });
});

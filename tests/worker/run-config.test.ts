/**
 * The run config is a cross-language contract (python/ reads it): the examples in tests/fixtures/run-config
 * parse and serialise back byte for byte, a built config is complete, and a bad one fails with its field's path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RECIPE } from '../../src/engine/recipe';
import { methodOptions } from '../../src/methods/catalog';
import { buildRunConfig, parseRunConfig, RunConfigError, type RunConfig } from '../../src/worker/run-config';

const FIXTURES = join(__dirname, '..', 'fixtures', 'run-config');

function example(): RunConfig {
  return buildRunConfig({
    method: 'lora',
    options: { r: 4 },
    recipe: { epochs: 2 },
    model: { name: 'built-in tiny BERT', hubId: null, revision: null },
    data: { name: 'spam-ham', train: 'train.csv', validation: null, columns: { text: 'text', textPair: null, label: 'label' }, task: 'classification', labels: ['ham', 'spam'] },
  });
}

describe('run config', () => {
  it('is built complete: every option and recipe value explicit, defaults merged', () => {
    const config = example();
    expect(config.method).toEqual({ id: 'lora', options: { ...methodOptions('lora'), r: 4 } });
    expect(config.recipe).toEqual({ ...DEFAULT_RECIPE, epochs: 2 });
    expect(config.data).toMatchObject({ validationFraction: 0.1, validationSeed: 42 });
  });

  it('keeps the class names the user gave, next to the values in the file', () => {
    expect(example().data).toMatchObject({ labels: ['ham', 'spam'], labelNames: ['ham', 'spam'] });
    const renamed = buildRunConfig({ ...example(), method: 'lora', data: { ...example().data, labels: ['0', '1'], labelNames: ['negative', 'positive'] } });
    expect(renamed.data).toMatchObject({ labels: ['0', '1'], labelNames: ['negative', 'positive'] });
    expect(parseRunConfig(JSON.parse(JSON.stringify(renamed)))).toEqual(renamed);
  });

  it('survives JSON and parses back equal', () => {
    const config = example();
    expect(parseRunConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  it('keeps the checked-in examples (the Python side reads them) byte for byte', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) {
      const text = readFileSync(join(FIXTURES, file), 'utf8');
      expect(JSON.stringify(parseRunConfig(JSON.parse(text)), null, 2) + '\n', file).toBe(text);
    }
  });

  it('rejects a config that is not complete and valid, naming the field', () => {
    // JSON, edited by path: a plain nested record is what a stored or received config is.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    type Json = Record<string, any>;
    const good = JSON.parse(JSON.stringify(example())) as Json;
    const broken: [(c: Json) => void, RegExp][] = [
      [(c) => (c.format = 'other'), /format must be "peft-playground\/run"/],
      [(c) => (c.version = 2), /version must be 1/],
      [(c) => (c.method.id = 'qlora'), /method.id is not a known method/],
      [(c) => delete c.method.options.alpha, /method.options.alpha is missing/],
      [(c) => (c.method.options.rank = 4), /method.options.rank is not an option/],
      [(c) => (c.recipe.epochs = 0), /recipe.epochs must be in \[1, 200\]/],
      [(c) => delete c.recipe.optimizer, /recipe.optimizer is missing/],
      [(c) => (c.recipe.extra = 1), /recipe.extra is not an option/],
      [(c) => (c.model.name = ''), /model.name must be a non-empty string/],
      [(c) => (c.data.labels = ['only']), /data.labels must name at least two classes/],
      [(c) => (c.data.task = 'ranking'), /data.task must be/],
      [(c) => delete c.data.labelNames, /data.labelNames is missing/],
      [(c) => (c.data.labelNames = ['negative']), /data.labelNames must name each of the 2 classes \(got 1\)/],
      [(c) => (c.data.labelNames = ['x', 'x']), /data.labelNames names "x" twice/],
      [(c) => (c.data.labelNames = ['x', ' ']), /data.labelNames must not contain an empty name/],
      [(c) => (c.data.columns.pair = 'x'), /data.columns has an unknown field "pair"/],
      [(c) => (c.data.validationFraction = 0.9), /data.validationFraction must be in/],
      [(c) => delete c.data, /data is missing/],
    ];
    for (const [breakIt, message] of broken) {
      const copy = JSON.parse(JSON.stringify(good));
      breakIt(copy);
      expect(() => parseRunConfig(copy)).toThrow(RunConfigError);
      expect(() => parseRunConfig(copy)).toThrow(message);
    }
  });
});

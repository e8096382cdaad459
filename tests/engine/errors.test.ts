import { describe, expect, it } from 'vitest';
import { UnsupportedModelError as ConfigUnsupported, parseBertConfig } from '../../src/engine/config';
import { AppError, InputError, LimitError, toAppError, UnsupportedModelError } from '../../src/engine/errors';
import { OptionError } from '../../src/engine/options';
import { HttpError } from '../../src/io/model/fetch';
import { UnknownMethodError } from '../../src/methods/catalog';
import { RunConfigError } from '../../src/worker/run-config';
import { toWorkerError } from '../../src/worker/errors';

describe('error taxonomy', () => {
  it('types every error class the layers throw with its kind and a hint', () => {
    const cases: [unknown, string][] = [
      [new OptionError('LoRA', 'r', 'must be at least 1'), 'bad-input'],
      [new RunConfigError('recipe.epochs', 'must be a number'), 'bad-input'],
      [new UnknownMethodError('nope'), 'bad-input'],
      [new HttpError('https://huggingface.co/x', 404), 'network'],
      [new LimitError('the tensor count', 2_000_000, 100_000, 'Use a smaller model.'), 'limit-exceeded'],
    ];
    for (const [error, kind] of cases) {
      expect(error).toBeInstanceOf(AppError);
      const payload = toWorkerError(error, 'testing');
      expect(payload.kind).toBe(kind);
      expect(payload.hint.length).toBeGreaterThan(10);
    }
    expect(() => parseBertConfig({ model_type: 'gpt2' })).toThrow(UnsupportedModelError);
    expect(ConfigUnsupported).toBe(UnsupportedModelError);
  });

  it('says the limit and the value in the message', () => {
    expect(new LimitError('num_hidden_layers', 1_000_000, 48, 'Use a smaller model.', 'config.json').message).toBe(
      'config.json: num_hidden_layers is 1,000,000; the limit is 48.',
    );
  });

  it('turns raw errors into bug or out-of-memory, keeping typed ones', () => {
    const typed = new InputError('bad row', 'fix it');
    expect(toAppError(typed, 'x')).toBe(typed);
    expect(toAppError(new TypeError('x is undefined'), 'loading the model')).toMatchObject({ kind: 'bug', message: 'Unexpected error while loading the model: x is undefined' });
    expect(toAppError(new RangeError('Array buffer allocation failed'), 'parsing').kind).toBe('out-of-memory');
    expect(toAppError(Object.create(null), 'x').kind).toBe('bug');
  });
});

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  FIELDS,
  METHODS,
  PRESETS,
  applyPreset,
  methodOptionsOf,
  settingsFromQuery,
  settingsToQuery,
  type Settings,
} from '../../src/ui/settings';

describe('settings <-> URL query', () => {
  it('writes nothing for the defaults', () => {
    expect(settingsToQuery(DEFAULT_SETTINGS).toString()).toBe('');
    expect(settingsFromQuery(new URLSearchParams())).toEqual(DEFAULT_SETTINGS);
  });

  it('round-trips every field changed at once', () => {
    const changed: Settings = {
      ...DEFAULT_SETTINGS,
      method: 'lora',
      rank: 8,
      deltaT: 20,
      beta1: 0.8,
      beta2: 0.9,
      tiEpochs: 2,
      tfFraction: 0.5,
      sensitivity: 'paramGrad',
      abScope: 'both',
      freezeTogether: true,
      lambdaDInit: 0.2,
      loraRank: 16,
      loraAlpha: 32,
      eloraRank: 256,
      epochs: 3,
      batchSize: 8,
      maxLength: 64,
      adapterLr: 0.004,
      classifierLr: 0.008,
      weightDecay: 0,
      warmupRatio: 0.1,
      maxGradNorm: 1,
      seed: 7,
      logEvery: 2,
      validationFraction: 0.2,
      metric: 'matthews',
    };
    // Every field must differ from its default, or this test would not cover it.
    for (const field of FIELDS) expect(changed[field.key], field.key).not.toEqual(DEFAULT_SETTINGS[field.key]);
    const query = settingsToQuery(changed);
    const parsed = settingsFromQuery(new URLSearchParams(query.toString()));
    expect(parsed).toEqual(changed);
  });

  it('ignores malformed or out-of-range values and unknown methods', () => {
    const parsed = settingsFromQuery(new URLSearchParams('method=bogus&r=abc&bs=0&b1=2&sens=foo&sim=yes&ep=2.5&len=64'));
    expect(parsed).toEqual({ ...DEFAULT_SETTINGS, maxLength: 64 });
  });

  it('keeps extra keys such as the dataset id', () => {
    const query = settingsToQuery(DEFAULT_SETTINGS, { data: 'spam-ham' });
    expect(query.get('data')).toBe('spam-ham');
  });

  it('uses unique query names', () => {
    const names = FIELDS.map((f) => f.query);
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain('method');
  });
});

describe('presets', () => {
  it('applies paper Table 5 values for CoLA', () => {
    const cola = applyPreset(DEFAULT_SETTINGS, 'cola');
    expect(cola).toMatchObject({ adapterLr: 1e-2, classifierLr: 4e-2, epochs: 20, tfFraction: 0.7, batchSize: 64, maxLength: 256, metric: 'matthews' });
    expect(cola.method).toBe(DEFAULT_SETTINGS.method);
  });

  it('only sets values inside each field range', () => {
    for (const preset of PRESETS) {
      const applied = applyPreset(DEFAULT_SETTINGS, preset.id);
      for (const field of FIELDS) {
        const value = applied[field.key];
        if (field.kind === 'number' || field.kind === 'int') {
          expect(value as number, `${preset.id}.${field.key}`).toBeGreaterThanOrEqual(field.min);
          expect(value as number, `${preset.id}.${field.key}`).toBeLessThanOrEqual(field.max);
        }
      }
    }
  });
});

describe('methodOptionsOf', () => {
  it('only uses option names the registered method knows, for every method', async () => {
    const { methodOptions } = await import('../../src/methods/catalog');
    for (const method of METHODS) {
      const options = methodOptionsOf({ ...DEFAULT_SETTINGS, method: method.id });
      const known = Object.keys(methodOptions(method.id));
      for (const key of Object.keys(options)) expect(known, `${method.id}.${key}`).toContain(key);
    }
  });

  it('gives AFLoRA the paper defaults of its registered method', async () => {
    const { methodOptions } = await import('../../src/methods/catalog');
    const defaults = methodOptions('aflora') as Record<string, unknown>;
    const options = methodOptionsOf(DEFAULT_SETTINGS);
    for (const [key, value] of Object.entries(options)) expect(value, key).toEqual(defaults[key]);
  });

  it('maps the LoRA knobs to the lora method option names (r, alpha)', () => {
    expect(methodOptionsOf({ ...DEFAULT_SETTINGS, method: 'lora', loraRank: 4, loraAlpha: 8 })).toEqual({ r: 4, alpha: 8 });
  });
});

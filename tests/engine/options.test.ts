import { describe, expect, it } from 'vitest';
import {
  bool,
  choice,
  defaultsOf,
  formatUrlValue,
  int,
  multi,
  num,
  OptionError,
  optionalInt,
  parseOptions,
  parseUrlValue,
  resolveOptions,
  span,
  spanSteps,
  type OptionValue,
} from '../../src/engine/options';

const meta = (urlKey: string) => ({ urlKey, label: urlKey, help: '', group: 'g' });
const SCHEMA = [
  int('steps', { ...meta('s'), default: 10, min: 1, max: 100 }),
  optionalInt('warmup', { ...meta('w'), default: null, min: 0, max: 50, nullLabel: 'derived' }),
  num('rate', { ...meta('r'), default: 0.5, min: 0, max: 1 }),
  bool('flag', { ...meta('f'), default: false }),
  choice('mode', { ...meta('m'), choices: [{ value: 'a', label: 'A' }, { value: 'b', label: 'B' }], default: 'a' }),
  multi('targets', { ...meta('t'), choices: [{ value: 'x', label: 'X' }, { value: 'y', label: 'Y' }, { value: 'z', label: 'Z' }], default: ['x'], minCount: 1 }),
  span('window', { ...meta('win'), default: { value: 1, unit: 'epochs' }, max: { steps: 1000, epochs: 10 } }),
] as const;

describe('option schemas', () => {
  it('merge overrides over the defaults and type the result', () => {
    const options = resolveOptions(SCHEMA, { rate: 0.25, targets: ['z', 'x', 'z'] });
    expect(options).toEqual({ steps: 10, warmup: null, rate: 0.25, flag: false, mode: 'a', targets: ['x', 'z'], window: { value: 1, unit: 'epochs' } });
    const mode: 'a' | 'b' = options.mode;
    expect(mode).toBe('a');
    expect(defaultsOf(SCHEMA).targets).toEqual(['x']);
  });

  it('reject unknown keys and every kind of bad value, naming the option and what to do', () => {
    const bad: [object, RegExp][] = [
      [{ nope: 1 }, /nope is not an option \(known: steps, warmup/],
      [{ steps: 2.5 }, /steps must be an integer/],
      [{ steps: 0 }, /steps must be in \[1, 100\] \(got 0\)/],
      [{ steps: null }, /steps must be a number \(got null\)/],
      [{ rate: Number.NaN }, /rate must be a finite number/],
      [{ flag: 1 }, /flag must be true or false/],
      [{ mode: 'c' }, /mode must be one of a, b \(got c\)/],
      [{ targets: [] }, /targets must name at least 1 of x, y, z/],
      [{ targets: ['q'] }, /targets has unknown entries q/],
      [{ window: { value: 1.5, unit: 'steps' } }, /window must be a whole number of steps/],
      [{ window: { value: 11, unit: 'epochs' } }, /window must be in \[0, 10\] epochs/],
      [{ window: 3 }, /window must be \{ value, unit/],
    ];
    for (const [overrides, message] of bad) {
      expect(() => resolveOptions(SCHEMA, overrides, 'Test')).toThrow(OptionError);
      expect(() => resolveOptions(SCHEMA, overrides, 'Test')).toThrow(message);
    }
    expect(resolveOptions(SCHEMA, { warmup: 7 }).warmup).toBe(7);
  });

  it('parse a complete value object strictly: a missing key is an error, not a default', () => {
    const complete = defaultsOf(SCHEMA);
    expect(parseOptions(SCHEMA, JSON.parse(JSON.stringify(complete)))).toEqual(complete);
    const { rate: _rate, ...missing } = complete;
    expect(() => parseOptions(SCHEMA, missing, 'Test')).toThrow(/Test: rate is missing/);
    expect(() => parseOptions(SCHEMA, [], 'Test')).toThrow(/Test: must be an object/);
  });

  it('round-trip every kind through URL text; malformed text gives undefined', () => {
    const values: Record<string, OptionValue> = { steps: 42, warmup: null, rate: 0.125, flag: true, mode: 'b', targets: ['x', 'z'], window: { value: 30, unit: 'steps' } };
    for (const spec of SCHEMA) {
      const text = formatUrlValue(spec, values[spec.key]);
      expect(parseUrlValue(spec, text), spec.key).toEqual(values[spec.key]);
    }
    expect(parseUrlValue(SCHEMA[1], '12')).toBe(12);
    expect(parseUrlValue(SCHEMA[6], '0.5ep')).toEqual({ value: 0.5, unit: 'epochs' });
    for (const [index, raw] of [[0, 'abc'], [0, '1000'], [0, ''], [3, 'yes'], [4, 'c'], [5, ''], [6, '2x'], [6, '1.5st']] as const) {
      expect(parseUrlValue(SCHEMA[index], raw), `${SCHEMA[index].key}=${raw}`).toBeUndefined();
    }
  });
});

describe('spanSteps', () => {
  it('keeps steps and rounds epochs up (0 stays 0)', () => {
    expect(spanSteps({ value: 7, unit: 'steps' }, 10)).toBe(7);
    expect(spanSteps({ value: 0.25, unit: 'epochs' }, 10)).toBe(3);
    expect(spanSteps({ value: 1, unit: 'epochs' }, 10)).toBe(10);
    expect(spanSteps({ value: 0, unit: 'epochs' }, 10)).toBe(0);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LimitError } from '../../src/engine/errors';
import { checkLimit, LIMITS } from '../../src/io/limits';
import { SECURITY_DOC, withTable } from '../../scripts/limits-doc';

describe('limits', () => {
  it('docs/security.md shows the table of src/io/limits.ts (run npm run limits:doc)', () => {
    const doc = readFileSync(SECURITY_DOC, 'utf8');
    expect(withTable(doc)).toBe(doc);
  });

  it('refuses a value over the limit, NaN included, and passes the limit itself', () => {
    expect(() => checkLimit('layerCount', LIMITS.layerCount.value)).not.toThrow();
    expect(() => checkLimit('layerCount', LIMITS.layerCount.value + 1)).toThrow(LimitError);
    expect(() => checkLimit('layerCount', NaN)).toThrow(LimitError);
    expect(() => checkLimit('downloadBytes', 3 * 2 ** 30, 'model.safetensors')).toThrow('model.safetensors: one downloaded model file is 3 GB; the limit is 1 GB.');
  });
});

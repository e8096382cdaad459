/** The model picker's presets: every family the loader reads has some, each consistent with itself. */
import { describe, expect, it } from 'vitest';
import { FAMILY_IDS } from '../../src/engine/families';
import { MODEL_PRESETS } from '../../src/io/presets';

describe('model presets', () => {
  it('cover every family, the AFLoRA paper\'s deberta-v3-base and the small v3 checkpoints among them', () => {
    expect(new Set(MODEL_PRESETS.map((p) => p.family))).toEqual(new Set(FAMILY_IDS));
    const repos = MODEL_PRESETS.map((p) => p.repo);
    expect(new Set(repos).size).toBe(repos.length);
    expect(repos).toEqual(expect.arrayContaining(['microsoft/deberta-v3-xsmall', 'microsoft/deberta-v3-small', 'microsoft/deberta-v3-base', 'FacebookAI/roberta-base', 'distilbert/distilroberta-base']));
  });

  it('state a Hub id, a shape that splits into heads, a size and a licence', () => {
    for (const p of MODEL_PRESETS) {
      expect(p.repo, p.label).toMatch(/^[\w.-]+(\/[\w.-]+)?$/);
      expect(p.hidden % p.heads, p.repo).toBe(0);
      // float32 is 4 bytes a parameter, float16 (the deberta-v3 repos) 2: the download lies between.
      expect(p.downloadMB / p.paramsM, p.repo).toBeGreaterThan(1.9);
      expect(p.downloadMB / p.paramsM, p.repo).toBeLessThan(4.3);
      expect(['Apache-2.0', 'MIT'], p.repo).toContain(p.licence);
    }
  });
});

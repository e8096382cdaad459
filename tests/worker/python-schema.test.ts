/** python/ checks run configs with the app's own rules: its schema.json is generated from them and must be current. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATH, schemaText } from '../../scripts/python/write-schema';
import { CATALOG } from '../../src/methods/catalog';

describe('python/peft_playground/schema.json', () => {
  it('is what scripts/python/write-schema.ts writes now (run `npm run py:schema` after changing an option)', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(schemaText());
  });

  it('lists every method with every option key', () => {
    const schema = JSON.parse(schemaText()) as { methods: Record<string, { key: string }[]> };
    for (const entry of CATALOG) expect(schema.methods[entry.id].map((s) => s.key)).toEqual(entry.options.map((o) => o.key));
  });
});

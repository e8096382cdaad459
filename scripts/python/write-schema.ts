/**
 * Writes python/peft_playground/schema.json: the run config's rules (recipe, data split, every method's options)
 * from src/worker/run-config.ts, so the Python package checks a run config exactly as the app does.
 *     npx tsx scripts/python/write-schema.ts        (tests/worker/python-schema.test.ts fails when it is stale)
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runConfigSchema } from '../../src/worker/run-config';

export const SCHEMA_PATH = resolve(import.meta.dirname, '../../python/peft_playground/schema.json');

export function schemaText(): string {
  return JSON.stringify(runConfigSchema(), null, 1) + '\n';
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  writeFileSync(SCHEMA_PATH, schemaText());
  console.log(`wrote ${SCHEMA_PATH}`);
}

/**
 * Writes python/peft_playground/schema.json: the run config's rules (recipe, data split, every method's options)
 * from src/worker/run-config.ts, and every model family's module names (src/engine/families.ts), so the Python
 * package checks a run config and finds a model's adapted linears and task head exactly as the app does.
 *     npx tsx scripts/python/write-schema.ts        (tests/worker/python-schema.test.ts fails when it is stale)
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FAMILIES } from '../../src/engine/families';
import { runConfigSchema } from '../../src/worker/run-config';

export const SCHEMA_PATH = resolve(import.meta.dirname, '../../python/peft_playground/schema.json');

/** The names python/ needs of each family: layer i's module is `${layers}.${i}.${moduleSuffix[kind]}`. */
export function familiesSchema() {
  return Object.fromEntries(
    Object.values(FAMILIES).map((family) => {
      const { word, position, tokenType } = family.embeddings;
      return [
        family.id,
        {
          label: family.label,
          modelTypes: family.modelTypes,
          root: family.root,
          layers: family.layerPrefix(0).replace(/\.0$/, ''),
          moduleSuffix: family.moduleSuffix,
          headModules: family.headModules,
          optionalModules: family.optionalModules,
          embeddingMatrices: [word, position, tokenType].filter((name): name is string => name !== null).map((name) => `${name}.weight`),
          tokenTypes: tokenType !== null,
        },
      ];
    }),
  );
}

export function schemaText(): string {
  return JSON.stringify({ ...runConfigSchema(), families: familiesSchema() }, null, 1) + '\n';
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  writeFileSync(SCHEMA_PATH, schemaText());
  console.log(`wrote ${SCHEMA_PATH}`);
}

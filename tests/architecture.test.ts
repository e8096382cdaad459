/** The one-way layers of docs/architecture.md, checked on every import of src/. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** Every relative import of a file as a path under src/ without extension, with whether it is type-only. */
function imports(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'/gm)].map((m) => ({
    target: relative(SRC, resolve(dirname(file), m[2])).replace(/\\/g, '/'),
    typeOnly: m[1] !== undefined,
  }));
}

const layerOf = (path: string) => path.split('/')[0];

/** Allowed targets per layer (prefixes under src/); type-only imports of the engine's contract count as tensor-free. */
const RULES: Record<string, { allow: string[]; allowTypes?: string[] }> = {
  engine: { allow: ['engine/'] },
  methods: { allow: ['engine/', 'methods/', 'io/export/'] },
  io: { allow: ['io/', 'engine/types', 'engine/random', 'engine/config', 'engine/weights', 'engine/errors', 'engine/families'] },
  worker: { allow: ['engine/', 'methods/', 'io/', 'worker/'] },
  ui: {
    allow: ['ui/', 'methods/catalog', 'methods/entry', 'methods/glue', 'engine/errors', 'engine/options', 'engine/recipe', 'engine/types', 'io/export/logs', 'io/export/zip', 'io/presets', 'worker/protocol', 'worker/client', 'worker/events', 'worker/run-config', 'worker/compare'],
    allowTypes: ['engine/adapter'],
  },
};

describe('layers', () => {
  const all = files(SRC).map((f) => ({ file: relative(SRC, f).replace(/\\/g, '/'), imports: imports(f) }));

  it('finds the imports it checks', () => {
    expect(all.length).toBeGreaterThan(50);
    expect(all.find((f) => f.file === 'worker/session.ts')!.imports.map((i) => i.target)).toContain('worker/run');
  });

  for (const layer of Object.keys(RULES)) {
    it(`${layer} imports only what docs/architecture.md allows`, () => {
      const { allow, allowTypes = [] } = RULES[layer];
      const bad = all
        .filter((f) => layerOf(f.file) === layer)
        .flatMap((f) =>
          f.imports
            .filter(({ target, typeOnly }) => !allow.some((a) => target.startsWith(a)) && !(typeOnly && allowTypes.some((a) => target.startsWith(a))))
            .map(({ target }) => `${f.file} -> ${target}`),
        );
      expect(bad).toEqual([]);
    });
  }

  it('keeps method runtimes out of the catalog (the page imports it: no tensors)', () => {
    // A method's schedule.ts (pure functions of the step) may serve its schema (the settings' resolved schedule).
    const tensorFree = ['methods/catalog.ts', 'methods/entry.ts', 'methods/glue.ts', ...all.map((f) => f.file).filter((f) => /\/(schema|schedule)\.ts$/.test(f))];
    for (const file of tensorFree) {
      const text = readFileSync(join(SRC, file), 'utf8');
      expect(text, file).not.toMatch(/@tensorflow/);
      for (const { target } of all.find((f) => f.file === file)!.imports) {
        expect(target, `${file} -> ${target}`).toMatch(/^(engine\/(errors|options|recipe|types)|methods\/(catalog|entry|glue|[a-z]+\/(schema|schedule)))$/);
      }
    }
  });
});

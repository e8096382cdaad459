/** The settings form's state and the URL are derived from the schemas; only changed values are stored. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RECIPE } from '../../src/engine/recipe';
import { CATALOG, methodEntry, methodOptions } from '../../src/methods/catalog';
import { applyPreset, EMPTY_SETUP, executionOf, runConfigOf, schemaOf, setupFromConfig, setupFromQuery, setupToQuery, setValue, valuesOf, type Setup } from '../../src/ui/setup';
import type { DataPreview, ModelInfo } from '../../src/worker/protocol';

function set(setup: Setup, section: Parameters<typeof setValue>[1], key: string, value: unknown): Setup {
  const spec = schemaOf(setup, section).find((s) => s.key === key)!;
  return setValue(setup, section, spec, value as never);
}

describe('setup <-> URL query', () => {
  it('writes nothing for the defaults and reads the defaults from nothing', () => {
    expect(setupToQuery(EMPTY_SETUP).toString()).toBe('');
    expect(setupFromQuery(new URLSearchParams())).toEqual(EMPTY_SETUP);
    expect(valuesOf(EMPTY_SETUP, 'method')).toEqual(methodOptions('aflora'));
    expect(valuesOf(EMPTY_SETUP, 'recipe')).toEqual(DEFAULT_RECIPE);
    // Steps are replayed unless the Advanced setting says otherwise; the link names another choice.
    expect(executionOf(EMPTY_SETUP)).toBe('replayed');
    expect(executionOf(setupFromQuery(new URLSearchParams('exec=plain')))).toBe('plain');
  });

  it('round-trips a changed value of every field of every method, recipe, split and view', () => {
    for (const entry of CATALOG.map((m) => m.id)) {
      let setup: Setup = { ...EMPTY_SETUP, method: entry };
      for (const section of ['method', 'recipe', 'split', 'view', 'advanced'] as const) {
        for (const spec of schemaOf(setup, section)) {
          const other =
            spec.kind === 'bool' ? !spec.default
            : spec.kind === 'enum' ? (spec.choices.find((c) => c.value !== spec.default)?.value ?? spec.default)
            : spec.kind === 'multi' ? (spec.default.length === spec.choices.length ? spec.default.slice(0, 1) : spec.choices.map((c) => c.value).filter((v) => !spec.default.includes(v)).slice(0, 1))
            : spec.kind === 'span' ? { value: 3, unit: 'steps' }
            : spec.default === null ? spec.min + 1
            : spec.default === spec.max ? spec.min : spec.max;
          setup = set(setup, section, spec.key, other);
        }
      }
      const parsed = setupFromQuery(new URLSearchParams(setupToQuery(setup).toString()));
      expect(parsed, entry).toEqual(setup);
      // Every field changed (one-choice enums aside), so the link names them all.
      const changed = Object.keys(setup.options[entry] ?? {}).length;
      expect(changed, entry).toBe(methodEntry(entry).options.length);
    }
  });

  it("keeps the e2e test's link working and drops malformed or out-of-range values", () => {
    const setup = setupFromQuery(new URLSearchParams('method=aflora&bs=8&len=32&ep=4&dt=2&tf=0.5&log=1&val=0.25'));
    expect(valuesOf(setup, 'recipe')).toMatchObject({ batchSize: 8, maxLength: 32, epochs: 4, logEvery: 1 });
    expect(valuesOf(setup, 'method')).toMatchObject({ deltaT: 2, tfFraction: 0.5 });
    expect(valuesOf(setup, 'split').validationFraction).toBe(0.25);
    const bad = setupFromQuery(new URLSearchParams('method=bogus&r=abc&bs=0&b1=2&sens=foo&sim=yes&ep=2.5&len=64'));
    expect(bad).toEqual({ ...EMPTY_SETUP, recipe: { maxLength: 64 } });
  });

  it('scopes option values by method: LoRA r and AFLoRA rank share the URL key r', () => {
    const lora = setupFromQuery(new URLSearchParams('method=lora&r=16&tm=query,key'));
    expect(valuesOf(lora, 'method')).toEqual({ r: 16, alpha: 16, targetModules: ['query', 'key'], loraDropout: 0 });
    expect(valuesOf({ ...lora, method: 'aflora' }, 'method').rank).toBe(4);
  });

  it('drops a value set back to its default', () => {
    const changed = set(EMPTY_SETUP, 'recipe', 'epochs', 3);
    expect(changed.recipe).toEqual({ epochs: 3 });
    expect(set(changed, 'recipe', 'epochs', DEFAULT_RECIPE.epochs).recipe).toEqual({});
  });
});

describe('presets', () => {
  it("apply AFLoRA's Table 5 CoLA recipe, its t_i / t_f and the task metric; 'defaults' clears them", () => {
    const cola = applyPreset(EMPTY_SETUP, methodEntry('aflora').presets.find((p) => p.id === 'cola')!);
    expect(valuesOf(cola, 'recipe')).toMatchObject({ adapterLr: 1e-2, classifierLr: 4e-2, epochs: 20, batchSize: 64, maxLength: 256 });
    expect(valuesOf(cola, 'view').metric).toBe('matthews');
    expect(cola.method).toBe('aflora');
    expect(applyPreset(cola, 'defaults').recipe).toEqual({});
  });
});

describe('runConfigOf', () => {
  it('is the complete run config of the setup on the loaded model and data', () => {
    const model = { name: 'built-in tiny BERT', hubId: null, revision: null } as ModelInfo;
    const data = {
      name: 'spam-ham',
      files: { train: 'spam-ham/train.csv', validation: null },
      mapping: { text: 'text', textPair: null, label: 'label' },
      task: 'classification',
      labels: [{ name: 'ham', train: 9, validation: 1 }, { name: 'spam', train: 9, validation: 1 }],
    } as unknown as DataPreview;
    const setup = set(set({ ...EMPTY_SETUP, method: 'lora' }, 'method', 'r', 4), 'split', 'validationFraction', 0.2);
    const config = runConfigOf(setup, model, data);
    expect(config.method).toEqual({ id: 'lora', options: { r: 4, alpha: 16, targetModules: ['query', 'key', 'value', 'attn_out', 'inter', 'out'], loraDropout: 0 } });
    expect(config.recipe).toEqual({ ...DEFAULT_RECIPE, adapterLr: 5e-4 }); // LoRA's suggested adapter LR
    expect(config.data).toEqual({ name: 'spam-ham', train: 'spam-ham/train.csv', validation: null, columns: { text: 'text', textPair: null, label: 'label' }, task: 'classification', labels: ['ham', 'spam'], labelNames: ['ham', 'spam'], validationFraction: 0.2, validationSeed: 42 });
    // Renamed classes go into the config next to the file's values; two classes under one name do not.
    expect(runConfigOf(setup, model, data, { spam: 'junk' }).data).toMatchObject({ labels: ['ham', 'spam'], labelNames: ['ham', 'junk'] });
    expect(() => runConfigOf(setup, model, data, { spam: 'ham' })).toThrow(/data.labelNames names "ham" twice/);
  });
});

describe('setupFromConfig (restoring a run)', () => {
  const model = { name: 'built-in tiny BERT', hubId: null, revision: null } as ModelInfo;
  const data = {
    name: 'spam-ham',
    files: { train: 'spam-ham/train.csv', validation: null },
    mapping: { text: 'text', textPair: null, label: 'label' },
    task: 'classification',
    labels: [{ name: 'ham', train: 9, validation: 1 }, { name: 'spam', train: 9, validation: 1 }],
  } as unknown as DataPreview;

  it.each(CATALOG.map((entry) => entry.id))('puts a %s run config back in the form: the same config comes out, only changed values are stored', (id) => {
    let setup = set({ ...EMPTY_SETUP, method: id }, 'recipe', 'epochs', 3);
    setup = set(set(setup, 'recipe', 'seed', 7), 'split', 'validationFraction', 0.25);
    const config = runConfigOf(setup, model, data);
    // From a form showing something else (another method, other values, a metric picked): the run's settings win, the view stays.
    const other = set(set({ ...EMPTY_SETUP, method: id === 'lora' ? 'aflora' : 'lora' }, 'recipe', 'batchSize', 4), 'view', 'metric', 'f1');
    const restored = setupFromConfig(config, other);
    expect(runConfigOf(restored, model, data)).toEqual(config);
    expect(restored.method).toBe(id);
    expect(restored.recipe).toEqual({ epochs: 3, seed: 7 });
    expect(restored.split).toEqual({ validationFraction: 0.25 });
    expect(restored.options[id]).toEqual({});
    expect(valuesOf(restored, 'view').metric).toBe('f1');
  });

  it("shows the method's suggested adapter LR until the user sets one, and keeps one the user set", () => {
    expect(valuesOf(EMPTY_SETUP, 'recipe').adapterLr).toBe(1e-2); // AFLoRA's
    const lora = { ...EMPTY_SETUP, method: 'lora' as const };
    expect(valuesOf(lora, 'recipe').adapterLr).toBe(5e-4);
    expect(runConfigOf(lora, model, data).recipe.adapterLr).toBe(5e-4);
    expect(setupToQuery(lora).get('alr')).toBeNull(); // a default: not in the link
    // Set by the user, it stays when the method changes (and travels in the link).
    const mine = set(EMPTY_SETUP, 'recipe', 'adapterLr', 3e-3);
    expect(valuesOf({ ...mine, method: 'lora' }, 'recipe').adapterLr).toBe(3e-3);
    expect(runConfigOf({ ...mine, method: 'lora' }, model, data).recipe.adapterLr).toBe(3e-3);
    // AFLoRA's 1e-2 set on LoRA is a change there (LoRA's default is 5e-4): kept, and restored from a run.
    const high = set(lora, 'recipe', 'adapterLr', 1e-2);
    expect(high.recipe).toEqual({ adapterLr: 1e-2 });
    expect(setupFromConfig(runConfigOf(high, model, data)).recipe).toEqual({ adapterLr: 1e-2 });
    expect(setupFromConfig(runConfigOf(lora, model, data)).recipe).toEqual({});
  });

  it('keeps a method option that differs from its default', () => {
    const config = runConfigOf(set({ ...EMPTY_SETUP, method: 'lora' }, 'method', 'r', 4), model, data);
    expect(setupFromConfig(config).options.lora).toEqual({ r: 4 });
  });
});

/** The catalog is the only description of the methods: each entry's defaults, presets and URL keys must hold. */
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/engine/options';
import { RECIPE_SCHEMA } from '../../src/engine/recipe';
import { CATALOG, methodEntry, methodOptions, UnknownMethodError } from '../../src/methods/catalog';
import { DATA_SPLIT_SCHEMA } from '../../src/worker/run-config';

describe('method catalog', () => {
  it('has unique ids, and per method unique option keys and URL keys (recipe and data keys included)', () => {
    expect(new Set(CATALOG.map((m) => m.id)).size).toBe(CATALOG.length);
    for (const entry of CATALOG) {
      const keys = entry.options.map((s) => s.key);
      expect(new Set(keys).size, entry.id).toBe(keys.length);
      const urlKeys = [...entry.options, ...RECIPE_SCHEMA, ...DATA_SPLIT_SCHEMA].map((s) => s.urlKey);
      expect(new Set(urlKeys).size, `${entry.id}: ${urlKeys.join(' ')}`).toBe(urlKeys.length);
      for (const reserved of ['method', 'data', 'metric']) expect(urlKeys, entry.id).not.toContain(reserved);
    }
  });

  it("checks each entry's defaults and presets against its own schema", () => {
    for (const entry of CATALOG) {
      expect(() => methodOptions(entry.id), entry.id).not.toThrow();
      for (const preset of entry.presets) {
        expect(() => resolveOptions(entry.options, preset.options), `${entry.id}/${preset.id}`).not.toThrow();
        expect(() => resolveOptions(RECIPE_SCHEMA, preset.recipe), `${entry.id}/${preset.id} recipe`).not.toThrow();
      }
    }
  });

  it("says on each rank method's card whose code it follows; ALoRA's, on the card itself, that it is reimplemented from the paper", () => {
    expect(methodEntry('alora').blurb).toMatch(/reimplemented from the paper/);
    expect(methodEntry('alora').description).toMatch(/reimplemented from the paper \(no official code exists\)/);
    expect(methodEntry('adalora').description).toMatch(/as huggingface\/peft implements it/);
    expect(methodEntry('increlora').description).toMatch(/as the official code/);
  });

  it('merges overrides over the defaults in one place and names unknown methods', () => {
    expect(methodOptions('lora', { r: 4 })).toEqual({ r: 4, alpha: 16, targetModules: ['query', 'key', 'value', 'attn_out', 'inter', 'out'], loraDropout: 0 });
    expect(() => methodEntry('nope')).toThrow(UnknownMethodError);
    expect(() => methodOptions('lora', { rank: 4 })).toThrow(/LoRA: rank is not an option/);
  });

  it("AFLoRA's GLUE presets carry Table 5 (CoLA: lr 1e-2 / 4e-2, 20 epochs, Matthews) and t_i / t_f", () => {
    const cola = methodEntry('aflora').presets.find((p) => p.id === 'cola')!;
    expect(cola.recipe).toMatchObject({ adapterLr: 1e-2, classifierLr: 4e-2, epochs: 20, batchSize: 64, maxLength: 256, optimizer: 'adamw_hf' });
    expect(cola.options).toEqual({ tiEpochs: 1, tfFraction: 0.7 });
    expect(cola.metric).toBe('matthews');
  });

  it("AdaLoRA's GLUE presets carry the paper's Table 8 (RTE: lr 1.2e-3, 50 epochs, γ 0.3, t_i 600, ΔT 1, t_f 1800) on all six linears", () => {
    const rte = methodEntry('adalora').presets.find((p) => p.id === 'rte')!;
    expect(rte.recipe).toMatchObject({ adapterLr: 1.2e-3, classifierLr: 1.2e-3, epochs: 50, batchSize: 32 });
    expect(rte.options).toMatchObject({ orthRegWeight: 0.3, tinit: 600, deltaT: 1, tfinal: 1800, initR: 12, targetR: 8 });
    expect(rte.options?.targetModules).toHaveLength(6);
    expect(methodEntry('adalora').presets.map((p) => p.id).sort()).toEqual(['cola', 'mnli', 'mrpc', 'qnli', 'qqp', 'rte', 'sst2', 'stsb']);
    expect(rte.note).toMatch(/Table 8/);
  });

  it("ALoRA's presets are its paper's three GLUE tasks with Appendix E's recipe (lr 1e-4, 10 epochs, batch 16 / 128)", () => {
    const presets = methodEntry('alora').presets;
    expect(presets.map((p) => [p.id, p.recipe?.batchSize])).toEqual([['sst2', 128], ['rte', 16], ['qnli', 128]]);
    for (const p of presets) expect(p.recipe).toMatchObject({ adapterLr: 1e-4, classifierLr: 1e-4, epochs: 10, warmupRatio: 0.06, weightDecay: 0 });
  });

  it("no method from another paper offers AFLoRA's Table 5 as its own presets", () => {
    for (const id of ['adalora', 'increlora', 'alora']) {
      for (const p of methodEntry(id).presets) expect(p.note, `${id}/${p.id}`).not.toMatch(/AFLoRA paper/);
    }
  });
});

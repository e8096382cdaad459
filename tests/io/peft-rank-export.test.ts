/**
 * The per-module-rank PEFT writers (io/export/peft.ts): LoRA with rank_pattern / alpha_pattern (IncreLoRA, ALoRA) and
 * PEFT's ADALORA format. Each export, read back by PEFT's rules (peftDeltaWeights), must add exactly
 * s · Σ_active B[:, k] E[k] A[k, :] to every module, computed here straight from the method's tensors.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random';
import type { StateDict, TensorData } from '../../src/engine/types';
import { exportPeftAdaLora, exportPeftRankPattern, peftDeltaWeights, type AdaLoraSettings, type RankModuleState } from '../../src/io/export/peft';
import { parseSafetensors } from '../../src/io/safetensors';

const P = (layer: number, suffix: string) => `bert.encoder.layer.${layer}.${suffix}`;
const QUERY0 = P(0, 'attention.self.query');
const ATTN_OUT0 = P(0, 'attention.output.dense');
const OUT0 = P(0, 'output.dense');
const OUT1 = P(1, 'output.dense');
const OUT10 = P(10, 'output.dense');

function random(shape: number[], rng: Rng): TensorData {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape, data: rng.uniformArray(size, -1, 1) };
}

/** in 3 -> out 2 modules at maximum rank 4. */
function module(path: string, active: boolean[], scale: number, seed: number, withE = true): RankModuleState {
  const rng = new Rng(seed);
  return { path, a: random([4, 3], rng), b: random([2, 4], rng), e: withE ? random([4], rng) : undefined, active, scale };
}

const HEAD: StateDict = new Map([
  ['classifier.weight', { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
  ['classifier.bias', { shape: [2], data: new Float32Array([0.5, -0.5]) }],
]);

/** ΔW [out, in] = s · Σ_{k active} B[:, k] E[k] A[k, :], from the method's own tensors. */
function expectedDelta(m: RankModuleState): number[] {
  const [out, rank] = m.b.shape;
  const inFeatures = m.a.shape[1];
  const delta: number[] = [];
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inFeatures; i++) {
      let sum = 0;
      for (let k = 0; k < rank; k++) if (m.active[k]) sum += m.b.data[o * rank + k] * (m.e ? m.e.data[k] : 1) * m.a.data[k * inFeatures + i];
      delta.push(m.scale * sum);
    }
  }
  return delta;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i], `${what}[${i}]`).toBeCloseTo(expected[i], 5);
}

describe('exportPeftRankPattern (LoRA with a rank per module)', () => {
  const modules = [
    module(OUT1, [true, false, true, true], 0.75, 1),
    module(QUERY0, [false, true, false, false], 2, 2),
    module(ATTN_OUT0, [false, false, false, false], 1, 3), // no rank left: not exported
    module(OUT0, [true, true, true, true], 1 / 3, 4, false), // no E (ALoRA's gates are the only factor)
    module(OUT10, [true, true, false, false], 0.5, 5),
  ];
  const adapter = exportPeftRankPattern({ modules, head: HEAD, baseModel: 'tests/fixtures/golden/model' });
  const config = adapter.config as Record<string, unknown>;

  it('writes every module with a rank into target_modules, rank_pattern and alpha_pattern; drops the rest', () => {
    expect(config.peft_type).toBe('LORA');
    expect(config.target_modules).toEqual([QUERY0, OUT0, OUT1, OUT10]);
    expect(config.rank_pattern).toEqual({ [QUERY0]: 1, [OUT0]: 4, [OUT1]: 3, [OUT10]: 2 });
    expect(config.alpha_pattern).toEqual({ [QUERY0]: 2, [OUT0]: 4 / 3, [OUT1]: 2.25, [OUT10]: 1 });
    expect(config.r).toBe(4);
    const saved = parseSafetensors(adapter.files['adapter_model.safetensors']).tensors;
    expect(saved.get(`base_model.model.${OUT1}.lora_A.weight`)!.shape).toEqual([3, 3]);
    expect(saved.get(`base_model.model.${OUT1}.lora_B.weight`)!.shape).toEqual([2, 3]);
    expect(saved.has(`base_model.model.${ATTN_OUT0}.lora_A.weight`)).toBe(false);
    expect(saved.get('base_model.model.classifier.weight')!.data).toEqual(HEAD.get('classifier.weight')!.data);
  });

  it('folds E into the kept rows of A and keeps the kept columns of B, in rank order', () => {
    const m = modules[0];
    const a = adapter.tensors.get(`base_model.model.${OUT1}.lora_A.weight`)!;
    const b = adapter.tensors.get(`base_model.model.${OUT1}.lora_B.weight`)!;
    [0, 2, 3].forEach((k, row) => {
      for (let i = 0; i < 3; i++) expect(a.data[row * 3 + i]).toBeCloseTo(m.e!.data[k] * m.a.data[k * 3 + i], 6);
      for (let o = 0; o < 2; o++) expect(b.data[o * 3 + row]).toBe(m.b.data[o * 4 + k]);
    });
  });

  it('PEFT reads back exactly each module\'s ΔW (per-module scaling alpha_m / r_m; layer 1 vs 10 and attention.output vs output kept apart)', () => {
    const { deltas, head } = peftDeltaWeights(adapter.files['adapter_config.json'], adapter.files['adapter_model.safetensors']);
    expect([...deltas.keys()].sort()).toEqual([QUERY0, OUT0, OUT1, OUT10].sort());
    for (const m of modules) if (deltas.has(m.path)) expectClose(deltas.get(m.path)!.data, expectedDelta(m), m.path);
    expect(head.get('classifier.bias')!.data).toEqual(HEAD.get('classifier.bias')!.data);
  });

  it('says what is wrong with an inconsistent module or an empty adapter', () => {
    const bad = { ...module(OUT1, [true, true, true], 1, 1) };
    expect(() => exportPeftRankPattern({ modules: [bad], head: HEAD, baseModel: 'm' })).toThrow(/3 rank flags do not fit one rank/);
    const none = module(OUT1, [false, false, false, false], 1, 1);
    expect(() => exportPeftRankPattern({ modules: [none], head: HEAD, baseModel: 'm' })).toThrow(/no module has an active rank/);
    expect(() => exportPeftRankPattern({ modules: [module(OUT1, [true, true, true, true], 1, 1)], head: new Map(), baseModel: 'm' })).toThrow(/classifier.weight is missing/);
  });
});

describe('exportPeftAdaLora (PEFT ADALORA format)', () => {
  const settings: AdaLoraSettings = { initR: 4, targetR: 2, loraAlpha: 8, tinit: 2, tfinal: 3, deltaT: 1, beta1: 0.85, beta2: 0.85, orthRegWeight: 0.5, totalStep: 20 };
  const modules = [module(OUT0, [true, false, true, false], 0, 1), module(QUERY0, [false, false, false, false], 0, 2)];
  const adapter = exportPeftAdaLora({ modules, hasRankPattern: true, settings, head: HEAD, baseModel: 'm' });

  it('writes the kept triplets as lora_A / lora_E / lora_B without .weight, zero-size where none is kept', () => {
    const saved = parseSafetensors(adapter.files['adapter_model.safetensors']).tensors;
    expect(saved.get(`base_model.model.${OUT0}.lora_A`)!.shape).toEqual([2, 3]);
    expect(saved.get(`base_model.model.${OUT0}.lora_E`)!.shape).toEqual([2, 1]);
    expect(saved.get(`base_model.model.${OUT0}.lora_B`)!.shape).toEqual([2, 2]);
    expect(Array.from(saved.get(`base_model.model.${OUT0}.lora_E`)!.data as Float32Array)).toEqual([modules[0].e!.data[0], modules[0].e!.data[2]]);
    // Unlike LoRA, E stays separate: A is not scaled.
    expect(Array.from(saved.get(`base_model.model.${OUT0}.lora_A`)!.data as Float32Array).slice(0, 3)).toEqual(Array.from(modules[0].a.data.slice(0, 3)));
    expect(saved.get(`base_model.model.${QUERY0}.lora_A`)!.shape).toEqual([0, 3]);
    expect(saved.get(`base_model.model.${QUERY0}.lora_B`)!.shape).toEqual([2, 0]);
  });

  it('writes the AdaLoraConfig PEFT validates, with its rank_pattern over every module', () => {
    expect(adapter.config).toMatchObject({
      peft_type: 'ADALORA',
      init_r: 4,
      target_r: 2,
      lora_alpha: 8,
      tinit: 2,
      tfinal: 3,
      deltaT: 1,
      total_step: 20,
      orth_reg_weight: 0.5,
      target_modules: [QUERY0, OUT0],
      rank_pattern: { [`${OUT0}.lora_E`]: [true, false, true, false], [`${QUERY0}.lora_E`]: [false, false, false, false] },
    });
    expect(() => exportPeftAdaLora({ modules, hasRankPattern: true, settings: { ...settings, tinit: 17 }, head: HEAD, baseModel: 'm' })).toThrow(/tinit < total_step - tfinal/);
  });

  it('reads back as ΔW = lora_alpha / (init_r + 1e-5) · B diag(E) A over the kept triplets', () => {
    const { deltas } = peftDeltaWeights(adapter.files['adapter_config.json'], adapter.files['adapter_model.safetensors']);
    const scale = settings.loraAlpha / (settings.initR + 1e-5);
    expectClose(deltas.get(OUT0)!.data, expectedDelta({ ...modules[0], scale }), OUT0);
    expectClose(deltas.get(QUERY0)!.data, new Array(6).fill(0), QUERY0);
  });

  it('keeps every triplet and writes rank_pattern null before the first allocation round', () => {
    const early = exportPeftAdaLora({ modules, hasRankPattern: false, settings, head: HEAD, baseModel: 'm' });
    expect(early.config.rank_pattern).toBeNull();
    expect(early.tensors.get(`base_model.model.${QUERY0}.lora_A`)!.shape).toEqual([4, 3]);
  });
});

import { describe, expect, it } from 'vitest';
import type { StateDict, TensorData } from '../../src/engine/types';
import { freezeLogFromCsv, freezeLogToCsv, recordsToCsv, csvToRecords, type FreezeRecord } from '../../src/io/export/logs';
import { exportNative, importNative, NATIVE_FORMAT } from '../../src/io/export/native';
import { unzipSync } from 'fflate';
import { exportPeftAdapter, importPeftAdapter } from '../../src/io/export/peft';
import { zipFiles } from '../../src/io/export/zip';
import { parseSafetensors, writeSafetensors } from '../../src/io/safetensors';

const t = (shape: number[], values: number[]): TensorData => ({ shape, data: new Float32Array(values) });
const INTER = 'bert.encoder.layer.0.intermediate.dense';
const OUT = 'bert.encoder.layer.1.output.dense';

/** in 3 -> out 2, r 2 on two modules, plus a 2-class head over hidden 2. */
function afloraVariables(): StateDict {
  return new Map([
    [`${INTER}.lora_A`, t([2, 3], [1, 2, 3, -1, 0.5, 2])],
    [`${INTER}.lora_B`, t([2, 2], [0.5, -1, 2, 0.25])],
    [`${INTER}.lambda_d`, t([2], [0.1, 3])],
    [`${INTER}.lambda_b`, t([2], [2, -0.5])],
    [`${OUT}.lora_A`, t([2, 3], [0, 1, 0, 1, 0, 0])],
    [`${OUT}.lora_B`, t([2, 2], [1, 1, 1, 1])],
    [`${OUT}.lambda_d`, t([2], [1, 1])],
    [`${OUT}.lambda_b`, t([2], [0, 0])],
    ['classifier.weight', t([2, 2], [1, 2, 3, 4])],
    ['classifier.bias', t([2], [0.5, -0.5])],
  ]);
}

function matVec(m: TensorData, x: number[]): number[] {
  const [rows, cols] = m.shape;
  return Array.from({ length: rows }, (_, i) => x.reduce((s, xv, j) => s + m.data[i * cols + j] * xv, 0));
}

describe('PEFT export', () => {
  it('folds Λ exactly: B\'A x equals Λb ⊙ B(Λd ⊙ A x), with lora_alpha = r', () => {
    const vars = afloraVariables();
    const adapter = exportPeftAdapter({ variables: vars, baseModel: 'prajjwal1/bert-tiny' });
    const x = [0.3, -1.2, 2];
    const ax = matVec(vars.get(`${INTER}.lora_A`)!, x);
    const lambdaD = vars.get(`${INTER}.lambda_d`)!.data;
    const lambdaB = vars.get(`${INTER}.lambda_b`)!.data;
    const expected = matVec(vars.get(`${INTER}.lora_B`)!, ax.map((v, k) => v * lambdaD[k])).map((v, o) => v * lambdaB[o]);
    const a = adapter.tensors.get(`base_model.model.${INTER}.lora_A.weight`)!;
    const b = adapter.tensors.get(`base_model.model.${INTER}.lora_B.weight`)!;
    const scaling = (adapter.config.lora_alpha as number) / (adapter.config.r as number);
    const got = matVec(b, matVec(a, x)).map((v) => v * scaling);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    // One element by hand: B'[1][0] = Λb[1] * B[1][0] * Λd[0] = -0.5 * 2 * 0.1.
    expect(b.data[2]).toBeCloseTo(-0.1, 7);
    expect(adapter.config).toMatchObject({ peft_type: 'LORA', task_type: 'SEQ_CLS', r: 2, lora_alpha: 2, modules_to_save: ['classifier'], base_model_name_or_path: 'prajjwal1/bert-tiny' });
    expect(adapter.config.target_modules).toEqual([INTER, OUT]);
  });

  it('writes PEFT key names and shapes into adapter_model.safetensors, zipped with the config', () => {
    const adapter = exportPeftAdapter({ variables: afloraVariables(), baseModel: 'm' });
    const files = unzipSync(zipFiles(adapter.files));
    expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const saved = parseSafetensors(files['adapter_model.safetensors']).tensors;
    expect([...saved.keys()].sort()).toEqual([
      'base_model.model.bert.encoder.layer.0.intermediate.dense.lora_A.weight',
      'base_model.model.bert.encoder.layer.0.intermediate.dense.lora_B.weight',
      'base_model.model.bert.encoder.layer.1.output.dense.lora_A.weight',
      'base_model.model.bert.encoder.layer.1.output.dense.lora_B.weight',
      'base_model.model.classifier.bias',
      'base_model.model.classifier.weight',
    ]);
    expect(saved.get('base_model.model.bert.encoder.layer.0.intermediate.dense.lora_A.weight')!.shape).toEqual([2, 3]);
    expect(JSON.parse(new TextDecoder().decode(files['adapter_config.json'])).r).toBe(2);
  });

  it('exports plain LoRA as-is with its alpha, and imports it back', () => {
    const lora: StateDict = new Map([...afloraVariables()].filter(([name]) => !name.includes('lambda')));
    expect(() => exportPeftAdapter({ variables: lora, baseModel: 'm' })).toThrow(/needs its lora_alpha/);
    const adapter = exportPeftAdapter({ variables: lora, baseModel: 'm', loraAlpha: 16 });
    expect(adapter.config.lora_alpha).toBe(16);
    const back = importPeftAdapter(adapter.files['adapter_config.json'], adapter.files['adapter_model.safetensors']);
    expect(back).toMatchObject({ r: 2, loraAlpha: 16, baseModel: 'm' });
    expect([...back.variables.keys()].sort()).toEqual([...lora.keys()].sort());
    for (const [name, tensor] of lora) expect(back.variables.get(name)).toEqual(tensor);
  });

  it('names what is missing or inconsistent', () => {
    const noHead = afloraVariables();
    noHead.delete('classifier.bias');
    expect(() => exportPeftAdapter({ variables: noHead, baseModel: 'm' })).toThrow(/classifier.bias is missing/);
    const half = afloraVariables();
    half.delete(`${OUT}.lambda_b`);
    expect(() => exportPeftAdapter({ variables: half, baseModel: 'm' })).toThrow(/only one of lambda_d/);
    expect(() => exportPeftAdapter({ variables: new Map(), baseModel: 'm' })).toThrow(/no `<module>.lora_A`/);
  });
});

describe('native AFLoRA file', () => {
  it('round-trips variables, options, run config and freeze log', () => {
    const adapter = {
      method: 'aflora',
      baseModel: 'builtin/tiny',
      options: { r: 4, sensitivity: 'grad', trainAB: 'ffn' },
      run: { totalSteps: 60, labels: ['neg', 'pos'] },
      freezeLog: { [`${INTER}.lora_A`]: 23, [`${OUT}.lora_B`]: null },
      variables: afloraVariables(),
    };
    const back = importNative(exportNative(adapter));
    expect(back).toEqual(adapter);
  });

  it('rejects files that are not native adapters', () => {
    const other = writeSafetensors(new Map([['x', t([1], [1])]]), { format: 'pt' });
    expect(() => importNative(other, 'x.safetensors')).toThrow(new RegExp(`not an AFLoRA Playground adapter .*expected ${NATIVE_FORMAT}`));
  });
});

describe('logs', () => {
  it('freeze log CSV round trip (never-frozen as empty cell)', () => {
    const records: FreezeRecord[] = [
      { name: `${INTER}.lora_A`, layer: 0, kind: 'inter', matrix: 'A', frozenAtStep: 23, stepsTrained: 24, lastScore: 1.5e-7 },
      { name: `${OUT}.lora_B`, layer: 1, kind: 'out', matrix: 'B', frozenAtStep: null, stepsTrained: 60, lastScore: null },
    ];
    const csv = freezeLogToCsv(records);
    expect(csv.split('\n')[0]).toBe('name,layer,kind,matrix,frozen_at_step,steps_trained,last_score');
    expect(csv.split('\n')[2]).toBe(`${OUT}.lora_B,1,out,B,,60,`);
    expect(freezeLogFromCsv(csv)).toEqual(records);
  });

  it('records CSV quotes text with commas and keeps numbers', () => {
    const csv = recordsToCsv([{ step: 0, loss: 0.69, note: 'warm, up' }, { step: 1, loss: 0.5, lr: 1e-3 }]);
    expect(csv.split('\n')[0]).toBe('step,loss,note,lr');
    expect(csv).toContain('"warm, up"');
    expect(csvToRecords(csv)).toEqual([
      { step: 0, loss: 0.69, note: 'warm, up', lr: null },
      { step: 1, loss: 0.5, note: null, lr: 0.001 },
    ]);
  });
});

describe('peftCheckInputs', () => {
  it('writes row-major arrays as nested lists', async () => {
    const { peftCheckInputs } = await import('../../src/io/export/peft');
    const json = JSON.parse(
      peftCheckInputs({ numLabels: 2, seqLen: 3, inputIds: Int32Array.of(2, 5, 3, 2, 6, 3), tokenTypeIds: new Int32Array(6), attentionMask: Int32Array.of(1, 1, 1, 1, 1, 0), logits: Float32Array.of(0.5, -0.5, 1, 2) }),
    );
    expect(json).toEqual({ num_labels: 2, input_ids: [[2, 5, 3], [2, 6, 3]], token_type_ids: [[0, 0, 0], [0, 0, 0]], attention_mask: [[1, 1, 1], [1, 1, 0]], logits: [[0.5, -0.5], [1, 2]] });
  });
});

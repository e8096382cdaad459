/**
 * The worker's command handling end to end in Node (cpu backend, a tiny random BERT from "disk"): the data is
 * parsed once and previewed, a run config starts a run that the run owner drives to its end, the method's events
 * arrive as protocol events, and the exports carry the run config and the method's own freeze record.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { strFromU8, unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../src/engine/errors';
import { Trainer } from '../../src/engine/trainer';
import { parseBertConfig } from '../../src/engine/config';
import { randomBertWeights } from '../../src/engine/weights';
import { importNative } from '../../src/io/export/native';
import { readAdapterFiles } from '../../src/io/export/import';
import { parseSafetensors, toStateDict, writeSafetensors } from '../../src/io/safetensors';
import type { Command, DataPreview, WorkerEvent } from '../../src/worker/protocol';
import { buildRunConfig, type RunConfig } from '../../src/worker/run-config';
import { Run } from '../../src/worker/run';
import { Session } from '../../src/worker/session';
import { LIMITS } from '../../src/io/limits';

const TINY_CSV = readFileSync(join(__dirname, '..', 'fixtures', 'e2e', 'tiny.csv'), 'utf8');

function modelFiles(): File[] {
  return modelFilesFor({});
}

function modelFilesFor(overrides: Record<string, unknown>, poison?: (weights: ReturnType<typeof randomBertWeights>) => void): File[] {
  const words = [...new Set(TINY_CSV.toLowerCase().match(/[a-z]+/g))].sort();
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words];
  const config = {
    model_type: 'bert',
    vocab_size: vocab.length,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 32,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    ...overrides,
  };
  const weights = randomBertWeights(parseBertConfig(config), 3);
  poison?.(weights);
  return [
    new File([JSON.stringify(config)], 'config.json'),
    new File([writeSafetensors(weights) as Uint8Array<ArrayBuffer>], 'model.safetensors'),
    new File([vocab.join('\n') + '\n'], 'vocab.txt'),
  ];
}

function session() {
  const events: WorkerEvent[] = [];
  const s = new Session((e) => events.push(e));
  const send = async (command: Command) => {
    const from = events.length;
    await s.handle(command);
    return events.slice(from);
  };
  return { send, events };
}

const SPLIT = { validationFraction: 0.25, validationSeed: 42 };

function only<T extends WorkerEvent['type']>(events: WorkerEvent[], type: T): Extract<WorkerEvent, { type: T }>[] {
  return events.filter((e): e is Extract<WorkerEvent, { type: T }> => e.type === type);
}

function configOf(preview: DataPreview, overrides: { method?: string; options?: object; recipe?: object; labelNames?: string[] } = {}): RunConfig {
  return buildRunConfig({
    method: overrides.method ?? 'aflora',
    // Masking from step 3 on and every step of the last half: freezes within 8 steps.
    options: overrides.options ?? { initialWarmup: 2, finalWarmup: 4, deltaT: 1 },
    recipe: { epochs: 2, batchSize: 4, maxLength: 16, logEvery: 1, ...overrides.recipe },
    split: SPLIT,
    model: { name: 'local files', hubId: null, revision: null },
    data: { name: preview.name, train: preview.files.train, validation: preview.files.validation, columns: preview.mapping!, task: preview.task, labels: preview.labels.map((l) => l.name), labelNames: overrides.labelNames },
  });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('worker session', () => {
  it('parses the data once and answers with a preview: mapping, rows, labels, problems by line, usable', async () => {
    const { send } = session();
    const [event] = await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    if (event.type !== 'dataPreview') throw new Error(`got ${event.type}`);
    const preview = event.preview;
    expect(preview.mapping).toEqual({ text: 'text', textPair: null, label: 'label' });
    expect(preview.rows[0]).toEqual({ line: 2, cells: ['what a wonderful sunny day', 'positive'] });
    expect([preview.trainRows, preview.validationRows]).toEqual([17, 6]);
    expect(preview.labels.map((l) => [l.name, l.train + l.validation])).toEqual([['negative', 12], ['positive', 11]]);
    expect(preview.problems).toEqual([{ file: 'tiny.csv', line: 13, message: 'label missing in column "label"' }]);
    expect(preview.notes).toEqual([]);
    expect(preview.usable).toBe(true);

    // Another mapping of the same file: one class only is the one rule's "not usable", with the reason.
    const [remapped] = await send({ type: 'mapData', columns: { text: 'label', textPair: null, label: 'text' }, task: 'regression', split: SPLIT });
    if (remapped.type !== 'dataPreview') throw new Error(`got ${remapped.type}`);
    expect(remapped.preview.usable).toBe(false);
    expect(remapped.preview.reason).toMatch(/usable training row/);
  });

  it('detects the encoding of a file (a Latin-1 file is not mojibake), reads it again with the one chosen, and keeps notes apart from problems', async () => {
    const { send } = session();
    // Windows-1252 bytes, no header row (AG News style): "café" would be "caf\uFFFD" as UTF-8.
    const latin1 = Uint8Array.from([...'caf'].map((c) => c.charCodeAt(0)).concat([0xe9, 0x2c, 0x31, 0x0a], [...'bad tea,0\ngood day,1\nsad rain,0\n'].map((c) => c.charCodeAt(0))));
    const data = { name: 'ag', train: { name: 'ag.csv', blob: new Blob([latin1]) }, validation: null };
    const [first] = only(await send({ type: 'loadData', data, columns: null, task: null, split: SPLIT }), 'dataPreview');
    expect(first.preview.rows[0].cells[0]).toBe('café');
    expect(first.preview.encodingUsed).toBe('windows-1252');
    expect(first.preview.encoding.train).toMatch(/^Windows-1252 \/ Latin-1 \(the file is not valid UTF-8/);
    // No header row is a note: nothing was skipped.
    expect(first.preview.notes).toEqual([expect.stringMatching(/^ag.csv: no header row detected/)]);
    expect(first.preview.problems).toEqual([]);
    const [forced] = only(await send({ type: 'loadData', data: { ...data, encoding: 'utf-8' }, columns: null, task: null, split: SPLIT }), 'dataPreview');
    expect(forced.preview.rows[0].cells[0]).toBe('caf\uFFFD');
    expect(forced.preview.encoding.train).toMatch(/^UTF-8 \(chosen\): 1 character\(s\) did not decode/);
  });

  it('leaves no data loaded after a file that cannot be read, so no run starts on the previous one', async () => {
    const { send } = session();
    await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    const huge = { size: 60 * 1024 * 1024 } as Blob;
    const [error] = only(await send({ type: 'loadData', data: { name: 'big', train: { name: 'big.csv', blob: huge }, validation: null }, columns: null, task: null, split: SPLIT }), 'error');
    expect(error).toMatchObject({ kind: 'bad-input', message: 'big.csv is 60 MB; the limit is 50 MB.' });
    const [again] = only(await send({ type: 'mapData', columns: { text: 'text', textPair: null, label: 'label' }, task: 'classification', split: SPLIT }), 'error');
    expect(again.message).toBe('No data is loaded.');
  });

  it('runs a config to the end: plan, metrics, scores, freezes, evaluations; exports carry the config', { timeout: 120_000 }, async () => {
    const { send } = session();
    expect((await send({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } })).map((e) => e.type)).toContain('modelLoaded');
    const [loaded] = await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    const config = configOf((loaded as Extract<WorkerEvent, { type: 'dataPreview' }>).preview, { labelNames: ['NEGATIVE', 'POSITIVE'] });
    const events = await send({ type: 'start', config });

    const [started] = only(events, 'started');
    expect(started.plan).toMatchObject({ method: 'aflora', totalSteps: 10, stepsPerEpoch: 5, exports: ['peft', 'native', 'pytorch'] });
    expect(started.plan.cells).toHaveLength(8); // FFN A/B of 2 layers
    const steps = only(events, 'stepMetrics').flatMap((e) => Array.from(e.batch.step));
    expect(steps).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(only(events, 'evaluation').map((e) => e.epoch)).toEqual([0, 1]);
    expect(only(events, 'values').every((e) => e.snapshots.every((s) => s.series === 'score' && s.names.length === s.values.length))).toBe(true);
    const freezes = only(events, 'freeze').flatMap((e) => e.entries);
    expect(freezes.length).toBeGreaterThan(0);
    expect(only(events, 'finished')).toEqual([expect.objectContaining({ reason: 'completed', step: 9 })]);
    expect(only(events, 'error')).toEqual([]);

    const [exported] = only(await send({ type: 'export', format: 'native' }), 'exported');
    const native = importNative(exported.files[0].bytes);
    expect(native.run).toEqual(config);
    // The freeze log is the method's own record, and agrees with the freeze events.
    const logged = Object.entries(native.freezeLog).filter(([, step]) => step !== null);
    expect(Object.fromEntries(logged)).toEqual(Object.fromEntries(freezes.map((f) => [f.name, f.step])));
    const [peft] = only(await send({ type: 'export', format: 'peft' }), 'exported');
    // A model not on the Hub goes with the adapter in Hugging Face layout (base/), which the adapter names.
    expect(peft.files.map((f) => f.name).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'base/config.json', 'base/model.safetensors', 'base/vocab.txt']);
    const file = (name: string) => peft.files.find((f) => f.name === name)!.bytes;
    // The class names as the user gave them, as transformers' config carries them; the import reads them back.
    const adapterConfig = JSON.parse(strFromU8(file('adapter_config.json')));
    expect(adapterConfig).toMatchObject({ id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' }, label2id: { NEGATIVE: 0, POSITIVE: 1 }, base_model_name_or_path: 'base' });
    const baseConfig = JSON.parse(strFromU8(file('base/config.json')));
    expect(baseConfig).toMatchObject({ num_labels: 2, id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' }, label2id: { NEGATIVE: 0, POSITIVE: 1 }, hidden_size: expect.any(Number) });
    const given = new Map(modelFiles().map((f) => [f.name, f]));
    expect(file('base/model.safetensors')).toEqual(new Uint8Array(await given.get('model.safetensors')!.arrayBuffer()));
    const reimported = readAdapterFiles(peft.files.filter((f) => !f.name.startsWith('base/')).map((f) => ({ name: f.name, bytes: f.bytes })));
    expect(reimported.format === 'peft' && reimported.labels).toEqual(['NEGATIVE', 'POSITIVE']);
    // The PyTorch project: the config, the data as loaded, the model read from disk (not on the Hub), the package.
    const [project] = only(await send({ type: 'export', format: 'pytorch' }), 'exported');
    expect(project.files.map((f) => f.name)).toEqual(['aflora-tiny-pytorch.zip']);
    const zipped = unzipSync(project.files[0].bytes);
    const text = (path: string) => strFromU8(zipped[`aflora-tiny/${path}`]);
    expect(JSON.parse(text('run.json'))).toEqual(config);
    expect(text('tiny.csv')).toBe(TINY_CSV);
    expect(Object.keys(zipped).filter((p) => p.startsWith('aflora-tiny/model/')).sort()).toEqual(
      ['config.json', 'model.safetensors', 'vocab.txt'].map((f) => `aflora-tiny/model/${f}`),
    );
    expect(text('peft_playground/train.py')).toContain('def main(');
    expect(text('README.md')).toContain('accelerate launch -m peft_playground.train --config run.json');

    const [prediction] = only(await send({ type: 'predict', requestId: 7, text: 'a happy day' }), 'prediction');
    expect(prediction.requestId).toBe(7);
    // The names the user gave the classes (here: upper case) are what predictions show.
    expect(prediction.labels).toEqual(['NEGATIVE', 'POSITIVE']);
    expect(prediction.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('stops at a NaN, says why, and keeps and exports the last good adapter (here: the initial one)', { timeout: 120_000 }, async () => {
    const { send } = session();
    const files = modelFilesFor({}, (weights) => weights.get('bert.encoder.layer.0.output.dense.weight')!.data.fill(Number.POSITIVE_INFINITY, 0, 2));
    await send({ type: 'loadModel', source: { kind: 'files', files } });
    const [loaded] = only(await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT }), 'dataPreview');
    const events = await send({ type: 'start', config: configOf(loaded.preview, { method: 'lora', options: {} }) });
    const [error] = only(events, 'error');
    expect(error.kind).toBe('numerical');
    expect(error.message).toMatch(/^The loss became NaN at step 0\. Training stopped; the adapter as it was before the first step is restored: Export writes it\.$/);
    expect(error.hint).toMatch(/^The model's weights hold non-finite values \(2 in bert\.encoder\.layer\.0\.output\.dense\.weight\)/);
    expect(only(events, 'finished')).toEqual([expect.objectContaining({ reason: 'failed', step: 0 })]);
    expect(only(events, 'evaluation')).toEqual([]);
    // Its weights are kept with the run, and Export writes them: finite, LoRA's B still zero.
    const [kept] = only(events, 'trainedWeights');
    const [exported] = only(await send({ type: 'export', format: 'native' }), 'exported');
    expect(exported.files[0].bytes).toEqual(kept.file);
    const variables = importNative(exported.files[0].bytes).variables;
    expect([...variables.values()].every((t) => t.data.every(Number.isFinite))).toBe(true);
    const bs = [...variables].filter(([name]) => name.endsWith('lora_B'));
    expect(bs.length).toBeGreaterThan(0);
    expect(bs.every(([, t]) => t.data.every((v) => v === 0))).toBe(true);
  });

  it('reports a NaN that a method trips over before the next read (AFLoRA masking on NaN scores) as the NaN, restoring the last good adapter', { timeout: 120_000 }, async () => {
    const { send } = session();
    await send({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } });
    const [loaded] = only(await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT }), 'dataPreview');
    // Step 3 goes NaN (a weight turned NaN) and the method throws on it inside the step, as AFLoRA's maskingRound does.
    const original = Trainer.prototype.step;
    const stepSpy = vi.spyOn(Trainer.prototype, 'step').mockImplementation(async function (this: Trainer) {
      const at = this.stepsDone;
      if (at === 3) {
        const bias = this.trainableEntries().find((e) => e.name === 'classifier.bias')!.variable;
        bias.assign(tf.fill(bias.shape, Number.NaN));
      }
      const events = await original.call(this);
      if (at === 3) throw new InputError("AFLoRA's freezing score became NaN at step 3", 'Training diverged.');
      return events;
    });
    try {
      const events = await send({ type: 'start', config: configOf(loaded.preview) });
      const [error] = only(events, 'error');
      expect(error.kind).toBe('numerical');
      expect(error.message).toBe('The loss became NaN at step 3. Training stopped; the adapter after 3 steps (the last state checked finite) is restored: Export writes it.');
      expect(only(events, 'stepMetrics').flatMap((e) => Array.from(e.batch.step))).toEqual([0, 1, 2, 3]);
      expect(only(events, 'trainedWeights')).toHaveLength(1);
    } finally {
      stepSpy.mockRestore();
    }
  });

  it('reports ms/step without the first step (compile) and without evaluations; the run time keeps both', { timeout: 120_000 }, async () => {
    const { send } = session();
    await send({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } });
    const [loaded] = only(await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT }), 'dataPreview');
    // The worker's clock, advanced by hand: 10 ms per step, 2 s more for the first step (as a kernel compile) and
    // for each evaluation (at steps 5 and 10).
    let clock = 0;
    const DELAY = 2000;
    const nowSpy = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const step = Trainer.prototype.step;
    const evaluate = Trainer.prototype.evaluate;
    const stepSpy = vi.spyOn(Trainer.prototype, 'step').mockImplementation(async function (this: Trainer) {
      clock += this.stepsDone === 0 ? DELAY + 10 : 10;
      return step.call(this);
    });
    const evalSpy = vi.spyOn(Trainer.prototype, 'evaluate').mockImplementation(async function (this: Trainer, ...args) {
      clock += DELAY;
      return evaluate.apply(this, args);
    });
    try {
      const [finished] = only(await send({ type: 'start', config: configOf(loaded.preview) }), 'finished');
      expect(evalSpy).toHaveBeenCalledTimes(2);
      expect(finished.seconds).toBeCloseTo((3 * DELAY + 10 * 10) / 1000, 9); // the run's time has it all
      expect(finished.msPerStep).toBeCloseTo(10, 9); // steps 2..10 alone
    } finally {
      nowSpy.mockRestore();
      stepSpy.mockRestore();
      evalSpy.mockRestore();
    }
  });

  it('refuses a config that is not for the loaded data or model, or does not parse, with a bad-input error', async () => {
    const { send } = session();
    await send({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } });
    const [loaded] = await send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    const config = configOf((loaded as Extract<WorkerEvent, { type: 'dataPreview' }>).preview);
    const errors = async (bad: unknown) => only(await send({ type: 'start', config: bad as RunConfig }), 'error').map((e) => `${e.kind}: ${e.message}`);
    expect(await errors({ ...config, data: { ...config.data, train: 'other.csv' } })).toEqual(['bad-input: The run is for other.csv, but tiny.csv is loaded.']);
    expect(await errors({ ...config, model: { ...config.model, name: 'bert-base-uncased' } })).toEqual([expect.stringMatching(/^bad-input: The run is for bert-base-uncased/)]);
    expect(await errors({ ...config, recipe: { ...config.recipe, batchSize: 0 } })).toEqual([expect.stringMatching(/^bad-input: run config: recipe.batchSize must be in \[1, 512\]/)]);
    expect(await errors({ ...config, data: { ...config.data, labels: ['a', 'b'] } })).toEqual([expect.stringMatching(/^bad-input: The run expects classes a, b/)]);
    const execution = only(await send({ type: 'start', config, execution: 'fastest' as never }), 'error').map((e) => `${e.kind}: ${e.message}`);
    expect(execution).toEqual(['bad-input: step setting: execution must be one of replayed, engine, plain (got fastest)']);
  });

  it('shows its phases, reads the first two steps for an early ETA, evaluates every N steps and on demand', { timeout: 120_000 }, async () => {
    const events: WorkerEvent[] = [];
    let asked = false;
    const s = new Session((e) => {
      events.push(e);
      // "Evaluate now" after the pass at step 5: it runs after the next step, not at the next scheduled pass.
      if (!asked && e.type === 'evaluation' && e.step === 5) {
        asked = true;
        void s.handle({ type: 'evaluate' });
      }
    });
    await s.handle({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } });
    await s.handle({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    const preview = only(events, 'dataPreview')[0].preview;
    const from = events.length;
    await s.handle({ type: 'start', config: configOf(preview, { recipe: { logEvery: 5, evalEvery: 3 } }) });
    const run = events.slice(from);
    // 10 steps, 5 per epoch: evaluations every 3 steps (2, 5, 8), at the epoch ends (4, 9) and the one asked for (6).
    expect(only(run, 'evaluation').map((e) => e.step)).toEqual([2, 4, 5, 6, 8, 9]);
    // Compiling until the first step is read back; steps 0 and 1 are read at once (the page's first rate).
    const phases = run.filter((e) => e.type === 'progress' || e.type === 'stepMetrics').map((e) => (e.type === 'progress' ? `${e.phase}:${e.done}` : `metrics:${Array.from(e.batch.step).join(',')}`));
    expect(phases.slice(0, 7)).toEqual(['tokenize:0', 'tokenize:23', 'compile:0', 'compile:1', 'metrics:0', 'train:1', 'metrics:1']);
    expect(phases).toContain('evaluate:0');
    expect(only(run, 'finished')).toEqual([expect.objectContaining({ reason: 'completed', step: 9 })]);
  });

  it('resumes an interrupted run from its checkpoint exactly as if it had not stopped; a pause checkpoints too; other rows or weights are refused', { timeout: 180_000 }, async () => {
    // Dropout on, shuffling on (the default), AFLoRA masking rounds in both halves: 15 steps, 5 per epoch.
    const dropout = { hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 };
    const data = { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null };
    const prepare = async (s: Session, events: WorkerEvent[], files = modelFilesFor(dropout)) => {
      await s.handle({ type: 'loadModel', source: { kind: 'files', files } });
      await s.handle({ type: 'loadData', data, columns: null, task: null, split: SPLIT });
      return only(events, 'dataPreview').at(-1)!.preview;
    };
    const recipe = { epochs: 3, logEvery: 3 };
    const trace = (events: WorkerEvent[], from: number) => ({
      losses: only(events, 'stepMetrics').flatMap((e) => Array.from(e.batch.step, (step, i) => [step, e.batch.loss[i]])).filter(([step]) => step >= from),
      freezes: only(events, 'freeze').flatMap((e) => e.entries).filter((f) => f.step >= from),
      evaluations: only(events, 'evaluation').filter((e) => e.step >= from),
      weights: only(events, 'trainedWeights').map((e) => e.file),
      finished: only(events, 'finished').map(({ reason, step }) => ({ reason, step })),
    });

    // Straight through, paused once mid-epoch while step 6's metrics are still unread, then resumed.
    const straightEvents: WorkerEvent[] = [];
    let paused = false;
    const straight: Session = new Session((e) => {
      straightEvents.push(e);
      if (!paused && e.type === 'values' && e.snapshots.some((v) => v.step === 6)) {
        paused = true;
        void straight.handle({ type: 'pause' });
      }
      if (e.type === 'paused') void straight.handle({ type: 'resume' });
    }, Infinity);
    const preview = await prepare(straight, straightEvents);
    expect(preview.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const config = configOf(preview, { recipe });
    await straight.handle({ type: 'start', config });
    expect(only(straightEvents, 'error')).toEqual([]);
    // Epoch ends (after steps 5 and 10) and the pause (after step 7: step 6 read first); none at the end.
    const checkpoints = only(straightEvents, 'checkpoint').map((e) => e.checkpoint);
    expect(checkpoints.map((c) => c.trainer.step)).toEqual([5, 7, 10]);
    const [modelLoaded] = only(straightEvents, 'modelLoaded');
    expect(checkpoints.every((c) => c.model === modelLoaded.info.fingerprint && c.data === preview.fingerprint)).toBe(true);
    const pausedAt = only(straightEvents, 'paused')[0].step;
    expect(pausedAt).toBe(7);
    expect(only(straightEvents, 'stepMetrics').flatMap((e) => Array.from(e.batch.step)), 'every step read once, in order').toEqual(Array.from({ length: 15 }, (_, i) => i));

    for (const checkpoint of [checkpoints[0], checkpoints[1]]) {
      // A fresh worker after a reload: the checkpoint as IndexedDB gives it back (a structured clone).
      const events: WorkerEvent[] = [];
      const resumed = new Session((e) => events.push(e), Infinity);
      await prepare(resumed, events);
      const from = events.length;
      await resumed.handle({ type: 'resumeRun', config, checkpoint: structuredClone(checkpoint) });
      const run = events.slice(from);
      expect(only(run, 'error')).toEqual([]);
      const k = checkpoint.trainer.step;
      expect(only(run, 'stepMetrics')[0].batch.step[0], 'it continues with the next step').toBe(k);
      // Losses, freezes, evaluations, the end and the trained weights (native file: variables, config, freeze log) are identical.
      expect(trace(run, k)).toEqual(trace(straightEvents, k));
      expect(only(run, 'finished')[0].seconds).toBeGreaterThan(checkpoint.seconds);
    }

    // Other rows (another validation split), or other weights of the same shape: refused with what to load.
    const otherRows: WorkerEvent[] = [];
    const s1 = new Session((e) => otherRows.push(e), Infinity);
    await prepare(s1, otherRows);
    await s1.handle({ type: 'mapData', columns: preview.mapping!, task: preview.task, split: { validationFraction: 0.25, validationSeed: 7 } });
    expect(only(otherRows, 'dataPreview').at(-1)!.preview.fingerprint).not.toBe(preview.fingerprint);
    await s1.handle({ type: 'resumeRun', config: { ...config, data: { ...config.data, validationSeed: 7 } }, checkpoint: checkpoints[1] });
    expect(only(otherRows, 'error').map((e) => `${e.kind}: ${e.message} ${e.hint}`)).toEqual([
      'bad-input: The loaded tiny.csv has other rows than the interrupted run trained on. Load the same data file (same rows, mapping and validation split) to resume it.',
    ]);
    const otherModel: WorkerEvent[] = [];
    const s2 = new Session((e) => otherModel.push(e), Infinity);
    await prepare(s2, otherModel, modelFilesFor(dropout, (weights) => [...weights.values()][0].data.fill(0.5)));
    await s2.handle({ type: 'resumeRun', config, checkpoint: checkpoints[1] });
    expect(only(otherModel, 'error').map((e) => e.message)).toEqual(['The interrupted run was training on other weights than the loaded local files.']);
    expect(only([...otherRows, ...otherModel], 'started')).toEqual([]);
  });

  it('refuses to checkpoint a run over the size limit once, saying a reload would lose it, and trains on', { timeout: 120_000 }, async () => {
    const events: WorkerEvent[] = [];
    const s = new Session((e) => events.push(e), 0);
    await s.handle({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } });
    await s.handle({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    const limit = LIMITS.checkpointBytes as { value: number };
    const value = limit.value;
    // Full fine-tuning of the tiny model: every weight and two moments each, far over a 64 kB limit.
    limit.value = 64 * 1024;
    try {
      await s.handle({ type: 'start', config: configOf(only(events, 'dataPreview')[0].preview, { method: 'full', options: {} }) });
    } finally {
      limit.value = value;
    }
    expect(only(events, 'checkpoint')).toEqual([]);
    const refused = only(events, 'checkpointRefused');
    expect(refused).toHaveLength(1);
    expect(refused[0].error.kind).toBe('limit-exceeded');
    expect(refused[0].error.message).toBe("a running run's checkpoint for resume after a reload (trained values and AdamW moments) is 78,744 bytes; the limit is 65,536 bytes.");
    expect(refused[0].error.hint).toMatch(/^Keep this tab open until the run ends: a reload loses it/);
    expect(only(events, 'finished')).toEqual([expect.objectContaining({ reason: 'completed', step: 9 })]);
  });

  it('stops between the batches of an evaluation when Stop arrives during it', { timeout: 120_000 }, async () => {
    const events: WorkerEvent[] = [];
    const s = new Session((e) => {
      events.push(e);
      if (e.type === 'progress' && e.phase === 'evaluate' && e.done === 0 && e.total > 0) void s.handle({ type: 'stop' });
    });
    await s.handle({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } });
    await s.handle({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    await s.handle({ type: 'start', config: configOf(only(events, 'dataPreview')[0].preview) });
    // The first evaluation (step 4: 6 validation rows, 2 batches of 4) was cut after its first batch.
    expect(only(events, 'evaluation')).toEqual([]);
    expect(only(events, 'finished')).toEqual([expect.objectContaining({ reason: 'stopped', step: 4 })]);
    expect(only(events, 'error')).toEqual([]);
  });

  it('imports an exported adapter (native file, PEFT zip) onto the model: the same predictions; a misfit says why', { timeout: 120_000 }, async () => {
    const model = modelFiles();
    const trained = session();
    await trained.send({ type: 'loadModel', source: { kind: 'files', files: model } });
    const [loaded] = await trained.send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    const config = configOf((loaded as Extract<WorkerEvent, { type: 'dataPreview' }>).preview, { method: 'lora', options: { r: 2, targetModules: ['query', 'value'] }, labelNames: ['bad', 'good'] });
    await trained.send({ type: 'start', config });
    const predict = async (s: ReturnType<typeof session>) => only(await s.send({ type: 'predict', requestId: 1, text: 'a happy sunny day' }), 'prediction')[0];
    const expected = await predict(trained);
    const [native] = only(await trained.send({ type: 'export', format: 'native' }), 'exported');
    const [peft] = only(await trained.send({ type: 'export', format: 'peft' }), 'exported');
    const zip = zipSync(Object.fromEntries(peft.files.map((f) => [f.name, f.bytes])));

    for (const files of [[new File([native.files[0].bytes as Uint8Array<ArrayBuffer>], native.files[0].name)], [new File([zip], 'run-peft-adapter.zip')]]) {
      const fresh = session();
      await fresh.send({ type: 'loadModel', source: { kind: 'files', files: model } });
      const events = await fresh.send({ type: 'importAdapter', files });
      expect(only(events, 'error')).toEqual([]);
      const [imported] = only(events, 'adapterImported');
      expect(imported.config.method).toMatchObject({ id: 'lora', options: { r: 2, targetModules: ['query', 'value'] } });
      const got = await predict(fresh);
      // Both keep the class names (PEFT's as id2label in adapter_config.json).
      expect(got.labels).toEqual(['bad', 'good']);
      got.probabilities.forEach((p, i) => expect(p).toBeCloseTo(expected.probabilities[i], 5));
    }

    // A PEFT adapter of layer 0 only: LoRA here adapts every layer, so layer 1's matrices are missing, and it says so.
    const onlyLayer0 = new Map([...toStateDict(parseSafetensors(peft.files[1].bytes, 'x').tensors)].filter(([name]) => !name.includes('layer.1.')));
    const partialZip = zipSync({ 'adapter_config.json': peft.files[0].bytes, 'adapter_model.safetensors': writeSafetensors(onlyLayer0) });
    const partial = session();
    await partial.send({ type: 'loadModel', source: { kind: 'files', files: model } });
    const [misfit] = only(await partial.send({ type: 'importAdapter', files: [new File([partialZip], 'partial.zip')] }), 'error');
    expect(misfit).toMatchObject({ kind: 'bad-input', message: expect.stringMatching(/^adapter_model.safetensors does not fit lora on this model: it lacks bert.encoder.layer.1.attention.self.query.lora_A, /) });
    expect(only(await partial.send({ type: 'predict', requestId: 2, text: 'x' }), 'error')[0].message).toBe('No trained model yet.');

    // A model of another size: the adapter does not fit, and the message says so (nothing is replaced).
    const other = session();
    const bigger = JSON.parse(await model[0].text());
    await other.send({ type: 'loadModel', source: { kind: 'files', files: [new File([JSON.stringify({ ...bigger, hidden_size: 8, intermediate_size: 16 })], 'config.json'), ...modelFilesFor({ ...bigger, hidden_size: 8, intermediate_size: 16 }).slice(1)] } });
    const [error] = only(await other.send({ type: 'importAdapter', files: [new File([zip], 'run-peft-adapter.zip')] }), 'error');
    expect(error).toMatchObject({ kind: 'bad-input' });
    expect(error.message).toMatch(/^adapter_model.safetensors does not fit local files: initial value of bert.encoder.layer.0.attention.self.query.lora_A has 32 values, expected \[2, 8\]\.$/);
    expect(error.hint).toMatch(/trained on another model/);
  });

  it('sends a finished run its weights to keep; after a "reload" they go back onto the same model only (same predictions), with a clear refusal otherwise', { timeout: 120_000 }, async () => {
    const model = modelFiles();
    const trained = session();
    const [modelEvent] = only(await trained.send({ type: 'loadModel', source: { kind: 'files', files: model } }), 'modelLoaded');
    expect(modelEvent.info.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const [loaded] = await trained.send({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
    const config = configOf((loaded as Extract<WorkerEvent, { type: 'dataPreview' }>).preview, { labelNames: ['bad', 'good'] });
    const events = await trained.send({ type: 'start', config });
    // After 'finished' (the page saves the run on it), the weights follow, with the model's fingerprint.
    const types = events.map((e) => e.type);
    expect(types.indexOf('trainedWeights')).toBe(types.indexOf('finished') + 1);
    const [kept] = only(events, 'trainedWeights');
    expect(kept.fingerprint).toBe(modelEvent.info.fingerprint);
    expect(importNative(kept.file).run).toEqual(config);
    const predict = async (s: ReturnType<typeof session>) => only(await s.send({ type: 'predict', requestId: 1, text: 'a happy sunny day' }), 'prediction')[0];
    const expected = await predict(trained);
    const [exported] = only(await trained.send({ type: 'export', format: 'native' }), 'exported');

    // A fresh worker (the page reloaded) with the same model files: the same fingerprint, the same predictions and export.
    const fresh = session();
    const [again] = only(await fresh.send({ type: 'loadModel', source: { kind: 'files', files: model } }), 'modelLoaded');
    expect(again.info.fingerprint).toBe(modelEvent.info.fingerprint);
    const restored = await fresh.send({ type: 'restoreWeights', runId: 'run-1', file: kept.file, fingerprint: kept.fingerprint });
    expect(only(restored, 'error')).toEqual([]);
    expect(only(restored, 'weightsRestored')[0]).toMatchObject({ runId: 'run-1', plan: { method: 'aflora' } });
    const got = await predict(fresh);
    expect(got.labels).toEqual(['bad', 'good']);
    got.probabilities.forEach((p, i) => expect(p).toBeCloseTo(expected.probabilities[i], 6));
    const [reExported] = only(await fresh.send({ type: 'export', format: 'native' }), 'exported');
    expect(importNative(reExported.files[0].bytes).variables).toEqual(importNative(exported.files[0].bytes).variables);

    // Another model of the same shape (other random weights): another fingerprint, refused with what to load.
    const other = session();
    const config0 = JSON.parse(await model[0].text());
    const otherWeights = writeSafetensors(randomBertWeights(parseBertConfig(config0), 4)) as Uint8Array<ArrayBuffer>;
    const [otherModel] = only(await other.send({ type: 'loadModel', source: { kind: 'files', files: [model[0], new File([otherWeights], 'model.safetensors'), model[2]] } }), 'modelLoaded');
    expect(otherModel.info.fingerprint).not.toBe(kept.fingerprint);
    const [refused] = only(await other.send({ type: 'restoreWeights', runId: 'run-1', file: kept.file, fingerprint: kept.fingerprint }), 'error');
    expect(refused).toMatchObject({ kind: 'bad-input', message: 'This run was trained on local files; the loaded local files has other weights.', hint: 'Load local files (the same files) to export or try this run.' });
    expect(only(await other.send({ type: 'predict', requestId: 2, text: 'x' }), 'error')[0].hint).toBe('Train a run first.');
  });

  it('a run started while a kept run\'s weights are still being restored trains on: the restore does not replace it', { timeout: 120_000 }, async () => {
    // The page after a reload: it restores the shown run's weights as soon as the model is loaded, and the user
    // resumes (or starts) a run before that restore has finished. Before: the restore disposed the training run
    // ("Cannot read properties of undefined (reading 'backend')" at its next step; the compare e2e's resumed cell).
    const model = modelFiles();
    const first = session();
    only(await first.send({ type: 'loadModel', source: { kind: 'files', files: model } }), 'modelLoaded');
    const data = { type: 'loadData' as const, data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT };
    const [loaded] = await first.send(data);
    const config = configOf((loaded as Extract<WorkerEvent, { type: 'dataPreview' }>).preview, { recipe: { epochs: 1 } });
    const [kept] = only(await first.send({ type: 'start', config }), 'trainedWeights');

    const page = session();
    only(await page.send({ type: 'loadModel', source: { kind: 'files', files: model } }), 'modelLoaded');
    await page.send(data);
    const from = page.events.length;
    const restoring = page.send({ type: 'restoreWeights', runId: 'run-1', file: kept.file, fingerprint: kept.fingerprint });
    const training = page.send({ type: 'start', config: { ...config, recipe: { ...config.recipe, seed: 7 } } });
    await Promise.all([restoring, training]);
    const events = page.events.slice(from);
    expect(only(events, 'error')).toEqual([]);
    expect(only(events, 'finished').map((e) => e.reason)).toEqual(['completed']);
    expect(only(events, 'trainedWeights')).toHaveLength(1);
    // The run that trained is the worker's now (predictions come from it, not from the restored one).
    expect(only(await page.send({ type: 'predict', requestId: 1, text: 'a happy day' }), 'prediction')).toHaveLength(1);
  });

  it('runs overlapping set-up commands one after another: a start sent with the model load trains on it; a second Train is refused', { timeout: 120_000 }, async () => {
    const { send, events } = session();
    const data = { type: 'loadData' as const, data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT };
    const [loaded] = await send(data);
    const config = configOf((loaded as Extract<WorkerEvent, { type: 'dataPreview' }>).preview, { recipe: { epochs: 1 } });
    // Sent together, none awaited: the start waits for the load before it looks for a model; the second start
    // waits for the first to be under way, and is refused instead of building a second run beside it.
    await Promise.all([
      send({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } }),
      send({ type: 'start', config }),
      send({ type: 'start', config }),
    ]);
    expect(only(events, 'modelLoaded')).toHaveLength(1);
    expect(only(events, 'started')).toHaveLength(1);
    expect(only(events, 'error').map((e) => e.message)).toEqual(['A run is already in progress.']);
    expect(only(events, 'finished').map((e) => e.reason)).toEqual(['completed']);
  });

  it('keeps each run\'s trained weights when the next run starts as soon as one finishes (a comparison grid)', { timeout: 120_000 }, async () => {
    const events: WorkerEvent[] = [];
    let next: Promise<void> | null = null;
    let config: RunConfig | null = null;
    const s = new Session((e) => {
      events.push(e);
      // The page starts the grid's next run on 'finished', before the worker has read the last one's weights back.
      if (e.type === 'finished' && !next) next = s.handle({ type: 'start', config: config! });
    });
    // On a GPU the read waits for the device (mapAsync); the cpu backend answers at once, so give it that wait.
    const read = Run.prototype.exportFiles;
    const exportSpy = vi.spyOn(Run.prototype, 'exportFiles').mockImplementation(async function (this: Run, ...args) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return read.apply(this, args);
    });
    try {
      await s.handle({ type: 'loadModel', source: { kind: 'files', files: modelFiles() } });
      await s.handle({ type: 'loadData', data: { name: 'tiny', train: { name: 'tiny.csv', text: TINY_CSV }, validation: null }, columns: null, task: null, split: SPLIT });
      config = configOf(only(events, 'dataPreview')[0].preview, { recipe: { epochs: 1 } });
      await s.handle({ type: 'start', config });
      await next;
    } finally {
      exportSpy.mockRestore();
    }
    expect(only(events, 'finished').map((e) => e.reason)).toEqual(['completed', 'completed']);
    expect(only(events, 'trainedWeights')).toHaveLength(2);
    expect(only(events, 'error')).toEqual([]);
  });

  it('refuses to start after the GPU was lost, saying so', async () => {
    const lost: WorkerEvent[] = [];
    const dead = new Session((e) => lost.push(e));
    dead.loseDevice();
    await dead.handle({ type: 'start', config: {} as RunConfig });
    expect(lost).toEqual([expect.objectContaining({ type: 'error', kind: 'device-lost', message: 'The GPU device was lost earlier.' })]);
  });
});

/**
 * Fine-tuning proof for the built-in model: AFLoRA on the pre-trained weights vs AFLoRA (same recipe, same
 * architecture) on seeded random weights vs the majority class, on a sample dataset's validation split.
 * AFLoRA trains only its adapters and the classifier, so the random network can only learn what its random
 * features already expose: the gap is what pre-training bought. Results: docs/proofs.md and the model card.
 *
 *   npx tsx scripts/proof/finetune-builtin.ts [--dataset spam-ham] [--epochs 3] [--batch 32] [--max-length 64]
 *       [--adapter-lr 1e-2] [--classifier-lr 4e-2] [--seed 42] [--model public/models/builtin]
 *       [--backend cpu|webgpu] [--out build/proof/finetune-<dataset>.json] [--probe-steps N]
 *       [--ti-steps N] [--tf-steps N] [--delta-t N] [--execution replayed|engine|plain]
 *       [--optimizer adamw_torch|adamw_hf]
 *
 * --ti-steps / --tf-steps / --delta-t: AFLoRA's schedule in optimizer steps (initialWarmup, finalWarmup, deltaT).
 *   The defaults (t_i 1 epoch, t_f 70 %) leave a 1-epoch run no ramp: nothing freezes (issue #11).
 * --probe-steps N: time N optimizer steps of the pre-trained run and exit (to size --epochs).
 * --only pretrained|random: one of the two runs (the runs are independent and seeded, so two processes with
 *   --only give the same numbers as one without it, in about half the wall time on two cores).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EncodedExamples } from '../../src/engine/batches';
import { accuracy, f1Score, matthewsCorrelation } from '../../src/engine/metrics';
import { DEFAULT_RECIPE, Trainer, type TrainingRecipe } from '../../src/engine/trainer';
import { DEFAULT_EXECUTION, EXECUTIONS, type Execution } from '../../src/engine/recipe';
import type { StateDict } from '../../src/engine/types';
import { randomBertWeights } from '../../src/engine/weights';
import { adapterMethod } from '../../src/methods/registry';
import { encodeExamples, type PreparedDataset } from '../../src/io/datasets';
import { loadDataset } from './datasets';
import type { Tokenizer } from '../../src/io/tokenizer/tokenizer';
import { loadModelDir, parseArgs, selectBackend, type ModelDir } from './model-dir';

interface RunResult {
  name: string;
  /** Validation metrics after each epoch; the last one is the result (no best-epoch picking). */
  /** The step each A/B matrix froze at (null: it never did), from the method's freezer. */
  freezeSteps: Record<string, number | null>;
  perEpoch: { epoch: number; accuracy: number; f1: number; mcc: number; loss: number }[];
  final: { accuracy: number; f1: number; mcc: number; loss: number };
  trainLossLastEpoch: number;
  seconds: number;
}

function encode(tokenizer: Tokenizer, prepared: PreparedDataset, rows: PreparedDataset['train'], maxLength: number): EncodedExamples {
  return encodeExamples(tokenizer, rows, prepared.task, maxLength);
}

async function trainRun(
  name: string,
  model: ModelDir,
  weights: StateDict,
  numLabels: number,
  train: EncodedExamples,
  validation: EncodedExamples,
  recipe: TrainingRecipe,
  probeSteps: number,
  options: Record<string, unknown>,
): Promise<RunResult> {
  const config = { ...model.config, numLabels };
  const trainer = new Trainer({ config, weights, method: adapterMethod('aflora', options), train, validation, recipe });
  const started = Date.now();
  const perEpoch: RunResult['perEpoch'] = [];
  let trainLoss: number[] = [];
  try {
    while (!trainer.finished) {
      await trainer.step();
      if (probeSteps > 0 && trainer.stepsDone >= probeSteps) {
        await trainer.flushMetrics();
        const ms = (Date.now() - started) / trainer.stepsDone;
        console.log(`${name}: ${trainer.stepsDone} steps, ${ms.toFixed(0)} ms/step; ${trainer.stepsPerEpoch} steps/epoch -> ${((ms * trainer.stepsPerEpoch) / 1000).toFixed(0)} s/epoch`);
        return { name, perEpoch, freezeSteps: {}, final: { accuracy: 0, f1: 0, mcc: 0, loss: 0 }, trainLossLastEpoch: 0, seconds: 0 };
      }
      if (trainer.stepsDone % trainer.stepsPerEpoch === 0 || trainer.finished) {
        trainLoss = (await trainer.flushMetrics()).map((m) => m.loss);
        const result = await trainer.evaluate();
        const m = result.metrics;
        const row = { epoch: Math.ceil(trainer.stepsDone / trainer.stepsPerEpoch), accuracy: m.accuracy!, f1: m.f1!, mcc: m.mcc!, loss: result.loss };
        perEpoch.push(row);
        const mean = trainLoss.reduce((a, b) => a + b, 0) / trainLoss.length;
        console.log(`${name} epoch ${row.epoch}: train loss ${mean.toFixed(4)}, validation acc ${row.accuracy.toFixed(4)} f1 ${row.f1.toFixed(4)} mcc ${row.mcc.toFixed(4)} loss ${row.loss.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
    }
    const last = perEpoch[perEpoch.length - 1];
    const frozenAt = trainer.runtime.freezeSteps?.() ?? new Map<string, number>();
    const freezeSteps = Object.fromEntries(trainer.runtime.cells.map((c) => [c.name, frozenAt.get(c.name) ?? null]));
    const frozen = Object.values(freezeSteps).filter((s) => s !== null).length;
    console.log(`${name}: ${frozen} of ${trainer.runtime.cells.length} matrices froze, at steps ${JSON.stringify(Object.values(freezeSteps))}`);
    return {
      name,
      perEpoch,
      freezeSteps,
      final: { accuracy: last.accuracy, f1: last.f1, mcc: last.mcc, loss: last.loss },
      trainLossLastEpoch: trainLoss.reduce((a, b) => a + b, 0) / trainLoss.length,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    trainer.dispose();
  }
}

async function main(): Promise<void> {
  const { flags } = parseArgs(process.argv.slice(2));
  const num = (name: string, fallback: number) => (flags.has(name) ? Number(flags.get(name)) : fallback);
  const modelDir = flags.get('model') ?? 'public/models/builtin';
  const datasetId = flags.get('dataset') ?? 'spam-ham';
  const backend = flags.get('backend') ?? 'cpu';
  const probeSteps = num('probe-steps', 0);
  const only = flags.get('only') ?? 'both';
  if (!['both', 'pretrained', 'random'].includes(only)) throw new Error('--only takes pretrained or random');
  const out = flags.get('out') ?? `build/proof/finetune-${datasetId}${only === 'both' ? '' : `-${only}`}.json`;
  const recipe: TrainingRecipe = {
    ...DEFAULT_RECIPE,
    epochs: num('epochs', 3),
    batchSize: num('batch', 32),
    maxLength: num('max-length', 64),
    adapterLr: num('adapter-lr', 1e-2),
    classifierLr: num('classifier-lr', 4e-2),
    seed: num('seed', 42),
    logEvery: 1_000_000,
    execution: (flags.get('execution') ?? DEFAULT_EXECUTION) as Execution,
    optimizer: (flags.get('optimizer') ?? DEFAULT_RECIPE.optimizer) as TrainingRecipe['optimizer'],
  };
  if (!['adamw_torch', 'adamw_hf'].includes(recipe.optimizer)) throw new Error('--optimizer takes adamw_torch or adamw_hf');
  if (!EXECUTIONS.includes(recipe.execution!)) throw new Error(`--execution takes ${EXECUTIONS.join(', ')}`);
  const schedule: Record<string, number> = {};
  if (flags.has('ti-steps')) schedule.initialWarmup = num('ti-steps', 0);
  if (flags.has('tf-steps')) schedule.finalWarmup = num('tf-steps', 0);
  if (flags.has('delta-t')) schedule.deltaT = num('delta-t', 10);

  const adapter = await selectBackend(backend);
  const model = await loadModelDir(modelDir);
  if (!model.tokenizer) throw new Error(`${modelDir} has no tokenizer (vocab.txt / tokenizer.json)`);
  const { prepared } = loadDataset('public/datasets', datasetId);
  const numLabels = prepared.labels.length;
  const train = encode(model.tokenizer, prepared, prepared.train, recipe.maxLength);
  const validation = encode(model.tokenizer, prepared, prepared.validation, recipe.maxLength);
  const modelHash = createHash('sha256').update(readFileSync(join(modelDir, 'model.safetensors'))).digest('hex');
  console.log(`${modelDir} (model.safetensors sha256 ${modelHash.slice(0, 16)}), ${datasetId}: ${train.count} train / ${validation.count} validation rows, labels ${prepared.labels.join('/')}, max length ${recipe.maxLength}, backend ${backend} (${adapter}), execution ${recipe.execution}`);

  // Majority class of the training split, scored on validation.
  const trainLabels = Array.from(train.labels);
  const counts = prepared.labels.map((_, c) => trainLabels.filter((l) => l === c).length);
  const majority = counts.indexOf(Math.max(...counts));
  const valLabels = Array.from(validation.labels);
  const constant = valLabels.map(() => majority);
  const majorityMetrics = {
    label: prepared.labels[majority],
    accuracy: accuracy(constant, valLabels),
    f1: f1Score(constant, valLabels, numLabels),
    mcc: matthewsCorrelation(constant, valLabels, numLabels),
  };

  const pretrained = only === 'random' ? null : await trainRun('pretrained + AFLoRA', model, model.weights, numLabels, train, validation, recipe, probeSteps, schedule);
  if (probeSteps > 0) return;
  // Same architecture, seeded random weights (engine helper). The checkpoint has no classifier, so the engine
  // initialises it; drop the random one so both runs start their head by the same rule.
  const random = randomBertWeights({ ...model.config, numLabels }, recipe.seed);
  for (const name of ['classifier.weight', 'classifier.bias']) random.delete(name);
  const randomRun = only === 'pretrained' ? null : await trainRun('random init + AFLoRA', model, random, numLabels, train, validation, recipe, 0, schedule);

  const rows = [
    { run: `majority class (${majorityMetrics.label})`, ...majorityMetrics },
    ...[pretrained, randomRun].filter((r): r is RunResult => r !== null).map((r) => ({ run: r.name, ...r.final })),
  ];
  console.log('\n| run | validation accuracy | F1 | MCC |');
  console.log('| --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.run} | ${r.accuracy.toFixed(4)} | ${r.f1.toFixed(4)} | ${r.mcc.toFixed(4)} |`);
  const command = `npx tsx scripts/proof/finetune-builtin.ts ${process.argv.slice(2).join(' ')}`.trim();
  const result = {
    command,
    model: { dir: modelDir, sha256: modelHash },
    dataset: { id: datasetId, train: train.count, validation: validation.count, labels: prepared.labels },
    date: new Date().toISOString(),
    backend,
    adapter,
    method: { id: 'aflora', options: schedule },
    recipe,
    majority: majorityMetrics,
    pretrained,
    random: randomRun,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${out}`);
  console.log(JSON.stringify({ majority: majorityMetrics, pretrained: pretrained?.final, random: randomRun?.final }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

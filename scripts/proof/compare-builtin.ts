/**
 * Compare mode in Node: the grid, the per-run numbers and the table come from src/worker/compare.ts (the code path
 * the page's comparison uses); the runs are the engine's Trainer on the built-in model and a slice of a sample
 * dataset, on the tfjs cpu backend. Prints the Markdown table (docs/proofs.md section 3) and writes the CSV + JSON.
 *
 *   npx tsx scripts/proof/compare-builtin.ts [--dataset spam-ham] [--train 64] [--validation 48] [--epochs 4]
 *       [--batch 16] [--max-length 32] [--seeds 1,2,3] [--arms aflora,pm-trainable,lora] [--out build/proof/compare]
 *
 * AFLoRA runs with t_i / t_f in steps (2 and 4 of 16, ΔT 2: five masking rounds on the ramp), so it does freeze in
 * so short a run (issue #11: with t_i = 1 epoch and t_f = 70 % a 4-epoch run has no ramp).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RECIPE, Trainer, type TrainingRecipe } from '../../src/engine/trainer';
import { encodeExamples } from '../../src/io/datasets';
import { methodOptions } from '../../src/methods/catalog';
import { adapterMethod } from '../../src/methods/registry';
import {
  compareTable,
  estimateStepFlops,
  gridCells,
  gridProgress,
  headSize,
  tableCsv,
  tableMarkdown,
  trainableWithoutHead,
  type CellResult,
  type CompareArm,
  type ComparePlan,
} from '../../src/worker/compare';
import type { RunConfig } from '../../src/worker/run-config';
import { loadDataset } from './datasets';
import { loadModelDir, parseArgs, selectBackend } from './model-dir';

const MATRIX = /\.lora_[AB]$/;

function armOf(id: string, stepsTotal: number): CompareArm {
  const short = {
    initialWarmup: Math.round(stepsTotal / 8),
    finalWarmup: Math.round(stepsTotal / 4),
    deltaT: 2,
  };
  const arms: Record<string, () => CompareArm> = {
    aflora: () => ({
      id,
      label: 'AFLoRA (r 4)',
      method: { id: 'aflora', options: methodOptions('aflora', short) },
    }),
    'aflora-matrices': () => ({
      id,
      label: 'AFLoRA, paper-text threshold',
      method: { id: 'aflora', options: methodOptions('aflora', { ...short, thresholdRule: 'matrices' }) },
    }),
    'pm-trainable': () => ({
      id,
      label: 'PM trainable (no freezing)',
      method: { id: 'pm-trainable', options: methodOptions('pm-trainable') },
    }),
    'pm-frozen': () => ({
      id,
      label: 'PM frozen',
      method: { id: 'pm-frozen', options: methodOptions('pm-frozen') },
    }),
    lora: () => ({
      id,
      label: 'LoRA (r 8, all linears)',
      method: { id: 'lora', options: methodOptions('lora') },
    }),
    elora: () => ({ id, label: 'ELoRA', method: { id: 'elora', options: methodOptions('elora') } }),
  };
  const make = arms[id];
  if (!make) throw new Error(`unknown arm ${id} (known: ${Object.keys(arms).join(', ')})`);
  return make() as CompareArm & { method: RunConfig['method'] };
}

async function main(): Promise<void> {
  const { flags } = parseArgs(process.argv.slice(2));
  const num = (name: string, fallback: number) => (flags.has(name) ? Number(flags.get(name)) : fallback);
  const datasetId = flags.get('dataset') ?? 'spam-ham';
  const out = flags.get('out') ?? 'build/proof/compare';
  const recipe: TrainingRecipe = {
    ...DEFAULT_RECIPE,
    epochs: num('epochs', 4),
    batchSize: num('batch', 16),
    maxLength: num('max-length', 32),
    optimizer: 'adamw_hf',
    logEvery: 1,
  };
  await selectBackend('cpu');
  const model = await loadModelDir(flags.get('model') ?? 'public/models/builtin');
  if (!model.tokenizer) throw new Error('the model has no tokenizer');
  const { prepared } = loadDataset('public/datasets', datasetId);
  // Balanced slices: every other row of each class, so a small slice keeps both labels.
  const slice = <T extends { label: number }>(rows: readonly T[], count: number) => {
    const byClass = prepared.labels.map((_, c) => rows.filter((r) => r.label === c));
    const picked: T[] = [];
    for (let i = 0; picked.length < count && i < rows.length; i++)
      for (const list of byClass) if (list[i] && picked.length < count) picked.push(list[i]);
    return picked;
  };
  const train = encodeExamples(
    model.tokenizer,
    slice(prepared.train as never, num('train', 64)),
    prepared.task,
    recipe.maxLength,
  );
  const validation = encodeExamples(
    model.tokenizer,
    slice(prepared.validation as never, num('validation', 48)),
    prepared.task,
    recipe.maxLength,
  );
  const config = { ...model.config, numLabels: prepared.labels.length };
  const totalSteps = Math.ceil(train.count / recipe.batchSize) * recipe.epochs;
  const plan: ComparePlan = {
    arms: (flags.get('arms') ?? 'aflora,pm-trainable,lora').split(',').map((id) => armOf(id, totalSteps)),
    seeds: (flags.get('seeds') ?? '1,2,3').split(',').map(Number),
    metric: 'accuracy',
  };
  const cells = gridCells(plan);
  console.log(
    `${datasetId}: ${train.count} train / ${validation.count} validation rows, ${totalSteps} steps per run, ${cells.length} runs`,
  );

  const results: CellResult[] = [];
  const started = Date.now();
  for (const [index, cell] of cells.entries()) {
    const arm = plan.arms.find((a) => a.id === cell.arm)!;
    const trainer = new Trainer({
      config,
      weights: model.weights,
      method: adapterMethod(arm.method.id, arm.method.options),
      train,
      validation,
      recipe: { ...recipe, seed: cell.seed },
    });
    try {
      const adapterMatrixParams = trainer.runtime
        .variables()
        .filter((v) => MATRIX.test(v.name))
        .reduce((s, v) => s + v.variable.size, 0);
      const perEpoch: number[] = [];
      const trainable: number[] = [];
      const matrixParams: number[] = [];
      let trainMs = 0;
      while (!trainer.finished) {
        matrixParams.push(
          trainer.runtime
            .trainable()
            .filter((v) => MATRIX.test(v.name))
            .reduce((s, v) => s + v.variable.size, 0),
        );
        const t0 = performance.now();
        await trainer.step();
        const rows = await trainer.flushMetrics(); // the read ends the step's GPU work (timed with it)
        trainMs += performance.now() - t0;
        trainable.push(...rows.map((r) => r.trainableParams));
        if (trainer.stepsDone % trainer.stepsPerEpoch === 0)
          perEpoch.push((await trainer.evaluate()).metrics.accuracy!);
      }
      const { avg, final } = trainableWithoutHead(trainable, headSize(config));
      const result: CellResult = {
        ...cell,
        perEpoch,
        avgTrainable: avg,
        finalTrainable: final,
        msPerStep: trainMs / trainer.totalSteps,
        flopsPerStep: estimateStepFlops({
          config,
          batchSize: recipe.batchSize,
          seqLen: train.seqLen,
          adapterMatrixParams,
          trainableMatrixParams: matrixParams.reduce((a, b) => a + b, 0) / matrixParams.length,
        }),
      };
      results.push(result);
      const progress = gridProgress(cells.length, index + 1, 0, (Date.now() - started) / 1000);
      console.log(
        `${arm.label} seed ${cell.seed}: accuracy per epoch ${perEpoch.map((a) => a.toFixed(4)).join(' ')}, avg trainable ${avg.toFixed(0)}, ${result.msPerStep.toFixed(0)} ms/step; grid ${(100 * progress.fraction).toFixed(0)} %, ETA ${progress.etaSeconds?.toFixed(0)} s`,
      );
    } finally {
      trainer.dispose();
    }
  }
  const rows = compareTable(plan, results);
  const markdown = tableMarkdown(rows, plan.metric);
  const command = `npx tsx scripts/proof/compare-builtin.ts ${process.argv.slice(2).join(' ')}`.trim();
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `compare-${datasetId}.csv`), tableCsv(rows));
  writeFileSync(join(out, `compare-${datasetId}.md`), markdown);
  writeFileSync(
    join(out, `compare-${datasetId}.json`),
    JSON.stringify(
      { command, plan, recipe, train: train.count, validation: validation.count, results, rows },
      null,
      2,
    ) + '\n',
  );
  console.log(`\n${markdown}\nwrote ${out}/compare-${datasetId}.{md,csv,json}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

/**
 * Compare mode in Node: the grid, the per-run numbers and the table come from src/worker/compare.ts (the code path
 * the page's comparison uses); the runs are the engine's Trainer on the built-in model and a slice of a sample
 * dataset (or all of it), on the tfjs cpu backend or WebGPU (Dawn in Node: SwiftShader here, the GPU's Vulkan driver
 * on the device, scripts/proof/device-proofs.sh). Prints the Markdown table (docs/proofs.md section 3) and writes the
 * CSV + JSON.
 *
 *   npx tsx scripts/proof/compare-builtin.ts [--dataset spam-ham] [--train 64|all] [--validation 48|all]
 *       [--epochs 4] [--batch 16] [--max-length 32] [--seeds 1,2,3] [--arms aflora,pm-trainable,lora]
 *       [--delta-t 2] [--backend cpu|webgpu] [--execution replayed|engine|plain] [--out build/proof/compare]
 *       [--dropout P] [--lr lora=5e-4,aflora=1e-2]
 *
 * Arms: aflora, aflora-matrices, pm-trainable, pm-frozen, lora, elora, adalora. AFLoRA (and AdaLoRA's budget) run
 * with t_i = 1/8 and t_f = 1/4 of the run in steps and ΔT --delta-t, so they do freeze (issue #11: with t_i = 1 epoch
 * and t_f = 70 % a run of up to 3 epochs has no ramp). ms/step is StepTimer's: no compile step, no evaluations.
 * --dropout P sets every dropout of the model (0: runs on two backends can be compared step by step; their dropout
 * masks come from different generators). Each arm trains at its method's suggested adapter LR (catalog
 * suggestedAdapterLr: LoRA 5e-4, AFLoRA 1e-2, ...; the table's "adapter LR" column), or at --lr's. The JSON keeps
 * every step's loss.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RECIPE, Trainer, type TrainingRecipe } from '../../src/engine/trainer';
import { encodeExamples } from '../../src/io/datasets';
import { methodOptions, suggestedAdapterLr } from '../../src/methods/catalog';
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
  StepTimer,
  type CompareArm,
  type ComparePlan,
} from '../../src/worker/compare';
import { DEFAULT_EXECUTION, EXECUTIONS, type Execution } from '../../src/engine/recipe';
import type { RunConfig } from '../../src/worker/run-config';
import { loadDataset } from './datasets';
import { loadModelDir, parseArgs, selectBackend } from './model-dir';

const MATRIX = /\.lora_[AB]$/;

function armOf(id: string, stepsTotal: number, deltaT: number, lrs: ReadonlyMap<string, number>): CompareArm {
  const short = {
    initialWarmup: Math.round(stepsTotal / 8),
    finalWarmup: Math.round(stepsTotal / 4),
    deltaT,
  };
  const arms: Record<string, () => Omit<CompareArm, 'adapterLr'>> = {
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
    // init_r 12 -> target_r 8 on all six linears (Table 7's budget), its budget on AFLoRA's schedule.
    adalora: () => ({
      id,
      label: 'AdaLoRA (r 12 -> 8, all linears)',
      method: {
        id: 'adalora',
        options: methodOptions('adalora', {
          targetModules: ['query', 'key', 'value', 'attn_out', 'inter', 'out'],
          tinit: short.initialWarmup,
          tfinal: short.finalWarmup,
          deltaT,
        }),
      },
    }),
  };
  const make = arms[id];
  if (!make) throw new Error(`unknown arm ${id} (known: ${Object.keys(arms).join(', ')})`);
  const arm = make() as Omit<CompareArm, 'adapterLr'> & { method: RunConfig['method'] };
  return { ...arm, adapterLr: lrs.get(id) ?? suggestedAdapterLr(arm.method.id) };
}

async function main(): Promise<void> {
  const { flags } = parseArgs(process.argv.slice(2));
  const num = (name: string, fallback: number) => (flags.has(name) ? Number(flags.get(name)) : fallback);
  const rowCount = (name: string, fallback: number) =>
    flags.get(name) === 'all' ? Infinity : num(name, fallback);
  const datasetId = flags.get('dataset') ?? 'spam-ham';
  const out = flags.get('out') ?? 'build/proof/compare';
  const backend = flags.get('backend') ?? 'cpu';
  const execution = (flags.get('execution') ?? DEFAULT_EXECUTION) as Execution;
  if (!EXECUTIONS.includes(execution)) throw new Error(`--execution takes ${EXECUTIONS.join(', ')}`);
  const recipe: TrainingRecipe = {
    ...DEFAULT_RECIPE,
    epochs: num('epochs', 4),
    batchSize: num('batch', 16),
    maxLength: num('max-length', 32),
    optimizer: 'adamw_hf',
    logEvery: 1,
    execution,
  };
  const adapter = await selectBackend(backend);
  const model = await loadModelDir(flags.get('model') ?? 'public/models/builtin');
  if (!model.tokenizer) throw new Error('the model has no tokenizer');
  const { prepared } = loadDataset('public/datasets', datasetId);
  // Balanced slices: every other row of each class, so a small slice keeps both labels.
  const slice = <T extends { label: number }>(rows: readonly T[], count: number) => {
    if (count >= rows.length) return [...rows];
    const byClass = prepared.labels.map((_, c) => rows.filter((r) => r.label === c));
    const picked: T[] = [];
    for (let i = 0; picked.length < count && i < rows.length; i++)
      for (const list of byClass) if (list[i] && picked.length < count) picked.push(list[i]);
    return picked;
  };
  const train = encodeExamples(
    model.tokenizer,
    slice(prepared.train as never, rowCount('train', 64)),
    prepared.task,
    recipe.maxLength,
  );
  const validation = encodeExamples(
    model.tokenizer,
    slice(prepared.validation as never, rowCount('validation', 48)),
    prepared.task,
    recipe.maxLength,
  );
  const dropout = flags.has('dropout') ? num('dropout', 0) : null;
  const config = {
    ...model.config,
    numLabels: prepared.labels.length,
    ...(dropout === null
      ? {}
      : { hiddenDropout: dropout, attentionDropout: dropout, classifierDropout: dropout }),
  };
  const totalSteps = Math.ceil(train.count / recipe.batchSize) * recipe.epochs;
  // --lr lora=1e-3,aflora=2e-2: an arm's adapter LR instead of its method's suggested one.
  const lrs = new Map(
    (flags.get('lr') ?? '')
      .split(',')
      .filter((p) => p !== '')
      .map((pair) => {
        const [arm, value] = pair.split('=');
        const lr = Number(value);
        if (!arm || !(lr > 0 && lr <= 1)) throw new Error(`--lr takes arm=lr pairs with 0 < lr <= 1 (got "${pair}")`);
        return [arm, lr] as const;
      }),
  );
  const plan: ComparePlan = {
    arms: (flags.get('arms') ?? 'aflora,pm-trainable,lora')
      .split(',')
      .map((id) => armOf(id, totalSteps, num('delta-t', 2), lrs)),
    seeds: (flags.get('seeds') ?? '1,2,3').split(',').map(Number),
    metric: 'accuracy',
  };
  const cells = gridCells(plan);
  console.log(
    `${datasetId}: ${train.count} train / ${validation.count} validation rows, ${totalSteps} steps per run, ${cells.length} runs; backend ${backend} (${adapter}), execution ${execution}`,
  );

  const results: CellResult[] = [];
  const extras: Record<string, unknown>[] = [];
  const command = `npx tsx scripts/proof/compare-builtin.ts ${process.argv.slice(2).join(' ')}`.trim();
  // Rewritten after every run: a grid cut short by a time limit still leaves its finished rows.
  const write = (): string => {
    const rows = compareTable(plan, results);
    const markdown = tableMarkdown(rows, plan.metric);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `compare-${datasetId}.csv`), tableCsv(rows));
    writeFileSync(join(out, `compare-${datasetId}.md`), markdown);
    const done = { finished: results.length, of: cells.length };
    const record = {
      command,
      date: new Date().toISOString(),
      backend,
      adapter,
      ...done,
      plan,
      recipe,
      train: train.count,
      validation: validation.count,
      results,
      runs: extras,
      rows,
    };
    writeFileSync(join(out, `compare-${datasetId}.json`), JSON.stringify(record, null, 2) + '\n');
    return markdown;
  };
  const started = Date.now();
  for (const [index, cell] of cells.entries()) {
    const arm = plan.arms.find((a) => a.id === cell.arm)!;
    const trainer = new Trainer({
      config,
      weights: model.weights,
      method: adapterMethod(arm.method.id, arm.method.options),
      train,
      validation,
      recipe: { ...recipe, adapterLr: arm.adapterLr, seed: cell.seed },
    });
    try {
      const adapterMatrixParams = trainer.runtime
        .variables()
        .filter((v) => MATRIX.test(v.name))
        .reduce((s, v) => s + v.variable.size, 0);
      const perEpoch: number[] = [];
      const trainable: number[] = [];
      const matrixParams: number[] = [];
      const timer = new StepTimer();
      const losses: number[] = [];
      const cellStarted = performance.now();
      while (!trainer.finished) {
        matrixParams.push(
          trainer.runtime
            .trainable()
            .filter((v) => MATRIX.test(v.name))
            .reduce((s, v) => s + v.variable.size, 0),
        );
        await trainer.step();
        // Reads as the worker's: after the first step (it ends the compile) and at epoch ends (before evaluating).
        const epochEnd = trainer.stepsDone % trainer.stepsPerEpoch === 0 || trainer.finished;
        if (trainer.stepsDone === 1 || epochEnd) {
          const rows = await trainer.flushMetrics();
          timer.synced(trainer.stepsDone, performance.now());
          trainable.push(...rows.map((r) => r.trainableParams));
          losses.push(...rows.map((r) => r.loss));
          if (rows.some((r) => !Number.isFinite(r.loss)))
            throw new Error(`${arm.label} seed ${cell.seed}: non-finite loss`);
        }
        if (epochEnd) {
          perEpoch.push((await trainer.evaluate()).metrics.accuracy!);
          timer.skipped(trainer.stepsDone, performance.now());
        }
      }
      const frozenAt = trainer.runtime.freezeSteps?.();
      const tail = losses.slice(-trainer.stepsPerEpoch);
      const { avg, final } = trainableWithoutHead(trainable, headSize(config));
      const result: CellResult = {
        ...cell,
        perEpoch,
        avgTrainable: avg,
        finalTrainable: final,
        msPerStep: timer.msPerStep,
        flopsPerStep: estimateStepFlops({
          config,
          batchSize: recipe.batchSize,
          seqLen: train.seqLen,
          adapterMatrixParams,
          trainableMatrixParams: matrixParams.reduce((a, b) => a + b, 0) / matrixParams.length,
        }),
      };
      results.push(result);
      extras.push({
        arm: cell.arm,
        seed: cell.seed,
        seconds: (performance.now() - cellStarted) / 1000,
        timedSteps: timer.timedSteps,
        trainLossLastEpoch: tail.reduce((a, b) => a + b, 0) / tail.length,
        losses,
        frozen: frozenAt ? frozenAt.size : null,
        freezeSteps: frozenAt ? [...frozenAt.values()].sort((a, b) => a - b) : null,
      });
      write();
      const progress = gridProgress(cells.length, index + 1, 0, (Date.now() - started) / 1000);
      console.log(
        `${arm.label} (adapter LR ${arm.adapterLr}) seed ${cell.seed}: accuracy per epoch ${perEpoch.map((a) => a.toFixed(4)).join(' ')}, avg trainable ${avg.toFixed(0)}, ${result.msPerStep.toFixed(1)} ms/step, ${frozenAt ? `${frozenAt.size} frozen` : 'no freezing'}; grid ${(100 * progress.fraction).toFixed(0)} %, ETA ${progress.etaSeconds?.toFixed(0)} s`,
      );
    } finally {
      trainer.dispose();
    }
  }
  const markdown = write();
  console.log(`\n${markdown}\nwrote ${out}/compare-${datasetId}.{md,csv,json}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

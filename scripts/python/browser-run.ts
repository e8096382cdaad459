/**
 * The browser engine's side of a reproduction (docs/pytorch.md): runs a run config's whole training with the app's
 * own code (io datasets + tokenizer, the method from the registry, the engine's Trainer; cpu backend or webgpu via
 * Dawn) with dropout 0, and writes what python/repro/compare.py checks the PyTorch run against:
 *   browser.json         per-step loss / grad norm / lr, each matrix's freeze step, the final evaluation
 *   init.safetensors     every method variable and the classifier before step 0 (golden-style fixed initial values)
 *     npx tsx scripts/python/browser-run.ts python/repro/spam-ham [--backend cpu|webgpu]
 * The folder holds run.json, its data files and model/ (or the built-in model is used).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { prepareDataset } from '../../src/io/datasets';
import { encodeExamples } from '../../src/io/datasets/dataset';
import { writeSafetensors } from '../../src/io/safetensors';
import { adapterMethod } from '../../src/methods/registry';
import { maxSequenceLength } from '../../src/engine/families';
import { Trainer } from '../../src/engine/trainer';
import { parseRunConfig } from '../../src/worker/run-config';
import { loadModelDir, parseArgs, selectBackend } from '../proof/model-dir';

async function main(): Promise<void> {
  const { positional, flags } = parseArgs(process.argv.slice(2));
  const dir = resolve(positional[0] ?? 'python/repro/spam-ham');
  await selectBackend(flags.get('backend') ?? 'cpu');
  const config = parseRunConfig(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')));
  const modelDir = existsSync(join(dir, 'model')) ? join(dir, 'model') : resolve(import.meta.dirname, '../../public/models/builtin');
  const model = await loadModelDir(modelDir);
  if (!model.tokenizer) throw new Error(`${modelDir} has no tokenizer`);
  const read = (name: string) => ({ name, text: readFileSync(join(dir, name), 'utf8') });
  const { data, recipe } = config;
  const prepared = prepareDataset(read(data.train), {
    validation: data.validation ? read(data.validation) : undefined,
    mapping: data.columns,
    task: data.task,
    validationFraction: data.validationFraction,
    seed: data.validationSeed,
  });
  if (prepared.errors.length > 0) throw new Error(`data: ${prepared.errors[0].message}`);
  const regression = data.task === 'regression';
  // Dropout 0: the two frameworks draw different masks; everything else is the app's run as configured.
  const modelConfig = { ...model.config, numLabels: regression ? 1 : data.labels.length, hiddenDropout: 0, attentionDropout: 0 };
  const seqLen = Math.min(recipe.maxLength, maxSequenceLength(modelConfig));
  const train = encodeExamples(model.tokenizer, prepared.train, data.task, seqLen);
  const validation = encodeExamples(model.tokenizer, prepared.validation, data.task, seqLen);
  const trainer = new Trainer({ config: modelConfig, weights: model.weights, method: adapterMethod(config.method.id, config.method.options), train, validation, recipe });
  writeFileSync(join(dir, 'init.safetensors'), writeSafetensors(await trainer.adapterState(), { format: 'pt' }));
  const began = performance.now();
  const steps = [];
  while (!trainer.finished) {
    await trainer.step();
    if (trainer.stepsDone % recipe.logEvery === 0 || trainer.finished) steps.push(...(await trainer.flushMetrics()));
  }
  const seconds = (performance.now() - began) / 1000;
  const evaluation = await trainer.evaluate();
  const frozen = trainer.runtime.freezeSteps?.() ?? new Map<string, number>();
  const matrices = trainer.runtime.cells.filter((c) => c.cell.matrix).map((c) => c.name);
  const out = {
    backend: flags.get('backend') ?? 'cpu',
    trainRows: train.count,
    validationRows: validation.count,
    totalSteps: trainer.totalSteps,
    secondsPerStep: seconds / trainer.totalSteps,
    losses: steps.map((s) => s.loss),
    gradNorms: steps.map((s) => s.gradNorm),
    lrs: steps.map((s) => s.lr),
    freezeSteps: Object.fromEntries(matrices.map((name) => [name, frozen.get(name) ?? null])),
    evaluation: { loss: evaluation.loss, ...evaluation.metrics },
  };
  writeFileSync(join(dir, 'browser.json'), JSON.stringify(out, null, 1) + '\n');
  console.log(`${config.method.id}: ${trainer.totalSteps} steps, final loss ${out.losses.at(-1)?.toFixed(6)}, ${(out.secondsPerStep * 1000).toFixed(0)} ms/step; wrote ${dir}/browser.json`);
  trainer.dispose();
}

await main();

/**
 * PEFT export proof, step 1 of 2 (here, Node + tfjs cpu): train AFLoRA and LoRA on a base checkpoint, export the
 * PEFT adapters and the app's logits, check them in TS as plain LoRA. Step 2 runs check_peft_export.py on the
 * device machine (commands printed at the end and written to <outdir>/summary.json). See docs/proofs.md.
 *
 *   npx tsx scripts/proof/peft-export.ts [outdir=build/proof] [--model tests/fixtures/golden/model] [--backend cpu|webgpu]
 *     [--methods aflora,lora] [--without pooler]
 *
 * --model takes any family's folder (tests/fixtures/golden-<family>/model); --without drops a head module from the
 * base weights (as deberta-v3 checkpoints have no pooler: the engine initialises it, the export must carry it) and
 * writes the stripped base folder to <outdir>/base-model for the Python check.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isHeadName } from '../../src/engine/families';
import { writeSafetensors } from '../../src/io/safetensors';
import { loadModelDir, parseArgs, selectBackend } from './model-dir';
import { PROOF_CASES, maxAbsDiff, maxAbsOf, mergedLogits, plainLoraLogits, tokenIdExamples, trainAndExport } from './peft-proof';

const TOLERANCE = 1e-4;

async function main(): Promise<void> {
  const { positional, flags } = parseArgs(process.argv.slice(2));
  const outdir = positional[0] ?? 'build/proof';
  let modelDir = flags.get('model') ?? 'tests/fixtures/golden/model';
  await selectBackend(flags.get('backend') ?? 'cpu');
  const model = await loadModelDir(modelDir);
  if (model.missing.some((name) => !isHeadName(name))) throw new Error(`${modelDir} lacks encoder weights: ${model.missing.join(', ')}`);
  const without = flags.get('without');
  if (without) {
    const kept = new Map([...model.weights].filter(([name]) => !name.startsWith(`${without}.`)));
    if (kept.size === model.weights.size) throw new Error(`--without ${without}: ${modelDir} has no such weights`);
    const baseDir = join(outdir, 'base-model');
    mkdirSync(baseDir, { recursive: true });
    copyFileSync(join(modelDir, 'config.json'), join(baseDir, 'config.json'));
    writeFileSync(join(baseDir, 'model.safetensors'), writeSafetensors(kept));
    model.weights = kept;
    modelDir = baseDir;
  }
  const methods = flags.get('methods')?.split(',') ?? PROOF_CASES.map((c) => c.method);
  const cases = PROOF_CASES.filter((c) => methods.includes(c.method));
  if (cases.length !== methods.length) throw new Error(`--methods: pick from ${PROOF_CASES.map((c) => c.method).join(', ')}`);
  const seqLen = PROOF_CASES[0].recipe.maxLength;
  const train = tokenIdExamples(model.config, 32, seqLen, 1);
  const inputs = tokenIdExamples(model.config, 24, seqLen, 2);

  const summary: Record<string, unknown> = { baseModelDir: modelDir, backend: flags.get('backend') ?? 'cpu', tolerance: TOLERANCE, cases: {} };
  const commands: string[] = [];
  let ok = true;
  for (const proof of cases) {
    const run = await trainAndExport(model, proof, train, inputs, modelDir);
    const dir = join(outdir, proof.method);
    mkdirSync(join(dir, 'adapter'), { recursive: true });
    writeFileSync(join(dir, 'adapter', 'adapter_config.json'), run.adapter.files['adapter_config.json']);
    writeFileSync(join(dir, 'adapter', 'adapter_model.safetensors'), run.adapter.files['adapter_model.safetensors']);
    writeFileSync(join(dir, 'inputs.json'), run.inputsJson);

    const batch = proof.recipe.batchSize;
    // Plain LoRA has one rank for every module: a file with a rank_pattern is checked merged only.
    const uniformRank = Object.keys(run.adapter.config.rank_pattern ?? {}).length === 0;
    const plainDiff = uniformRank ? maxAbsDiff(await plainLoraLogits(model, run.adapter, inputs, batch), run.logits) : 0;
    const mergedDiff = maxAbsDiff(await mergedLogits(model, run.adapter, inputs, batch), run.logits);
    const adapterEffect = maxAbsDiff(run.baseLogits, run.logits);
    const passed = plainDiff < TOLERANCE && mergedDiff < TOLERANCE;
    ok &&= passed;
    const facts = {
      steps: run.steps,
      firstLoss: run.losses[0],
      lastLoss: run.losses[run.losses.length - 1],
      frozenMatrices: run.frozen.length,
      maxAbsLambdaB: maxAbsOf(run.state, '.lambda_b'),
      maxAbsLambdaD: maxAbsOf(run.state, '.lambda_d'),
      maxAbsExportedB: maxAbsOf(run.adapter.tensors, '.lora_B.weight'),
      r: run.adapter.config.r,
      rankPattern: run.adapter.config.rank_pattern ?? null,
      loraAlpha: run.adapter.config.lora_alpha,
      targetModules: (run.adapter.config.target_modules as string[]).length,
      logitsVsBase: adapterEffect,
      plainLoraDiff: plainDiff,
      mergedWeightsDiff: mergedDiff,
      passed,
    };
    (summary.cases as Record<string, unknown>)[proof.method] = { options: proof.options, recipe: proof.recipe, ...facts };
    console.log(`${proof.method}: ${JSON.stringify(facts)}`);
    const rel = (p: string) => relative(process.cwd(), p) || '.';
    commands.push(`python3 scripts/reference/check_peft_export.py ${rel(join(dir, 'adapter'))} ${rel(modelDir)} ${rel(join(dir, 'inputs.json'))}`);
  }
  summary.deviceCommands = commands;
  writeFileSync(join(outdir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(`\nwrote ${outdir}/{${cases.map((c) => c.method).join(',')}}/{adapter/,inputs.json} and summary.json`);
  console.log(`TS check (plain LoRA and merged weights vs the app, tolerance ${TOLERANCE}): ${ok ? 'OK' : 'FAIL'}`);
  console.log('device commands:');
  for (const c of commands) console.log(`  ${c}`);
  if (!ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

/**
 * Training-step benchmark of the project's own engine (Trainer: BertModel forward + backward + clipping +
 * AdamW) on TF.js WebGPU (Dawn in Node) or the cpu backend, with random weights of BERT-family shapes.
 *
 *   npm run bench -- --model mini --method aflora-both --batch 32 --seq 128 --steps 10 --json out.json
 *
 * Per config and variant (plain = Trainer with kernels: false; engine = Trainer with its fused kernels op by op;
 * `fused` is an alias of engine; replayed = the kernels recorded once and replayed, engine/replay.ts): median
 * ms/step with the GPU queue drained (every step reads its loss back; split into awaiting step() = enqueue and
 * awaiting the read = GPU wait), ms/step pipelined (steps back to back, one read: how a run trains between
 * metric flushes), examples/s, tokens/s,
 * tf.memory(), the webgpu buffer manager's bytes, GPU dispatches per step (runWebGPUProgram calls) and a
 * per-kernel breakdown of one step (tf.profile). --verify N compares N plain and engine steps from the same
 * start (dropout off): the kernels must reproduce the losses and gradient norms. --submit-every 0,64 runs the
 * replayed variant once per value (dispatches per command buffer; engine/replay.ts replayTuning). --freeze-pairs N
 * runs only what freezing every A/B saves per model and variant, aflora-both and aflora-pm-frozen side by side in
 * N ABBA rounds (freezeShare).
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { installDispatchCounter, type DispatchCounter } from '../src/engine/kernels';
import { replayTuning } from '../src/engine/replay';
import type { EncodedExamples } from '../src/engine/batches';
import { Trainer, DEFAULT_RECIPE, type TrainingRecipe } from '../src/engine/trainer';
import type { BertConfig } from '../src/engine/types';
import { randomBertWeights } from '../src/engine/weights';
import { Rng } from '../src/engine/random';
import { METHOD_LABELS, MODEL_SHAPES, benchMethod, type MethodLabel } from './methods';
import { setupWebGPU, webgpuBufferBytes, type NodeWebGPUHandle } from './webgpu-node';

const MODELS: Record<string, (typeof MODEL_SHAPES)[keyof typeof MODEL_SHAPES]> = MODEL_SHAPES;
// plain: Trainer with kernels off; engine: its kernels op by op; replayed: the kernels recorded once and
// replayed (engine/replay.ts, the webgpu default).
const VARIANTS = ['plain', 'engine', 'replayed'] as const;
/** Old variant names still accepted on the command line. */
const VARIANT_ALIASES: Record<string, (typeof VARIANTS)[number]> = { fused: 'engine' };
type Variant = (typeof VARIANTS)[number];

interface Args {
  models: string[];
  methods: MethodLabel[];
  variants: Variant[];
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
  backend: 'webgpu' | 'cpu';
  dropout: number;
  flags: Record<string, number | boolean>;
  verify: number;
  profile: boolean;
  json: string | null;
  label: string;
  /** Replayed steps: dispatches per command buffer (engine/replay.ts replayTuning), one config each. */
  submitEvery: number[];
  /** Rounds of the freezing-share pairs (freezeShare); 0: the normal configs. */
  freezePairs: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = <T extends string>(name: string, all: readonly T[], aliases: Record<string, T> = {}): T[] => {
    const value = get(name);
    if (!value || value === 'all') return [...all];
    const items = [...new Set(value.split(',').map((item) => aliases[item] ?? item))] as T[];
    for (const item of items)
      if (!all.includes(item)) throw new Error(`--${name}: unknown "${item}" (known: ${all.join(', ')})`);
    return items;
  };
  const flags: Record<string, number | boolean> = {};
  for (const pair of (get('flags') ?? '').split(',').filter(Boolean)) {
    const [key, raw] = pair.split('=');
    flags[key] = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
  }
  const backend = get('backend') ?? 'webgpu';
  if (backend !== 'webgpu' && backend !== 'cpu') throw new Error('--backend webgpu|cpu');
  return {
    models: list('model', Object.keys(MODELS)),
    methods: list('method', METHOD_LABELS),
    variants: list('variant', VARIANTS, VARIANT_ALIASES),
    batch: Number(get('batch') ?? 32),
    seq: Number(get('seq') ?? 128),
    steps: Number(get('steps') ?? 10),
    warmup: Number(get('warmup') ?? 3),
    backend,
    dropout: Number(get('dropout') ?? 0.1),
    flags,
    verify: Number(get('verify') ?? 0),
    profile: !argv.includes('--no-profile'),
    json: get('json') ?? null,
    label: get('label') ?? '',
    submitEvery: (get('submit-every') ?? String(replayTuning.submitEvery)).split(',').map(Number),
    freezePairs: Number(get('freeze-pairs') ?? 0),
  };
}

function bertConfig(model: string, dropout: number): BertConfig {
  return {
    family: 'bert',
    ...MODELS[model],
    embeddingSize: MODELS[model].hiddenSize,
    vocabSize: 30522,
    maxPositions: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    hiddenAct: 'gelu',
    hiddenDropout: dropout,
    attentionDropout: dropout,
    classifierDropout: dropout,
    numLabels: 2,
    padTokenId: 0,
  };
}

/** Random full-length sequences (4 batches' worth) with random binary labels. */
function randomExamples(count: number, seqLen: number, vocab: number, seed: number): EncodedExamples {
  const rng = new Rng(seed);
  const inputIds = new Int32Array(count * seqLen);
  for (let i = 0; i < inputIds.length; i++) inputIds[i] = 1000 + Math.floor(rng.next() * (vocab - 1000));
  const tokenTypeIds = new Int32Array(count * seqLen);
  for (let row = 0; row < count; row++) tokenTypeIds.fill(1, row * seqLen + seqLen / 2, (row + 1) * seqLen);
  const labels = Array.from({ length: count }, () => (rng.next() < 0.5 ? 0 : 1));
  return {
    count,
    seqLen,
    inputIds,
    tokenTypeIds,
    attentionMask: new Int32Array(count * seqLen).fill(1),
    labels,
  };
}

function makeTrainer(
  args: Args,
  model: string,
  methodLabel: MethodLabel,
  totalSteps: number,
  dropout: number,
  variant: Variant = 'plain',
) {
  const config = bertConfig(model, dropout);
  const bench = benchMethod(methodLabel);
  const examples = randomExamples(args.batch * 4, args.seq, config.vocabSize, 7);
  const recipe: TrainingRecipe = {
    ...DEFAULT_RECIPE,
    batchSize: args.batch,
    maxLength: args.seq,
    epochs: 1,
    totalSteps,
    shuffle: false,
    logEvery: 1,
    adapterLr: 1e-3,
    classifierLr: 4e-3,
  };
  const trainer = new Trainer({
    config,
    weights: randomBertWeights(config, 1234),
    method: bench.method,
    train: examples,
    recipe,
    execution: variant,
  });
  return { trainer, bench };
}

/** One step, queue drained (its loss and grad norm read back). Returns [loss, gradNorm]. */
type StepFn = () => Promise<[number, number]>;

/** Per timed step: ms awaiting step() (JS + enqueue) and ms awaiting its metrics read (the GPU draining). */
const split = { enqueue: [] as number[], wait: [] as number[] };

function stepFunction(trainer: Trainer): StepFn {
  return async () => {
    const start = performance.now();
    await trainer.step();
    const enqueued = performance.now();
    const [metrics] = await trainer.flushMetrics();
    split.enqueue.push(enqueued - start);
    split.wait.push(performance.now() - enqueued);
    return [metrics.loss, metrics.gradNorm];
  };
}

interface Result {
  model: string;
  method: MethodLabel;
  variant: Variant;
  backend: string;
  batch: number;
  seq: number;
  flags: Record<string, number | boolean>;
  msPerStep: { median: number; mean: number; min: number; max: number; samples: number[] };
  examplesPerSec: number;
  tokensPerSec: number;
  dispatchesPerStep: number | null;
  dispatchesByProgram: Record<string, number> | null;
  kernelsPerStep: number | null;
  kernelBreakdown: Record<string, number> | null;
  /** GPU ms of the profiled step per kernel name + input shapes (timestamp queries; all 0 without them). */
  kernelGpuMs: Record<string, number> | null;
  memory: { numTensors: number; numBytes: number; gpuBytesUsed?: number; gpuBytesAllocated?: number };
  trainableParams: number;
  lastLoss: number;
  uncapturedErrors: string[];
  /** ms per step over `steps` steps enqueued back to back with one metrics read at the end. */
  pipelinedMs: number;
  /** Medians over the timed steps: awaiting step() vs awaiting the metrics read after it. */
  enqueueMs: number;
  gpuWaitMs: number;
  /** JS µs per dispatch: enqueue time / dispatches per step. */
  usPerDispatch: number | null;
  replay: ReturnType<Trainer['replayStatus']>;
  /** Replayed: dispatches per command buffer (0: one per step); null for the other variants. */
  submitEvery: number | null;
}

/** `replayed/64` for a replayed config, else the variant. */
function variantLabel(variant: Variant, submitEvery: number | null): string {
  return submitEvery === null ? variant : `${variant}/${submitEvery}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sortedRecord(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map.entries()].sort((a, b) => b[1] - a[1]));
}

async function benchOne(
  args: Args,
  model: string,
  method: MethodLabel,
  variant: Variant,
  gpu: NodeWebGPUHandle | null,
): Promise<Omit<Result, 'submitEvery'>> {
  const profileSteps = args.profile ? 1 : 0;
  const counted = gpu ? 1 : 0;
  const total = args.warmup + 2 * args.steps + profileSteps + counted + 1;
  const tensorsBefore = tf.memory().numTensors;
  const { trainer } = makeTrainer(args, model, method, total, args.dropout, variant);
  const step = stepFunction(trainer);
  const errorsBefore = gpu?.uncapturedErrors.length ?? 0;
  try {
    let last: [number, number] = [Number.NaN, Number.NaN];
    for (let i = 0; i < args.warmup; i++) last = await step();

    let dispatches: number | null = null;
    let byProgram: Record<string, number> | null = null;
    if (gpu) {
      const counter: DispatchCounter = installDispatchCounter();
      try {
        last = await step();
      } finally {
        counter.uninstall();
      }
      dispatches = counter.total();
      byProgram = sortedRecord(counter.byProgram());
    }

    const samples: number[] = [];
    split.enqueue = [];
    split.wait = [];
    for (let i = 0; i < args.steps; i++) {
      const start = performance.now();
      last = await step();
      samples.push(performance.now() - start);
    }
    // Pipelined, as a run trains between metric flushes (logEvery): steps enqueued back to back, one read at the
    // end, so the next step's JavaScript overlaps the GPU's work on the previous one.
    const pipelinedStart = performance.now();
    for (let i = 0; i < args.steps; i++) await trainer.step();
    const flushed = await trainer.flushMetrics();
    last = [flushed[flushed.length - 1].loss, flushed[flushed.length - 1].gradNorm];
    const pipelinedMs = (performance.now() - pipelinedStart) / args.steps;

    let kernelsPerStep: number | null = null;
    let breakdown: Record<string, number> | null = null;
    let kernelGpuMs: Record<string, number> | null = null;
    if (args.profile) {
      const info = await tf.profile(async () => {
        last = await step();
        return tf.scalar(0);
      });
      const counts = new Map<string, number>();
      const gpuMs = new Map<string, number>();
      for (const kernel of info.kernels) {
        counts.set(kernel.name, (counts.get(kernel.name) ?? 0) + 1);
        // GPU time per kernel and input shapes: timestamp queries, one pass per program (0 without the feature).
        const ms = typeof kernel.kernelTimeMs === 'number' ? kernel.kernelTimeMs : 0;
        const key = `${kernel.name} ${JSON.stringify(kernel.inputShapes)}`;
        gpuMs.set(key, (gpuMs.get(key) ?? 0) + ms);
      }
      kernelsPerStep = info.kernels.length;
      breakdown = sortedRecord(counts);
      kernelGpuMs = Object.fromEntries([...gpuMs].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number(v.toFixed(4))]));
    }

    const enqueueMs = median(split.enqueue.slice(0, args.steps));
    const gpuWaitMs = median(split.wait.slice(0, args.steps));
    const replay = trainer.replayStatus();
    // A replayed step runs no TF.js program: its dispatches are the plan's.
    if (variant === 'replayed' && replay.stats && replay.replayedSteps > 0)
      dispatches = replay.stats.dispatches;
    const memory = tf.memory();
    const gpuBytes = gpu ? webgpuBufferBytes() : null;
    const med = median(samples);
    return {
      model,
      method,
      variant,
      backend: args.backend,
      batch: args.batch,
      seq: args.seq,
      flags: args.flags,
      msPerStep: {
        median: med,
        mean: samples.reduce((a, b) => a + b, 0) / samples.length,
        min: Math.min(...samples),
        max: Math.max(...samples),
        samples,
      },
      examplesPerSec: (args.batch * 1000) / med,
      tokensPerSec: (args.batch * args.seq * 1000) / med,
      dispatchesPerStep: dispatches,
      dispatchesByProgram: byProgram,
      kernelsPerStep,
      kernelBreakdown: breakdown,
      kernelGpuMs,
      memory: {
        numTensors: memory.numTensors,
        numBytes: memory.numBytes,
        ...(gpuBytes ? { gpuBytesUsed: gpuBytes.used, gpuBytesAllocated: gpuBytes.allocated } : {}),
      },
      trainableParams: trainer.trainableParamCount(),
      lastLoss: last[0],
      uncapturedErrors: gpu ? gpu.uncapturedErrors.slice(errorsBefore) : [],
      pipelinedMs,
      enqueueMs,
      gpuWaitMs,
      usPerDispatch: dispatches ? (enqueueMs * 1000) / dispatches : null,
      replay,
    };
  } finally {
    trainer.dispose();
    leaks.push({ model, method, variant, tensors: tf.memory().numTensors - tensorsBefore });
  }
}

/** One model's freezing share, from freezeShare. */
interface FreezeShare {
  model: string;
  variant: Variant;
  rounds: number;
  steps: number;
  /** ms/step pipelined of each round's block. */
  bothMs: number[];
  frozenMs: number[];
  /** 1 - frozen / both per round: median, min, max. */
  share: { median: number; min: number; max: number };
  /** Replayed steps of each trainer (a plan that fell back would show here). */
  replayedSteps: [number, number];
}

const FREEZE_PAIR: readonly MethodLabel[] = ['aflora-both', 'aflora-pm-frozen'];

/**
 * What freezing every A/B saves (aflora-both -> aflora-pm-frozen), measured so that a call's drift cancels: both
 * trainers alive side by side, `rounds` rounds of `steps` pipelined steps each (one metrics read per block) in ABBA
 * order, the share 1 - frozen / both taken per round from its two adjacent blocks. Measured one config after the
 * other, a slow stretch of the call once moved mini's share from 2 % to -51 % (BENCHMARKS.md). pytorch_bench.py
 * --freeze-pairs is the same for PyTorch.
 */
async function freezeShare(args: Args, model: string, variant: Variant): Promise<FreezeShare> {
  const rounds = args.freezePairs;
  const total = args.warmup + rounds * args.steps + 1;
  const trainers = FREEZE_PAIR.map((method) => makeTrainer(args, model, method, total, args.dropout, variant).trainer);
  try {
    const block = async (trainer: Trainer, count: number) => {
      const start = performance.now();
      for (let i = 0; i < count; i++) await trainer.step();
      await trainer.flushMetrics();
      return (performance.now() - start) / count;
    };
    for (const trainer of trainers) await block(trainer, args.warmup);
    const ms: [number[], number[]] = [[], []];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const which of order) ms[which].push(await block(trainers[which], args.steps));
    }
    const shares = ms[0].map((both, round) => 1 - ms[1][round] / both);
    return {
      model,
      variant,
      rounds,
      steps: args.steps,
      bothMs: ms[0],
      frozenMs: ms[1],
      share: { median: median(shares), min: Math.min(...shares), max: Math.max(...shares) },
      replayedSteps: [trainers[0].replayStatus().replayedSteps, trainers[1].replayStatus().replayedSteps],
    };
  } finally {
    for (const trainer of trainers) trainer.dispose();
  }
}

/** Tensors still alive after a config's trainer was disposed (should be 0). */
const leaks: Array<{ model: string; method: string; variant: string; tensors: number }> = [];

interface Verification {
  model: string;
  method: MethodLabel;
  steps: number;
  plain: Array<[number, number]>;
  /** Trainer with its kernels (TrainerInit.kernels) against plain. */
  engine: Array<[number, number]>;
  maxRelLossDiff: number;
  maxRelNormDiff: number;
}

/** N steps of each variant from the same init, dropout off: losses and grad norms must agree. */
async function verify(args: Args, model: string, method: MethodLabel): Promise<Verification> {
  const run = async (variant: Variant) => {
    const { trainer } = makeTrainer(args, model, method, args.verify + 1, 0, variant);
    const step = stepFunction(trainer);
    const out: Array<[number, number]> = [];
    try {
      for (let i = 0; i < args.verify; i++) out.push(await step());
    } finally {
      trainer.dispose();
    }
    return out;
  };
  const plain = await run('plain');
  const engine = await run('engine');
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
  return {
    model,
    method,
    steps: args.verify,
    plain,
    engine,
    maxRelLossDiff: Math.max(...plain.map((p, i) => rel(engine[i][0], p[0]))),
    maxRelNormDiff: Math.max(...plain.map((p, i) => rel(engine[i][1], p[1]))),
  };
}

function formatTable(results: Result[]): string {
  const header = [
    'model',
    'method',
    'variant',
    'ms/step',
    'ex/s',
    'tok/s',
    'dispatch',
    'kernels',
    'tensors',
    'MB',
    'piped',
    'enqueue',
    'wait',
    'us/disp',
    'replayed',
    'vs plain',
  ];
  const rows = results.map((r) => {
    const plain = results.find((p) => p.model === r.model && p.method === r.method && p.variant === 'plain');
    return [
      r.model,
      r.method,
      variantLabel(r.variant, r.submitEvery),
      r.msPerStep.median.toFixed(1),
      r.examplesPerSec.toFixed(1),
      r.tokensPerSec.toFixed(0),
      String(r.dispatchesPerStep ?? '-'),
      String(r.kernelsPerStep ?? '-'),
      String(r.memory.numTensors),
      (r.memory.numBytes / 2 ** 20).toFixed(1),
      r.pipelinedMs.toFixed(1),
      r.enqueueMs.toFixed(1),
      r.gpuWaitMs.toFixed(1),
      r.usPerDispatch === null ? '-' : r.usPerDispatch.toFixed(1),
      `${r.replay.replayedSteps}`,
      plain ? `${(plain.msPerStep.median / r.msPerStep.median).toFixed(2)}x` : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  for (const [key, value] of Object.entries(args.flags)) tf.env().set(key, value);
  let gpu: NodeWebGPUHandle | null = null;
  if (args.backend === 'webgpu') {
    // DAWN_FLAGS, e.g. "disable-dawn-features=timestamp_quantization" for exact per-kernel times in the profile.
    gpu = await setupWebGPU(process.env.DAWN_FLAGS ? process.env.DAWN_FLAGS.split(' ') : []);
    // Small ops would silently run on the CPU otherwise; an explicit --flags value wins.
    if (!('WEBGPU_CPU_FORWARD' in args.flags)) tf.env().set('WEBGPU_CPU_FORWARD', false);
  } else {
    await tf.setBackend('cpu');
  }
  const adapter = gpu?.adapterInfo ?? 'cpu';
  console.log(
    `backend ${tf.getBackend()} (${adapter}); batch ${args.batch} x seq ${args.seq}; flags ${JSON.stringify(args.flags)}`,
  );

  const results: Result[] = [];
  const freezeShares: FreezeShare[] = [];
  const verifications: Verification[] = [];
  const failures: Array<{ model: string; method: string; variant: string; error: string }> = [];
  // Rewritten after every config: a run killed by a time limit still leaves the finished ones.
  const writeReport = () => {
    if (!args.json) return;
    const report = {
      label: args.label,
      date: new Date().toISOString(),
      backend: tf.getBackend(),
      adapter,
      node: process.version,
      args,
      results,
      freezeShares,
      verifications,
      failures,
      leakedTensors: leaks,
    };
    writeFileSync(args.json, JSON.stringify(report, null, 2));
  };
  for (const model of args.freezePairs > 0 ? args.models : []) {
    for (const variant of args.variants) {
      try {
        if (variant === 'replayed') replayTuning.submitEvery = args.submitEvery[0];
        const r = await freezeShare(args, model, variant);
        freezeShares.push(r);
        writeReport();
        console.log(
          `${model}/${variant}: freezing A/B saves ${(100 * r.share.median).toFixed(1)} % (median of ${r.rounds} rounds, ` +
            `${(100 * r.share.min).toFixed(1)}..${(100 * r.share.max).toFixed(1)}); both ${median(r.bothMs).toFixed(2)}, ` +
            `frozen ${median(r.frozenMs).toFixed(2)} ms/step pipelined`,
        );
      } catch (error) {
        failures.push({ model, method: 'freeze-pairs', variant, error: String((error as Error).stack ?? error) });
        console.error(`${model}/freeze-pairs/${variant} failed: ${(error as Error).message}`);
      }
    }
  }
  for (const model of args.freezePairs > 0 ? [] : args.models) {
    for (const method of args.methods) {
      if (args.verify > 0) {
        try {
          const v = await verify(args, model, method);
          verifications.push(v);
          writeReport();
          console.log(
            `verify ${model}/${method}: ${v.steps} steps, engine kernels vs plain: max rel diff loss ` +
              `${v.maxRelLossDiff.toExponential(2)}, grad norm ${v.maxRelNormDiff.toExponential(2)}`,
          );
        } catch (error) {
          failures.push({ model, method, variant: 'verify', error: String((error as Error).stack ?? error) });
        }
      }
      const configs = args.variants.flatMap((variant): Array<{ variant: Variant; every: number | null }> =>
        variant === 'replayed' ? args.submitEvery.map((every) => ({ variant, every })) : [{ variant, every: null }],
      );
      for (const { variant, every } of configs) {
        try {
          if (every !== null) replayTuning.submitEvery = every;
          const result = { ...(await benchOne(args, model, method, variant, gpu)), submitEvery: every };
          results.push(result);
          writeReport();
          console.log(
            `${model}/${method}/${variantLabel(variant, every)}: ${result.msPerStep.median.toFixed(1)} ms/step ` +
              `(pipelined ${result.pipelinedMs.toFixed(1)}, enqueue ${result.enqueueMs.toFixed(1)}, wait ${result.gpuWaitMs.toFixed(1)}), ` +
              `${result.dispatchesPerStep ?? '-'} dispatches, ${result.kernelsPerStep ?? '-'} kernels, loss ${result.lastLoss.toFixed(4)}` +
              (result.uncapturedErrors.length ? `, ${result.uncapturedErrors.length} WebGPU ERRORS` : ''),
          );
        } catch (error) {
          failures.push({ model, method, variant, error: String((error as Error).stack ?? error) });
          console.error(`${model}/${method}/${variant} failed: ${(error as Error).message}`);
        }
      }
    }
  }
  if (results.length > 0) console.log(`\n${formatTable(results)}`);
  writeReport();
  if (args.json) console.log(`wrote ${args.json}`);
  const leaky = leaks.filter((l) => l.tensors !== 0);
  if (leaky.length > 0)
    console.log(
      `tensors left after dispose: ${leaky.map((l) => `${l.model}/${l.method}/${l.variant} ${l.tensors}`).join(', ')}`,
    );
  await gpu?.teardown();
  if (failures.length > 0) {
    for (const f of failures) console.error(`FAILED ${f.model}/${f.method}/${f.variant}: ${f.error}`);
    process.exitCode = 1;
  }
  if (results.some((r) => r.uncapturedErrors.length > 0)) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

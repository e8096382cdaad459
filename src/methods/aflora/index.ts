/**
 * AFLoRA (Liu, Kundu et al. 2024): y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))) on all six linears of every layer,
 * no alpha / r scaling. Λd, Λb always train; the A/B matrices of the chosen linears (FFN by default) train until
 * their freezing score drops below a cubic-scheduled threshold, then freeze for good. Conventions: README.md.
 * Also the paper's ablations on the same module: 'pm-trainable' (never freeze) and 'pm-frozen' (A/B frozen at 0).
 */
import * as tf from '@tensorflow/tfjs';
import type { LowRankModule } from '../../engine/kernels';
import { kaimingUniform } from '../../engine/random';
import { linearTargets, type BertConfig, type LinearTarget, type MatrixId } from '../../engine/types';
import { createVariable, lowRankRuntime } from '../common';
import type {
  AdapterMethod,
  AdapterRuntime,
  AfterStepResult,
  MatrixScore,
  MethodContext,
  MethodEvent,
  MethodVariable,
} from '../types';
import {
  AFLORA_DEFAULTS,
  checkAfloraOptions,
  checkPmOptions,
  kindsOf,
  PM_DEFAULTS,
  resolveSchedule,
  type AfloraOptions,
  type PmOptions,
} from './options';
import { isMaskingStep, remainingFraction, thresholdRank, type FreezeSchedule } from './schedule';
import { ScoreState, type ScoreRow } from './scores';
import { kthSmallest, segmentMeans } from './select';

export { AFLORA_DEFAULTS, PM_DEFAULTS, type AfloraOptions, type PmOptions } from './options';
export * from './schedule';
export { kthSmallest, segmentMeans } from './select';

interface ModuleSet {
  all: MethodVariable[];
  vectors: MethodVariable[];
  /** A/B matrices that start trainable (they may freeze). */
  trainableMatrices: MethodVariable[];
  modules: Map<string, LowRankModule>;
}

/**
 * The module on every linear. A and B: Kaiming uniform with a = 0, i.e. U(±sqrt(6 / fan_in)), fan_in = in for A
 * and r for B (the reference's init_type 1). Every variable takes weight decay: the reference trainer's decay
 * group is every trainable name without "bias", which includes its lora_d / lora_db vectors.
 */
function buildModules(ctx: MethodContext, rank: number, lambdaDInit: number, abTrainable: (t: LinearTarget) => boolean): ModuleSet {
  const set: ModuleSet = { all: [], vectors: [], trainableMatrices: [], modules: new Map() };
  for (const target of ctx.targets) {
    const train = abTrainable(target);
    const names = {
      a: `${target.path}.lora_A`,
      b: `${target.path}.lora_B`,
      d: `${target.path}.lambda_d`,
      bVec: `${target.path}.lambda_b`,
    };
    const a = createVariable(ctx, names.a, [rank, target.inFeatures], train, (rng, n) => kaimingUniform(rng, n, target.inFeatures, 0));
    const b = createVariable(ctx, names.b, [target.outFeatures, rank], train, (rng, n) => kaimingUniform(rng, n, rank, 0));
    const d = createVariable(ctx, names.d, [rank], true, (_p, n) => new Float32Array(n).fill(lambdaDInit));
    const bVec = createVariable(ctx, names.bVec, [target.outFeatures], true, (_p, n) => new Float32Array(n));
    set.modules.set(target.path, { a: a as tf.Tensor2D, b: b as tf.Tensor2D, lambdaD: d as tf.Tensor1D, lambdaB: bVec as tf.Tensor1D });
    const cell = (matrix: 'A' | 'B'): MatrixId => ({ layer: target.layer, kind: target.kind, matrix });
    const matrices: MethodVariable[] = [
      { name: names.a, variable: a, lrGroup: 'adapter', weightDecay: true, matrix: cell('A') },
      { name: names.b, variable: b, lrGroup: 'adapter', weightDecay: true, matrix: cell('B') },
    ];
    const vectors: MethodVariable[] = [
      { name: names.d, variable: d, lrGroup: 'adapter', weightDecay: true },
      { name: names.bVec, variable: bVec, lrGroup: 'adapter', weightDecay: true },
    ];
    set.all.push(...matrices, ...vectors);
    set.vectors.push(...vectors);
    if (train) set.trainableMatrices.push(...matrices);
  }
  return set;
}

const NO_EVENTS: AfterStepResult = { events: [], frozen: [] };

/** The freezing half of AFLoRA: scores on the GPU, masking rounds on the schedule, permanent freezes. */
class Freezer {
  private readonly state: ScoreState;
  private readonly byName: Map<string, MethodVariable>;
  private readonly frozen = new Set<string>();
  private readonly initialElements: number;

  constructor(
    matrices: readonly MethodVariable[],
    private readonly options: AfloraOptions,
    private readonly schedule: FreezeSchedule,
  ) {
    this.byName = new Map(matrices.map((v) => [v.name, v]));
    this.state = new ScoreState(
      matrices.map((v) => ({ name: v.name, variable: v.variable, size: v.variable.size })),
      options,
    );
    this.initialElements = this.state.elementCount;
  }

  isFrozen(name: string): boolean {
    return this.frozen.has(name);
  }

  observe(step: number, grads: ReadonlyMap<string, tf.Tensor>): void {
    this.state.observe(step, grads);
  }

  async afterStep(step: number): Promise<AfterStepResult> {
    if (this.state.tensors.length === 0) return NO_EVENTS;
    const masking = isMaskingStep(step, this.schedule);
    const lastStep = step >= this.schedule.totalSteps - 1;
    if (!masking && !(lastStep && this.state.hasUnread())) return NO_EVENTS;
    const read = await this.state.read(masking);
    const events: MethodEvent[] = [];
    const scoreEvents = read.rows.map((row) => this.scoreEvent(row));
    events.push(...scoreEvents);
    const frozen: string[] = [];
    if (masking && read.elementScores) {
      const round = this.maskingRound(step, read.elementScores);
      for (const name of round.freeze) {
        const v = this.byName.get(name)!;
        v.variable.trainable = false;
        this.frozen.add(name);
        frozen.push(name);
        events.push({ type: 'freeze', step, name, matrix: v.matrix! });
      }
      for (const event of scoreEvents) {
        if (event.step !== step) continue;
        for (const score of event.scores) score.frozen = this.frozen.has(score.name);
      }
      this.state.keepOnly(new Set(this.state.tensors.map((s) => s.name).filter((n) => !this.frozen.has(n))));
      events.push({
        type: 'schedule',
        step,
        remaining: round.remaining,
        threshold: round.threshold,
        trainableFraction: this.state.elementCount / this.initialElements,
      });
    }
    return { events, frozen };
  }

  dispose(): void {
    this.state.dispose();
  }

  /** The reference's mask_with_threshold: k-th smallest element score over all still-trainable A/B elements. */
  private maskingRound(step: number, elementScores: Float32Array): { remaining: number; threshold: number; freeze: string[] } {
    const segments = this.state.tensors;
    const means = segmentMeans(elementScores, segments.map((s) => s.size));
    const meanOf = new Map(segments.map((s, i) => [s.name, means[i]]));
    const remaining = remainingFraction(step, this.schedule);
    const threshold = kthSmallest(elementScores, thresholdRank(elementScores.length, remaining));
    const freeze = segments
      .map((s) => s.name)
      .filter((name) => {
        const own = meanOf.get(name)!;
        const partner = meanOf.get(partnerOf(name));
        // Together: A and B of a module are judged by the mean of their two scores (both are trainable).
        const score = this.options.freezeTogether && partner !== undefined ? (own + partner) / 2 : own;
        return score < threshold;
      });
    return { remaining, threshold, freeze };
  }

  private scoreEvent(row: ScoreRow): Extract<MethodEvent, { type: 'scores' }> {
    const scores: MatrixScore[] = [...row.scores].map(([name, score]) => ({
      name,
      matrix: this.byName.get(name)!.matrix!,
      score,
      frozen: false,
    }));
    return { type: 'scores', step: row.step, scores };
  }
}

function partnerOf(name: string): string {
  return name.endsWith('.lora_A') ? `${name.slice(0, -1)}B` : `${name.slice(0, -1)}A`;
}

function createAflora(ctx: MethodContext, raw: AfloraOptions): AdapterRuntime {
  const options = checkAfloraOptions(raw);
  const kinds = kindsOf(options.trainableMatrices);
  const set = buildModules(ctx, options.rank, options.lambdaDInit, (t) => kinds.includes(t.kind));
  const freezer = new Freezer(set.trainableMatrices, options, resolveSchedule(options, ctx.totalSteps, ctx.epochs));
  const runtime = lowRankRuntime(
    set.modules,
    set.all,
    () => [...set.vectors, ...set.trainableMatrices.filter((v) => !freezer.isFrozen(v.name))],
    () => freezer.dispose(),
  );
  return {
    ...runtime,
    observeGradients: (step, grads) => freezer.observe(step, grads),
    afterStep: (step) => freezer.afterStep(step),
  };
}

/** Trainable count at step 0: Λd, Λb everywhere plus A/B of the trainable kinds. */
function countScaled(config: BertConfig, rank: number, abTrainable: (t: LinearTarget) => boolean): number {
  return linearTargets(config).reduce(
    (sum, t) => sum + rank + t.outFeatures + (abTrainable(t) ? rank * (t.inFeatures + t.outFeatures) : 0),
    0,
  );
}

export const afloraMethod: AdapterMethod<AfloraOptions> = {
  id: 'aflora',
  label: 'AFLoRA',
  description:
    'Low-rank A/B with trainable scaling vectors Λd, Λb on every linear; A/B freeze one by one as their ' +
    'sensitivity score falls below a cubic-scheduled threshold.',
  defaults: AFLORA_DEFAULTS,
  create: createAflora,
  countTrainable(config, raw) {
    const kinds = kindsOf(checkAfloraOptions(raw).trainableMatrices);
    return countScaled(config, raw.rank, (t) => kinds.includes(t.kind));
  },
};

export const pmTrainableMethod: AdapterMethod<PmOptions> = {
  id: 'pm-trainable',
  label: 'PM trainable',
  description: 'The AFLoRA module with its A/B matrices (FFN by default) trained throughout, never frozen (ablation).',
  defaults: PM_DEFAULTS,
  create(ctx, raw) {
    const options = checkPmOptions(raw);
    const kinds = kindsOf(options.trainableMatrices);
    const set = buildModules(ctx, options.rank, options.lambdaDInit, (t) => kinds.includes(t.kind));
    const trainable = [...set.vectors, ...set.trainableMatrices];
    return lowRankRuntime(set.modules, set.all, () => trainable);
  },
  countTrainable(config, raw) {
    const kinds = kindsOf(checkPmOptions(raw).trainableMatrices);
    return countScaled(config, raw.rank, (t) => kinds.includes(t.kind));
  },
};

type PmFrozenOptions = Omit<PmOptions, 'trainableMatrices'>;

export const pmFrozenMethod: AdapterMethod<PmFrozenOptions> = {
  id: 'pm-frozen',
  label: 'PM frozen',
  description: 'The AFLoRA module with every A/B matrix frozen at its random init; only Λd and Λb train (ablation).',
  defaults: { rank: PM_DEFAULTS.rank, lambdaDInit: PM_DEFAULTS.lambdaDInit },
  create(ctx, raw) {
    const options = checkPmOptions({ ...raw, trainableMatrices: 'ffn' });
    const set = buildModules(ctx, options.rank, options.lambdaDInit, () => false);
    return lowRankRuntime(set.modules, set.all, () => set.vectors);
  },
  countTrainable(config, raw) {
    return countScaled(config, checkPmOptions({ ...raw, trainableMatrices: 'ffn' }).rank, () => false);
  },
};

export const afloraMethods: AdapterMethod[] = [
  afloraMethod,
  pmTrainableMethod,
  pmFrozenMethod,
];

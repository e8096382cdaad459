/**
 * AFLoRA (Liu, Kundu et al. 2024): y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))) on all six linears of every layer,
 * no alpha / r scaling. Λd, Λb always train; the A/B matrices of the chosen linears (FFN by default) train until
 * their freezing score drops below a cubic-scheduled threshold, then freeze for good. Conventions: README.md.
 * Also the paper's ablations on the same module: 'pm-trainable' (never freeze) and 'pm-frozen' (A/B frozen at 0).
 */
import * as tf from '@tensorflow/tfjs';
import type {
  AdapterRuntime,
  AfterStepResult,
  CellId,
  MethodContext,
  MethodEvent,
  MethodState,
  MethodVariable,
  ViewCell,
} from '../../engine/adapter';
import { InputError } from '../../engine/errors';
import type { LowRankModule } from '../../engine/kernels';
import { kaimingUniform } from '../../engine/random';
import {
  ATTENTION_KINDS,
  FFN_KINDS,
  linearTargets,
  MODULE_KINDS,
  type BertConfig,
  type LinearTarget,
  type ModuleKind,
} from '../../engine/types';
import { exportPeftAdapter } from '../../io/export/peft';
import { createVariable, lowRankRuntime, type MethodRuntime } from '../common';
import { SCORE_SERIES } from '../entry';
import type { AfloraOptions, PmFrozenOptions, PmTrainableOptions, TrainableMatrices } from './schema';
import {
  isMaskingStep,
  remainingFraction,
  resolveSchedule,
  thresholdRank,
  windowStartsBetweenReads,
  type FreezeSchedule,
} from './schedule';
import { ScoreState, type ScoreRow } from './scores';
import { kthSmallest, segmentMeans } from './select';

const MATRIX_SCOPES: Record<TrainableMatrices, readonly ModuleKind[]> = {
  ffn: FFN_KINDS,
  attention: ATTENTION_KINDS,
  both: MODULE_KINDS,
};

interface ModuleSet {
  all: MethodVariable[];
  vectors: MethodVariable[];
  /** A/B matrices that start trainable (they may freeze), and their heatmap cells. */
  trainableMatrices: MethodVariable[];
  cells: ViewCell[];
  modules: Map<string, LowRankModule>;
}

/**
 * The module on every linear. A and B: Kaiming uniform with a = 0, i.e. U(±sqrt(6 / fan_in)), fan_in = in for A
 * and r for B (the reference's init_type 1). Every variable takes weight decay: the reference trainer's decay
 * group is every trainable name without "bias", which includes its lora_d / lora_db vectors.
 */
function buildModules(
  ctx: MethodContext,
  rank: number,
  lambdaDInit: number,
  abTrainable: (t: LinearTarget) => boolean,
): ModuleSet {
  const set: ModuleSet = { all: [], vectors: [], trainableMatrices: [], cells: [], modules: new Map() };
  for (const target of ctx.targets) {
    const train = abTrainable(target);
    const names = {
      a: `${target.path}.lora_A`,
      b: `${target.path}.lora_B`,
      d: `${target.path}.lambda_d`,
      bVec: `${target.path}.lambda_b`,
    };
    const a = createVariable(ctx, names.a, [rank, target.inFeatures], train, (rng, n) =>
      kaimingUniform(rng, n, target.inFeatures, 0),
    );
    const b = createVariable(ctx, names.b, [target.outFeatures, rank], train, (rng, n) =>
      kaimingUniform(rng, n, rank, 0),
    );
    const d = createVariable(ctx, names.d, [rank], true, (_p, n) => new Float32Array(n).fill(lambdaDInit));
    const bVec = createVariable(ctx, names.bVec, [target.outFeatures], true, (_p, n) => new Float32Array(n));
    set.modules.set(target.path, {
      a: a as tf.Tensor2D,
      b: b as tf.Tensor2D,
      lambdaD: d as tf.Tensor1D,
      lambdaB: bVec as tf.Tensor1D,
    });
    const matrices: MethodVariable[] = [
      { name: names.a, variable: a, lrGroup: 'adapter', decays: true },
      { name: names.b, variable: b, lrGroup: 'adapter', decays: true },
    ];
    const vectors: MethodVariable[] = [
      { name: names.d, variable: d, lrGroup: 'adapter', decays: true },
      { name: names.bVec, variable: bVec, lrGroup: 'adapter', decays: true },
    ];
    set.all.push(...matrices, ...vectors);
    set.vectors.push(...vectors);
    if (train) {
      set.trainableMatrices.push(...matrices);
      for (const matrix of ['A', 'B'] as const) {
        set.cells.push({
          name: matrix === 'A' ? names.a : names.b,
          cell: { layer: target.layer, kind: target.kind, matrix },
        });
      }
    }
  }
  return set;
}

const NO_EVENTS: AfterStepResult = { events: [], frozen: [] };

/** The freezing half of AFLoRA: scores on the GPU, masking rounds on the schedule, permanent freezes. */
class Freezer {
  private readonly state: ScoreState;
  private readonly byName: Map<string, MethodVariable>;
  private readonly cellOf: Map<string, CellId>;
  /** Step each matrix froze at: the one record (freeze events are reported from it). */
  readonly frozen = new Map<string, number>();
  private readonly initialElements: number;
  private readonly initialMatrices: number;

  constructor(
    matrices: readonly MethodVariable[],
    cells: readonly ViewCell[],
    private readonly options: AfloraOptions,
    private readonly schedule: FreezeSchedule,
  ) {
    this.byName = new Map(matrices.map((v) => [v.name, v]));
    this.cellOf = new Map(cells.map((c) => [c.name, c.cell]));
    this.state = new ScoreState(
      matrices.map((v) => ({ name: v.name, variable: v.variable, size: v.variable.size })),
      options,
      windowStartsBetweenReads(schedule),
    );
    this.initialElements = this.state.elementCount;
    this.initialMatrices = matrices.length;
  }

  observe(step: number, grads: ReadonlyMap<string, tf.Tensor>): void {
    this.state.observe(step, grads);
  }

  /** Whether any matrix is still being scored. */
  get scoring(): boolean {
    return this.state.tensors.length > 0;
  }

  /** A replayed step: the host's part of observe() (window position, history row) as the plan's step inputs. */
  replayInputs(step: number): ReadonlyMap<string, ArrayBufferView> {
    return this.scoring ? this.state.advance(step) : new Map();
  }

  async afterStep(step: number): Promise<AfterStepResult> {
    if (this.state.tensors.length === 0) return NO_EVENTS;
    const masking = isMaskingStep(step, this.schedule);
    const lastStep = step >= this.schedule.totalSteps - 1;
    if (!masking && !(lastStep && this.state.hasUnread())) return NO_EVENTS;
    const read = await this.state.read(masking);
    const events: MethodEvent[] = [];
    events.push(...read.rows.map(scoreEvent));
    const frozen: string[] = [];
    if (masking && read.elementScores) {
      const round = this.maskingRound(step, read.elementScores);
      for (const name of round.freeze) {
        this.byName.get(name)!.variable.trainable = false;
        this.frozen.set(name, step);
        frozen.push(name);
        events.push({ type: 'freeze', step, name, cell: this.cellOf.get(name)! });
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

  /** The frozen matrices with their steps, and the score statistics of the others. */
  async save(): Promise<MethodState> {
    const { historyRows, tensors } = await this.state.save();
    return { meta: { frozen: Object.fromEntries(this.frozen), historyRows }, tensors };
  }

  restore(saved: MethodState): void {
    const meta = saved.meta as { frozen?: Record<string, number>; historyRows?: { step: number; names: string[] }[] } | null;
    if (!meta?.frozen || !meta.historyRows) throw new Error('checkpoint: not an AFLoRA state');
    for (const [name, step] of Object.entries(meta.frozen)) {
      const v = this.byName.get(name);
      if (!v) throw new Error(`checkpoint: ${name} froze, but it is not a trainable matrix of this run`);
      v.variable.trainable = false;
      this.frozen.set(name, step);
    }
    this.state.keepOnly(new Set(this.state.tensors.map((s) => s.name).filter((n) => !this.frozen.has(n))));
    this.state.restore(meta.historyRows, saved.tensors);
  }

  dispose(): void {
    this.state.dispose();
  }

  /**
   * One masking round. 'elements' (the reference's mask_with_threshold): the k-th smallest element score over all
   * still-trainable A/B elements is the threshold; 'matrices' (the paper's text): the lowest-scoring matrices freeze
   * until floor(M (1 - r)) of the M initial matrices are frozen, the threshold reported being the last one's score.
   */
  private maskingRound(
    step: number,
    elementScores: Float32Array,
  ): { remaining: number; threshold: number; freeze: string[] } {
    const bad = elementScores.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new InputError(
        `AFLoRA's freezing score became ${elementScores[bad]} at step ${step}: a gradient was not finite, so no threshold can be taken.`,
        'Training diverged: lower the adapter learning rate (or the max grad norm) and train again.',
      );
    }
    const segments = this.state.tensors;
    const means = segmentMeans(
      elementScores,
      segments.map((s) => s.size),
    );
    const meanOf = new Map(segments.map((s, i) => [s.name, means[i]]));
    const remaining = remainingFraction(step, this.schedule);
    // Together: A and B of a module are judged by the mean of their two scores (both are trainable).
    const decisionScore = (name: string): number => {
      const own = meanOf.get(name)!;
      const partner = meanOf.get(partnerOf(name));
      return this.options.freezeTogether && partner !== undefined ? (own + partner) / 2 : own;
    };
    const names = segments.map((s) => s.name);
    if (this.options.thresholdRule === 'matrices') {
      const target = Math.floor(this.initialMatrices * (1 - remaining)) - this.frozen.size;
      const ranked = names
        .map((name) => ({ name, score: decisionScore(name) }))
        .sort((a, b) => a.score - b.score);
      const freeze = ranked.slice(0, Math.max(0, target));
      const threshold = freeze.length > 0 ? freeze[freeze.length - 1].score : ranked[0].score;
      return { remaining, threshold, freeze: freeze.map((f) => f.name) };
    }
    const threshold = kthSmallest(elementScores, thresholdRank(elementScores.length, remaining));
    return { remaining, threshold, freeze: names.filter((name) => decisionScore(name) < threshold) };
  }
}

function scoreEvent(row: ScoreRow): MethodEvent {
  return {
    type: 'values',
    step: row.step,
    series: SCORE_SERIES,
    values: [...row.scores].map(([name, value]) => ({ name, value })),
  };
}

function partnerOf(name: string): string {
  return name.endsWith('.lora_A') ? `${name.slice(0, -1)}B` : `${name.slice(0, -1)}A`;
}

function kindTest(scope: TrainableMatrices): (t: LinearTarget) => boolean {
  const kinds = MATRIX_SCOPES[scope];
  return (t) => kinds.includes(t.kind);
}

function createAflora(ctx: MethodContext, options: AfloraOptions): AdapterRuntime {
  const set = buildModules(ctx, options.rank, options.lambdaDInit, kindTest(options.trainableMatrices));
  const freezer = new Freezer(
    set.trainableMatrices,
    set.cells,
    options,
    resolveSchedule(options, ctx.totalSteps, ctx.epochs),
  );
  const runtime = lowRankRuntime(
    set.modules,
    set.all,
    () => [...set.vectors, ...set.trainableMatrices.filter((v) => !freezer.frozen.has(v.name))],
    () => freezer.dispose(),
    set.cells,
  );
  return {
    ...runtime,
    inputDropout: options.loraDropout,
    observeGradients: (step, grads) => freezer.observe(step, grads),
    afterStep: (step) => freezer.afterStep(step),
    freezeSteps: () => freezer.frozen,
    saveState: () => freezer.save(),
    restoreState: (state) => freezer.restore(state),
    // While scoring, the score update is part of the recorded step; its window position and history row are step
    // inputs. A freeze compacts the score buffers (the plan is dropped and the next steps re-recorded).
    replayKey: () => (freezer.scoring ? 'aflora-scoring' : 'low-rank'),
    replayInputs: (step) => freezer.replayInputs(step),
  };
}

/** Trainable count at step 0: Λd, Λb everywhere plus A/B of the trainable kinds. */
function countScaled(config: BertConfig, rank: number, abTrainable: (t: LinearTarget) => boolean): number {
  return linearTargets(config).reduce(
    (sum, t) => sum + rank + t.outFeatures + (abTrainable(t) ? rank * (t.inFeatures + t.outFeatures) : 0),
    0,
  );
}

/** Λ vectors folded into B: plain LoRA with scaling 1 (io/export/peft). */
const foldedPeft =
  <O extends { loraDropout: number }>(): MethodRuntime<O>['exportPeft'] =>
  (state, options, baseModel) =>
    exportPeftAdapter({ variables: state, baseModel, loraDropout: options.loraDropout });

export const afloraRuntime: MethodRuntime<AfloraOptions> = {
  create: createAflora,
  countTrainable: (config, options) => countScaled(config, options.rank, kindTest(options.trainableMatrices)),
  exportPeft: foldedPeft(),
};

export const pmTrainableRuntime: MethodRuntime<PmTrainableOptions> = {
  create(ctx, options) {
    const set = buildModules(ctx, options.rank, options.lambdaDInit, kindTest(options.trainableMatrices));
    const trainable = [...set.vectors, ...set.trainableMatrices];
    return { ...lowRankRuntime(set.modules, set.all, () => trainable), inputDropout: options.loraDropout };
  },
  countTrainable: (config, options) => countScaled(config, options.rank, kindTest(options.trainableMatrices)),
  exportPeft: foldedPeft(),
};

export const pmFrozenRuntime: MethodRuntime<PmFrozenOptions> = {
  create(ctx, options) {
    const set = buildModules(ctx, options.rank, options.lambdaDInit, () => false);
    return { ...lowRankRuntime(set.modules, set.all, () => set.vectors), inputDropout: options.loraDropout };
  },
  countTrainable: (config, options) => countScaled(config, options.rank, () => false),
  exportPeft: foldedPeft(),
};

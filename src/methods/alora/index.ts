/**
 * ALoRA (Liu et al., NAACL 2024), reimplemented from the paper: LoRA whose every rank has a 0/1 gate,
 * y = W0 x + b0 + (α / r_init) B (g ⊙ (A x)). Each module holds `maxRank` slots from the start (the engine's rule:
 * shapes never change), the first r_init active. Rounds (allocate.ts) score each active rank by ablation on the
 * engine's probe batch, prune the lowest and switch on dormant slots elsewhere; a gate change is a buffer write.
 * Choices the paper leaves open: README.md.
 */
import * as tf from '@tensorflow/tfjs';
import type {
  AdapterRuntime,
  AfterStepResult,
  MethodContext,
  MethodState,
  MethodEvent,
  MethodVariable,
  ModelProbe,
  ViewCell,
} from '../../engine/adapter';
import type { LowRankModule } from '../../engine/kernels';
import { OptionError } from '../../engine/options';
import { kaimingUniform } from '../../engine/random';
import { linearTargets, type LinearTarget, type TensorData } from '../../engine/types';
import { exportPeftRankPattern } from '../../io/export/peft';
import { createVariable, lowRankRuntime, selectTargets, type MethodRuntime } from '../common';
import { IMPORTANCE_SERIES, RANK_SERIES } from '../entry';
import { allocateRound, type SlotState } from './allocate';
import { roundSteps } from './schedule';
import type { AloraOptions } from './schema';

interface GatedModule {
  target: LinearTarget;
  /** [maxRank] 0/1, not trained. */
  gate: tf.Variable;
  states: SlotState[];
}

const gateName = (path: string) => `${path}.lora_gate`;

function checkOptions(options: AloraOptions): void {
  if (options.maxRank < options.rInit) {
    throw new OptionError(
      'ALoRA',
      'maxRank',
      `(${options.maxRank}) must be at least r_init (${options.rInit}): a module cannot start with more ranks than it has slots`,
    );
  }
}

class Allocator {
  private readonly rounds: Set<number>;
  private readonly pruneCount: number;
  /** The fixed batch the ablations are scored on (only when a round will run). */
  private readonly probe?: ModelProbe;

  constructor(
    private readonly modules: GatedModule[],
    private readonly cells: readonly ViewCell[],
    private readonly options: AloraOptions,
    ctx: MethodContext,
  ) {
    this.rounds = new Set(roundSteps(options, ctx.stepsPerEpoch, ctx.totalSteps));
    this.pruneCount = options.pruneCount ?? modules.length;
    if (this.rounds.size > 0) {
      if (!ctx.probe)
        throw new Error('ALoRA needs the engine probe batch (MethodContext.probe) to score its ranks');
      this.probe = ctx.probe(options.probeSize);
    }
  }

  /** Each module's slot states (pruned and dormant both hold gate 0, so the gates alone do not say). */
  save(): MethodState {
    return { meta: { states: this.modules.map((m) => [...m.states]) }, tensors: new Map() };
  }

  restore(saved: MethodState): void {
    const states = (saved.meta as { states?: SlotState[][] } | null)?.states;
    if (!states || states.length !== this.modules.length || states.some((s, i) => s.length !== this.modules[i].states.length)) {
      throw new Error('checkpoint: not an ALoRA state of this run');
    }
    states.forEach((s, i) => (this.modules[i].states = [...s]));
  }

  activeCount(m: GatedModule): number {
    return m.states.filter((s) => s === 'active').length;
  }

  async afterStep(step: number): Promise<AfterStepResult> {
    const events: MethodEvent[] = [];
    if (step === 0) events.push(this.rankEvent(0), this.budgetEvent(0));
    if (this.rounds.has(step)) events.push(...(await this.round(step)));
    return { events, frozen: [] };
  }

  /** AB-LoRA importance of every active rank: -L(M) + L(M without r) - L(only r), one GPU read for the round. */
  private async importance(): Promise<number[][]> {
    const probe = this.probe!;
    const active = this.modules.flatMap((m, i) =>
      m.states.flatMap((s, k) => (s === 'active' ? [[i, k] as const] : [])),
    );
    const saved = this.modules.map((m) => m.states.map((s) => (s === 'active' ? 1 : 0)));
    const setGate = (i: number, values: readonly number[]) =>
      tf.tidy(() => this.modules[i].gate.assign(tf.tensor1d(values as number[])));
    const oneHot = (k: number) => saved[0].map((_, j) => (j === k ? 1 : 0));
    const zeros = saved[0].map(() => 0);
    const losses: tf.Scalar[] = [probe.loss()];
    for (const [i, k] of active) {
      setGate(
        i,
        saved[i].map((v, j) => (j === k ? 0 : v)),
      );
      losses.push(probe.loss());
      setGate(i, saved[i]);
    }
    this.modules.forEach((_, i) => setGate(i, zeros));
    for (const [i, k] of active) {
      setGate(i, oneHot(k));
      losses.push(probe.loss());
      setGate(i, zeros);
    }
    this.modules.forEach((_, i) => setGate(i, saved[i]));
    const stacked = tf.stack(losses); // [1 + 2 * active]
    tf.dispose(losses);
    const values = await stacked.data();
    stacked.dispose();
    const importance = this.modules.map((m) => m.states.map(() => Number.NaN));
    active.forEach(
      ([i, k], a) => (importance[i][k] = -values[0] + values[1 + a] - values[1 + active.length + a]),
    );
    return importance;
  }

  private async round(step: number): Promise<MethodEvent[]> {
    const importance = await this.importance();
    const decision = allocateRound(
      this.modules.map((m) => m.states),
      importance,
      this.pruneCount,
    );
    const changed = new Set([...decision.pruned, ...decision.added].map(([i]) => i));
    for (const i of changed) {
      const m = this.modules[i];
      tf.tidy(() => m.gate.assign(tf.tensor1d(m.states.map((s) => (s === 'active' ? 1 : 0)))));
    }
    return [
      {
        type: 'values',
        step,
        series: IMPORTANCE_SERIES,
        values: this.cells.flatMap((c, i) =>
          Number.isFinite(decision.meanImportance[i])
            ? [{ name: c.name, value: decision.meanImportance[i] }]
            : [],
        ),
      },
      this.rankEvent(step),
      this.budgetEvent(step),
    ];
  }

  /** ALoRA's budget is R_target = r_init x N_mod throughout; actual falls below it only when shares found no room. */
  private budgetEvent(step: number): MethodEvent {
    const budget = this.options.rInit * this.modules.length;
    return {
      type: 'budget',
      step,
      scheduled: budget,
      actual: this.modules.reduce((n, m) => n + this.activeCount(m), 0),
      target: budget,
    };
  }

  private rankEvent(step: number): MethodEvent {
    return {
      type: 'values',
      step,
      series: RANK_SERIES,
      values: this.cells.map((c, i) => ({ name: c.name, value: this.activeCount(this.modules[i]) })),
    };
  }
}

function createAlora(ctx: MethodContext, options: AloraOptions): AdapterRuntime {
  checkOptions(options);
  const { rInit, maxRank } = options;
  const scale = options.alpha / rInit;
  const vars: MethodVariable[] = [];
  const matrices: MethodVariable[] = [];
  const lowRank = new Map<string, LowRankModule>();
  const gated: GatedModule[] = [];
  const cells: ViewCell[] = [];
  const ones: tf.Tensor[] = [];
  for (const target of selectTargets(ctx.targets, options.targetModules)) {
    const a = createVariable(ctx, `${target.path}.lora_A`, [maxRank, target.inFeatures], true, (rng, n) =>
      kaimingUniform(rng, n, target.inFeatures, Math.sqrt(5)),
    );
    const b = createVariable(
      ctx,
      `${target.path}.lora_B`,
      [target.outFeatures, maxRank],
      true,
      (_r, n) => new Float32Array(n),
    );
    const gate = createVariable(ctx, gateName(target.path), [maxRank], false, (_r, n) =>
      new Float32Array(n).fill(1, 0, rInit),
    );
    const unit = tf.ones([target.outFeatures]) as tf.Tensor1D;
    ones.push(unit);
    lowRank.set(target.path, {
      a: a as tf.Tensor2D,
      b: b as tf.Tensor2D,
      lambdaD: gate as tf.Tensor1D,
      lambdaB: unit,
      scale,
    });
    const pair: MethodVariable[] = [
      { name: `${target.path}.lora_A`, variable: a, lrGroup: 'adapter', decays: true },
      { name: `${target.path}.lora_B`, variable: b, lrGroup: 'adapter', decays: true },
    ];
    matrices.push(...pair);
    vars.push(...pair, { name: gateName(target.path), variable: gate, lrGroup: 'adapter', decays: false });
    gated.push({
      target,
      gate,
      states: Array.from({ length: maxRank }, (_, k) => (k < rInit ? 'active' : 'dormant')),
    });
    cells.push({ name: target.path, cell: { layer: target.layer, kind: target.kind } });
  }
  const allocator = new Allocator(gated, cells, options, ctx);
  const runtime = lowRankRuntime(
    lowRank,
    vars,
    () => matrices,
    () => tf.dispose(ones),
    cells,
  );
  return {
    ...runtime,
    activeParamCount: () =>
      gated.reduce((n, m) => n + allocator.activeCount(m) * (m.target.inFeatures + m.target.outFeatures), 0),
    afterStep: (step) => allocator.afterStep(step),
    saveState: async () => allocator.save(),
    restoreState: (state) => allocator.restore(state),
  };
}

function required(state: ReadonlyMap<string, TensorData>, name: string): TensorData {
  const value = state.get(name);
  if (!value) throw new Error(`ALoRA export: the trained state has no ${name}`);
  return value;
}

export const aloraRuntime: MethodRuntime<AloraOptions> = {
  create: createAlora,
  countTrainable: (config, options) => {
    checkOptions(options);
    return selectTargets(linearTargets(config), options.targetModules).reduce(
      (n, t) => n + options.rInit * (t.inFeatures + t.outFeatures),
      0,
    );
  },
  exportPeft: (state, options, baseModel) => {
    const paths = [...state.keys()]
      .filter((k) => k.endsWith('.lora_gate'))
      .map((k) => k.slice(0, -'.lora_gate'.length));
    const modules = paths.map((path) => ({
      path,
      a: required(state, `${path}.lora_A`),
      b: required(state, `${path}.lora_B`),
      active: Array.from(required(state, gateName(path)).data, (g) => g > 0.5),
      scale: options.alpha / options.rInit,
    }));
    return exportPeftRankPattern({ modules, head: state, baseModel });
  },
};

/**
 * IncreLoRA (Zhang et al. 2023) as the official code runs it (README.md): per module ΔW = B (A ⊙ E) · α / (r + 1e-5)
 * over blocks of components, r = the module's rank; y = W0 x + b0 + x ΔWᵀ. ΔW is built explicitly as the official
 * loraW module does, so its gradient (the score's ∂L/∂ΔW) comes from a custom-gradient identity on it.
 *
 * Shapes are fixed: every block a module can ever hold is allocated up front (plan.ts), one A [n, in], E [n] and
 * B [out, n] variable per block, because each block joins its own optimizer group at its own step (its own Adam step
 * count and restarted warm-up: MethodVariable.lrFactor). Blocks not created yet hold E = 0 and are masked out of the
 * orthogonal regulariser; the one decision that reads the GPU is a growth round's scores. The score EMAs move in the
 * step itself (observeUpdate), so the steps between growth rounds are replayed (engine/replay.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime, AfterStepResult, MethodContext, MethodEvent, MethodState, MethodVariable, ViewCell } from '../../engine/adapter';
import { fromTensorData, tensorsData } from '../../engine/checkpoint';
import { Rng } from '../../engine/random';
import { absDot, matMul, sumScalars } from '../../engine/kernels';
import { linearScheduleFactor } from '../../engine/schedule';
import { linearTargets, type LinearTarget, type StateDict, type TensorData } from '../../engine/types';
import { exportPeftRankPattern, type RankModuleState } from '../../io/export/peft';
import { createVariable, selectTargets, type MethodRuntime } from '../common';
import { IMPORTANCE_SERIES, RANK_SERIES } from '../entry';
import { decideGrowth, growthPlan, RESERVE_E, type GrowthPlan } from './plan';
import { isGrowthStep } from './schedule';
import type { IncreLoraOptions } from './schema';

/** official reset_parameters / add_reserve_param: A, B ~ normal(0, 0.02). */
function normal002(rng: Rng, size: number): Float32Array {
  return rng.normalArray(size, 0.02);
}

/** A non-trainable variable holding `values` (the temporary is freed). */
function dataVariable(values: Float32Array): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor1d(values), false));
}

export function blockNames(path: string, block: number): { a: string; e: string; b: string } {
  return { a: `${path}.lora_A.${block}`, e: `${path}.lora_E.${block}`, b: `${path}.lora_B.${block}` };
}

interface Block {
  a: MethodVariable;
  e: MethodVariable;
  b: MethodVariable;
}

interface Module {
  target: LinearTarget;
  blocks: Block[];
  /** Blocks created so far (official: the components in its ParameterLists); the last one is the reserve. */
  created: number;
  rank: number;
  /** The official `ranknum` buffer [1]: read by the scale and by the export. */
  ranknum: tf.Variable;
  /** [R] 1 for rows of created blocks (R = all rows the module can hold): masks E and the regulariser. */
  present: tf.Variable;
  /** The step's score from the ΔW gradient (official layer.score), kept until the next backward replaces it. */
  score: tf.Scalar | null;
}

class IncreLoraRuntime implements AdapterRuntime {
  readonly adapted: ReadonlySet<string>;
  readonly trainsBase = false;
  readonly cells: readonly ViewCell[];
  regularizer?: (step: number) => tf.Scalar;
  private readonly modules: Module[];
  private readonly byPath = new Map<string, Module>();
  private readonly all: MethodVariable[] = [];
  private trainableList: MethodVariable[] = [];
  private readonly plan: GrowthPlan;
  private totalRank: number;
  private rounds = 0;
  /** The last round's threshold (the k-th largest score). */
  lastThreshold: number | null = null;
  /** Score hooks on (official: removed once the total equals the target exactly). */
  private hooks = true;
  /** [N] EMAs Ī and Ū of the module scores (official exp_avg_ipt / exp_avg_unc). */
  private expIpt: tf.Tensor1D;
  private expUnc: tf.Tensor1D;
  /** The step each added optimizer group opened at, by variable name (its restarted warm-up counts from there). */
  private readonly groupStart = new Map<string, number>();
  private readonly scoreHook: (delta: tf.Tensor2D, module: Module) => tf.Tensor2D;

  constructor(
    private readonly ctx: MethodContext,
    private readonly options: IncreLoraOptions,
  ) {
    const targets = selectTargets(ctx.targets, options.targetModules);
    this.plan = growthPlan(options, targets.length, ctx.totalSteps);
    this.modules = targets.map((target) => this.buildModule(target));
    for (const m of this.modules) this.byPath.set(m.target.path, m);
    this.adapted = new Set(this.byPath.keys());
    this.cells = this.modules.map((m) => ({ name: m.target.path, cell: { layer: m.target.layer, kind: m.target.kind } }));
    this.totalRank = this.plan.initialTotal;
    this.expIpt = tf.keep(tf.zeros([this.modules.length]));
    this.expUnc = tf.keep(tf.zeros([this.modules.length]));
    this.refreshTrainable();
    if (options.regOrthCoef > 0) this.regularizer = () => this.orthRegularizer();
    // official backward_hook: score = Σ |ΔW| |∂L/∂ΔW| / sqrt(out · in), from the task loss's gradient only.
    this.scoreHook = (delta, module) =>
      tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const d = inputs[0] as tf.Tensor2D;
        (inputs[1] as tf.GradSaveFunc)([d]);
        return {
          value: tf.clone(d),
          gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
            const grad = dy as tf.Tensor2D;
            const next = tf.keep(absDot(saved[0], grad, Math.sqrt(grad.size)));
            module.score?.dispose();
            module.score = next;
            return [grad];
          },
        };
      })(delta) as tf.Tensor2D;
  }

  private buildModule(target: LinearTarget): Module {
    const ctx = this.ctx;
    const sizes = this.plan.blockSizes;
    const blocks = sizes.map((n, index): Block => {
      const names = blockNames(target.path, index);
      const first = index === 0;
      const variable = (name: string, shape: number[], init: (rng: Rng, size: number) => Float32Array): MethodVariable => ({
        name,
        variable: createVariable(ctx, name, shape, first, init),
        lrGroup: 'adapter',
        // Official groups: lora_* names are in the Trainer's decay set, and every added group gets weight_decay.
        decays: true,
      });
      return {
        a: variable(names.a, [n, target.inFeatures], normal002),
        // The value the block is created with (official: lora_E[0] zeros; a reserve 1e-5 with advance learning,
        // else 0); the forward multiplies E by the created-rows mask, so a block not created yet contributes nothing.
        e: variable(names.e, [n], (_r, size) => new Float32Array(size).fill(first || !this.options.advanceLearn ? 0 : RESERVE_E)),
        b: variable(names.b, [target.outFeatures, n], normal002),
      };
    });
    for (const block of blocks) this.all.push(block.a, block.e, block.b);
    const rows = sizes.reduce((sum, n) => sum + n, 0);
    const present = dataVariable(maskOf(sizes, 1));
    const ranknum = dataVariable(Float32Array.of(this.options.loraR));
    this.all.push({ name: `${target.path}.ranknum`, variable: ranknum, lrGroup: 'adapter', decays: false });
    if (present.size !== rows) throw new Error('IncreLoRA: mask size');
    return { target, blocks, created: 1, rank: this.options.loraR, ranknum, present, score: null };
  }

  private refreshTrainable(): void {
    this.trainableList = this.all.filter((v) => v.variable.trainable);
  }

  /** Joins `vars` to a new optimizer group opened at `step` (official add_param_group + Multi_LambdaLR). */
  private startGroup(vars: MethodVariable[], step: number): void {
    const { totalSteps, warmupSteps } = this.ctx;
    const total = totalSteps - step - 1;
    const factor = this.options.multiLr ? (s: number) => linearScheduleFactor(s - step - 1, total, warmupSteps) : () => 1;
    for (const v of vars) {
      v.variable.trainable = true;
      v.lrFactor = factor;
      this.groupStart.set(v.name, step);
    }
  }

  /** Creates module m's next block as its reserve (official add_reserve_param; its E holds the reserve value). */
  private createReserve(m: Module): Block {
    const block = m.blocks[m.created];
    if (!block) throw new Error(`IncreLoRA: ${m.target.path} has no block left (plan bound broken)`);
    m.created++;
    tf.tidy(() => m.present.assign(tf.tensor1d(maskOf(this.plan.blockSizes, m.created))));
    return block;
  }

  apply(target: LinearTarget, x: tf.Tensor2D, base: tf.Tensor2D): tf.Tensor2D {
    const m = this.byPath.get(target.path);
    if (!m) throw new Error(`${target.path} is not adapted`);
    const a = tf.concat(m.blocks.map((b) => b.a.variable as tf.Tensor2D), 0); // [R, in]
    const e = tf.mul(tf.concat(m.blocks.map((b) => b.e.variable as tf.Tensor1D), 0), m.present); // [R]
    const bMat = tf.concat(m.blocks.map((b) => b.b.variable as tf.Tensor2D), 1); // [out, R]
    const scaling = this.options.loraAlpha > 0 ? this.options.loraAlpha : this.options.loraR;
    // Official order: (B @ (A * E)) * scaling / (ranknum + 1e-5).
    // The engine's tiled products on WebGPU (tf.matMul elsewhere): x ΔWᵀ and its gradient dyᵀ x are the step's largest.
    const product = tf.mul(matMul(bMat, tf.mul(a, tf.reshape(e, [-1, 1])) as tf.Tensor2D), scaling);
    let delta = tf.div(product, tf.add(m.ranknum, 1e-5)) as tf.Tensor2D; // [out, in]
    if (this.hooks) delta = this.scoreHook(delta, m);
    return tf.add(base, matMul(x, delta, false, true));
  }

  variables(): MethodVariable[] {
    return this.all;
  }

  trainable(): MethodVariable[] {
    return this.trainableList;
  }

  /** Trainer.compute_svd_orth_regu x reg_orth_coef: mean over 2N matrices of ‖cov − I‖_F over created rows. */
  private orthRegularizer(): tf.Scalar {
    const terms = this.modules.map((m) => {
      const a = tf.concat(m.blocks.map((b) => b.a.variable as tf.Tensor2D), 0); // [R, in]
      const bMat = tf.concat(m.blocks.map((b) => b.b.variable as tf.Tensor2D), 1); // [out, R]
      const mask = tf.outerProduct(m.present as tf.Tensor1D, m.present as tf.Tensor1D); // [R, R]
      const eye = tf.eye(mask.shape[0]);
      const frob = (cov: tf.Tensor2D) => tf.sqrt(tf.sum(tf.square(tf.mul(tf.sub(cov, eye), mask))));
      return tf.add(frob(tf.matMul(a, a, false, true)), frob(tf.matMul(bMat, bMat, true, false)));
    });
    // Chunked: tf.addN over more than 7 inputs fails silently on WebGPU (storage-buffer limit).
    return tf.mul(tf.div(sumScalars(terms), 2 * this.modules.length), this.options.regOrthCoef) as tf.Scalar;
  }

  async afterStep(step: number): Promise<AfterStepResult> {
    const events: MethodEvent[] = [];
    if (step === 0) {
      // official update_and_increase at global_step 0: a reserve block per module, its A/B in one new group.
      const grouped: MethodVariable[] = [];
      for (const m of this.modules) {
        const block = this.createReserve(m);
        grouped.push(block.a, block.b);
      }
      if (this.options.advanceLearn) this.startGroup(grouped, step);
      events.push(this.rankEvent(step), this.budgetEvent(step));
    }
    if (this.scoring && isGrowthStep(step, this.options)) events.push(...(await this.grow(step)));
    this.refreshTrainable();
    return { events, frozen: [] };
  }

  /** The score EMAs move until the budget is met (official update_and_increase). */
  private get scoring(): boolean {
    return this.totalRank < this.plan.targetTotal;
  }

  /** Part of the step (the EMAs only read this step's scores): a step between growth rounds is replayable. */
  observeUpdate(): void {
    if (this.scoring) this.updateScores();
  }

  /** Steps do the same GPU work until a growth round changes ranks or groups (which re-plans) or the hooks go. */
  replayKey(): string {
    return `increlora|${this.hooks ? 'hooks' : 'no-hooks'}|${this.scoring ? 'scoring' : 'done'}`;
  }

  /** official update_ipt: Ī ← β1 Ī + (1 − β1) s, Ū ← β2 Ū + (1 − β2) |s − Ī| (with the new Ī). */
  private updateScores(): void {
    const { beta1, beta2 } = this.options;
    const [ipt, unc] = tf.tidy(() => {
      const s = tf.stack(this.modules.map((m) => m.score ?? tf.scalar(0))) as tf.Tensor1D;
      const nextIpt = tf.add(tf.mul(this.expIpt, beta1), tf.mul(s, 1 - beta1)) as tf.Tensor1D;
      const nextUnc = tf.add(tf.mul(this.expUnc, beta2), tf.mul(tf.abs(tf.sub(s, nextIpt)), 1 - beta2)) as tf.Tensor1D;
      return [nextIpt, nextUnc];
    });
    this.expIpt.dispose();
    this.expUnc.dispose();
    this.expIpt = ipt;
    this.expUnc = unc;
  }

  private async grow(step: number): Promise<MethodEvent[]> {
    const importance = tf.tidy(() => tf.mul(this.expIpt, this.expUnc));
    const scores = (await importance.data()) as Float32Array;
    importance.dispose();
    const decision = decideGrowth(scores, this.options.topH, this.plan.targetTotal - this.totalRank);
    const grouped: MethodVariable[] = [];
    for (const i of decision.grown) {
      const m = this.modules[i];
      m.rank += this.plan.addRank;
      this.totalRank += this.plan.addRank;
      tf.tidy(() => m.ranknum.assign(tf.tensor1d([m.rank])));
      const reserve = m.blocks[m.created - 1];
      grouped.push(reserve.e);
      if (this.options.advanceLearn) {
        const next = this.createReserve(m);
        grouped.push(next.a, next.b);
      } else {
        grouped.push(reserve.a, reserve.b);
        this.createReserve(m);
      }
    }
    this.startGroup(grouped, step);
    this.rounds++;
    if (this.totalRank === this.plan.targetTotal) {
      // official: only on an exact hit (an overshoot keeps the reserves' E and the hooks).
      this.hooks = false;
      for (const m of this.modules) {
        const reserve = m.blocks[m.created - 1].e.variable;
        tf.tidy(() => reserve.assign(tf.zeros([reserve.size])));
        m.score?.dispose();
        m.score = null;
      }
    }
    const values = this.modules.map((m, i) => ({ name: m.target.path, value: scores[i] }));
    this.lastThreshold = decision.threshold;
    return [{ type: 'values', step, series: IMPORTANCE_SERIES, values }, this.rankEvent(step), this.budgetEvent(step)];
  }

  /** Scheduled: the official plan (top_h x add_r per round, set_total_step's arithmetic); actual: the modules' sum. */
  private budgetEvent(step: number): MethodEvent {
    return { type: 'budget', step, scheduled: this.plan.plannedTotal(this.rounds), actual: this.totalRank, target: this.plan.targetTotal };
  }

  private rankEvent(step: number): MethodEvent {
    return { type: 'values', step, series: RANK_SERIES, values: this.modules.map((m) => ({ name: m.target.path, value: m.rank })) };
  }

  /** The rank per module now (official rank_pattern). */
  rankPattern(): Record<string, number> {
    return Object.fromEntries(this.modules.map((m) => [m.target.path, m.rank]));
  }

  get total(): number {
    return this.totalRank;
  }

  /** Blocks created and ranks per module, the optimizer groups opened, the score EMAs and the last step's scores. */
  async saveState(): Promise<MethodState> {
    const meta = {
      modules: this.modules.map((m) => ({ created: m.created, rank: m.rank })),
      groups: Object.fromEntries(this.groupStart),
      totalRank: this.totalRank,
      rounds: this.rounds,
      lastThreshold: this.lastThreshold,
      hooks: this.hooks,
    };
    const scores = Object.fromEntries(this.modules.map((m, i) => [`score.${i}`, m.score]));
    return { meta, tensors: await tensorsData({ expIpt: this.expIpt, expUnc: this.expUnc, ...scores }) };
  }

  restoreState(saved: MethodState): void {
    type Meta = { modules: { created: number; rank: number }[]; groups: Record<string, number>; totalRank: number; rounds: number; lastThreshold: number | null; hooks: boolean };
    const meta = saved.meta as Meta | null;
    if (!meta?.modules || meta.modules.length !== this.modules.length || !meta.groups) throw new Error('checkpoint: not an IncreLoRA state of this run');
    const byName = new Map(this.all.map((v) => [v.name, v]));
    for (const [name, step] of Object.entries(meta.groups)) {
      const v = byName.get(name);
      if (!v) throw new Error(`checkpoint: IncreLoRA group member ${name}, which this run does not have`);
      this.startGroup([v], step);
    }
    this.modules.forEach((m, i) => {
      const { created, rank } = meta.modules[i];
      if (!(created >= 1 && created <= m.blocks.length)) throw new Error(`checkpoint: ${m.target.path} has ${created} blocks, at most ${m.blocks.length} fit`);
      m.created = created;
      m.rank = rank;
      tf.tidy(() => m.present.assign(tf.tensor1d(maskOf(this.plan.blockSizes, created))));
      m.score?.dispose();
      const score = saved.tensors.get(`score.${i}`);
      m.score = score ? (tf.tidy(() => tf.reshape(fromTensorData(`IncreLoRA score ${i}`, score, 1), [])) as tf.Scalar) : null;
    });
    const ema = (name: string) => tf.tidy(() => tf.reshape(fromTensorData(`IncreLoRA ${name}`, saved.tensors.get(name), this.modules.length), [-1])) as tf.Tensor1D;
    const [ipt, unc] = [ema('expIpt'), ema('expUnc')];
    this.expIpt.dispose();
    this.expUnc.dispose();
    this.expIpt = ipt;
    this.expUnc = unc;
    this.totalRank = meta.totalRank;
    this.rounds = meta.rounds;
    this.lastThreshold = meta.lastThreshold;
    this.hooks = meta.hooks;
    this.refreshTrainable();
  }

  dispose(): void {
    for (const v of this.all) v.variable.dispose();
    for (const m of this.modules) {
      m.present.dispose();
      m.score?.dispose();
    }
    this.expIpt.dispose();
    this.expUnc.dispose();
  }
}

/** [rows] 1 for the rows of the first `created` blocks. */
function maskOf(sizes: readonly number[], created: number): Float32Array {
  const rows = sizes.reduce((sum, n) => sum + n, 0);
  const mask = new Float32Array(rows);
  mask.fill(1, 0, sizes.slice(0, created).reduce((sum, n) => sum + n, 0));
  return mask;
}

function concatRows(parts: TensorData[], axis: 0 | 1): TensorData {
  if (axis === 0) {
    const cols = parts[0].shape.length > 1 ? parts[0].shape[1] : 1;
    const rows = parts.reduce((sum, p) => sum + p.shape[0], 0);
    const data = new Float32Array(rows * cols);
    let offset = 0;
    for (const p of parts) {
      data.set(p.data, offset);
      offset += p.data.length;
    }
    return { shape: parts[0].shape.length > 1 ? [rows, cols] : [rows], data };
  }
  const out = parts[0].shape[0];
  const widths = parts.map((p) => p.shape[1]);
  const total = widths.reduce((s, w) => s + w, 0);
  const data = new Float32Array(out * total);
  for (let o = 0; o < out; o++) {
    let col = 0;
    parts.forEach((p, i) => {
      data.set(p.data.subarray(o * widths[i], (o + 1) * widths[i]), o * total + col);
      col += widths[i];
    });
  }
  return { shape: [out, total], data };
}

/**
 * PEFT LoRA with rank_pattern: per module its first `ranknum` components (the active ones, in creation order), E
 * folded into A, scale α / (ranknum + 1e-5). The reserve is dropped: after an exact finish its E is 0; otherwise it
 * adds 1e-5-scaled terms (a logit change far below 1e-4).
 */
export function increloraPeftModules(state: StateDict, options: IncreLoraOptions): RankModuleState[] {
  const paths = [...state.keys()].filter((k) => k.endsWith('.ranknum')).map((k) => k.slice(0, -'.ranknum'.length));
  return paths.map((path) => {
    const blocks: { a: TensorData; e: TensorData; b: TensorData }[] = [];
    for (let i = 0; ; i++) {
      const names = blockNames(path, i);
      const a = state.get(names.a);
      if (!a) break;
      blocks.push({ a, e: state.get(names.e)!, b: state.get(names.b)! });
    }
    const rank = Math.round(state.get(`${path}.ranknum`)!.data[0]);
    const a = concatRows(blocks.map((b) => b.a), 0);
    const e = concatRows(blocks.map((b) => b.e), 0);
    const b = concatRows(blocks.map((x) => x.b), 1);
    const scaling = options.loraAlpha > 0 ? options.loraAlpha : options.loraR;
    const active = Array.from({ length: a.shape[0] }, (_, k) => k < rank);
    return { path, a, e, b, active, scale: Math.fround(scaling / Math.fround(rank + 1e-5)) };
  });
}

export const increloraRuntime: MethodRuntime<IncreLoraOptions> = {
  create: (ctx, options) => new IncreLoraRuntime(ctx, options),
  countTrainable: (config, options) =>
    selectTargets(linearTargets(config), options.targetModules).reduce((sum, t) => sum + options.loraR * (t.inFeatures + t.outFeatures + 1), 0),
  exportPeft: (state, options, baseModel) => exportPeftRankPattern({ modules: increloraPeftModules(state, options), head: state, baseModel }),
};

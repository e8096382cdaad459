/**
 * AdaLoRA exactly as huggingface/peft runs it (peft 0.21 tuners/adalora: layer.py SVDLinear + RankAllocator,
 * model.py forward + update_and_allocate); README.md has the details and where PEFT and the paper differ.
 * Per adapted linear: A [r, in], E [r, 1], B [out, r] with r = init_r for the whole run (shapes fixed; PEFT never
 * resizes while training either), y = W0 x + b0 + (x (A ⊙ E)ᵀ Bᵀ) · α / (init_r + 1e-5). After each optimizer
 * step (observeUpdate: new values, clipped gradients) the importance |p · ∇p| is smoothed and the triplet scores
 * derived; afterStep masks the lowest-scoring triplets (E_i := 0) on the budget schedule; after T − tfinal the step
 * itself re-applies the fixed pattern. So every step of a phase is the same GPU work (replayKey), and a masking round
 * is one read plus buffer writes (assignInPlace): a replayed step stays replayed through PEFT's deltaT = 1.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime, AfterStepResult, CellValue, GradientClip, MethodContext, MethodEvent, MethodState, MethodVariable, ViewCell } from '../../engine/adapter';
import { fromTensorData, tensorData } from '../../engine/checkpoint';
import { OptionError } from '../../engine/options';
import { matMul } from '../../engine/kernels';
import { assignInPlace } from '../../engine/replay';
import { linearTargets, type LinearTarget, type StateDict, type TensorData } from '../../engine/types';
import { exportPeftAdaLora } from '../../io/export/peft';
import { IMPORTANCE_SERIES, RANK_SERIES } from '../entry';
import { createVariable, selectTargets, type MethodRuntime } from '../common';
import { budgetAt, maskThreshold, type BudgetSchedule } from './schedule';
import type { AdaloraOptions } from './schema';

/** PEFT's init (reset_lora_parameters): A, B ~ N(0, 0.02), E = 0. */
const INIT_STD = 0.02;
const maskName = (path: string) => `${path}.lora_mask`;

interface SvdModule {
  target: LinearTarget;
  /** [r, in], [r, 1], [out, r]. */
  a: tf.Variable;
  e: tf.Variable;
  b: tf.Variable;
  /** [r] 1 = kept, 0 = masked: the rank pattern of the last allocation (not trained; exported). */
  mask: tf.Variable;
}

/** Smoothed sensitivity Ī and uncertainty Ū of one variable (PEFT's exp_avg_ipt / exp_avg_unc). */
interface Importance {
  avg: tf.Tensor;
  unc: tf.Tensor;
}

export function checkAdaloraOptions(options: AdaloraOptions, totalSteps: number): void {
  if (options.targetR >= options.initR) {
    throw new OptionError('AdaLoRA', 'targetR', `(${options.targetR}) must be below init_r (${options.initR}): the budget only falls (PEFT's kthvalue has no triplet to mask otherwise)`);
  }
  if (!(options.tinit < totalSteps - options.tfinal)) {
    throw new OptionError('AdaLoRA', 'tinit', `(${options.tinit}) and tfinal (${options.tfinal}) leave no budgeting phase in ${totalSteps} steps (PEFT needs tinit < total_step − tfinal)`);
  }
}

/** PEFT's scaling / (ranknum + 1e-5): lora_alpha (or r when α <= 0) over the initial rank. */
function outputScale(options: AdaloraOptions): number {
  return (options.loraAlpha > 0 ? options.loraAlpha : options.initR) / (options.initR + 1e-5);
}

class RankAllocator {
  private readonly importance = new Map<string, Importance>();
  private readonly schedule: BudgetSchedule;
  /** Kept triplets per module after the last allocation (all at init_r before the first). */
  private readonly ranks: number[];
  /** [modules · r] triplet scores of the last importance update (the step computes them; a masking round reads them). */
  private scores: tf.Tensor1D | null = null;

  constructor(
    private readonly modules: SvdModule[],
    private readonly options: AdaloraOptions,
    totalStep: number,
  ) {
    this.schedule = {
      initBudget: options.initR * modules.length,
      targetBudget: options.targetR * modules.length,
      tinit: options.tinit,
      tfinal: options.tfinal,
      deltaT: options.deltaT,
      totalStep,
    };
    this.ranks = modules.map(() => options.initR);
  }

  get finalStep(): number {
    return this.schedule.totalStep - this.schedule.tfinal;
  }

  /** PEFT update_ipt, with torch's p (updated) and p.grad (clipped) for every lora_ variable; only before T − tfinal. */
  updateImportance(step: number, grads: ReadonlyMap<string, tf.Tensor>, clip: GradientClip): void {
    if (step >= this.finalStep) return;
    const { beta1, beta2 } = this.options;
    for (const m of this.modules) {
      for (const [suffix, p] of [['lora_A', m.a], ['lora_B', m.b], ['lora_E', m.e]] as const) {
        const name = `${m.target.path}.${suffix}`;
        const grad = grads.get(name);
        if (!grad) throw new Error(`AdaLoRA: no gradient for ${name}`);
        const old = this.importance.get(name);
        const next = tf.tidy(() => {
          const ipt = tf.abs(tf.mul(p, tf.mul(grad, clip.slice(1, 1))));
          // First update: PEFT's zeros_like state times beta is exactly 0.
          const avg = old ? tf.add(tf.mul(old.avg, beta1), tf.mul(ipt, 1 - beta1)) : tf.mul(ipt, 1 - beta1);
          const deviation = tf.abs(tf.sub(ipt, avg));
          const unc = old ? tf.add(tf.mul(old.unc, beta2), tf.mul(deviation, 1 - beta2)) : tf.mul(deviation, 1 - beta2);
          return { avg: tf.keep(avg), unc: tf.keep(unc) };
        });
        if (old) tf.dispose([old.avg, old.unc]);
        this.importance.set(name, next);
      }
    }
    this.scores?.dispose();
    this.scores = this.tripletScores();
  }

  private resetImportance(): void {
    for (const { avg, unc } of this.importance.values()) tf.dispose([avg, unc]);
    this.importance.clear();
    this.scores?.dispose();
    this.scores = null;
  }

  /** Triplet scores s(E_i) + mean_j s(A_ij) + mean_j s(B_ji), s = Ī · Ū, all modules concatenated: [modules · r]. */
  private tripletScores(): tf.Tensor1D {
    return tf.tidy(() => {
      const score = (name: string) => {
        const s = this.importance.get(name);
        if (!s) throw new Error(`AdaLoRA: no importance for ${name} (an allocation before the first update)`);
        return tf.mul(s.avg, s.unc);
      };
      const parts = this.modules.map((m) => {
        const path = m.target.path;
        const ab = tf.add(tf.mean(score(`${path}.lora_A`), 1), tf.mean(score(`${path}.lora_B`), 0)); // [r]
        return tf.add(tf.reshape(score(`${path}.lora_E`), [-1]), ab);
      });
      return tf.concat(parts) as tf.Tensor1D;
    });
  }

  /** E := E ⊙ mask for every module (PEFT masked_fill_ / mask_using_rank_pattern); `inPlace`: into E's own buffer. */
  private applyMasks(inPlace: boolean): void {
    const masked = this.modules.map((m) => [m.e, tf.tidy(() => tf.mul(m.e, tf.reshape(m.mask, [-1, 1])))] as const);
    if (inPlace) assignInPlace(masked);
    else {
      for (const [e, value] of masked) e.assign(value);
      tf.dispose(masked.map(([, value]) => value));
    }
  }

  /** PEFT update_and_allocate after T − tfinal: the fixed pattern, as part of the step (observeUpdate). */
  maskFixed(step: number): void {
    if (step > this.finalStep) this.applyMasks(false);
  }

  /**
   * PEFT mask_to_budget: one read of the scores (`scores`, or computed now), the threshold on the host, the masks
   * back as data. The read is of a fresh copy: a replayed step rewrites the scores' buffer, and a read caches.
   */
  private async maskToBudget(step: number, budget: number, scores: tf.Tensor1D | null): Promise<MethodEvent[]> {
    const scoresTensor = scores ? tf.tidy(() => tf.add(scores, 0)) : this.tripletScores();
    const values = (await scoresTensor.data()) as Float32Array;
    scoresTensor.dispose();
    return this.maskWith(step, budget, values);
  }

  private maskWith(step: number, budget: number, scores: Float32Array): MethodEvent[] {
    const threshold = maskThreshold(scores, this.schedule.initBudget - budget);
    if (threshold === null) return [];
    const r = this.options.initR;
    const changed: CellValue[] = [];
    const importance: CellValue[] = [];
    this.modules.forEach((m, i) => {
      const own = scores.subarray(i * r, (i + 1) * r);
      const kept = Array.from(own, (s): number => (s <= threshold ? 0 : 1));
      const rank = kept.reduce((a, b) => a + b, 0);
      tf.tidy(() => m.mask.assign(tf.tensor1d(kept)));
      if (rank !== this.ranks[i]) changed.push({ name: m.target.path, value: rank });
      this.ranks[i] = rank;
      importance.push({ name: m.target.path, value: own.reduce((a, b) => a + b, 0) / r });
    });
    this.applyMasks(true);
    const events: MethodEvent[] = [{ type: 'values', step, series: IMPORTANCE_SERIES, values: importance }];
    if (changed.length > 0) events.push({ type: 'values', step, series: RANK_SERIES, values: changed });
    events.push({ type: 'budget', step, scheduled: budget, actual: this.totalRank(), target: this.schedule.targetBudget });
    return events;
  }

  totalRank(): number {
    return this.ranks.reduce((a, b) => a + b, 0);
  }

  /** PEFT update_and_allocate's allocation half, after step `step`'s update (and importance update). */
  async allocate(step: number): Promise<MethodEvent[]> {
    const events: MethodEvent[] = [];
    if (step === 0) {
      events.push({ type: 'values', step, series: RANK_SERIES, values: this.modules.map((m) => ({ name: m.target.path, value: this.options.initR })) });
      events.push({ type: 'budget', step, scheduled: this.schedule.initBudget, actual: this.totalRank(), target: this.schedule.targetBudget });
    }
    if (step < this.finalStep) {
      const { budget, mask } = budgetAt(step, this.schedule);
      if (mask) events.push(...(await this.maskToBudget(step, budget, this.scores)));
    } else if (step === this.finalStep) {
      // The last allocation, at the target budget, from the importance of step T − tfinal − 1 (this step updated
      // none); the pattern is fixed from here on.
      events.push(...(await this.maskToBudget(step, this.schedule.targetBudget, null)));
      this.resetImportance();
    }
    return events;
  }

  /** The smoothed importance of every variable and the ranks of the last allocation (the masks are variables). */
  async save(): Promise<MethodState> {
    const tensors: StateDict = new Map();
    for (const [name, { avg, unc }] of this.importance) {
      tensors.set(`${name}.avg`, await tensorData(avg));
      tensors.set(`${name}.unc`, await tensorData(unc));
    }
    return { meta: { ranks: [...this.ranks], importance: [...this.importance.keys()] }, tensors };
  }

  restore(saved: MethodState): void {
    const meta = saved.meta as { ranks?: number[]; importance?: string[] } | null;
    if (!meta?.ranks || !meta.importance || meta.ranks.length !== this.ranks.length) throw new Error('checkpoint: not an AdaLoRA state of this run');
    const byName = new Map<string, tf.Variable>(this.modules.flatMap((m) => [m.a, m.b, m.e].map((v, k) => [`${m.target.path}.lora_${'ABE'[k]}`, v] as const)));
    for (const name of meta.importance) {
      const variable = byName.get(name);
      if (!variable) throw new Error(`checkpoint: AdaLoRA importance of ${name}, which this run does not have`);
      const shaped = (part: string) => tf.tidy(() => tf.reshape(fromTensorData(`${name} ${part}`, saved.tensors.get(`${name}.${part}`), variable.size), variable.shape));
      this.importance.set(name, { avg: shaped('avg'), unc: shaped('unc') });
    }
    meta.ranks.forEach((rank, i) => (this.ranks[i] = rank));
  }

  dispose(): void {
    this.resetImportance();
  }
}

function createAdalora(ctx: MethodContext, options: AdaloraOptions): AdapterRuntime {
  checkAdaloraOptions(options, ctx.totalSteps);
  const r = options.initR;
  const scale = outputScale(options);
  const modules: SvdModule[] = [];
  const vars: MethodVariable[] = [];
  const trainable: MethodVariable[] = [];
  const cells: ViewCell[] = [];
  const normal = (rng: { normalArray(size: number, std: number): Float32Array }, size: number) => rng.normalArray(size, INIT_STD);
  for (const target of selectTargets(ctx.targets, options.targetModules)) {
    const { path } = target;
    const a = createVariable(ctx, `${path}.lora_A`, [r, target.inFeatures], true, normal);
    const e = createVariable(ctx, `${path}.lora_E`, [r, 1], true, (_rng, size) => new Float32Array(size));
    const b = createVariable(ctx, `${path}.lora_B`, [target.outFeatures, r], true, normal);
    const mask = createVariable(ctx, maskName(path), [r], false, (_rng, size) => new Float32Array(size).fill(1));
    modules.push({ target, a, e, b, mask });
    // HF Trainer decays every lora_ parameter (none is a bias or a LayerNorm weight).
    const own = [a, e, b].map((variable, k): MethodVariable => ({ name: `${path}.lora_${'AEB'[k]}`, variable, lrGroup: 'adapter', decays: true }));
    trainable.push(...own);
    vars.push(...own, { name: maskName(path), variable: mask, lrGroup: 'adapter', decays: false });
    cells.push({ name: path, cell: { layer: target.layer, kind: target.kind } });
  }
  const byPath = new Map(modules.map((m) => [m.target.path, m]));
  const allocator = new RankAllocator(modules, options, ctx.totalSteps);
  const runtime: AdapterRuntime = {
    adapted: new Set(byPath.keys()),
    trainsBase: false,
    cells,
    apply(target, x, base) {
      const m = byPath.get(target.path);
      if (!m) throw new Error(`${target.path} is not adapted`);
      // The engine's tiled products on WebGPU (tf.matMul elsewhere).
      const down = matMul(x, tf.mul(m.a, m.e) as tf.Tensor2D, false, true); // [T, r]
      const up = matMul(down, m.b as tf.Tensor2D, false, true); // [T, out]
      return tf.add(base, tf.mul(up, scale));
    },
    variables: () => vars,
    trainable: () => trainable,
    observeUpdate(step, grads, clip) {
      allocator.updateImportance(step, grads, clip);
      allocator.maskFixed(step);
    },
    // Three phases of different GPU work: importance updates, the one last allocation, the fixed pattern.
    replayKey: (step) => (step < allocator.finalStep ? 'adalora-budget' : step === allocator.finalStep ? 'adalora-last' : 'adalora-fixed'),
    async afterStep(step): Promise<AfterStepResult> {
      return { events: await allocator.allocate(step), frozen: [] };
    },
    saveState: () => allocator.save(),
    restoreState: (state) => allocator.restore(state),
    dispose() {
      allocator.dispose();
      for (const v of vars) v.variable.dispose();
    },
  };
  if (options.orthRegWeight > 0) {
    // PEFT forward: orth_reg_weight · mean over every A and B of ‖P Pᵀ − I‖_F (A) / ‖Pᵀ P − I‖_F (B), not squared.
    runtime.regularizer = () =>
      tf.tidy(() => {
        const eye = tf.eye(r);
        let sum: tf.Scalar = tf.scalar(0);
        for (const m of modules) {
          for (const cov of [tf.matMul(m.a, m.a, false, true), tf.matMul(m.b, m.b, true, false)]) {
            sum = tf.add(sum, tf.sqrt(tf.sum(tf.square(tf.sub(cov, eye)))));
          }
        }
        return tf.mul(tf.div(sum, 2 * modules.length), options.orthRegWeight);
      });
  }
  return runtime;
}

function required(state: StateDict, name: string): TensorData {
  const t = state.get(name);
  if (!t) throw new Error(`PEFT export: ${name} is missing from the adapter state`);
  return t;
}

export const adaloraRuntime: MethodRuntime<AdaloraOptions> = {
  create: createAdalora,
  countTrainable: (config, options) =>
    selectTargets(linearTargets(config), options.targetModules).reduce((sum, t) => sum + options.initR * (t.inFeatures + t.outFeatures + 1), 0),
  exportPeft: (state, options, baseModel, run) => {
    const paths = [...state.keys()].filter((k) => k.endsWith('.lora_mask')).map((k) => k.slice(0, -'.lora_mask'.length));
    const modules = paths.map((path) => ({
      path,
      a: required(state, `${path}.lora_A`),
      b: required(state, `${path}.lora_B`),
      e: required(state, `${path}.lora_E`),
      active: Array.from(required(state, maskName(path)).data, (v) => v > 0.5),
    }));
    const { initR, targetR, loraAlpha, tinit, tfinal, deltaT, beta1, beta2, orthRegWeight } = options;
    return exportPeftAdaLora({
      modules,
      hasRankPattern: true,
      settings: { initR, targetR, loraAlpha, tinit, tfinal, deltaT, beta1, beta2, orthRegWeight, totalStep: run.totalSteps },
      head: state,
      baseModel,
    });
  },
};

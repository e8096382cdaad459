/**
 * ELoRA (VeRA-like): y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))) with A [r, in], B [out, r] frozen random
 * (kaiming uniform, a = sqrt 5, per layer) and only the vectors Λd [r] (init 0.1) and Λb [out] (init 0) trained.
 */
import * as tf from '@tensorflow/tfjs';
import type { LowRankModule } from '../../engine/kernels';
import { kaimingUniform } from '../../engine/random';
import { linearTargets, type BertConfig, type ModuleKind } from '../../engine/types';
import { checkTargetModules, createVariable, lowRankRuntime, MethodOptionError, selectTargets } from '../common';
import type { AdapterMethod, AdapterRuntime, MethodContext, MethodVariable } from '../types';

export interface EloraOptions {
  rank: number;
  targetModules: ModuleKind[];
}

const DEFAULTS: EloraOptions = { rank: 1024, targetModules: ['query', 'value', 'inter', 'out'] };

/**
 * The paper's rank 1024 is meant for hidden 768; on a small model that would make the frozen matrices
 * dwarf the model itself, so the rank is capped at 4 x hidden size.
 */
export function eloraEffectiveRank(config: BertConfig, rank: number): number {
  if (!Number.isInteger(rank) || rank < 1)
    throw new MethodOptionError(`ELoRA rank must be a positive integer (got ${rank})`);
  return Math.min(rank, 4 * config.hiddenSize);
}

function createElora(ctx: MethodContext, options: EloraOptions): AdapterRuntime {
  const kinds = checkTargetModules(options.targetModules);
  const r = eloraEffectiveRank(ctx.config, options.rank);
  const all: MethodVariable[] = [];
  const trainable: MethodVariable[] = [];
  const modules = new Map<string, LowRankModule>();
  for (const target of selectTargets(ctx.targets, kinds)) {
    const a = createVariable(ctx, `${target.path}.lora_A`, [r, target.inFeatures], false, (rng, n) =>
      kaimingUniform(rng, n, target.inFeatures, Math.sqrt(5)),
    );
    const b = createVariable(ctx, `${target.path}.lora_B`, [target.outFeatures, r], false, (rng, n) =>
      kaimingUniform(rng, n, r, Math.sqrt(5)),
    );
    const d = createVariable(ctx, `${target.path}.lambda_d`, [r], true, (_p, n) =>
      new Float32Array(n).fill(0.1),
    );
    const bVec = createVariable(
      ctx,
      `${target.path}.lambda_b`,
      [target.outFeatures],
      true,
      (_p, n) => new Float32Array(n),
    );
    modules.set(target.path, { a: a as tf.Tensor2D, b: b as tf.Tensor2D, lambdaD: d as tf.Tensor1D, lambdaB: bVec as tf.Tensor1D });
    const cell = (m: 'A' | 'B') => ({ layer: target.layer, kind: target.kind, matrix: m });
    all.push({
      name: `${target.path}.lora_A`,
      variable: a,
      lrGroup: 'adapter',
      weightDecay: true,
      matrix: cell('A'),
    });
    all.push({
      name: `${target.path}.lora_B`,
      variable: b,
      lrGroup: 'adapter',
      weightDecay: true,
      matrix: cell('B'),
    });
    // The reference trainer (glue/trainer.py) decays every trainable non-bias, non-LayerNorm, non-classifier
    // parameter; its vectors lora_d / lora_db fall in that group, so Λd and Λb take weight decay too.
    const vectors: MethodVariable[] = [
      { name: `${target.path}.lambda_d`, variable: d, lrGroup: 'adapter', weightDecay: true },
      { name: `${target.path}.lambda_b`, variable: bVec, lrGroup: 'adapter', weightDecay: true },
    ];
    all.push(...vectors);
    trainable.push(...vectors);
  }
  return lowRankRuntime(modules, all, () => trainable);
}

export const eloraMethod: AdapterMethod<EloraOptions> = {
  id: 'elora',
  label: 'ELoRA',
  description: 'Frozen random low-rank matrices per layer; only the scaling vectors Λd and Λb train.',
  defaults: DEFAULTS,
  create: createElora,
  countTrainable(config: BertConfig, options: EloraOptions): number {
    const r = eloraEffectiveRank(config, options.rank);
    const kinds = checkTargetModules(options.targetModules);
    return selectTargets(linearTargets(config), kinds).reduce((sum, t) => sum + r + t.outFeatures, 0);
  },
};

/**
 * ELoRA (VeRA-like): y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))) with A [r, in], B [out, r] frozen random and only the
 * vectors Λd [r] (init 0.1) and Λb [out] (init 0) trained. Init as the official AFLoRA code's module (its PEFT fork,
 * mode "elora"): Kaiming uniform with a = 0, U(±sqrt(6 / fan_in)), fan_in = in for A and r for B, per layer.
 */
import type * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime, MethodContext, MethodVariable } from '../../engine/adapter';
import type { LowRankModule } from '../../engine/kernels';
import { kaimingUniform } from '../../engine/random';
import { linearTargets, type BertConfig } from '../../engine/types';
import { exportPeftAdapter } from '../../io/export/peft';
import { createVariable, lowRankRuntime, selectTargets, type MethodRuntime } from '../common';
import type { EloraOptions } from './schema';

/**
 * The paper's rank 1024 is meant for hidden 768; on a small model that would make the frozen matrices
 * dwarf the model itself, so the rank is capped at 4 x hidden size.
 */
export function eloraEffectiveRank(config: BertConfig, rank: number): number {
  return Math.min(rank, 4 * config.hiddenSize);
}

function createElora(ctx: MethodContext, options: EloraOptions): AdapterRuntime {
  const r = eloraEffectiveRank(ctx.config, options.rank);
  const all: MethodVariable[] = [];
  const trainable: MethodVariable[] = [];
  const modules = new Map<string, LowRankModule>();
  for (const target of selectTargets(ctx.targets, options.targetModules)) {
    const a = createVariable(ctx, `${target.path}.lora_A`, [r, target.inFeatures], false, (rng, n) =>
      kaimingUniform(rng, n, target.inFeatures, 0),
    );
    const b = createVariable(ctx, `${target.path}.lora_B`, [target.outFeatures, r], false, (rng, n) =>
      kaimingUniform(rng, n, r, 0),
    );
    const d = createVariable(ctx, `${target.path}.lambda_d`, [r], true, (_p, n) => new Float32Array(n).fill(0.1));
    const bVec = createVariable(ctx, `${target.path}.lambda_b`, [target.outFeatures], true, (_p, n) => new Float32Array(n));
    modules.set(target.path, { a: a as tf.Tensor2D, b: b as tf.Tensor2D, lambdaD: d as tf.Tensor1D, lambdaB: bVec as tf.Tensor1D });
    all.push({ name: `${target.path}.lora_A`, variable: a, lrGroup: 'adapter', decays: true });
    all.push({ name: `${target.path}.lora_B`, variable: b, lrGroup: 'adapter', decays: true });
    // The reference trainer (glue/trainer.py) decays every trainable non-bias, non-LayerNorm, non-classifier
    // parameter; its vectors lora_d / lora_db fall in that group, so Λd and Λb take weight decay too.
    const vectors: MethodVariable[] = [
      { name: `${target.path}.lambda_d`, variable: d, lrGroup: 'adapter', decays: true },
      { name: `${target.path}.lambda_b`, variable: bVec, lrGroup: 'adapter', decays: true },
    ];
    all.push(...vectors);
    trainable.push(...vectors);
  }
  return lowRankRuntime(modules, all, () => trainable);
}

export const eloraRuntime: MethodRuntime<EloraOptions> = {
  create: createElora,
  countTrainable(config, options) {
    const r = eloraEffectiveRank(config, options.rank);
    return selectTargets(linearTargets(config), options.targetModules).reduce((sum, t) => sum + r + t.outFeatures, 0);
  },
  exportPeft: (state, _options, baseModel) => exportPeftAdapter({ variables: state, baseModel }),
};

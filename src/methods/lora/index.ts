/** LoRA with PEFT semantics: y = W0 x + b0 + (alpha / r) B A x; A kaiming-uniform(a = sqrt 5), B = 0. */
import type * as tf from '@tensorflow/tfjs';
import type { AdapterRuntime, MethodContext, MethodVariable } from '../../engine/adapter';
import type { LowRankModule } from '../../engine/kernels';
import { kaimingUniform } from '../../engine/random';
import { linearTargets } from '../../engine/types';
import { exportPeftAdapter } from '../../io/export/peft';
import { createVariable, lowRankRuntime, selectTargets, type MethodRuntime } from '../common';
import type { LoraOptions } from './schema';

function createLora(ctx: MethodContext, options: LoraOptions): AdapterRuntime {
  const scale = options.alpha / options.r;
  const vars: MethodVariable[] = [];
  const modules = new Map<string, LowRankModule>();
  for (const target of selectTargets(ctx.targets, options.targetModules)) {
    const aName = `${target.path}.lora_A`;
    const bName = `${target.path}.lora_B`;
    const a = createVariable(ctx, aName, [options.r, target.inFeatures], true, (rng, size) =>
      kaimingUniform(rng, size, target.inFeatures, Math.sqrt(5)),
    );
    const b = createVariable(
      ctx,
      bName,
      [target.outFeatures, options.r],
      true,
      (_p, size) => new Float32Array(size),
    );
    modules.set(target.path, { a: a as tf.Tensor2D, b: b as tf.Tensor2D, scale });
    vars.push({ name: aName, variable: a, lrGroup: 'adapter', decays: true });
    vars.push({ name: bName, variable: b, lrGroup: 'adapter', decays: true });
  }
  return { ...lowRankRuntime(modules, vars, () => vars), inputDropout: options.loraDropout };
}

export const loraRuntime: MethodRuntime<LoraOptions> = {
  create: createLora,
  countTrainable: (config, options) =>
    selectTargets(linearTargets(config), options.targetModules).reduce(
      (sum, t) => sum + options.r * (t.inFeatures + t.outFeatures),
      0,
    ),
  exportPeft: (state, options, baseModel) =>
    exportPeftAdapter({
      variables: state,
      baseModel,
      loraAlpha: options.alpha,
      loraDropout: options.loraDropout,
    }),
};

/** LoRA with PEFT semantics: y = W0 x + b0 + (alpha / r) B A x; A kaiming-uniform(a = sqrt 5), B = 0. */
import * as tf from '@tensorflow/tfjs';
import type { LowRankModule } from '../../engine/kernels';
import { kaimingUniform } from '../../engine/random';
import { linearTargets, type BertConfig, type ModuleKind } from '../../engine/types';
import { checkTargetModules, createVariable, lowRankRuntime, MethodOptionError, selectTargets } from '../common';
import type { AdapterMethod, AdapterRuntime, MethodContext, MethodVariable } from '../types';

export interface LoraOptions {
  r: number;
  alpha: number;
  targetModules: ModuleKind[];
}

const DEFAULTS: LoraOptions = { r: 8, alpha: 16, targetModules: ['query', 'value'] };

function checkRank(r: number): void {
  if (!Number.isInteger(r) || r < 1)
    throw new MethodOptionError(`LoRA rank r must be a positive integer (got ${r})`);
}

function createLora(ctx: MethodContext, options: LoraOptions): AdapterRuntime {
  checkRank(options.r);
  const kinds = checkTargetModules(options.targetModules);
  const scale = options.alpha / options.r;
  const targets = selectTargets(ctx.targets, kinds);
  const vars: MethodVariable[] = [];
  const modules = new Map<string, LowRankModule>();
  for (const target of targets) {
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
    const matrix = (m: 'A' | 'B') => ({ layer: target.layer, kind: target.kind, matrix: m });
    vars.push({ name: aName, variable: a, lrGroup: 'adapter', weightDecay: true, matrix: matrix('A') });
    vars.push({ name: bName, variable: b, lrGroup: 'adapter', weightDecay: true, matrix: matrix('B') });
  }
  return lowRankRuntime(modules, vars, () => vars);
}

export const loraMethod: AdapterMethod<LoraOptions> = {
  id: 'lora',
  label: 'LoRA',
  description: 'Low-rank adapters B·A on the chosen linears, scaled by alpha / r; A and B both train.',
  defaults: DEFAULTS,
  create: createLora,
  countTrainable(config: BertConfig, options: LoraOptions): number {
    const kinds = checkTargetModules(options.targetModules);
    return selectTargets(linearTargets(config), kinds).reduce(
      (sum, t) => sum + options.r * (t.inFeatures + t.outFeatures),
      0,
    );
  },
};

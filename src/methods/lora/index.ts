/** LoRA with PEFT semantics: y = W0 x + b0 + (alpha / r) B A x; A kaiming-uniform(a = sqrt 5), B = 0. */
import * as tf from '@tensorflow/tfjs';
import { lowRankAdapter } from '../../engine/kernels';
import { kaimingUniform } from '../../engine/random';
import { linearTargets, type BertConfig, type LinearTarget, type ModuleKind } from '../../engine/types';
import { checkTargetModules, createVariable, MethodOptionError, selectTargets } from '../common';
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
  // Created once: a number operand would upload a fresh scalar at every call.
  const scaleTensor = scale === 1 ? null : tf.keep(tf.scalar(scale));
  const targets = selectTargets(ctx.targets, kinds);
  const vars: MethodVariable[] = [];
  const byPath = new Map<string, { a: tf.Variable; b: tf.Variable }>();
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
    byPath.set(target.path, { a, b });
    const matrix = (m: 'A' | 'B') => ({ layer: target.layer, kind: target.kind, matrix: m });
    vars.push({ name: aName, variable: a, lrGroup: 'adapter', weightDecay: true, matrix: matrix('A') });
    vars.push({ name: bName, variable: b, lrGroup: 'adapter', weightDecay: true, matrix: matrix('B') });
  }
  return {
    adapted: new Set(byPath.keys()),
    trainsBase: false,
    apply(target: LinearTarget, x: tf.Tensor2D, base: tf.Tensor2D): tf.Tensor2D {
      const { a, b } = byPath.get(target.path)!;
      if (ctx.kernels) return lowRankAdapter(x, base, a as tf.Tensor2D, b as tf.Tensor2D, { scale });
      const down = tf.matMul(x, a as tf.Tensor2D, false, true); // [T, r]
      // PEFT's order (scale after B, then add): a fused-bias variant drifted past the golden tolerance by step 57.
      const up = tf.matMul(down, b as tf.Tensor2D, false, true); // [T, out]
      return tf.add(base, scaleTensor ? tf.mul(up, scaleTensor) : up);
    },
    variables: () => vars,
    trainable: () => vars,
    dispose() {
      for (const v of vars) v.variable.dispose();
      scaleTensor?.dispose();
    },
  };
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

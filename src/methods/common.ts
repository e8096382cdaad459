/** Helpers shared by the methods: target selection, seeded init, the runtime of low-rank methods. */
import * as tf from '@tensorflow/tfjs';
import { lowRankAdapter, type LowRankModule } from '../engine/kernels';
import { Rng, hashString, mixSeed } from '../engine/random';
import { MODULE_KINDS, type LinearTarget, type ModuleKind, type StateDict } from '../engine/types';
import type { AdapterRuntime, MethodContext, MethodVariable } from './types';

export class MethodOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MethodOptionError';
  }
}

export function checkTargetModules(targetModules: readonly string[]): ModuleKind[] {
  if (targetModules.length === 0) throw new MethodOptionError('targetModules must name at least one module');
  for (const kind of targetModules) {
    if (!(MODULE_KINDS as readonly string[]).includes(kind)) {
      throw new MethodOptionError(`unknown target module "${kind}" (known: ${MODULE_KINDS.join(', ')})`);
    }
  }
  return [...new Set(targetModules)] as ModuleKind[];
}

export function selectTargets(
  targets: readonly LinearTarget[],
  kinds: readonly ModuleKind[],
): LinearTarget[] {
  return targets.filter((t) => kinds.includes(t.kind));
}

/** A variable from ctx.initial when given (fixtures, imports), else from `init(rng)`; seeded by its name. */
export function createVariable(
  ctx: MethodContext,
  name: string,
  shape: number[],
  trainable: boolean,
  init: (rng: Rng, size: number) => Float32Array,
): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const given = ctx.initial?.get(name);
  let values: Float32Array;
  if (given) {
    if (given.data.length !== size) {
      throw new MethodOptionError(
        `initial value of ${name} has ${given.data.length} values, expected [${shape.join(', ')}]`,
      );
    }
    values = given.data;
  } else {
    values = init(new Rng(mixSeed(ctx.seed, hashString(name))), size);
  }
  // tf.variable copies its initial value: dispose the temporary or it outlives the variable.
  const initial = tf.tensor(values, shape);
  const variable = tf.variable(initial, trainable);
  initial.dispose();
  return variable;
}

export function countOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export type { StateDict };

/**
 * The runtime of a method whose every adapted linear is a low-rank module (LoRA, ELoRA, AFLoRA): apply() is the
 * engine's lowRankAdapter on the module, and the modules are handed to the engine as data (`lowRank`).
 */
export function lowRankRuntime(
  modules: ReadonlyMap<string, LowRankModule>,
  all: MethodVariable[],
  trainable: () => MethodVariable[],
  extraDispose: () => void = () => {},
): AdapterRuntime {
  return {
    adapted: new Set(modules.keys()),
    trainsBase: false,
    lowRank: modules,
    apply(target, x, base) {
      const module = modules.get(target.path);
      if (!module) throw new Error(`${target.path} is not adapted`);
      // Backward computes dA/dB only while A/B still train (lazy gradients).
      return lowRankAdapter(x, base, module);
    },
    variables: () => all,
    trainable,
    dispose() {
      extraDispose();
      for (const v of all) v.variable.dispose();
    },
  };
}

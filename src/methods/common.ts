/** What a method folder's runtime (index.ts) provides, and the helpers the runtimes share: targets, seeded init, low-rank runtimes. */
import * as tf from '@tensorflow/tfjs';
import { STATELESS, type AdapterRuntime, type MethodContext, type MethodVariable, type ViewCell } from '../engine/adapter';
import { lowRankAdapter, type LowRankModule } from '../engine/kernels';
import { Rng, hashString, mixSeed } from '../engine/random';
import type { BertConfig, LinearTarget, ModuleKind, StateDict } from '../engine/types';
import type { PeftAdapter } from '../io/export/peft';

/** What an export knows of the run besides the state (AdaLoRA's config records total_step). */
export interface ExportRun {
  totalSteps: number;
}

/** A method's tensor side; `options` arrive complete and checked against the method's schema. */
export interface MethodRuntime<Options> {
  create(ctx: MethodContext, options: Options): AdapterRuntime;
  /** Closed-form count of the trainable parameters at step 0 (classifier head excluded). */
  countTrainable(config: BertConfig, options: Options): number;
  /** The trained variables (and classifier) as a PEFT adapter; absent: the method has no PEFT form. */
  exportPeft?(state: StateDict, options: Options, baseModel: string, run: ExportRun): PeftAdapter;
}

export function selectTargets(targets: readonly LinearTarget[], kinds: readonly ModuleKind[]): LinearTarget[] {
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
      throw new Error(`initial value of ${name} has ${given.data.length} values, expected [${shape.join(', ')}]`);
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

/**
 * The runtime of a method whose every adapted linear is a low-rank module (LoRA, ELoRA, AFLoRA): apply() is the
 * engine's lowRankAdapter on the module, and the modules are handed to the engine as data (`lowRank`).
 */
export function lowRankRuntime(
  modules: ReadonlyMap<string, LowRankModule>,
  all: MethodVariable[],
  trainable: () => MethodVariable[],
  extraDispose: () => void = () => {},
  cells: readonly ViewCell[] = [],
): AdapterRuntime {
  return {
    // A method with decisions of its own (AFLoRA) overrides these.
    ...STATELESS,
    adapted: new Set(modules.keys()),
    trainsBase: false,
    lowRank: modules,
    cells,
    apply(target, x, base) {
      const module = modules.get(target.path);
      if (!module) throw new Error(`${target.path} is not adapted`);
      // Backward computes dA/dB only while A/B still train (lazy gradients).
      return lowRankAdapter(x, base, module);
    },
    variables: () => all,
    trainable,
    // Its step is the same GPU work every step (rank and gate changes release what the plan reads: re-planned).
    replayKey: () => 'low-rank',
    dispose() {
      extraDispose();
      for (const v of all) v.variable.dispose();
    },
  };
}

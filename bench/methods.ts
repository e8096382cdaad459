/**
 * The four benchmarked method configurations. AFLoRA comes from the registry when it has landed
 * (src/methods/aflora); until then a bench-local module with the same structure and init stands in
 * (`proxy: true` in the results): y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))), r = 4, all six linears,
 * without the freezing schedule (its per-step cost is the masking-round readback every 10 steps).
 */
import * as tf from '@tensorflow/tfjs';
import { kaimingUniform, Rng, hashString, mixSeed } from '../src/engine/random';
import { MODULE_KINDS, linearTargets, type BertConfig, type LinearTarget } from '../src/engine/types';
import { getMethod } from '../src/methods/registry';
import type { AdapterMethod, AdapterRuntime, MethodContext, MethodVariable } from '../src/methods/types';

export interface BenchMethod {
  /** Row label, e.g. `aflora-both`. */
  label: string;
  method: AdapterMethod;
  options: object;
  /** True when the bench-local AFLoRA stand-in was used. */
  proxy: boolean;
}

type ProxyOptions = { rank: number; trainAB: boolean };

function createProxy(ctx: MethodContext, options: ProxyOptions): AdapterRuntime {
  const all: MethodVariable[] = [];
  const byPath = new Map<string, { a: tf.Variable; b: tf.Variable; d: tf.Variable; bVec: tf.Variable }>();
  const make = (
    name: string,
    shape: number[],
    trainable: boolean,
    init: (rng: Rng, n: number) => Float32Array,
  ) =>
    tf.variable(
      tf.tensor(init(new Rng(mixSeed(ctx.seed, hashString(name))), shape[0] * (shape[1] ?? 1)), shape),
      trainable,
    );
  for (const target of ctx.targets) {
    const p = target.path;
    const r = options.rank;
    const a = make(`${p}.lora_A`, [r, target.inFeatures], options.trainAB, (rng, n) =>
      kaimingUniform(rng, n, target.inFeatures, 0),
    );
    const b = make(`${p}.lora_B`, [target.outFeatures, r], options.trainAB, (rng, n) =>
      kaimingUniform(rng, n, r, 0),
    );
    const d = make(`${p}.lambda_d`, [r], true, (_rng, n) => new Float32Array(n).fill(0.1));
    const bVec = make(`${p}.lambda_b`, [target.outFeatures], true, (_rng, n) => new Float32Array(n));
    byPath.set(p, { a, b, d, bVec });
    const cell = (matrix: 'A' | 'B') => ({ layer: target.layer, kind: target.kind, matrix });
    all.push(
      { name: `${p}.lora_A`, variable: a, lrGroup: 'adapter', weightDecay: true, matrix: cell('A') },
      { name: `${p}.lora_B`, variable: b, lrGroup: 'adapter', weightDecay: true, matrix: cell('B') },
      { name: `${p}.lambda_d`, variable: d, lrGroup: 'adapter', weightDecay: false },
      { name: `${p}.lambda_b`, variable: bVec, lrGroup: 'adapter', weightDecay: false },
    );
  }
  const trainable = all.filter((v) => v.variable.trainable);
  return {
    adapted: new Set(byPath.keys()),
    trainsBase: false,
    apply(target: LinearTarget, x: tf.Tensor2D, base: tf.Tensor2D): tf.Tensor2D {
      const { a, b, d, bVec } = byPath.get(target.path)!;
      const down = tf.mul(tf.matMul(x, a as tf.Tensor2D, false, true), d); // [T, r]
      const up = tf.matMul(down, b as tf.Tensor2D, false, true); // [T, out]
      return tf.add(base, tf.mul(up, bVec));
    },
    variables: () => all,
    trainable: () => trainable,
    dispose() {
      for (const v of all) v.variable.dispose();
    },
  };
}

const proxyMethod: AdapterMethod<ProxyOptions> = {
  id: 'aflora-bench-proxy',
  label: 'AFLoRA structure (bench stand-in)',
  description: 'AFLoRA module on all six linears, no freezing schedule.',
  defaults: { rank: 4, trainAB: true },
  create: createProxy,
  countTrainable: (config: BertConfig, options: ProxyOptions) =>
    linearTargets(config).reduce(
      (sum, t) =>
        sum +
        options.rank +
        t.outFeatures +
        (options.trainAB ? options.rank * (t.inFeatures + t.outFeatures) : 0),
      0,
    ),
};

function registryMethod(id: string): AdapterMethod | null {
  try {
    return getMethod(id);
  } catch {
    return null;
  }
}

export const METHOD_LABELS = ['aflora-both', 'aflora-pm-frozen', 'lora-r8', 'elora'] as const;
export type MethodLabel = (typeof METHOD_LABELS)[number];

export function benchMethod(label: MethodLabel): BenchMethod {
  const aflora = registryMethod('aflora');
  switch (label) {
    case 'aflora-both':
      return aflora
        ? { label, method: aflora, options: { trainableMatrices: 'both' }, proxy: false }
        : { label, method: proxyMethod as AdapterMethod, options: { rank: 4, trainAB: true }, proxy: true };
    case 'aflora-pm-frozen': {
      const frozen = registryMethod('aflora-pm-frozen') ?? registryMethod('pm-frozen');
      if (frozen) return { label, method: frozen, options: {}, proxy: false };
      return {
        label,
        method: proxyMethod as AdapterMethod,
        options: { rank: 4, trainAB: false },
        proxy: true,
      };
    }
    case 'lora-r8':
      // All six linears, like the AFLoRA module (PEFT: query, key, value, output.dense, intermediate.dense).
      return {
        label,
        method: getMethod('lora'),
        options: { r: 8, alpha: 16, targetModules: [...MODULE_KINDS] },
        proxy: false,
      };
    case 'elora':
      return { label, method: getMethod('elora'), options: {}, proxy: false };
  }
}

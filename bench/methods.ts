/** The benchmarked method configurations, all from the method registry (catalog defaults unless named). */
import type { AdapterMethod } from '../src/engine/adapter';
import { MODULE_KINDS, type BertConfig } from '../src/engine/types';
import { adapterMethod } from '../src/methods/registry';

export interface BenchMethod {
  /** Row label, e.g. `aflora-both`. */
  label: string;
  /** The method with its options bound. */
  method: AdapterMethod;
}

/** BERT shapes the benchmarks run (bench/run.ts, bench/matmul.ts). */
export const MODEL_SHAPES = {
  tiny: { numLayers: 2, hiddenSize: 128, numHeads: 2, intermediateSize: 512 },
  mini: { numLayers: 4, hiddenSize: 256, numHeads: 4, intermediateSize: 1024 },
  small: { numLayers: 4, hiddenSize: 512, numHeads: 8, intermediateSize: 2048 },
  base: { numLayers: 12, hiddenSize: 768, numHeads: 12, intermediateSize: 3072 },
} satisfies Record<string, Pick<BertConfig, 'numLayers' | 'hiddenSize' | 'numHeads' | 'intermediateSize'>>;

export const METHOD_LABELS = [
  'aflora-both',
  'aflora-pm-frozen',
  'lora-r8',
  'elora',
  'adalora',
  'increlora',
  'alora',
  'full',
] as const;
export type MethodLabel = (typeof METHOD_LABELS)[number];

export function benchMethod(label: MethodLabel): BenchMethod {
  switch (label) {
    case 'aflora-both':
      return { label, method: adapterMethod('aflora', { trainableMatrices: 'both' }) };
    case 'aflora-pm-frozen':
      return { label, method: adapterMethod('pm-frozen') };
    case 'lora-r8':
      // All six linears, like the AFLoRA module (PEFT: query, key, value, output.dense, intermediate.dense).
      return { label, method: adapterMethod('lora', { r: 8, alpha: 16, targetModules: [...MODULE_KINDS] }) };
    case 'elora':
    case 'adalora':
    case 'increlora':
    case 'alora':
    case 'full':
      return { label, method: adapterMethod(label) };
  }
}

/** The four benchmarked method configurations, all from the method registry. */
import { MODULE_KINDS } from '../src/engine/types';
import { getMethod } from '../src/methods/registry';
import type { AdapterMethod } from '../src/methods/types';

export interface BenchMethod {
  /** Row label, e.g. `aflora-both`. */
  label: string;
  method: AdapterMethod;
  options: object;
}

export const METHOD_LABELS = ['aflora-both', 'aflora-pm-frozen', 'lora-r8', 'elora'] as const;
export type MethodLabel = (typeof METHOD_LABELS)[number];

export function benchMethod(label: MethodLabel): BenchMethod {
  switch (label) {
    case 'aflora-both':
      return { label, method: getMethod('aflora'), options: { trainableMatrices: 'both' } };
    case 'aflora-pm-frozen':
      return { label, method: getMethod('pm-frozen'), options: {} };
    case 'lora-r8':
      // All six linears, like the AFLoRA module (PEFT: query, key, value, output.dense, intermediate.dense).
      return {
        label,
        method: getMethod('lora'),
        options: { r: 8, alpha: 16, targetModules: [...MODULE_KINDS] },
      };
    case 'elora':
      return { label, method: getMethod('elora'), options: {} };
  }
}

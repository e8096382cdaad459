/**
 * Full fine-tuning (FFT): no adapter; the engine trains every base weight (encoder, embedding LayerNorm,
 * pooler) and, only when asked, the three embedding matrices too: their gradients are sparse gathers,
 * slow on the cpu backend and rarely worth it for sequence classification.
 */
import {
  bertWeightShapes,
  CLASSIFIER_BIAS,
  CLASSIFIER_WEIGHT,
  EMBEDDING_NAMES,
  sizeOf,
} from '../../engine/weights';
import type { BertConfig } from '../../engine/types';
import type { AdapterMethod, AdapterRuntime } from '../types';

export interface FullOptions {
  trainEmbeddings: boolean;
}

function createFull(_ctx: unknown, options: FullOptions): AdapterRuntime {
  return {
    adapted: new Set<string>(),
    trainsBase: true,
    trainsEmbeddings: options.trainEmbeddings,
    apply: (_target, _x, base) => base,
    variables: () => [],
    trainable: () => [],
    dispose() {},
  };
}

export const fullMethod: AdapterMethod<FullOptions> = {
  id: 'full',
  label: 'Full fine-tuning',
  description: 'Every encoder and pooler weight trains; embedding matrices only with trainEmbeddings.',
  defaults: { trainEmbeddings: false },
  create: createFull,
  countTrainable(config: BertConfig, options: FullOptions): number {
    const excluded = new Set<string>([CLASSIFIER_WEIGHT, CLASSIFIER_BIAS]);
    if (!options.trainEmbeddings) for (const name of EMBEDDING_NAMES) excluded.add(name);
    let total = 0;
    for (const [name, shape] of bertWeightShapes(config)) if (!excluded.has(name)) total += sizeOf(shape);
    return total;
  },
};

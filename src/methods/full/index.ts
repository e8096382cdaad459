/**
 * Full fine-tuning (FFT): no adapter; the engine trains every base weight (encoder, embedding LayerNorm,
 * pooler) and, only when asked, the three embedding matrices too: their gradients are sparse gathers,
 * slow on the cpu backend and rarely worth it for sequence classification.
 */
import { STATELESS, type AdapterRuntime } from '../../engine/adapter';
import { bertWeightShapes, embeddingMatrixNames, isHeadWeight, sizeOf } from '../../engine/weights';
import type { MethodRuntime } from '../common';
import type { FullOptions } from './schema';

function createFull(_ctx: unknown, options: FullOptions): AdapterRuntime {
  return {
    // The trained base weights are variables of the model: the engine checkpoints them.
    ...STATELESS,
    adapted: new Set<string>(),
    trainsBase: true,
    trainsEmbeddings: options.trainEmbeddings,
    cells: [],
    apply: (_target, _x, base) => base,
    variables: () => [],
    trainable: () => [],
    replayKey: () => 'full',
    dispose() {},
  };
}

/** No PEFT form: the trained base weights are the result (the native file keeps them). */
export const fullRuntime: MethodRuntime<FullOptions> = {
  create: createFull,
  countTrainable(config, options) {
    const excluded = new Set<string>(options.trainEmbeddings ? [] : embeddingMatrixNames(config));
    let total = 0;
    for (const [name, shape] of bertWeightShapes(config)) if (!excluded.has(name) && !isHeadWeight(config, name)) total += sizeOf(shape);
    return total;
  },
};

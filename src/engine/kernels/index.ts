/**
 * Fused WebGPU kernels, drop-in replacements for plain TF.js composites (same semantics and gradients).
 * Each function runs its own WGSL program on the `webgpu` backend and the plain composite elsewhere.
 */
export { layerNorm, layerNormComposite } from './layerNorm';
export { biasGelu, biasGeluComposite } from './gelu';
export { maskedSoftmax, maskedSoftmaxComposite } from './softmax';
export {
  adamWState,
  adamWUpdate,
  clipCoefficients,
  FusedAdamW,
  type FusedParamEntry,
  clipCoefficientsComposite,
  type AdamWHyper,
} from './adamw';
export { installDispatchCounter, type DispatchCounter } from './dispatchCounter';
export { isWebGPUBackend } from './program';
export { linear, linearComposite } from './linear';
export { lowRankAdapter, lowRankAdapterComposite, MAX_FUSED_RANK, type LowRankOptions } from './lowRank';
export { dropout } from './dropout';

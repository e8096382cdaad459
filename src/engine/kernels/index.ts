/**
 * Fused WebGPU kernels, drop-in replacements for plain TF.js composites (same semantics and gradients).
 * Each function runs its own WGSL program on the `webgpu` backend and its composite elsewhere or inside
 * `withKernels(false, ...)`: the composite is the one plain implementation of the op.
 */
export { layerNorm, layerNormComposite } from './layerNorm';
export { biasGelu, biasGeluComposite } from './gelu';
export { maskedSoftmax, maskedSoftmaxComposite } from './softmax';
export { adamWCoefficientRow, adamWState, adamWUpdate, clipCoefficients, clipCoefficientsComposite, sumScalars, type AdamWHyper, type AdamWVariant } from './adamw';
export { installDispatchCounter, type DispatchCounter } from './dispatchCounter';
export { isWebGPUBackend, kernelsActive, withKernels } from './program';
export { linear, linearComposite } from './linear';
export { matMul } from './matmul';
export { lowRankAdapter, lowRankAdapterComposite, MAX_FUSED_RANK, type LowRankModule } from './lowRank';
export { dropout } from './dropout';
export { SegmentLayout } from './segmentMean';
export { absDot } from './absDot';

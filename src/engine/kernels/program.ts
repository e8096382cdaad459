/**
 * Plumbing for our own WebGPU programs inside TF.js's webgpu backend.
 *
 * A kernel here is a TF.js kernel registered for the `webgpu` backend only (tf.registerKernel), whose
 * implementation hands a WGSL program to `backend.runWebGPUProgram`. The backend prepends its own
 * prelude: one `result` storage buffer (the single output), one read-only storage array per input named as
 * in `variableNames`, and a `uniforms` struct holding shapes plus our own `uniforms` fields. Programs below
 * index those arrays directly (row-major), which is cheaper than the backend's coordinate helpers.
 *
 * We import nothing at runtime from @tensorflow/tfjs-backend-webgpu: importing it registers the backend,
 * which must happen after navigator.gpu exists (see tests/helpers/webgpu.ts).
 */
import * as tf from '@tensorflow/tfjs';

/** The subset of tfjs-backend-webgpu's WebGPUProgram that our programs fill in. */
export interface WebGPUProgramSpec {
  variableNames: string[];
  outputShape: number[];
  /** Cache key of the compiled pipeline: must change whenever getUserCode() would. */
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  /** Extra uniform fields, WGSL struct syntax, e.g. `eps : f32, cols : i32,`. */
  uniforms?: string;
  /** Adds `uniforms.size` (output element count). */
  size?: boolean;
  getUserCode: () => string;
}

export type ProgramUniform = Array<{ type: 'float32' | 'int32'; data: number[] }>;

/** What we use of the webgpu backend object (tf.backend() when the backend is 'webgpu'). */
export interface WebGPUBackendLike {
  runWebGPUProgram(
    program: WebGPUProgramSpec,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    uniforms?: ProgramUniform,
  ): tf.TensorInfo;
}

export function isWebGPUBackend(): boolean {
  return tf.getBackend() === 'webgpu';
}

/** Flat 1-D dispatch of `workgroupCount` workgroups; the backend folds counts above its per-dimension limit. */
export function flatDispatch(
  outputShape: number[],
  workgroupCount: number,
  workgroupSize: number,
): Pick<WebGPUProgramSpec, 'dispatchLayout' | 'dispatch' | 'workgroupSize'> {
  return {
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.max(1, workgroupCount), 1, 1],
    workgroupSize: [workgroupSize, 1, 1],
  };
}

/** One thread per output element. */
export function elementwiseDispatch(
  outputShape: number[],
  workgroupSize = 128,
): Pick<WebGPUProgramSpec, 'dispatchLayout' | 'dispatch' | 'workgroupSize' | 'size'> {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return { ...flatDispatch(outputShape, Math.ceil(size / workgroupSize), workgroupSize), size: true };
}

/**
 * WGSL for a workgroup-wide sum of `count` f32 lanes (count = workgroup size, a power of two).
 * Declares `fn <name>(value: f32, tid: u32) -> f32`, returning the total to every thread.
 */
export function workgroupSumSnippet(name: string, count: number, lanes: 1 | 2 | 3 | 4 = 1): string {
  const type = lanes === 1 ? 'f32' : `vec${lanes}<f32>`;
  return `
    var<workgroup> ${name}Buf : array<${type}, ${count}>;
    fn ${name}(value : ${type}, tid : u32) -> ${type} {
      ${name}Buf[tid] = value;
      workgroupBarrier();
      for (var stride = ${count / 2}u; stride > 0u; stride = stride >> 1u) {
        if (tid < stride) {
          ${name}Buf[tid] = ${name}Buf[tid] + ${name}Buf[tid + stride];
        }
        workgroupBarrier();
      }
      let total = ${name}Buf[0];
      workgroupBarrier();
      return total;
    }`;
}

/** Fails loudly (instead of a silently dropped command buffer) on shapes a program does not handle. */
export function assertShape(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(`fused kernel: ${message()}`);
}

/** Runs a registered kernel through the engine, so it is taped for gradients and listed by tf.profile. */
export function runKernel<T extends tf.Tensor = tf.Tensor>(
  name: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, number | boolean | string> = {},
): T {
  return tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs) as T;
}

/** Registers a webgpu implementation once (module re-evaluation in tests/HMR must not throw). */
export function registerWebGPUKernel(
  kernelName: string,
  run: (
    backend: WebGPUBackendLike,
    inputs: Record<string, tf.TensorInfo>,
    attrs: Record<string, number>,
  ) => tf.TensorInfo,
): void {
  if (tf.getKernel(kernelName, 'webgpu') != null) return;
  tf.registerKernel({
    kernelName,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) =>
      run(
        backend as unknown as WebGPUBackendLike,
        inputs as unknown as Record<string, tf.TensorInfo>,
        (attrs ?? {}) as unknown as Record<string, number>,
      ),
  });
}

export function registerGradientOnce(config: tf.GradConfig): void {
  if (tf.getGradient(config.kernelName) != null) return;
  tf.registerGradient(config);
}

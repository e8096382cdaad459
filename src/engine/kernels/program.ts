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
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  /** Frees an intermediate a kernel made (a split-K or token-sum partial). */
  disposeData(dataId: object): void;
  /** Tensors sharing this data (a reshape or clone shares it). */
  refCount(dataId: object): number;
  incRef(dataId: object): void;
  device: GPUDevice;
  tensorMap: { get(dataId: object): { values: unknown } | undefined };
}

/**
 * Whether a program may write `target` in place: only its own tensor holds the data (a clone or reshape would see
 * the write). Data still on the host is uploaded first (runWebGPUProgram uploads its output). Updating state in
 * place is what keeps a replayed step free of copies (engine/replay.ts: state written where it is read needs no
 * carry).
 */
export function writableInPlace(backend: WebGPUBackendLike, target: tf.TensorInfo): boolean {
  return backend.refCount(target.dataId) === 1;
}

/**
 * The programs that update buffers in place (runUpdate), by full shader key: the storage bindings each reads and
 * writes (0: its output, i + 1: input i). To engine/replay.ts, such a write is no fresh value, and a written input
 * is a write like the output.
 */
export const inPlacePrograms = new Map<string, readonly number[]>();

/**
 * Runs an update of `target`: with `inPlace` (writableInPlace), `target` is the program's output (`result`,
 * read_write: the program reads the old values from it) and the result a new reference to its data, as a reshape is;
 * the host copy a read may have cached is dropped. Otherwise a new output of the target's shape.
 *
 * `writtenInputs` (in place only; each writableInPlace too): inputs the program also updates, by variable name.
 * TF.js declares every input read-only and a program has one output, so the shader it generates for this program
 * is compiled with those declarations made read_write (once: the pipeline is cached by shader key). That is what
 * lets one dispatch update a parameter and its moments (kernels/adamw.ts).
 */
export function runUpdate(
  backend: WebGPUBackendLike,
  program: WebGPUProgramSpec,
  inputs: tf.TensorInfo[],
  target: tf.TensorInfo,
  uniforms: ProgramUniform,
  inPlace: boolean,
  writtenInputs: readonly string[] = [],
): tf.TensorInfo {
  if (!inPlace) {
    if (writtenInputs.length > 0) throw new Error(`${program.shaderKey}: inputs written in place need an in-place output`);
    return backend.runWebGPUProgram(program, inputs, target.dtype, uniforms);
  }
  const written = writtenInputs.map((name) => {
    const i = program.variableNames.indexOf(name);
    if (i < 0) throw new Error(`${program.shaderKey}: no input ${name} to write`);
    return i;
  });
  const device = backend.device;
  const compile = device.createShaderModule;
  const ownMethod = Object.prototype.hasOwnProperty.call(device, 'createShaderModule');
  if (written.length > 0)
    device.createShaderModule = (descriptor: GPUShaderModuleDescriptor) =>
      compile.call(device, { ...descriptor, code: withWritableInputs(descriptor.code, writtenInputs) });
  try {
    backend.runWebGPUProgram(program, inputs, target.dtype, uniforms, target);
  } finally {
    if (written.length > 0 && ownMethod) device.createShaderModule = compile;
    else if (written.length > 0) delete (device as { createShaderModule?: unknown }).createShaderModule;
  }
  // TF.js has replaced the key by its full form, the name a recording sees.
  inPlacePrograms.set(program.shaderKey, [0, ...written.map((i) => i + 1)]);
  for (const i of written) backend.tensorMap.get(inputs[i].dataId)!.values = null;
  backend.incRef(target.dataId);
  backend.tensorMap.get(target.dataId)!.values = null;
  // A plain info, not the target itself: the engine returns a Tensor output as it is, and the caller's later
  // dispose of its old reference would dispose this one too.
  return { dataId: target.dataId, shape: target.shape, dtype: target.dtype };
}

/** TF.js's shader with the named inputs' declarations `var<storage, read>` made read_write. */
export function withWritableInputs(code: string, names: readonly string[]): string {
  let out = code;
  for (const name of names) {
    const declaration = new RegExp(`var<storage,\\s*read>\\s+${name}\\s*:`);
    if (!declaration.test(out)) throw new Error(`runUpdate: the shader declares no read-only input ${name} (another TF.js?)`);
    out = out.replace(declaration, `var<storage, read_write> ${name} :`);
  }
  return out;
}

export function isWebGPUBackend(): boolean {
  return tf.getBackend() === 'webgpu';
}

let kernelsEnabled = true;

/**
 * Whether the kernel functions run their WGSL programs: on the webgpu backend, unless a `withKernels(false)`
 * scope is active. Otherwise each runs its composite, the one plain implementation of the op.
 */
export function kernelsActive(): boolean {
  return kernelsEnabled && isWebGPUBackend();
}

/**
 * Runs `fn` with the fused kernels on or off: the one switch (the Trainer decides it once per run). Synchronous
 * on purpose, so a scope never spans an await and interleaved trainers cannot see each other's setting.
 */
export function withKernels<T>(enabled: boolean, fn: () => T): T {
  const previous = kernelsEnabled;
  kernelsEnabled = enabled;
  try {
    return fn();
  } finally {
    kernelsEnabled = previous;
  }
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

interface WorkgroupSpec {
  shaderKey: string;
  variableNames: string[];
  outputShape: number[];
  threads: number;
  uniforms: string;
}

/**
 * One workgroup of `threads` per item (`items` workgroups): `main` starts with `tid` (thread in the workgroup)
 * and `item`, its workgroup's index, possibly past the last one (the backend may fold a large dispatch into 2-D).
 */
function perWorkgroupProgram(spec: WorkgroupSpec, items: number, declarations: string, body: string): WebGPUProgramSpec {
  return {
    variableNames: spec.variableNames,
    outputShape: spec.outputShape,
    shaderKey: spec.shaderKey,
    ...flatDispatch(spec.outputShape, items, spec.threads),
    uniforms: spec.uniforms,
    getUserCode: () => `
      ${declarations}
      fn main(index : i32) {
        let tid = u32(localId.x);
        let item = index / ${spec.threads};
        ${body}
      }`,
  };
}

/**
 * One workgroup per row of a [rows, cols] view: `body` sees `tid`, `cols`, `row` (clamped), `rowValid` and
 * `base` (= row * cols). `uniforms` must declare `rows : i32, cols : i32,`.
 */
export function rowProgram(spec: WorkgroupSpec & { rows: number; body: string; snippets?: string }): WebGPUProgramSpec {
  return perWorkgroupProgram(
    spec,
    spec.rows,
    spec.snippets ?? '',
    `let cols = uniforms.cols;
        let rowValid = item < uniforms.rows;
        let row = min(item, uniforms.rows - 1);
        let base = row * cols;
        ${spec.body}`,
  );
}

/**
 * One workgroup per item i < uniforms.<itemCount> (a column, a token, an output feature): its threads stride over
 * j < uniforms.<loopCount>, adding `term` (WGSL of i, j, lane k and `g` = `load`) to acc[k] for each of `lanes`
 * accumulators; after a tree reduction over the workgroup, thread 0 runs `finish` with i and the totals in acc.
 */
export function reductionProgram(
  spec: WorkgroupSpec & { items: number; itemCount: string; loopCount: string; lanes: number; load?: string; term: string; finish: string },
): WebGPUProgramSpec {
  const { threads, lanes } = spec;
  const declarations = `
      var<workgroup> partials : array<f32, ${threads * lanes}>;
      fn reduceLanes(acc : ptr<function, array<f32, ${lanes}>>, tid : u32) {
        for (var k = 0u; k < ${lanes}u; k++) { partials[tid * ${lanes}u + k] = (*acc)[k]; }
        workgroupBarrier();
        for (var stride = ${threads / 2}u; stride > 0u; stride = stride >> 1u) {
          if (tid < stride) {
            for (var k = 0u; k < ${lanes}u; k++) {
              partials[tid * ${lanes}u + k] += partials[(tid + stride) * ${lanes}u + k];
            }
          }
          workgroupBarrier();
        }
        for (var k = 0u; k < ${lanes}u; k++) { (*acc)[k] = partials[k]; }
      }`;
  return perWorkgroupProgram(
    spec,
    spec.items,
    declarations,
    `let i = min(item, uniforms.${spec.itemCount} - 1);
        var acc : array<f32, ${lanes}>;
        for (var j = i32(tid); j < uniforms.${spec.loopCount}; j += ${threads}) {
          let g = ${spec.load ?? '0.0'};
          for (var k = 0; k < ${lanes}; k++) { acc[k] += ${spec.term}; }
        }
        reduceLanes(&acc, tid);
        if (tid == 0u && item < uniforms.${spec.itemCount}) {
          ${spec.finish}
        }`,
  );
}

/** One thread per output element: `body` sees `index` (< uniforms.size). */
export function elementwiseProgram(spec: {
  shaderKey: string;
  variableNames: string[];
  outputShape: number[];
  uniforms: string;
  body: string;
  snippets?: string;
}): WebGPUProgramSpec {
  return {
    variableNames: spec.variableNames,
    outputShape: spec.outputShape,
    shaderKey: spec.shaderKey,
    ...elementwiseDispatch(spec.outputShape),
    uniforms: spec.uniforms,
    getUserCode: () => `
      ${spec.snippets ?? ''}
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${spec.body}
        }
      }`,
  };
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

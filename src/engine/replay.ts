/**
 * A training step planned once and replayed (issue #12, "idea A"): two consecutive steps run through TF.js's
 * webgpu backend while their GPU work is recorded (pipelines, bind groups, dispatch sizes, uniforms, uploads);
 * if both steps did the same work, the second one becomes the plan and every following step re-encodes it (a few
 * command buffers of one compute pass each: replayTuning), writing only its per-step inputs (batch, AdamW
 * coefficient table, dropout step seed) into GPU buffers. TF.js's ~100 µs of bookkeeping per dispatch becomes a few µs.
 *
 * Written here because no library records a WebGPU command stream of TF.js programs. It leans on the webgpu
 * backend's internals of @tensorflow/tfjs-backend-webgpu 4.22 (tensorMap, bufferManager, recordAndSubmit,
 * uploadToGPU); a structure check refuses a plan (the Trainer then steps normally) rather than guess.
 *
 * State carried from step to step is found by position: a buffer that step 2 reads before writing it held what
 * step 1 wrote at some position p; at step 2 the buffer written at p holds the new value, so each replay starts by
 * copying it back (parameters, Adam moments and method state all stay where TF.js's tensors point). Every buffer
 * the plan touches is kept out of TF.js's pool while the plan lives; releasing a buffer the plan reads (a freeze,
 * a rank change, a mask assignment) invalidates the plan, and the Trainer records a new one.
 */
import * as tf from '@tensorflow/tfjs';
import { inPlacePrograms } from './kernels/program';

// ---------------------------------------------------------------------------------------------- backend internals

interface TensorData {
  resource: GPUBuffer | null;
  values: ArrayLike<number> | null;
  dtype: string;
  /** Tensors sharing this data (a reshape or clone of it shares the buffer). */
  refCount: number;
}

interface BufferManagerLike {
  freeBuffers: Map<string, GPUBuffer[]>;
  numFreeBuffers: number;
  releaseBuffer(buffer: GPUBuffer, reuse?: boolean): void;
}

interface ProgramLike {
  pipeline: GPUComputePipeline;
  dispatch: [number, number, number];
  shaderKey: string;
}

interface BackendInternals {
  device: GPUDevice;
  queue: GPUQueue;
  tensorMap: { get(dataId: object): TensorData | undefined; has(dataId: object): boolean };
  bufferManager: BufferManagerLike;
  commandEncoder: GPUCommandEncoder | null;
  uploadToGPU(dataId: object): void;
  recordAndSubmit(program: ProgramLike, ...rest: unknown[]): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

function backendOf(): BackendInternals {
  if (tf.getBackend() !== 'webgpu') throw new Error('replay: the active backend is not webgpu');
  return tf.backend() as unknown as BackendInternals;
}

/** The GPU buffer behind a tensor (uploaded if it was not yet). */
function bufferOf(backend: BackendInternals, tensor: tf.Tensor): GPUBuffer {
  backend.uploadToGPU(tensor.dataId);
  const buffer = backend.tensorMap.get(tensor.dataId)?.resource;
  if (!buffer) throw new Error('replay: tensor has no GPU buffer');
  return buffer;
}

/** Ends TF.js's open compute pass and submits what it queued, so our submits come after it. */
function flushBackend(backend: BackendInternals): void {
  if (backend.commandEncoder) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

const usage = () => (globalThis as unknown as { GPUBufferUsage: Record<string, number> }).GPUBufferUsage;

// ---------------------------------------------------------------------------------------------- recording

interface Binding {
  binding: number;
  buffer: GPUBuffer;
  offset: number;
  size: number;
  uniform: boolean;
}

type Command =
  | {
      kind: 'dispatch';
      name: string;
      pipeline: GPUComputePipeline;
      layout: GPUBindGroupLayout;
      bindings: Binding[];
      /**
       * Storage bindings (0: the output, i + 1: input i) the program updates in place (engine/kernels/program.ts
       * runUpdate): it reads and writes them.
       */
      updates: readonly number[];
      uniform: Uint8Array;
      workgroups: [number, number, number];
    }
  | { kind: 'upload'; buffer: GPUBuffer; data: Uint8Array; input?: string }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };

let active: Recording | null = null;

/**
 * Names `tensor` as a per-step input of the step being recorded (the batch, the AdamW table, the dropout seed):
 * a replay writes its new value instead of repeating the recorded one. A no-op when nothing records.
 */
export function markStepInput<T extends tf.Tensor>(name: string, tensor: T): T {
  active?.inputs.set(tensor.dataId, name);
  return tensor;
}

/**
 * `t` in a device buffer now: tf.tensor / tf.zeros keep their values on the host until first used, and that upload
 * inside the next recorded step would make it unlike the step after it (no plan). For state a method creates between
 * steps (a freeze's compacted buffers, a restored checkpoint).
 */
export function onDevice<T extends tf.Tensor>(t: T): T {
  const out = tf.tidy(() => tf.add(t, tf.scalar(0, t.dtype))) as T;
  t.dispose();
  return out;
}

/** The GPU work of one step, captured while TF.js runs it. */
export class Recording {
  readonly commands: Command[] = [];
  /** dataIds of the tensors the recorded programs wrote (their output, and inputs updated in place). */
  readonly outputs: object[] = [];
  readonly inputs = new Map<object, string>();
  readonly problems: string[] = [];
  private readonly restore: Array<() => void> = [];

  constructor(backend: BackendInternals = backendOf()) {
    if (active) throw new Error('replay: a recording is already active');
    const b = backend;
    let lastBindGroup: GPUBindGroupDescriptor | null = null;
    const uniformBytes = new Map<GPUBuffer, Uint8Array>();
    let uploading = false;
    const patch = <O extends object, K extends keyof O>(
      target: O,
      key: K,
      make: (original: O[K]) => O[K],
    ) => {
      const had = Object.prototype.hasOwnProperty.call(target, key);
      const original = target[key];
      target[key] = make(original);
      this.restore.push(() => {
        if (had) target[key] = original;
        else delete target[key];
      });
    };
    patch(b, 'uploadToGPU', (original) => (dataId: object) => {
      const data = b.tensorMap.get(dataId);
      const pending = data && data.resource == null && data.values != null ? bytesOf(data) : null;
      uploading = true;
      try {
        original.call(b, dataId);
      } finally {
        uploading = false;
      }
      if (pending)
        this.commands.push({
          kind: 'upload',
          buffer: data!.resource!,
          data: pending,
          input: this.inputs.get(dataId),
        });
    });
    patch(b.device, 'createBindGroup', (original) => (descriptor: GPUBindGroupDescriptor) => {
      lastBindGroup = descriptor;
      return original.call(b.device, descriptor);
    });
    patch(
      b.queue,
      'writeBuffer',
      (original) =>
        ((buffer: GPUBuffer, offset: number, data: ArrayBuffer, dataOffset = 0, size?: number) => {
          if (buffer.usage & usage().UNIFORM && offset === 0 && data instanceof ArrayBuffer) {
            uniformBytes.set(
              buffer,
              new Uint8Array(data, dataOffset, size ?? data.byteLength - dataOffset).slice(),
            );
          } else {
            this.problems.push('a queue.writeBuffer outside the uniforms');
          }
          return original.call(b.queue, buffer, offset, data, dataOffset, size);
        }) as GPUQueue['writeBuffer'],
    );
    patch(b.device, 'createCommandEncoder', (original) => (descriptor?: GPUCommandEncoderDescriptor) => {
      const encoder = original.call(b.device, descriptor);
      const copy = encoder.copyBufferToBuffer.bind(encoder) as (...args: unknown[]) => void;
      (encoder as unknown as { copyBufferToBuffer: (...args: unknown[]) => void }).copyBufferToBuffer = (
        ...args: unknown[]
      ) => {
        const [src, srcOffset, dst, dstOffset, size] = args as [GPUBuffer, number, GPUBuffer, number, number];
        if (!uploading && active === this)
          this.commands.push({ kind: 'copy', src, srcOffset, dst, dstOffset, size });
        copy(...args);
      };
      return encoder;
    });
    patch(b, 'recordAndSubmit', (original) => (program: ProgramLike, ...rest: unknown[]) => {
      original.call(b, program, ...rest);
      const output = rest[0] as { dataId?: object } | undefined;
      const updates = inPlacePrograms.get(program.shaderKey) ?? [];
      if (output?.dataId) this.outputs.push(output.dataId);
      const inputs = (rest[1] ?? []) as Array<{ dataId: object }>;
      for (const k of updates) if (k > 0) this.outputs.push(inputs[k - 1].dataId);
      const descriptor = lastBindGroup;
      if (!descriptor) {
        this.problems.push(`${program.shaderKey}: no bind group seen`);
        return;
      }
      const bindings: Binding[] = [];
      let uniform: Uint8Array | null = null;
      for (const entry of descriptor.entries) {
        const resource = entry.resource as GPUBufferBinding;
        const buffer = resource.buffer;
        const isUniform = (buffer.usage & usage().UNIFORM) !== 0;
        if (isUniform) uniform = uniformBytes.get(buffer) ?? null;
        bindings.push({
          binding: entry.binding,
          buffer,
          offset: resource.offset ?? 0,
          size: resource.size ?? buffer.size,
          uniform: isUniform,
        });
      }
      if (!uniform) this.problems.push(`${program.shaderKey}: uniforms not seen`);
      this.commands.push({
        kind: 'dispatch',
        name: program.shaderKey,
        pipeline: program.pipeline,
        layout: descriptor.layout,
        bindings,
        updates,
        uniform: uniform ?? new Uint8Array(0),
        workgroups: [...program.dispatch],
      });
    });
    // The hooks above push into this recording; markStepInput finds it through `active`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    active = this;
  }

  /** Stops recording (always call, also when the step threw). */
  end(): void {
    if (active === this) active = null;
    for (const undo of this.restore.splice(0).reverse()) undo();
  }
}

function bytesOf(data: TensorData): Uint8Array {
  const values = data.values!;
  const typed =
    data.dtype === 'int32' || data.dtype === 'bool' ? Int32Array.from(values) : Float32Array.from(values);
  return new Uint8Array(typed.buffer);
}

// ---------------------------------------------------------------------------------------------- plan

const UNIFORM_ALIGN = 256;

/**
 * How a replayed step is submitted: a command buffer every `submitEvery` dispatches (0: one for the whole step),
 * so the GPU starts on the first layers while JavaScript still encodes the rest; with one submit a step waited for
 * all of its encoding (3-5 ms on the H200) before any GPU work. A tuning knob like TF.js's env flags: the default
 * is the benchmarks' choice (BENCHMARKS.md), `npm run bench -- --submit-every N` compares others.
 */
export const replayTuning = { submitEvery: 64 };
/** Steps of [loss, gradNorm] the plan keeps on the device between metric reads. */
export const METRIC_RING_STEPS = 1024;

interface Carry {
  src: GPUBuffer;
  dst: GPUBuffer;
  size: number;
}

interface Access {
  reads: GPUBuffer[];
  /** The output first, for a dispatch (then inputs it updates in place). */
  writes: GPUBuffer[];
}

function accessesOf(command: Command): Access {
  if (command.kind === 'dispatch') {
    // TF.js binds the output first, then the inputs (read-only unless the program updates them).
    const storage = command.bindings.filter((b) => !b.uniform).map((b) => b.buffer);
    const writes = storage.length > 0 ? [storage[0], ...command.updates.filter((k) => k > 0).map((k) => storage[k])] : [];
    return { writes, reads: command.updates.includes(0) ? storage : storage.slice(1) };
  }
  if (command.kind === 'upload') return { writes: [command.buffer], reads: [] };
  return { writes: [command.dst], reads: [command.src] };
}

function sameStructure(a: Recording, b: Recording): string | null {
  if (a.problems.length > 0 || b.problems.length > 0) return [...a.problems, ...b.problems][0];
  if (a.commands.length !== b.commands.length) {
    const label = (c?: Command) => (c ? (c.kind === 'dispatch' ? c.name : c.kind) : 'end');
    let i = 0;
    while (i < a.commands.length && label(a.commands[i]) === label(b.commands[i])) i++;
    return `the steps differ in length (${a.commands.length} vs ${b.commands.length} commands; first at ${i}: ${label(a.commands[i])} vs ${label(b.commands[i])})`;
  }
  for (let i = 0; i < a.commands.length; i++) {
    const x = a.commands[i];
    const y = b.commands[i];
    if (x.kind !== y.kind) return `command ${i}: ${x.kind} vs ${y.kind}`;
    if (x.kind === 'dispatch' && y.kind === 'dispatch') {
      if (x.pipeline !== y.pipeline || x.workgroups.join() !== y.workgroups.join())
        return `command ${i} (${y.name}): another program`;
      if (!equalBytes(x.uniform, y.uniform))
        return `command ${i} (${y.name}): uniforms change from step to step`;
    } else if (x.kind === 'upload' && y.kind === 'upload') {
      if (x.data.length !== y.data.length || x.input !== y.input) return `upload ${i}: another size or input`;
      if (!y.input && !equalBytes(x.data, y.data))
        return `upload ${i}: data changes from step to step but is no step input`;
    } else if (x.kind === 'copy' && y.kind === 'copy' && x.size !== y.size) {
      return `copy ${i}: another size`;
    }
  }
  return null;
}

/**
 * The uploads a replay writes outside the step's order, each with the buffer it writes (upload index -> buffer), and
 * the reads that move to a new buffer (command index -> old buffer -> new). An upload into a buffer nothing else in
 * the step touches before it or writes after it keeps that buffer. One into a pooled buffer that also serves the
 * step as a temporary (first accessed by a write) gets a buffer of its own, bound to the reads of its value (up to
 * the old buffer's next write), unless that next write may read the buffer itself: a program updating it in place,
 * or a copy that may cover only part of it. Carried buffers, and the rest, stay in order.
 */
function placeUploads(
  commands: readonly Command[],
  carries: readonly Carry[],
  create: (like: GPUBuffer) => GPUBuffer,
): { targets: Map<number, GPUBuffer>; readers: Map<number, Map<GPUBuffer, GPUBuffer>> } {
  const carried = new Set<GPUBuffer>();
  for (const c of carries) carried.add(c.src).add(c.dst);
  const first = new Map<GPUBuffer, { index: number; write: boolean }>();
  const lastWrite = new Map<GPUBuffer, number>();
  commands.forEach((c, i) => {
    const { reads, writes } = accessesOf(c);
    for (const r of reads) if (!first.has(r)) first.set(r, { index: i, write: false });
    for (const w of writes) {
      if (!first.has(w)) first.set(w, { index: i, write: true });
      lastWrite.set(w, i);
    }
  });
  const targets = new Map<number, GPUBuffer>();
  const readers = new Map<number, Map<GPUBuffer, GPUBuffer>>();
  commands.forEach((c, i) => {
    if (c.kind !== 'upload' || carried.has(c.buffer)) return;
    const old = c.buffer;
    if (first.get(old)!.index === i && lastWrite.get(old) === i) {
      targets.set(i, old);
      return;
    }
    if (!first.get(old)!.write) return;
    let end = i + 1;
    while (end < commands.length && !accessesOf(commands[end]).writes.includes(old)) end++;
    const next = commands[end];
    if (next && (next.kind === 'copy' || accessesOf(next).reads.includes(old))) return;
    const own = create(old);
    targets.set(i, own);
    for (let j = i + 1; j < end; j++) {
      if (!accessesOf(commands[j]).reads.includes(old)) continue;
      const map = readers.get(j) ?? new Map<GPUBuffer, GPUBuffer>();
      map.set(old, own);
      readers.set(j, map);
    }
  });
  return { targets, readers };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Counts of a plan, for benchmarks and the docs. */
export interface PlanStats {
  dispatches: number;
  uploads: number;
  /** Of the uploads, those written outside the step's order (placeUploads) rather than copied in it. */
  outOfOrderUploads: number;
  copies: number;
  carries: number;
  passes: number;
  bytesPerStep: number;
}

type Encoded =
  | {
      kind: 'dispatch';
      pipeline: GPUComputePipeline;
      bindGroup: GPUBindGroup;
      x: number;
      y: number;
      z: number;
    }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };

/** A recorded step ready to replay. Built by `buildPlan`; the Trainer owns and disposes it. */
export class StepPlan {
  readonly stats: PlanStats;
  /** Why the plan may no longer run (set when a buffer it reads is released); null while valid. */
  invalidReason: string | null = null;
  private readonly device: GPUDevice;
  private readonly queue: GPUQueue;
  private readonly owned: GPUBuffer[] = [];
  /** Buffers TF.js gave up while the plan lived: back to its pool at dispose. */
  private readonly detached = new Set<GPUBuffer>();
  /** Buffers still owned by TF.js tensors. */
  private readonly attached = new Set<GPUBuffer>();
  /** Of those, the ones whose release means the plan's inputs moved. */
  private readonly guarded = new Set<GPUBuffer>();
  private readonly uninstall: () => void;
  private readonly ring: GPUBuffer;
  private ringUsed = 0;
  /** Where each step input goes: a region of `source` (copied in the step's order) or the buffer it is read from. */
  private readonly inputRegions = new Map<string, Array<{ buffer: GPUBuffer; offset: number; size: number }>>();
  private readonly source: GPUBuffer | null;
  private readonly program: Encoded[];
  private readonly carries: Carry[];
  private readonly metrics: { loss: GPUBuffer; gradNorm: GPUBuffer };
  /** The live tensors the plan writes: a read of one caches its values on the host, which each replay makes stale. */
  private readonly written: TensorData[];

  constructor(
    private readonly backend: BackendInternals,
    recording: Recording,
    carries: Carry[],
    guarded: Set<GPUBuffer>,
    metrics: { loss: GPUBuffer; gradNorm: GPUBuffer },
  ) {
    const { device, queue } = backend;
    this.device = device;
    this.queue = queue;
    this.carries = carries;
    this.metrics = metrics;
    const u = usage();
    const commands = recording.commands;
    this.written = recording.outputs.filter((id) => backend.tensorMap.has(id)).map((id) => backend.tensorMap.get(id)!);

    // Uploads outside the step's order (placeUploads): a constant is written once here, a step input into its buffer
    // before each step. What is left (none in the methods' steps) is copied from `source` in order, each copy ending
    // the compute pass.
    const placed = placeUploads(commands, carries, (like) =>
      this.own(device.createBuffer({ size: like.size, usage: like.usage })),
    );
    const bufferAt = (index: number, buffer: GPUBuffer) => placed.readers.get(index)?.get(buffer) ?? buffer;
    // All uniforms in one buffer, each at its aligned offset; the ordered uploads' sources in another.
    let uniformBytes = 0;
    let sourceBytes = 0;
    commands.forEach((c, i) => {
      if (c.kind === 'dispatch')
        uniformBytes += Math.ceil(Math.max(c.uniform.length, 16) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
      if (c.kind === 'upload' && !placed.targets.has(i)) sourceBytes += Math.ceil(c.data.length / 4) * 4;
    });
    const uniforms = this.own(
      device.createBuffer({ size: Math.max(uniformBytes, UNIFORM_ALIGN), usage: u.UNIFORM | u.COPY_DST }),
    );
    this.source =
      sourceBytes > 0
        ? this.own(device.createBuffer({ size: sourceBytes, usage: u.COPY_SRC | u.COPY_DST }))
        : null;
    this.ring = this.own(
      device.createBuffer({ size: METRIC_RING_STEPS * 8, usage: u.COPY_SRC | u.COPY_DST }),
    );
    const uniformData = new Uint8Array(Math.max(uniformBytes, UNIFORM_ALIGN));
    const sourceData = new Uint8Array(Math.max(sourceBytes, 4));
    let uniformAt = 0;
    let sourceAt = 0;
    let passes = 1;
    let bytesPerStep = 0;
    this.program = [];
    commands.forEach((c, index) => {
      const target = c.kind === 'upload' ? placed.targets.get(index) : undefined;
      if (c.kind === 'upload' && target) {
        if (!c.input) {
          queue.writeBuffer(target, 0, c.data.buffer as ArrayBuffer, c.data.byteOffset, c.data.byteLength);
          return;
        }
        const regions = this.inputRegions.get(c.input) ?? [];
        regions.push({ buffer: target, offset: 0, size: c.data.length });
        this.inputRegions.set(c.input, regions);
        bytesPerStep += c.data.length;
        return;
      }
      if (c.kind === 'dispatch') {
        uniformData.set(c.uniform, uniformAt);
        const bindGroup = device.createBindGroup({
          layout: c.layout,
          entries: c.bindings.map((b) => ({
            binding: b.binding,
            resource: b.uniform
              ? { buffer: uniforms, offset: uniformAt, size: c.uniform.length }
              : { buffer: bufferAt(index, b.buffer), offset: b.offset, size: b.size },
          })),
        });
        uniformAt += Math.ceil(Math.max(c.uniform.length, 16) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
        const [x, y, z] = c.workgroups;
        this.program.push({ kind: 'dispatch', pipeline: c.pipeline, bindGroup, x, y, z });
      } else if (c.kind === 'upload') {
        sourceData.set(c.data, sourceAt);
        if (c.input) {
          const regions = this.inputRegions.get(c.input) ?? [];
          regions.push({ buffer: this.source!, offset: sourceAt, size: c.data.length });
          this.inputRegions.set(c.input, regions);
          bytesPerStep += c.data.length;
        }
        this.program.push({
          kind: 'copy',
          src: this.source!,
          srcOffset: sourceAt,
          dst: c.buffer,
          dstOffset: 0,
          size: c.data.length,
        });
        sourceAt += Math.ceil(c.data.length / 4) * 4;
        passes++;
      } else {
        this.program.push({
          kind: 'copy',
          src: bufferAt(index, c.src),
          srcOffset: c.srcOffset,
          dst: c.dst,
          dstOffset: c.dstOffset,
          size: c.size,
        });
        passes++;
      }
    });
    queue.writeBuffer(uniforms, 0, uniformData);
    if (this.source) queue.writeBuffer(this.source, 0, sourceData);

    // Keep every buffer the plan touches out of TF.js's pool.
    const manager = backend.bufferManager;
    const touched = new Set<GPUBuffer>();
    for (const c of commands) {
      const { reads, writes } = accessesOf(c);
      for (const buffer of [...reads, ...writes]) touched.add(buffer);
    }
    for (const carry of carries) touched.add(carry.src).add(carry.dst);
    for (const buffer of touched) {
      if (takeFromPool(manager, buffer)) this.detached.add(buffer);
      else this.attached.add(buffer);
    }
    for (const buffer of guarded) if (this.attached.has(buffer)) this.guarded.add(buffer);
    const release = manager.releaseBuffer;
    manager.releaseBuffer = (buffer: GPUBuffer, reuse = true) => {
      if (!this.attached.has(buffer)) return release.call(manager, buffer, reuse);
      this.attached.delete(buffer);
      if (this.guarded.has(buffer) || this.invalidReason) {
        this.invalidReason ??= 'a buffer the plan reads was released (its tensor was replaced)';
        return release.call(manager, buffer, reuse);
      }
      // An output of the recorded step (its loss, say) freed: the plan keeps writing it, so it stays ours.
      release.call(manager, buffer, true);
      takeFromPool(manager, buffer);
      this.detached.add(buffer);
    };
    this.uninstall = () => {
      manager.releaseBuffer = release;
    };
    this.stats = {
      dispatches: this.program.filter((p) => p.kind === 'dispatch').length,
      uploads: commands.filter((c) => c.kind === 'upload').length,
      outOfOrderUploads: placed.targets.size,
      copies: commands.filter((c) => c.kind === 'copy').length,
      carries: carries.length,
      passes,
      bytesPerStep,
    };
  }

  get valid(): boolean {
    return this.invalidReason === null;
  }

  /** Ring slots used since the last read; the Trainer reads before the ring is full. */
  get pendingSlots(): number {
    return this.ringUsed;
  }

  get ringFull(): boolean {
    return this.ringUsed >= METRIC_RING_STEPS;
  }

  /** Copies the recorded step's own loss and grad norm into the ring (before any replay overwrites them). */
  capture(loss: tf.Tensor, gradNorm: tf.Tensor): number {
    const encoder = this.device.createCommandEncoder();
    const slot = this.ringUsed++;
    encoder.copyBufferToBuffer(bufferOf(this.backend, loss), 0, this.ring, slot * 8, 4);
    encoder.copyBufferToBuffer(bufferOf(this.backend, gradNorm), 0, this.ring, slot * 8 + 4, 4);
    flushBackend(this.backend);
    this.queue.submit([encoder.finish()]);
    return slot;
  }

  /** One replayed step: writes the step inputs, encodes and submits the plan (in chunks: replayTuning). Returns its ring slot. */
  run(inputs: ReadonlyMap<string, ArrayBufferView>): number {
    if (this.invalidReason) throw new Error(`replay: plan is no longer valid (${this.invalidReason})`);
    if (this.ringFull) throw new Error('replay: metric ring full; read it first');
    for (const [name, regions] of this.inputRegions) {
      const data = inputs.get(name);
      if (!data) throw new Error(`replay: step input ${name} missing`);
      for (const region of regions) {
        if (data.byteLength !== region.size)
          throw new Error(`replay: step input ${name} has ${data.byteLength} bytes, the plan ${region.size}`);
        this.queue.writeBuffer(region.buffer, region.offset, data.buffer, data.byteOffset, data.byteLength);
      }
    }
    flushBackend(this.backend);
    let encoder = this.device.createCommandEncoder();
    for (const c of this.carries) encoder.copyBufferToBuffer(c.src, 0, c.dst, 0, c.size);
    let pass: GPUComputePassEncoder | null = null;
    let pipeline: GPUComputePipeline | null = null;
    const program = this.program;
    const submitEvery = replayTuning.submitEvery;
    let encoded = 0;
    for (let i = 0; i < program.length; i++) {
      const p = program[i];
      if (p.kind === 'dispatch') {
        if (!pass) {
          pass = encoder.beginComputePass();
          pipeline = null;
        }
        if (p.pipeline !== pipeline) pass.setPipeline((pipeline = p.pipeline));
        pass.setBindGroup(0, p.bindGroup);
        pass.dispatchWorkgroups(p.x, p.y, p.z);
        if (submitEvery > 0 && ++encoded % submitEvery === 0 && i < program.length - 1) {
          pass.end();
          pass = null;
          this.queue.submit([encoder.finish()]);
          encoder = this.device.createCommandEncoder();
        }
      } else {
        if (pass) pass.end();
        pass = null;
        encoder.copyBufferToBuffer(p.src, p.srcOffset, p.dst, p.dstOffset, p.size);
      }
    }
    if (pass) pass.end();
    const slot = this.ringUsed++;
    encoder.copyBufferToBuffer(this.metrics.loss, 0, this.ring, slot * 8, 4);
    encoder.copyBufferToBuffer(this.metrics.gradNorm, 0, this.ring, slot * 8 + 4, 4);
    this.queue.submit([encoder.finish()]);
    for (const data of this.written) data.values = null;
    return slot;
  }

  /** [loss, gradNorm] of every slot since the last read, in one read; the ring starts over. */
  async readRing(): Promise<Float32Array> {
    const count = this.ringUsed;
    if (count === 0) return new Float32Array(0);
    const u = usage();
    const staging = this.device.createBuffer({ size: count * 8, usage: u.MAP_READ | u.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.ring, 0, staging, 0, count * 8);
    flushBackend(this.backend);
    this.queue.submit([encoder.finish()]);
    this.ringUsed = 0;
    await staging.mapAsync((globalThis as unknown as { GPUMapMode: { READ: number } }).GPUMapMode.READ);
    const values = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return values;
  }

  dispose(): void {
    this.uninstall();
    const manager = this.backend.bufferManager;
    for (const buffer of this.detached) returnToPool(manager, buffer);
    this.detached.clear();
    for (const buffer of this.owned) buffer.destroy();
    this.owned.length = 0;
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    return buffer;
  }
}

function poolKey(buffer: GPUBuffer): string {
  return `${buffer.size}_${buffer.usage}`;
}

function takeFromPool(manager: BufferManagerLike, buffer: GPUBuffer): boolean {
  const list = manager.freeBuffers.get(poolKey(buffer));
  const index = list ? list.lastIndexOf(buffer) : -1;
  if (!list || index < 0) return false;
  list.splice(index, 1);
  manager.numFreeBuffers--;
  return true;
}

function returnToPool(manager: BufferManagerLike, buffer: GPUBuffer): void {
  const key = poolKey(buffer);
  if (!manager.freeBuffers.has(key)) manager.freeBuffers.set(key, []);
  manager.freeBuffers.get(key)!.push(buffer);
  manager.numFreeBuffers++;
}

/**
 * The plan of step `b` if steps `a` and `b` (consecutive, recorded) did the same GPU work; else why not.
 * `metrics`: step b's loss and pre-clip grad norm tensors (still alive).
 */
export function buildPlan(
  a: Recording,
  b: Recording,
  metrics: { loss: tf.Tensor; gradNorm: tf.Tensor },
): StepPlan | string {
  const mismatch = sameStructure(a, b);
  if (mismatch) return mismatch;
  const backend = backendOf();
  // Where step a last wrote each buffer: the command and which of its writes (the same slot holds it in step b).
  const lastWriteA = new Map<GPUBuffer, { index: number; slot: number }>();
  a.commands.forEach((c, i) => accessesOf(c).writes.forEach((w, slot) => lastWriteA.set(w, { index: i, slot })));
  const firstAccessB = new Map<GPUBuffer, 'read' | 'write'>();
  const lastWriteB = new Map<GPUBuffer, number>();
  b.commands.forEach((c, i) => {
    const { reads, writes } = accessesOf(c);
    for (const r of reads) if (!firstAccessB.has(r)) firstAccessB.set(r, 'read');
    for (const w of writes) {
      if (!firstAccessB.has(w)) firstAccessB.set(w, 'write');
      lastWriteB.set(w, i);
    }
  });
  const carries: Carry[] = [];
  const guarded = new Set<GPUBuffer>();
  for (const [buffer, first] of firstAccessB) {
    if (first !== 'read') continue;
    const produced = lastWriteA.get(buffer);
    if (produced === undefined) {
      // Not written by step a: a constant of the run (frozen weights, say); it must stay as it is.
      if (lastWriteB.has(buffer))
        return 'a buffer read at the start of the step is overwritten later but was not produced by the previous step';
      guarded.add(buffer);
      continue;
    }
    const next = accessesOf(b.commands[produced.index]).writes[produced.slot];
    if (lastWriteB.get(next) !== produced.index)
      return `state written at command ${produced.index} is overwritten later in the step`;
    guarded.add(next);
    if (next !== buffer) carries.push({ src: next, dst: buffer, size: Math.min(next.size, buffer.size) });
  }
  const ordered = orderCarries(carries);
  if (!ordered) return 'the state copies form a cycle';
  const loss = bufferOf(backend, metrics.loss);
  const gradNorm = bufferOf(backend, metrics.gradNorm);
  if (!lastWriteB.has(loss) || !lastWriteB.has(gradNorm))
    return 'the loss or grad norm is not written by the step';
  return new StepPlan(backend, b, ordered, guarded, { loss, gradNorm });
}

/** Copies ordered so that none overwrites a buffer another still has to read; null on a cycle. */
function orderCarries(carries: Carry[]): Carry[] | null {
  const left = [...carries];
  const out: Carry[] = [];
  while (left.length > 0) {
    const i = left.findIndex((c) => !left.some((other) => other !== c && other.src === c.dst));
    if (i < 0) return null;
    out.push(left.splice(i, 1)[0]);
  }
  return out;
}

/** Where the plan stands, for the UI and benchmarks. */
export interface ReplayStatus {
  replayedSteps: number;
  recordedSteps: number;
  plans: number;
  /** Why the last attempt to plan failed, if it did. */
  lastRefusal: string | null;
  stats: PlanStats | null;
}

/**
 * Copies every `[from, into]` tensor pair's bytes on the GPU in one command encoder, queued after TF.js's work
 * (same shapes, float32). What a replaying trainer keeps its last good adapter with: a clone would share the
 * buffers a plan updates in place, and a TF.js op per variable costs ~100 µs of JavaScript each.
 */
export function copyTensors(pairs: ReadonlyArray<readonly [tf.Tensor, tf.Tensor]>): void {
  const backend = backendOf();
  const encoder = backend.device.createCommandEncoder();
  for (const [from, into] of pairs) {
    if (from.size !== into.size || from.dtype !== into.dtype) throw new Error('replay: copy between different tensors');
    const src = bufferOf(backend, from);
    const dst = bufferOf(backend, into);
    if (src === dst) throw new Error('replay: copy of a buffer onto itself');
    encoder.copyBufferToBuffer(src, 0, dst, 0, from.size * 4);
  }
  flushBackend(backend);
  backend.queue.submit([encoder.finish()]);
}

/**
 * variable := value for every pair, into each variable's own GPU buffer on webgpu (one command buffer for all): a
 * live plan reads and updates those buffers, so a method's decision between steps (AdaLoRA's masking of E) is a
 * buffer write rather than a re-plan. A plain assign elsewhere (cpu; a buffer another tensor shares). Disposes
 * the values.
 */
export function assignInPlace(pairs: ReadonlyArray<readonly [tf.Variable, tf.Tensor]>): void {
  const backend = tf.getBackend() === 'webgpu' ? backendOf() : null;
  const copies: Array<readonly [tf.Tensor, tf.Tensor]> = [];
  const written: TensorData[] = [];
  for (const [variable, value] of pairs) {
    if (!tf.util.arraysEqual(value.shape, variable.shape) || value.dtype !== variable.dtype)
      throw new Error(`assignInPlace: a ${value.dtype} [${value.shape}] into a ${variable.dtype} [${variable.shape}] variable`);
    const data = backend?.tensorMap.get(variable.dataId);
    if (data?.resource && data.refCount === 1) {
      copies.push([value, variable]);
      written.push(data);
    } else variable.assign(value);
  }
  if (copies.length > 0) copyTensors(copies);
  // A read caches the values on the host (the webgpu backend then answers from the cache): drop it.
  for (const data of written) data.values = null;
  for (const [, value] of pairs) value.dispose();
}

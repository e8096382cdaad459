/**
 * AFLoRA's freezing scores, kept on the GPU. All still-trainable A/B tensors are laid end to end in one flat
 * buffer ("segments"), so a step's update is a handful of ops whatever the number of tensors (TF.js pays
 * ~0.5 ms of dispatch per op). Nothing here reads from the GPU except `read`.
 */
import * as tf from '@tensorflow/tfjs';
import { fromTensorData, tensorsData } from '../../engine/checkpoint';
import { SegmentLayout } from '../../engine/kernels';
import { markStepInput, onDevice } from '../../engine/replay';
import type { StateDict } from '../../engine/types';
import type { Sensitivity } from './schema';

export interface ScoredTensor {
  name: string;
  variable: tf.Variable;
  size: number;
}

export interface ScoreRow {
  step: number;
  /** Mean element score of each tensor that was trainable at `step`. */
  scores: Map<string, number>;
}

export interface ScoreRead {
  /** Window starts since the last read, oldest first. */
  rows: ScoreRow[];
  /** Element scores (Ibar * Ubar) of the current segments in order, when asked for. */
  elementScores: Float32Array | null;
}

export interface ScoreConfig {
  sensitivity: Sensitivity;
  beta1: number;
  beta2: number;
  deltaT: number;
}

/** Names of the score update's per-step inputs (engine/replay.ts markStepInput): what a replayed step writes. */
export const SCORE_INPUT_WINDOW = 'aflora.window';
export const SCORE_INPUT_START = 'aflora.windowStart';
export const SCORE_INPUT_ROW = 'aflora.historyRow';

export class ScoreState {
  private segments: ScoredTensor[];
  /** Running mean of the sensitivity inside the current window: [N]. */
  private window: tf.Tensor1D | null = null;
  /** Exponential average of finished windows, Ibar: [N]. */
  private ibar: tf.Tensor1D | null = null;
  /** Exponential average of |window - Ibar|, Ubar: [N]. */
  private ubar: tf.Tensor1D | null = null;
  /** Ibar * Ubar as of the last window start: [N]. */
  private elementScore: tf.Tensor1D | null = null;
  /** Where each tensor's elements lie in the flat buffers (per-tensor means). */
  private layout: SegmentLayout | null = null;
  /** Per-tensor means of the window starts not read yet, one row each: [historyCapacity, numSegments]. */
  private history: tf.Tensor2D | null = null;
  private historyRows: { step: number; names: string[] }[] = [];

  /** `historyCapacity`: most window starts between two reads (schedule.ts windowStartsBetweenReads). */
  constructor(
    segments: readonly ScoredTensor[],
    private readonly config: ScoreConfig,
    private readonly historyCapacity: number,
  ) {
    this.segments = [...segments];
    this.rebuildSegmentIndex();
    this.allocate();
  }

  get tensors(): readonly ScoredTensor[] {
    return this.segments;
  }

  get elementCount(): number {
    return this.segments.reduce((sum, s) => sum + s.size, 0);
  }

  hasUnread(): boolean {
    return this.historyRows.length > 0;
  }

  /**
   * The host's part of step `step` (window position, history row), as the values of the GPU update's step
   * inputs: observe() uploads them, a replayed step (engine/replay.ts) writes them into the recorded plan.
   */
  advance(step: number): Map<string, ArrayBufferView> {
    const local = step % this.config.deltaT;
    const start = local === 0;
    const row = new Int32Array(this.historyCapacity);
    if (start && this.segments.length > 0) {
      if (this.historyRows.length >= this.historyCapacity)
        throw new Error(`AFLoRA: more than ${this.historyCapacity} window starts between two score reads`);
      row[this.historyRows.length] = 1;
      this.historyRows.push({ step, names: this.segments.map((s) => s.name) });
    }
    return new Map<string, ArrayBufferView>([
      [SCORE_INPUT_WINDOW, Float32Array.of(local, local + 1)],
      [SCORE_INPUT_START, Int32Array.of(start ? 1 : 0)],
      [SCORE_INPUT_ROW, row],
    ]);
  }

  /**
   * Absorbs step `step`'s raw gradients (the reference's update_ipt_with_local_window). No GPU read. The same
   * ops every step (a window start selects its branch with `where`), so the step can be recorded and replayed.
   */
  observe(step: number, grads: ReadonlyMap<string, tf.Tensor>): void {
    if (this.segments.length === 0) return;
    const inputs = this.advance(step);
    const { beta1, beta2 } = this.config;
    const previous = { window: this.window!, ibar: this.ibar!, ubar: this.ubar!, elementScore: this.elementScore!, history: this.history! };
    const next = tf.tidy(() => {
      const lw = markStepInput(SCORE_INPUT_WINDOW, tf.tensor1d(inputs.get(SCORE_INPUT_WINDOW) as Float32Array));
      const start = markStepInput(SCORE_INPUT_START, tf.tensor1d(inputs.get(SCORE_INPUT_START) as Int32Array, 'bool'));
      const row = markStepInput(SCORE_INPUT_ROW, tf.tensor2d(inputs.get(SCORE_INPUT_ROW) as Int32Array, [this.historyCapacity, 1], 'bool'));
      const sensitivity = this.sensitivity(grads); // [N]
      const { window, ibar: ibarBefore, ubar: ubarBefore } = previous;
      // Inside a window: (W * l + s) / (l + 1), in the reference's order of operations; a window start restarts at s.
      const running = tf.div(tf.add(tf.mul(window, tf.slice(lw, [0], [1])), sensitivity), tf.slice(lw, [1], [1]));
      const ibarStart = tf.add(tf.mul(ibarBefore, beta1), tf.mul(window, 1 - beta1));
      const ubarStart = tf.add(tf.mul(ubarBefore, beta2), tf.mul(tf.abs(tf.sub(window, ibarStart)), 1 - beta2));
      // β2 = 1: the reference scores by Ī alone (no uncertainty term).
      const scoreStart = beta2 === 1 ? ibarStart : tf.mul(ibarStart, ubarStart);
      const elementScore = tf.where(start, scoreStart, previous.elementScore) as tf.Tensor1D;
      const means = tf.reshape(this.layout!.means(elementScore), [1, this.segments.length]); // [1, numSegments]
      return {
        window: tf.where(start, sensitivity, running) as tf.Tensor1D,
        ibar: tf.where(start, ibarStart, ibarBefore) as tf.Tensor1D,
        ubar: tf.where(start, ubarStart, ubarBefore) as tf.Tensor1D,
        elementScore,
        history: tf.where(row, means, previous.history) as tf.Tensor2D,
      };
    });
    Object.assign(this, next);
    tf.dispose(Object.values(previous));
  }

  /** ONE GPU read: the unread window-start means and, with `withElements`, the current element scores. */
  async read(withElements: boolean): Promise<ScoreRead> {
    const rows = this.historyRows;
    const elements = withElements ? this.elementScore : null;
    if (rows.length === 0 && !elements) return { rows: [], elementScores: null };
    const joined = tf.tidy(() => {
      const parts: tf.Tensor1D[] = [];
      if (rows.length > 0) parts.push(tf.reshape(tf.slice(this.history!, [0, 0], [rows.length, -1]), [-1]));
      if (elements) parts.push(elements);
      return parts.length === 1 ? tf.clone(parts[0]) : tf.concat(parts);
    });
    const data = (await joined.data()) as Float32Array;
    joined.dispose();
    const out: ScoreRow[] = rows.map((row, r) => ({
      step: row.step,
      scores: new Map(row.names.map((name, i) => [name, data[r * row.names.length + i]])),
    }));
    const offset = rows.length * this.segments.length;
    this.historyRows = [];
    return { rows: out, elementScores: elements ? data.subarray(offset) : null };
  }

  /**
   * Drops the segments not in `keep` (they froze), compacting every buffer; disposes all when none is left. Only
   * right after a read (a masking round) or before restore(): no unread history row is lost.
   */
  keepOnly(keep: ReadonlySet<string>): void {
    const kept = this.segments.filter((s) => keep.has(s.name));
    if (kept.length === this.segments.length) return;
    if (this.historyRows.length > 0) throw new Error('AFLoRA: segments dropped with unread score history');
    if (kept.length === 0) {
      this.disposeBuffers();
      this.segments = [];
      return;
    }
    const indices = new Int32Array(kept.reduce((sum, s) => sum + s.size, 0));
    let at = 0;
    let offset = 0;
    for (const segment of this.segments) {
      if (keep.has(segment.name)) {
        for (let i = 0; i < segment.size; i++) indices[at++] = offset + i;
      }
      offset += segment.size;
    }
    const gatherIndex = tf.tensor1d(indices, 'int32');
    const compact = (t: tf.Tensor1D | null): tf.Tensor1D | null => {
      if (!t) return null;
      const out = tf.gather(t, gatherIndex) as tf.Tensor1D;
      t.dispose();
      return out;
    };
    this.window = compact(this.window);
    this.ibar = compact(this.ibar);
    this.ubar = compact(this.ubar);
    this.elementScore = compact(this.elementScore);
    gatherIndex.dispose();
    this.segments = kept;
    this.rebuildSegmentIndex();
    this.history?.dispose();
    this.history = onDevice(tf.zeros([this.historyCapacity, kept.length]) as tf.Tensor2D);
  }

  /** The running statistics as plain data, and the unread window starts (a checkpoint; history: the unread rows end to end). */
  async save(): Promise<{ historyRows: { step: number; names: string[] }[]; tensors: StateDict }> {
    const { window, ibar, ubar, elementScore } = this;
    const rows = this.historyRows.length;
    const history = rows > 0 ? tf.tidy(() => tf.reshape(tf.slice(this.history!, [0, 0], [rows, -1]), [-1])) : null;
    try {
      return {
        historyRows: this.historyRows.map((r) => ({ step: r.step, names: [...r.names] })),
        tensors: await tensorsData({ window, ibar, ubar, elementScore, history }),
      };
    } finally {
      history?.dispose();
    }
  }

  /** Puts saved statistics back, on the segments this state holds now (keepOnly the saved ones first). */
  restore(historyRows: readonly { step: number; names: string[] }[], tensors: StateDict): void {
    if (this.segments.length === 0) return;
    const n = this.elementCount;
    const width = this.segments.length;
    const rows = historyRows.length;
    if (rows > this.historyCapacity) throw new Error(`checkpoint: ${rows} unread AFLoRA score rows; this run holds ${this.historyCapacity}`);
    const read = (name: string): tf.Tensor1D | null =>
      tensors.has(name) ? (tf.tidy(() => tf.reshape(fromTensorData(`AFLoRA ${name}`, tensors.get(name), n), [-1])) as tf.Tensor1D) : null;
    const next = { window: read('window'), ibar: read('ibar'), ubar: read('ubar'), elementScore: read('elementScore') };
    // Earlier checkpoints kept the history buffer after a read; only its first `rows` rows are unread.
    const saved = rows > 0 ? tensors.get('history') : undefined;
    if (rows > 0 && (!saved || saved.data.length < rows * width)) throw new Error(`checkpoint: AFLoRA history has fewer than ${rows} rows of ${width}`);
    const history = tf.tidy(() => {
      const empty = tf.zeros([this.historyCapacity - rows, width]);
      return (saved ? tf.concat([tf.tensor2d(saved.data.subarray(0, rows * width), [rows, width]), empty]) : empty) as tf.Tensor2D;
    });
    for (const t of [this.window, this.ibar, this.ubar, this.elementScore, this.history]) t?.dispose();
    const orZeros = (t: tf.Tensor1D | null) => onDevice(t ?? (tf.zeros([n]) as tf.Tensor1D));
    this.window = orZeros(next.window);
    this.ibar = orZeros(next.ibar);
    this.ubar = orZeros(next.ubar);
    this.elementScore = orZeros(next.elementScore);
    this.history = onDevice(history);
    this.historyRows = historyRows.map((r) => ({ step: r.step, names: [...r.names] }));
  }

  dispose(): void {
    this.disposeBuffers();
  }

  private sensitivity(grads: ReadonlyMap<string, tf.Tensor>): tf.Tensor1D {
    const flat = (t: tf.Tensor): tf.Tensor1D => tf.reshape(t, [-1]);
    const g = tf.concat(
      this.segments.map((s) => {
        const grad = grads.get(s.name);
        if (!grad) throw new Error(`AFLoRA: no gradient for trainable ${s.name}`);
        return flat(grad);
      }),
    ) as tf.Tensor1D; // [N]
    if (this.config.sensitivity === 'grad') return tf.abs(g); // the reference's |sign(p) * g| for p != 0
    const p = tf.concat(this.segments.map((s) => flat(s.variable))) as tf.Tensor1D; // [N]
    if (this.config.sensitivity === 'paramGrad') return tf.abs(tf.mul(p, g)) as tf.Tensor1D;
    // |g / p| is undefined at p = 0 (NaN or Inf, and the reference's whole matrix would then never freeze): such an
    // element counts 0, as it does under |p·g|.
    const zero = tf.equal(p, 0);
    return tf.where(zero, tf.zerosLike(p), tf.abs(tf.div(g, tf.where(zero, tf.onesLike(p), p)))) as tf.Tensor1D;
  }

  private rebuildSegmentIndex(): void {
    this.layout?.dispose();
    this.layout = this.segments.length > 0 ? new SegmentLayout(this.segments.map((s) => s.size)) : null;
  }

  /** Zero statistics for the current segments (W, Ibar, Ubar start at 0). */
  private allocate(): void {
    if (this.segments.length === 0) return;
    const n = this.elementCount;
    this.window = onDevice(tf.zeros([n]) as tf.Tensor1D);
    this.ibar = onDevice(tf.zeros([n]) as tf.Tensor1D);
    this.ubar = onDevice(tf.zeros([n]) as tf.Tensor1D);
    this.elementScore = onDevice(tf.zeros([n]) as tf.Tensor1D);
    this.history = onDevice(tf.zeros([this.historyCapacity, this.segments.length]) as tf.Tensor2D);
  }

  private disposeBuffers(): void {
    for (const t of [this.window, this.ibar, this.ubar, this.elementScore, this.history]) t?.dispose();
    this.layout?.dispose();
    this.layout = null;
    this.window = this.ibar = this.ubar = this.elementScore = null;
    this.history = null;
    this.historyRows = [];
  }
}

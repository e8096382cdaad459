/**
 * AFLoRA's freezing scores, kept on the GPU. All still-trainable A/B tensors are laid end to end in one flat
 * buffer ("segments"), so a step's update is a handful of ops whatever the number of tensors (TF.js pays
 * ~0.5 ms of dispatch per op). Nothing here reads from the GPU except `read`.
 */
import * as tf from '@tensorflow/tfjs';
import { fromTensorData, tensorsData } from '../../engine/checkpoint';
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
  /** Segment index of every element: int32 [N]; element count per segment: [numSegments]. */
  private segmentIds: tf.Tensor1D | null = null;
  private segmentSizes: tf.Tensor1D | null = null;
  /** Per-tensor means of the window starts not read yet, rows end to end: [sum of row widths]. */
  private history: tf.Tensor1D | null = null;
  private historyRows: { step: number; names: string[] }[] = [];

  constructor(
    segments: readonly ScoredTensor[],
    private readonly config: ScoreConfig,
  ) {
    this.segments = [...segments];
    this.rebuildSegmentIndex();
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

  /** Absorbs step `step`'s raw gradients (the reference's update_ipt_with_local_window). No GPU read. */
  observe(step: number, grads: ReadonlyMap<string, tf.Tensor>): void {
    if (this.segments.length === 0) return;
    const local = step % this.config.deltaT;
    const windowStart = local === 0;
    const { beta1, beta2 } = this.config;
    const previous = { window: this.window, ibar: this.ibar, ubar: this.ubar, elementScore: this.elementScore, history: this.history };
    const next = tf.tidy(() => {
      const sensitivity = this.sensitivity(grads); // [N]
      const window = previous.window ?? tf.zerosLike(sensitivity);
      if (!windowStart) {
        // (W * l + s) / (l + 1), in the reference's order of operations.
        return { window: tf.div(tf.add(tf.mul(window, local), sensitivity), local + 1) as tf.Tensor1D };
      }
      const ibarBefore = previous.ibar ?? tf.zerosLike(sensitivity);
      const ubarBefore = previous.ubar ?? tf.zerosLike(sensitivity);
      const ibar = tf.add(tf.mul(ibarBefore, beta1), tf.mul(window, 1 - beta1)) as tf.Tensor1D;
      const ubar = tf.add(tf.mul(ubarBefore, beta2), tf.mul(tf.abs(tf.sub(window, ibar)), 1 - beta2)) as tf.Tensor1D;
      // β2 = 1: the reference scores by Ī alone (no uncertainty term).
      const elementScore = (beta2 === 1 ? tf.clone(ibar) : tf.mul(ibar, ubar)) as tf.Tensor1D;
      const sums = tf.unsortedSegmentSum(elementScore, this.segmentIds!, this.segments.length); // [numSegments]
      const means = tf.div(sums, this.segmentSizes!) as tf.Tensor1D;
      const history = this.historyRows.length > 0 && previous.history ? (tf.concat([previous.history, means]) as tf.Tensor1D) : means;
      return { window: sensitivity, ibar, ubar, elementScore, history };
    });
    this.window = next.window;
    previous.window?.dispose();
    if (windowStart) {
      this.ibar = next.ibar!;
      this.ubar = next.ubar!;
      this.elementScore = next.elementScore!;
      this.history = next.history!;
      previous.ibar?.dispose();
      previous.ubar?.dispose();
      previous.elementScore?.dispose();
      previous.history?.dispose();
      this.historyRows.push({ step, names: this.segments.map((s) => s.name) });
    }
  }

  /**
   * ONE GPU read: the unread window-start means and, with `withElements`, the current element scores.
   * The history buffer stays allocated (replaced at the next window start) so tensor counts stay flat.
   */
  async read(withElements: boolean): Promise<ScoreRead> {
    const parts: tf.Tensor[] = [];
    if (this.historyRows.length > 0 && this.history) parts.push(this.history);
    const elements = withElements ? this.elementScore : null;
    if (elements) parts.push(elements);
    if (parts.length === 0) return { rows: [], elementScores: null };
    const joined = parts.length === 1 ? parts[0] : tf.concat(parts);
    const data = (await joined.data()) as Float32Array;
    if (joined !== parts[0]) joined.dispose();
    const rows: ScoreRow[] = [];
    let offset = 0;
    if (parts[0] === this.history) {
      for (const row of this.historyRows) {
        rows.push({ step: row.step, scores: new Map(row.names.map((name, i) => [name, data[offset + i]])) });
        offset += row.names.length;
      }
      this.historyRows = [];
    }
    return { rows, elementScores: elements ? data.subarray(offset) : null };
  }

  /** Drops the segments not in `keep` (they froze), compacting every buffer; disposes all when none is left. */
  keepOnly(keep: ReadonlySet<string>): void {
    const kept = this.segments.filter((s) => keep.has(s.name));
    if (kept.length === this.segments.length) return;
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
  }

  /** The running statistics as plain data, and the unread window starts (a checkpoint). */
  async save(): Promise<{ historyRows: { step: number; names: string[] }[]; tensors: StateDict }> {
    const { window, ibar, ubar, elementScore, history } = this;
    return { historyRows: this.historyRows.map((r) => ({ step: r.step, names: [...r.names] })), tensors: await tensorsData({ window, ibar, ubar, elementScore, history }) };
  }

  /** Puts saved statistics back, on the segments this state holds now (keepOnly the saved ones first). */
  restore(historyRows: readonly { step: number; names: string[] }[], tensors: StateDict): void {
    const n = this.elementCount;
    const read = (name: string, size?: number): tf.Tensor1D | null =>
      tensors.has(name) ? (tf.tidy(() => tf.reshape(fromTensorData(`AFLoRA ${name}`, tensors.get(name), size), [-1])) as tf.Tensor1D) : null;
    const next = { window: read('window', n), ibar: read('ibar', n), ubar: read('ubar', n), elementScore: read('elementScore', n), history: read('history') }; // history: read rows stay allocated, any width
    for (const t of [this.window, this.ibar, this.ubar, this.elementScore, this.history]) t?.dispose();
    Object.assign(this, next);
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
    this.segmentIds?.dispose();
    this.segmentSizes?.dispose();
    this.segmentIds = null;
    this.segmentSizes = null;
    if (this.segments.length === 0) return;
    const ids = new Int32Array(this.elementCount);
    let at = 0;
    this.segments.forEach((segment, index) => {
      ids.fill(index, at, at + segment.size);
      at += segment.size;
    });
    this.segmentIds = tf.tensor1d(ids, 'int32');
    this.segmentSizes = tf.tensor1d(this.segments.map((s) => s.size), 'float32');
  }

  private disposeBuffers(): void {
    for (const t of [this.window, this.ibar, this.ubar, this.elementScore, this.segmentIds, this.segmentSizes, this.history]) t?.dispose();
    this.window = this.ibar = this.ubar = this.elementScore = this.segmentIds = this.segmentSizes = this.history = null;
    this.historyRows = [];
  }
}

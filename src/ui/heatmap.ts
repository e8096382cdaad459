/**
 * Figure-5 heatmap model: rows = encoder layers, columns = A/B of each adapted linear
 * (FFN first, as in the paper, then attention ones when they train), cell = iterations before freezing.
 */
import type { MatrixId, ModuleKind } from '../engine/types';

const COLUMN_ORDER: ModuleKind[] = ['inter', 'out', 'query', 'key', 'value', 'attn_out'];
const KIND_LABEL: Record<ModuleKind, string> = {
  inter: 'inter',
  out: 'out',
  query: 'query',
  key: 'key',
  value: 'value',
  attn_out: 'attn-out',
};

export interface HeatmapColumn {
  kind: ModuleKind;
  matrix: 'A' | 'B';
  label: string;
}

export interface HeatmapCell {
  name: string;
  layer: number;
  column: number;
  /** Step at which it froze, null while (or if never) frozen. */
  frozenAt: number | null;
  /** Latest freezing score, null before the first scoring round. */
  score: number | null;
}

export interface HeatmapModel {
  layers: number[];
  columns: HeatmapColumn[];
  /** cells[row][column], null where the run has no such matrix. */
  cells: (HeatmapCell | null)[][];
}

export function buildHeatmap(
  matrices: { name: string; matrix: MatrixId }[],
  freezeSteps: Readonly<Record<string, number>>,
  scores: Readonly<Record<string, number>>,
): HeatmapModel {
  const present = new Set(matrices.map((m) => `${m.matrix.kind}:${m.matrix.matrix}`));
  const columns: HeatmapColumn[] = [];
  for (const kind of COLUMN_ORDER) {
    for (const matrix of ['A', 'B'] as const) {
      if (present.has(`${kind}:${matrix}`)) columns.push({ kind, matrix, label: `${KIND_LABEL[kind]}-${matrix}` });
    }
  }
  const layers = [...new Set(matrices.map((m) => m.matrix.layer))].sort((a, b) => a - b);
  const cells: (HeatmapCell | null)[][] = layers.map(() => columns.map(() => null));
  for (const { name, matrix } of matrices) {
    const row = layers.indexOf(matrix.layer);
    const column = columns.findIndex((c) => c.kind === matrix.kind && c.matrix === matrix.matrix);
    cells[row][column] = {
      name,
      layer: matrix.layer,
      column,
      frozenAt: freezeSteps[name] ?? null,
      score: scores[name] ?? null,
    };
  }
  return { layers, columns, cells };
}

/** Colour domain of the freeze heatmap: iterations from 0 to the run's total steps. */
export function freezeDomain(totalSteps: number): [number, number] {
  return [0, Math.max(1, totalSteps)];
}

/**
 * Heatmap model of a method's view cells: rows = encoder layers, columns = each adapted linear (FFN first, as in
 * the paper's Figure 5, then attention), split into A / B when the cells are matrices. The freeze view and the
 * rank view share the grid (buildGrid) and fill it with their own values.
 */
import type { ViewCell } from '../engine/adapter';
import type { ModuleKind } from '../engine/types';
import { MODULE_CHOICES } from '../methods/entry';

const COLUMN_ORDER: ModuleKind[] = ['inter', 'out', 'query', 'key', 'value', 'attn_out'];
const KIND_LABEL = new Map(MODULE_CHOICES.map((c) => [c.value, c.label]));

export interface HeatmapColumn {
  kind: ModuleKind;
  matrix?: 'A' | 'B';
  label: string;
}

/** A cell's place in the grid: its view cell's name, its layer and its column. */
export interface GridCell {
  name: string;
  layer: number;
  column: number;
}

export interface HeatmapCell extends GridCell {
  /** Step at which it froze, null while (or if never) frozen. */
  frozenAt: number | null;
  /** Latest freezing score, null before the first scoring round. */
  score: number | null;
}

export interface Grid<C extends GridCell = GridCell> {
  layers: number[];
  columns: HeatmapColumn[];
  /** cells[row][column], null where the run has no such matrix / module. */
  cells: (C | null)[][];
}

export type HeatmapModel = Grid<HeatmapCell>;

/** The rows and columns of a method's view cells (any method: matrices or modules). */
export function buildGrid(viewCells: readonly ViewCell[]): Grid {
  const present = new Set(viewCells.map(({ cell }) => `${cell.kind}:${cell.matrix ?? ''}`));
  const columns: HeatmapColumn[] = [];
  for (const kind of COLUMN_ORDER) {
    for (const matrix of [undefined, 'A', 'B'] as const) {
      if (present.has(`${kind}:${matrix ?? ''}`)) columns.push({ kind, matrix, label: matrix ? `${KIND_LABEL.get(kind)}-${matrix}` : KIND_LABEL.get(kind)! });
    }
  }
  const layers = [...new Set(viewCells.map(({ cell }) => cell.layer))].sort((a, b) => a - b);
  const cells: (GridCell | null)[][] = layers.map(() => columns.map(() => null));
  for (const { name, cell } of viewCells) {
    const row = layers.indexOf(cell.layer);
    const column = columns.findIndex((c) => c.kind === cell.kind && c.matrix === cell.matrix);
    cells[row][column] = { name, layer: cell.layer, column };
  }
  return { layers, columns, cells };
}

/** The same grid with per-cell data: `data(cell)` for every present cell. */
export function mapGrid<C extends GridCell, D extends GridCell>(grid: Grid<C>, data: (cell: C) => D): Grid<D> {
  return { ...grid, cells: grid.cells.map((row) => row.map((cell) => (cell ? data(cell) : null))) };
}

export function buildHeatmap(
  viewCells: readonly ViewCell[],
  freezeSteps: Readonly<Record<string, number>>,
  scores: Readonly<Record<string, number>>,
): HeatmapModel {
  return mapGrid(buildGrid(viewCells), (cell) => ({ ...cell, frozenAt: freezeSteps[cell.name] ?? null, score: scores[cell.name] ?? null }));
}

/** Colour domain of the freeze heatmap: iterations from 0 to the run's total steps. */
export function freezeDomain(totalSteps: number): [number, number] {
  return [0, Math.max(1, totalSteps)];
}

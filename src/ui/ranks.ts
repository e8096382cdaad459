/**
 * The rank view's model, shared by every rank method (AdaLoRA, IncreLoRA, ALoRA): the modules' ranks and
 * importance as they stood after a step, replayed from the run's 'rank' / 'importance' snapshots.
 */
import type { ViewCell } from '../engine/adapter';
import { IMPORTANCE_SERIES, RANK_SERIES } from '../methods/entry';
import type { ValueSnapshot } from '../worker/protocol';
import { buildGrid, mapGrid, type Grid, type GridCell } from './heatmap';
import { latestValues, seriesSteps } from './state';

export interface RankCell extends GridCell {
  /** Rank held after the frame's step; null before the method reported one. */
  rank: number | null;
  /** The latest importance up to that step; null before the first allocation. */
  importance: number | null;
  /** Step of that importance. */
  importanceStep: number | null;
}

/** The steps a scrubber replays: every step at which some module's rank was reported. */
export function rankFrames(snapshots: readonly ValueSnapshot[]): number[] {
  return seriesSteps(snapshots, RANK_SERIES);
}

/** The layer x module grid as it stood after `step`. */
export function rankGrid(cells: readonly ViewCell[], snapshots: readonly ValueSnapshot[], step: number): Grid<RankCell> {
  const ranks = latestValues(snapshots, RANK_SERIES, step);
  const importance: Record<string, number> = {};
  const importanceStep: Record<string, number> = {};
  for (const snapshot of snapshots) {
    if (snapshot.series !== IMPORTANCE_SERIES || snapshot.step > step) continue;
    snapshot.names.forEach((name, i) => {
      importance[name] = snapshot.values[i];
      importanceStep[name] = snapshot.step;
    });
  }
  return mapGrid(buildGrid(cells), (cell) => ({
    ...cell,
    rank: ranks[cell.name] ?? null,
    importance: importance[cell.name] ?? null,
    importanceStep: importanceStep[cell.name] ?? null,
  }));
}

/** Top of the colour scale: the largest rank any module held in the run (at least 1), so frames compare. */
export function maxRank(snapshots: readonly ValueSnapshot[]): number {
  let max = 1;
  for (const snapshot of snapshots) {
    if (snapshot.series !== RANK_SERIES) continue;
    for (const v of snapshot.values) if (v > max) max = v;
  }
  return max;
}

/** Total rank held after each frame (the heatmap's sum; the budget chart's 'actual' comes from the method). */
export function totalRank(grid: Grid<RankCell>): number {
  return grid.cells.flat().reduce((sum, cell) => sum + (cell?.rank ?? 0), 0);
}

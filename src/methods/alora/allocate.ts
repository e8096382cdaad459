/**
 * ALoRA's decisions, tensor-free: which ranks a round prunes and where their budget goes; when rounds run is
 * schedule.ts (scripts/reference/alora_reference.py is the same rule in Python; README.md states the choices).
 */

export type SlotState = 'active' | 'dormant' | 'pruned';

/**
 * The pruned count over the receivers: an equal share each, the remainder one each in order of higher mean
 * importance (ties: earlier module), each capped by its room; what does not fit goes, one at a time, to the next
 * receiver with room in the same order. Returns the ranks each receiver gets (by module index).
 */
export function shareOut(
  count: number,
  receivers: readonly number[],
  meanImportance: readonly number[],
  room: readonly number[],
): Map<number, number> {
  const order = [...receivers].sort((x, y) => meanImportance[y] - meanImportance[x] || x - y);
  const give = new Map<number, number>();
  if (order.length === 0) return give;
  const base = Math.floor(count / order.length);
  const remainder = count % order.length;
  order.forEach((m, i) => give.set(m, Math.min(base + (i < remainder ? 1 : 0), room[m])));
  let left = count - [...give.values()].reduce((a, b) => a + b, 0);
  while (left > 0 && order.some((m) => give.get(m)! < room[m])) {
    for (const m of order) {
      if (left > 0 && give.get(m)! < room[m]) {
        give.set(m, give.get(m)! + 1);
        left--;
      }
    }
  }
  return give;
}

export interface RoundDecision {
  /** Slots pruned, as [module, slot], lowest importance first. */
  pruned: [number, number][];
  /** Slots switched on, as [module, slot]. */
  added: [number, number][];
  /** The importance of the last pruned rank: the round's cut-off. */
  threshold: number;
  /** Mean importance of each module's active ranks before pruning (-Infinity: it had none). */
  meanImportance: number[];
}

/**
 * One round on `states` (modules x slots, changed in place). `importance[m][k]` is IS of active slot k of module m.
 * Prunes min(pruneCount, active - 1) ranks (ties: the earlier slot), then shares them out over the modules that lost
 * none; a receiver takes its lowest dormant (never used) slots.
 */
export function allocateRound(
  states: SlotState[][],
  importance: readonly (readonly number[])[],
  pruneCount: number,
): RoundDecision {
  const active: [number, number][] = [];
  states.forEach((slots, m) => slots.forEach((s, k) => s === 'active' && active.push([m, k])));
  const slotsPer = states[0]?.length ?? 0;
  const ranked = [...active].sort(
    (x, y) =>
      importance[x[0]][x[1]] - importance[y[0]][y[1]] || x[0] * slotsPer + x[1] - (y[0] * slotsPer + y[1]),
  );
  const n = Math.max(0, Math.min(pruneCount, active.length - 1));
  const pruned = ranked.slice(0, n);
  const meanImportance = states.map((slots, m) => {
    const own = slots.flatMap((s, k) => (s === 'active' ? [importance[m][k]] : []));
    return own.length ? own.reduce((a, b) => a + b, 0) / own.length : -Infinity;
  });
  const lost = new Set(pruned.map(([m]) => m));
  for (const [m, k] of pruned) states[m][k] = 'pruned';
  const receivers = states.map((_, m) => m).filter((m) => !lost.has(m));
  const room = states.map((slots) => slots.filter((s) => s === 'dormant').length);
  const added: [number, number][] = [];
  for (const [m, count] of shareOut(n, receivers, meanImportance, room)) {
    for (let i = 0; i < count; i++) {
      const k = states[m].indexOf('dormant');
      states[m][k] = 'active';
      added.push([m, k]);
    }
  }
  added.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return {
    pruned,
    added,
    threshold: n > 0 ? importance[pruned[n - 1][0]][pruned[n - 1][1]] : -Infinity,
    meanImportance,
  };
}

/** CPU helpers for a masking round: k-th smallest element score and per-tensor means, on plain arrays. */

/**
 * k-th smallest value (k 1-based) of `values`, which is left untouched. Hoare-partition selection (Wirth),
 * O(N) on average: 20-40 ms for BERT-base FFN sizes (368,640 scores) on a slow 2-core machine, against ~200
 * dispatches for TF.js's bitonic GPU top-k (see README.md).
 */
export function kthSmallest(values: Float32Array, k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > values.length) {
    throw new RangeError(`k must be an integer in [1, ${values.length}] (got ${k})`);
  }
  // After T - t_f every masking round asks for the maximum (r = 0): one pass, no copy.
  if (k === values.length || k === 1) {
    let extreme = values[0];
    for (let i = 1; i < values.length; i++) {
      if (k === 1 ? values[i] < extreme : values[i] > extreme) extreme = values[i];
    }
    return extreme;
  }
  const a = values.slice();
  const target = k - 1;
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    do {
      while (a[i] < pivot) i++;
      while (pivot < a[j]) j--;
      if (i <= j) {
        const tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < target) lo = i;
    if (target < i) hi = j;
  }
  return a[target];
}

/** Mean of each consecutive segment of `values` (sizes sum to values.length), accumulated in double. */
export function segmentMeans(values: Float32Array, sizes: readonly number[], offset = 0): number[] {
  const means: number[] = [];
  let at = offset;
  for (const size of sizes) {
    let sum = 0;
    for (let i = at; i < at + size; i++) sum += values[i];
    means.push(sum / size);
    at += size;
  }
  return means;
}

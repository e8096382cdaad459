/** Evaluation metrics on plain numbers (GLUE conventions: binary F1 on class 1, macro F1 otherwise). */

export interface EvalMetrics {
  accuracy?: number;
  f1?: number;
  mcc?: number;
  pearson?: number;
  spearman?: number;
  mse?: number;
}

export function accuracy(predicted: readonly number[], labels: readonly number[]): number {
  checkLengths(predicted, labels);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / labels.length;
}

/** F1 of one class (precision/recall 0 when undefined, as sklearn with zero_division=0). */
function classF1(predicted: readonly number[], labels: readonly number[], positive: number): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predicted[i] === positive;
    const l = labels[i] === positive;
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Binary F1 with positive class 1 when numClasses = 2, macro-averaged F1 otherwise. */
export function f1Score(predicted: readonly number[], labels: readonly number[], numClasses: number): number {
  checkLengths(predicted, labels);
  if (numClasses === 2) return classF1(predicted, labels, 1);
  let total = 0;
  for (let c = 0; c < numClasses; c++) total += classF1(predicted, labels, c);
  return total / numClasses;
}

/** Matthews correlation (multi-class generalisation, = sklearn's); 0 when undefined. */
export function matthewsCorrelation(predicted: readonly number[], labels: readonly number[], numClasses: number): number {
  checkLengths(predicted, labels);
  const n = labels.length;
  const predCount = new Float64Array(numClasses);
  const trueCount = new Float64Array(numClasses);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    predCount[predicted[i]]++;
    trueCount[labels[i]]++;
    if (predicted[i] === labels[i]) correct++;
  }
  let pt = 0;
  let pp = 0;
  let tt = 0;
  for (let c = 0; c < numClasses; c++) {
    pt += predCount[c] * trueCount[c];
    pp += predCount[c] * predCount[c];
    tt += trueCount[c] * trueCount[c];
  }
  const denominator = Math.sqrt((n * n - pp) * (n * n - tt));
  return denominator === 0 ? 0 : (correct * n - pt) / denominator;
}

export function pearson(x: readonly number[], y: readonly number[]): number {
  checkLengths(x, y);
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? Number.NaN : sxy / Math.sqrt(sxx * syy);
}

/** Ranks 1..n with ties given their average rank. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]] === values[order[start]]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]] = rank;
    start = end + 1;
  }
  return ranks;
}

export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(averageRanks(x), averageRanks(y));
}

/** Row-wise softmax of [n, k] logits. */
export function softmaxRows(logits: Float32Array, k: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let row = 0; row < logits.length / k; row++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[row * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[row * k + j] = Math.exp(logits[row * k + j] - max);
    for (let j = 0; j < k; j++) out[row * k + j] /= sum;
  }
  return out;
}

export function argmaxRows(values: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let row = 0; row < values.length / k; row++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[row * k + j] > values[row * k + best]) best = j;
    out.push(best);
  }
  return out;
}

export function classificationMetrics(probabilities: Float32Array, labels: readonly number[], numClasses: number): EvalMetrics {
  const predicted = argmaxRows(probabilities, numClasses);
  return {
    accuracy: accuracy(predicted, labels),
    f1: f1Score(predicted, labels, numClasses),
    mcc: matthewsCorrelation(predicted, labels, numClasses),
  };
}

export function regressionMetrics(predictions: Float32Array, targets: readonly number[]): EvalMetrics {
  const values = Array.from(predictions);
  let mse = 0;
  for (let i = 0; i < values.length; i++) mse += (values[i] - targets[i]) ** 2;
  return { pearson: pearson(values, targets), spearman: spearman(values, targets), mse: mse / values.length };
}

function checkLengths(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length || a.length === 0) throw new Error(`metric inputs of lengths ${a.length} and ${b.length}`);
}

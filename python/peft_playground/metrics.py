"""engine/metrics.ts on numpy: accuracy, F1 (binary on class 1, macro otherwise), Matthews, Pearson, Spearman
(ties averaged), MSE; loss as the app reports it (mean cross-entropy / MSE)."""

import numpy as np


def _class_f1(pred, labels, positive):
    tp = np.sum((pred == positive) & (labels == positive))
    fp = np.sum((pred == positive) & (labels != positive))
    fn = np.sum((pred != positive) & (labels == positive))
    return 0.0 if tp == 0 else float(2 * tp / (2 * tp + fp + fn))


def _matthews(pred, labels, k):
    n = len(labels)
    pc = np.bincount(pred, minlength=k).astype(np.float64)
    tc = np.bincount(labels, minlength=k).astype(np.float64)
    correct = float(np.sum(pred == labels))
    denominator = np.sqrt((n * n - pc @ pc) * (n * n - tc @ tc))
    return 0.0 if denominator == 0 else float((correct * n - pc @ tc) / denominator)


def _pearson(x, y):
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x @ x) * (y @ y))
    return 0.0 if denominator == 0 else float(x @ y / denominator)


def _ranks(values):
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def evaluate(logits: np.ndarray, labels: np.ndarray) -> dict:
    """logits [n, L] (L = 1: regression) -> {loss, accuracy, f1, mcc} or {loss, pearson, spearman, mse}."""
    logits = logits.astype(np.float64)
    if logits.shape[1] == 1:
        values, targets = logits[:, 0], labels.astype(np.float64)
        mse = float(np.mean((values - targets) ** 2))
        return {"loss": mse, "pearson": _pearson(values, targets), "spearman": _pearson(_ranks(values), _ranks(targets)), "mse": mse}
    k = logits.shape[1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    labels = labels.astype(np.int64)
    pred = np.argmax(logits, axis=1)
    f1 = _class_f1(pred, labels, 1) if k == 2 else float(np.mean([_class_f1(pred, labels, c) for c in range(k)]))
    return {
        "loss": float(-np.mean(log_probs[np.arange(len(labels)), labels])),
        "accuracy": float(np.mean(pred == labels)),
        "f1": f1,
        "mcc": _matthews(pred, labels, k),
    }

"""Classification metrics (scikit-learn underneath): macro AUROC is the headline, as in PTB-XL benchmarking.

probs: (n, C) probabilities. targets: (n, C) 0/1 for multi-label, or (n,) class indices for multi-class.
Classes that have no positive or no negative example in `targets` have no AUROC; they are left out of the
macro mean (and reported as NaN per class) rather than silently counted as 0.5.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from vizecg.errors import DataError


def _as_onehot(probs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    probs = np.asarray(probs, np.float64)
    targets = np.asarray(targets)
    if probs.ndim == 1:
        probs = probs[:, None]
    if len(probs) != len(targets):
        raise DataError(f"metrics: {len(probs)} predictions but {len(targets)} targets")
    if targets.ndim == 1 and probs.shape[1] > 1:  # multi-class indices -> one-vs-rest indicator matrix
        onehot = np.zeros(probs.shape, np.int64)
        onehot[np.arange(len(targets)), targets.astype(np.int64)] = 1
        return probs, onehot, False
    targets = targets.reshape(len(targets), -1)
    if targets.shape != probs.shape:
        raise DataError(f"metrics: probabilities {probs.shape} and targets {targets.shape} do not match")
    return probs, (targets > 0.5).astype(np.int64), True


def per_class_auroc(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(C,) one-vs-rest AUROC per class; NaN where the class is all-positive or all-negative."""
    probs, onehot, _ = _as_onehot(probs, targets)
    out = np.full(probs.shape[1], np.nan)
    for c in range(probs.shape[1]):
        if 0 < onehot[:, c].sum() < len(onehot):
            out[c] = roc_auc_score(onehot[:, c], probs[:, c])
    return out


def macro_auroc(probs: np.ndarray, targets: np.ndarray) -> float:
    """Mean AUROC over the classes present (with both outcomes) in `targets`; NaN if none is."""
    auc = per_class_auroc(probs, targets)
    return float(np.nanmean(auc)) if np.isfinite(auc).any() else float("nan")


def classification_metrics(probs: np.ndarray, targets: np.ndarray,
                           class_names: list[str] | tuple[str, ...] | None = None) -> dict[str, object]:
    """macro AUROC, per-class AUROC, accuracy and macro F1 (threshold 0.5 multi-label, argmax multi-class)."""
    p, onehot, multilabel = _as_onehot(probs, targets)
    auc = per_class_auroc(probs, targets)
    names = list(class_names) if class_names is not None else [str(i) for i in range(p.shape[1])]
    if multilabel:
        pred = (p >= 0.5).astype(np.int64)
        acc = float(accuracy_score(onehot, pred))  # exact-match (subset) accuracy
        f1 = float(f1_score(onehot, pred, average="macro", zero_division=0))
    else:
        y, pred = onehot.argmax(1), p.argmax(1)
        acc = float(accuracy_score(y, pred))
        f1 = float(f1_score(y, pred, average="macro", labels=np.unique(y), zero_division=0))
    return {
        "macro_auroc": float(np.nanmean(auc)) if np.isfinite(auc).any() else float("nan"),
        "auroc": {n: float(a) for n, a in zip(names, auc)},
        "accuracy": acc,
        "macro_f1": f1,
        "n": int(len(p)),
    }


# --- benchmark statistics: per-class thresholds, AUPRC, bootstrap intervals, paired differences -----------------
def per_class_auprc(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(C,) average precision per class (one-vs-rest); NaN where the class has no positive or no negative."""
    from sklearn.metrics import average_precision_score

    probs, onehot, _ = _as_onehot(probs, targets)
    out = np.full(probs.shape[1], np.nan)
    for c in range(probs.shape[1]):
        if 0 < onehot[:, c].sum() < len(onehot):
            out[c] = average_precision_score(onehot[:, c], probs[:, c])
    return out


def macro_auprc(probs: np.ndarray, targets: np.ndarray) -> float:
    ap = per_class_auprc(probs, targets)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def choose_thresholds(probs: np.ndarray, targets: np.ndarray, default: float = 0.5) -> np.ndarray:
    """(C,) per-class decision thresholds maximising F1 on these (validation) predictions.

    A class with no positive or no negative example keeps `default`. The threshold is the midpoint between
    the F1-best score and the next lower one, so a test score equal to a validation score is classified the
    same way it was on validation.
    """
    from sklearn.metrics import precision_recall_curve

    probs, onehot, _ = _as_onehot(probs, targets)
    out = np.full(probs.shape[1], float(default))
    for c in range(probs.shape[1]):
        y, p = onehot[:, c], probs[:, c]
        if not 0 < y.sum() < len(y):
            continue
        precision, recall, thr = precision_recall_curve(y, p)
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        best = float(thr[int(np.argmax(f1))])
        lower = p[p < best]
        out[c] = (best + float(lower.max())) / 2 if len(lower) else best
    return out


def thresholded_metrics(probs: np.ndarray, targets: np.ndarray, thresholds: np.ndarray | float = 0.5
                        ) -> dict[str, float]:
    """Decisions `probs >= thresholds` (per class) scored against `targets` (multi-label / binary indicators).

    macro_f1 / macro_precision / macro_recall average over classes; accuracy is exact-match (for one class:
    ordinary binary accuracy).
    """
    from sklearn.metrics import precision_score, recall_score

    p, onehot, multilabel = _as_onehot(probs, targets)
    if not multilabel:
        raise DataError("thresholded_metrics is for multi-label / binary indicator targets")
    thr = np.broadcast_to(np.asarray(thresholds, np.float64), (p.shape[1],))
    pred = (p >= thr).astype(np.int64)
    # Each class is its own positive-vs-rest problem (for one column: the positive class only, not a macro
    # over {negative, positive}, which scikit-learn would do for a single indicator column).
    per = {name: [float(fn(onehot[:, c], pred[:, c], zero_division=0)) for c in range(p.shape[1])]
           for name, fn in (("macro_f1", f1_score), ("precision", precision_score), ("recall", recall_score))}
    return {**{k: float(np.mean(v)) for k, v in per.items()}, "accuracy": float(accuracy_score(onehot, pred))}


def bootstrap_indices(n_items: int, n_resamples: int = 1000, seed: int = 0,
                      groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Row indices of `n_resamples` bootstrap resamples (with replacement), seeded.

    With `groups` (e.g. record ids, one or more rows each) whole groups are resampled, so pages of the same
    record never count as independent evidence.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        return [rng.integers(0, n_items, n_items) for _ in range(n_resamples)]
    groups = np.asarray(groups)
    if len(groups) != n_items:
        raise DataError(f"bootstrap: {len(groups)} group labels for {n_items} items")
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.where(inverse == g)[0] for g in range(len(uniq))]
    return [np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))]) for _ in range(n_resamples)]


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(v, a)), float(np.quantile(v, 1 - a))


def bootstrap_metric(metric, targets: np.ndarray, probs: dict[str, np.ndarray],
                     pairs: list[tuple[str, str, str]] | tuple = (), n_resamples: int = 1000, seed: int = 0,
                     groups: np.ndarray | None = None, level: float = 0.95) -> dict[str, dict[str, dict]]:
    """Point estimate and percentile bootstrap interval of `metric(probs, targets)` for several models, and of
    paired comparisons computed on the SAME resamples (so shared test-set luck cancels out).

    probs: {model name: (n, C)} predictions on the same n test items, in the same order.
    metric: f(probs, targets) -> float, or {model name: f} when it depends on the model (e.g. F1 at that
    model's validation thresholds).
    pairs: (a, b, op) with op "diff" (a - b) or "ratio" (a / b).
    Returns {"models": {name: {point, lo, hi, n}}, "pairs": {"a-b" | "a/b": {point, lo, hi, n}}} where n counts
    the resamples on which the metric was defined (a resample can lose every positive of a rare class).
    """
    targets = np.asarray(targets)
    names = list(probs)
    ops = {"diff": (lambda a, b: a - b, "-"), "ratio": (lambda a, b: a / b if b else float("nan"), "/")}
    for a, b, op in pairs:
        if a not in probs or b not in probs or op not in ops:
            raise DataError(f"bootstrap pair ({a}, {b}, {op}) needs two known models and op diff|ratio")
    fns = metric if isinstance(metric, dict) else {m: metric for m in names}
    point = {m: float(fns[m](probs[m], targets)) for m in names}
    idx = bootstrap_indices(len(targets), n_resamples, seed, groups)
    samples = {m: np.empty(len(idx)) for m in names}
    with np.errstate(all="ignore"):
        for i, rows in enumerate(idx):
            for m in names:
                samples[m][i] = fns[m](probs[m][rows], targets[rows])
    out: dict[str, dict[str, dict]] = {"models": {}, "pairs": {}}
    for m in names:
        lo, hi = _interval(samples[m], level)
        out["models"][m] = {"point": point[m], "lo": lo, "hi": hi, "n": int(np.isfinite(samples[m]).sum())}
    for a, b, op in pairs:
        fn, sym = ops[op]
        with np.errstate(all="ignore"):
            vals = np.array([fn(x, y) for x, y in zip(samples[a], samples[b])], np.float64)
        lo, hi = _interval(vals, level)
        out["pairs"][f"{a}{sym}{b}"] = {"point": float(fn(point[a], point[b])), "lo": lo, "hi": hi,
                                        "n": int(np.isfinite(vals).sum())}
    return out


# Exact numpy twins of the scikit-learn metrics above, for the bootstrap's thousands of resamples, where
# scikit-learn's input validation dominates (~10 ms a call vs ~0.3 ms). tests/test_benchmark_metrics.py checks
# that they equal scikit-learn; point estimates in reports come from the scikit-learn versions.
def fast_per_class_auroc(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(C,) AUROC as the Mann-Whitney U statistic of average ranks (ties count half): = roc_auc_score."""
    from scipy.stats import rankdata

    y = (np.asarray(targets) > 0.5).reshape(len(targets), -1)
    p = np.asarray(probs, np.float64).reshape(len(probs), -1)
    pos = y.sum(0)
    neg = len(y) - pos
    ranks = rankdata(p, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * y).sum(0) - pos * (pos + 1) / 2) / (pos * neg)
    return np.where((pos > 0) & (neg > 0), auc, np.nan)


def fast_macro_auroc(probs: np.ndarray, targets: np.ndarray) -> float:
    auc = fast_per_class_auroc(probs, targets)
    return float(np.nanmean(auc)) if np.isfinite(auc).any() else float("nan")


def fast_per_class_auprc(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(C,) average precision, sum over distinct thresholds of (R_n - R_{n-1}) P_n: = average_precision_score."""
    y = (np.asarray(targets) > 0.5).reshape(len(targets), -1)
    p = np.asarray(probs, np.float64).reshape(len(probs), -1)
    out = np.full(p.shape[1], np.nan)
    for c in range(p.shape[1]):
        n_pos = int(y[:, c].sum())
        if not 0 < n_pos < len(y):
            continue
        order = np.argsort(-p[:, c], kind="mergesort")
        s, t = p[order, c], y[order, c]
        last = np.r_[np.where(np.diff(s) != 0)[0], len(s) - 1]  # last index of each run of tied scores
        tp = np.cumsum(t)[last]
        precision = tp / (last + 1)
        recall = tp / n_pos
        out[c] = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return out


def fast_macro_auprc(probs: np.ndarray, targets: np.ndarray) -> float:
    ap = fast_per_class_auprc(probs, targets)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def fast_thresholded_metrics(probs: np.ndarray, targets: np.ndarray, thresholds: np.ndarray | float = 0.5
                             ) -> dict[str, float]:
    """= thresholded_metrics (scikit-learn macro averages with zero_division=0), in plain numpy."""
    y = (np.asarray(targets) > 0.5).reshape(len(targets), -1)
    p = np.asarray(probs, np.float64).reshape(len(probs), -1)
    pred = p >= np.broadcast_to(np.asarray(thresholds, np.float64), (p.shape[1],))
    tp = (pred & y).sum(0).astype(np.float64)
    fp = (pred & ~y).sum(0)
    fn = (~pred & y).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return {"macro_f1": float(f1.mean()), "precision": float(precision.mean()), "recall": float(recall.mean()),
            "accuracy": float((pred == y).all(1).mean())}

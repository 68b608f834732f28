"""Temperature scaling (one T for every class, fitted on validation logits) and expected calibration error.

Multi-label: each class is its own sigmoid, so ECE is taken over all (page, class) pairs in equal-width bins.
"""
from __future__ import annotations

import numpy as np

ECE_BINS = 10


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def bce(logits: np.ndarray, targets: np.ndarray) -> float:
    z = np.asarray(logits, np.float64)
    y = np.asarray(targets, np.float64)
    # log(1 + e^z) - y z, written to stay finite for large |z|
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(logits: np.ndarray, targets: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The T minimising BCE of sigmoid(logits / T) on (validation) targets: golden-section search on log T
    (BCE is unimodal in it)."""
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    f = lambda t: bce(np.asarray(logits) / np.exp(t), targets)  # noqa: E731
    fc, fd = f(c), f(d)
    for _ in range(80):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return float(np.exp((a + b) / 2))


def reliability_table(probs: np.ndarray, targets: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width probability bin: its range, pairs, mean probability and observed rate (None where empty),
    over every (page, class) pair."""
    p = np.asarray(probs, np.float64).ravel()
    y = np.asarray(targets, np.float64).ravel()
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return [{"bin": [k / bins, (k + 1) / bins], "n": int((idx == k).sum()),
             "mean_probability": float(p[idx == k].mean()) if (idx == k).any() else None,
             "observed": float(y[idx == k].mean()) if (idx == k).any() else None} for k in range(bins)]


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width probability bins of (share of pairs) x |mean probability - observed rate|."""
    table = reliability_table(probs, targets, bins)
    total = sum(b["n"] for b in table)
    if total == 0:
        return float("nan")
    return float(sum(b["n"] / total * abs(b["mean_probability"] - b["observed"]) for b in table if b["n"]))


def fit_platt(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class Platt scaling: (slopes, biases) (C,) of sigmoid(slope * logit + bias), each a one-feature logistic
    regression fitted on (validation) targets. Unlike one temperature it also moves each class's base rate, which a
    model trained with class weights (pos_weight) has shifted up for its rare classes."""
    from sklearn.linear_model import LogisticRegression

    z = np.asarray(logits, np.float64).reshape(len(logits), -1)
    y = np.asarray(targets, np.float64).reshape(z.shape) > 0.5
    slopes, biases = np.ones(z.shape[1]), np.zeros(z.shape[1])
    for c in range(z.shape[1]):
        if 0 < y[:, c].sum() < len(y):  # a class without both outcomes keeps the identity
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, c:c + 1], y[:, c])
            slopes[c], biases[c] = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return slopes, biases


def apply_platt(logits: np.ndarray, slopes: np.ndarray, biases: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64).reshape(len(logits), -1)
    return sigmoid(z * np.asarray(slopes)[None] + np.asarray(biases)[None])

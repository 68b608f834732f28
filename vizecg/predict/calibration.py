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


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width probability bins of (share of pairs) x |mean probability - observed rate|."""
    p = np.asarray(probs, np.float64).ravel()
    y = np.asarray(targets, np.float64).ravel()
    if p.size == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for k in range(bins):
        sel = idx == k
        if sel.any():
            ece += sel.mean() * abs(p[sel].mean() - y[sel].mean())
    return float(ece)

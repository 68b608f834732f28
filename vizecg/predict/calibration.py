"""Calibration of a multi-label classifier's logits, fitted on validation only, and expected calibration error.

Methods (the `method` of a calibration dict, as the shipped classifier file and report.json carry it):
    none         sigmoid(z)
    temperature  sigmoid(z / T): one T for every class, fitted by BCE
    platt        sigmoid(a_c z_c + b_c): per class, a one-feature logistic regression ("slopes", "biases")
`fit_calibration` picks the method whose out-of-fold ECE on the validation pages is lowest (k folds inside
validation: a method is never scored on the pages it was fitted on), then fits it on all of them.

Multi-label: each class is its own sigmoid, so ECE is taken over all (page, class) pairs in equal-width bins.
"""
from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 10
METHODS = ("none", "temperature", "platt")


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


def calibrated(logits: np.ndarray, cal: dict[str, Any] | None) -> np.ndarray:
    """Probabilities of logits (C,) or (n, C) under a calibration dict (`METHODS`; None or "none": raw)."""
    z = np.asarray(logits, np.float64)
    method = (cal or {}).get("method", "none")
    if method == "temperature":
        return sigmoid(z / float(cal["temperature"]))
    if method == "platt":
        return sigmoid(z * np.asarray(cal["slopes"], np.float64) + np.asarray(cal["biases"], np.float64))
    return sigmoid(z)


def calibration_problem(cal: dict[str, Any], n_classes: int) -> str | None:
    """Why a calibration dict cannot be applied to n_classes logits, or None when it can."""
    method = cal.get("method", "none")
    if method not in METHODS:
        return f"unknown calibration method {method!r} (known: {', '.join(METHODS)})"
    if method == "temperature":
        t = cal.get("temperature")
        if not isinstance(t, (int, float)) or not np.isfinite(t) or t <= 0:
            return f"calibration temperature must be a number > 0, got {t!r}"
    if method == "platt":
        for key in ("slopes", "biases"):
            v = cal.get(key)
            if not isinstance(v, (list, tuple)) or len(v) != n_classes or not all(
                    isinstance(x, (int, float)) and np.isfinite(x) for x in v):
                return f"Platt calibration needs {n_classes} finite {key}, got {v!r}"
        if min(cal["slopes"]) <= 0:  # a slope <= 0 would reverse or erase a class's ranking
            return f"Platt calibration slopes must be > 0, got {cal['slopes']}"
    return None


def _fit(method: str, logits: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    if method == "temperature":
        return {"method": method, "temperature": fit_temperature(logits, targets)}
    if method == "platt":
        slopes, biases = fit_platt(logits, targets)
        return {"method": method, "slopes": [float(a) for a in slopes], "biases": [float(b) for b in biases]}
    return {"method": "none"}


def fit_calibration(logits: np.ndarray, targets: np.ndarray, methods: tuple[str, ...] = METHODS, folds: int = 5,
                    seed: int = 0) -> dict[str, Any]:
    """The calibration of `methods` with the lowest out-of-fold ECE on these (validation) pages, fitted on all of
    them: {"method", its parameters, "ece_oof": {method: ECE}}. A Platt fit whose slope is not > 0 for some class
    is not a candidate (that class would lose its ranking)."""
    z = np.asarray(logits, np.float64).reshape(len(logits), -1)
    y = np.asarray(targets, np.float64).reshape(z.shape)
    order = np.random.default_rng(seed).permutation(len(z))
    parts = np.array_split(order, min(folds, len(z)))
    oof: dict[str, float] = {}
    for method in methods:
        p = np.empty_like(z)
        for held in parts:
            rest = np.setdiff1d(order, held)
            p[held] = calibrated(z[held], _fit(method, z[rest], y[rest]))
        oof[method] = float(expected_calibration_error(p, y))
    ranked = sorted(oof, key=oof.get)
    for method in ranked:
        cal = _fit(method, z, y)
        if calibration_problem(cal, z.shape[1]) is None:
            return {**cal, "ece_oof": {m: round(v, 4) for m, v in oof.items()}}
    return {"method": "none", "ece_oof": {m: round(v, 4) for m, v in oof.items()}}


def describe_calibration(cal: dict[str, Any] | None) -> str:
    """One sentence for the reports (HTML and PDF): the method, where it was fitted and its measured ECE."""
    cal = cal or {}
    method = cal.get("method", "none")
    if method == "temperature":
        line = f"Calibration: temperature scaling, T = {cal.get('temperature', 1):.3f}"
    elif method == "platt":
        line = "Calibration: per-class Platt scaling (a slope and a bias per class)"
    else:
        return "Calibration: none (raw model probabilities)."
    if "fitted_on" in cal:
        line += f", fitted on {cal['fitted_on']}"
    if "ece_val_before" in cal and "ece_val_after" in cal:
        line += (f"; expected calibration error on that fold {cal['ece_val_before']:.3f} before, "
                 f"{cal['ece_val_after']:.3f} after")
    if "ece_test_after" in cal:
        line += f"; on the test fold {cal['ece_test_after']:.3f}"
    return line + ". Classes are not exclusive (multi-label): probabilities do not sum to 1."

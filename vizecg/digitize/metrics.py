"""Digitization quality: the PhysioNet Challenge 2024 SNR (with its alignment), Pearson r and RMSE in mV.

Our reading of the Challenge's scoring (helper_code.compute_snr + the alignment described for the final phase
and used by the 2025 Kaggle metric): per record and lead,

    SNR = 10 log10( sum x^2 / sum (x - x_hat)^2 )

after shifting the estimate in time (up to `max_shift_s`) and adding a vertical offset (up to `max_offset_mv`),
both chosen to maximise the SNR. Samples the estimate leaves NaN count as 0 (so the noise there is the whole
signal), as in `evaluate_model.py`. Samples where the *reference* is NaN are not compared at all: that is how
we restrict the score to what the page shows (the panel's time window, the visible part of a cut photo).
The offset is applied to the finite estimate samples only; the zero-filled gaps stay zero.
"""
from __future__ import annotations

import numpy as np

from vizecg.errors import DataError

MAX_SHIFT_S = 0.5
MAX_OFFSET_MV = 1.0


def _shifted(est: np.ndarray, lag: int) -> np.ndarray:
    """est moved right by `lag` samples (NaN fills what moves in)."""
    out = np.full_like(est, np.nan)
    if lag >= 0:
        out[lag:] = est[:len(est) - lag] if lag else est
    else:
        out[:lag] = est[-lag:]
    return out


def align(reference: np.ndarray, estimate: np.ndarray, fs: float, max_shift_s: float = MAX_SHIFT_S,
          max_offset_mv: float = MAX_OFFSET_MV) -> tuple[np.ndarray, int, float]:
    """(aligned estimate, lag in samples, offset in mV) that maximise the SNR of `estimate` against `reference`.

    Every lag within the limit is tried (the best offset for a lag has a closed form: the mean residual,
    clipped to the limit), so the choice is the exact maximiser, not a cross-correlation guess.
    """
    x = np.asarray(reference, np.float64)
    y = np.asarray(estimate, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"reference and estimate must be 1-D of equal length, got {x.shape} and {y.shape}")
    ref_ok = np.isfinite(x)
    max_lag = int(round(max_shift_s * fs))
    lags = np.arange(-max_lag, max_lag + 1)
    n = len(x)
    # (lags, n) matrix of shifted estimates, built by padding once: index k of row i is y[k - lag_i].
    pad = np.concatenate([np.full(max_lag, np.nan), y, np.full(max_lag, np.nan)])
    idx = np.arange(n)[None, :] - lags[:, None] + max_lag
    shifted = pad[idx]  # (lags, n)
    xs = np.where(ref_ok, x, 0.0)[None, :]
    valid = np.isfinite(shifted) & ref_ok[None, :]
    resid = np.where(valid, xs - np.where(valid, shifted, 0.0), 0.0)
    cnt = valid.sum(axis=1)
    offsets = np.clip(np.where(cnt > 0, resid.sum(axis=1) / np.maximum(cnt, 1), 0.0), -max_offset_mv, max_offset_mv)
    # noise = sum over valid (resid - c)^2 + sum over reference-only samples x^2
    noise = (resid ** 2).sum(axis=1) - 2 * offsets * resid.sum(axis=1) + cnt * offsets ** 2 \
        + ((xs ** 2) * (~valid & ref_ok[None, :])).sum(axis=1)
    best = int(np.argmin(noise - 1e-12 * np.abs(lags)))  # ties: the smallest shift
    out = shifted[best] + offsets[best]
    return out, int(lags[best]), float(offsets[best])


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Challenge SNR of an already aligned estimate: NaN in the estimate counts as 0; NaN reference is skipped."""
    x = np.asarray(reference, np.float64)
    y = np.asarray(estimate, np.float64)
    keep = np.isfinite(x)
    x, y = x[keep], np.nan_to_num(y[keep], nan=0.0)
    signal = float(np.sum(x ** 2))
    noise = float(np.sum((x - y) ** 2))
    if noise == 0:
        return float("inf") if signal > 0 else float("nan")
    if signal == 0:
        return float("nan")
    return 10.0 * np.log10(signal / noise)


def score_lead(reference: np.ndarray, estimate: np.ndarray, fs: float, max_shift_s: float = MAX_SHIFT_S,
               max_offset_mv: float = MAX_OFFSET_MV) -> dict[str, float]:
    """SNR (dB) after alignment, plus Pearson r and RMSE (mV) over the samples both sides have."""
    x = np.asarray(reference, np.float64)
    if not np.isfinite(x).any():
        return {"snr_db": float("nan"), "pearson_r": float("nan"), "rmse_mv": float("nan"), "lag_s": 0.0,
                "offset_mv": 0.0, "coverage": float("nan")}
    aligned, lag, offset = align(x, estimate, fs, max_shift_s, max_offset_mv)
    both = np.isfinite(x) & np.isfinite(aligned)
    r = rmse = float("nan")
    if both.sum() > 2:
        a, b = x[both], aligned[both]
        rmse = float(np.sqrt(np.mean((a - b) ** 2)))
        if a.std() > 0 and b.std() > 0:
            r = float(np.corrcoef(a, b)[0, 1])
    return {"snr_db": snr_db(x, aligned), "pearson_r": r, "rmse_mv": rmse, "lag_s": lag / fs,
            "offset_mv": offset, "coverage": float(both.sum() / np.isfinite(x).sum())}

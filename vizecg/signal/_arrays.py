"""Shared input handling: every signal function takes (samples,) or (leads, samples) and returns that shape."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vizecg.errors import ConfigError, DataError


def as_leads(x: np.ndarray, what: str = "signal") -> tuple[np.ndarray, bool]:
    """(leads, samples) float64 view of `x` and whether `x` was 1-D (so the caller can give the shape back)."""
    arr = np.asarray(x)
    if arr.ndim not in (1, 2):
        raise DataError(f"{what} must be 1-D (samples,) or 2-D (leads, samples), got shape {arr.shape}")
    if arr.shape[-1] == 0:
        raise DataError(f"{what} has no samples")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{what} is not numeric ({arr.dtype})")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise DataError(f"{what} holds NaN or infinite samples; fill or cut gaps before filtering")
    return np.atleast_2d(arr), arr.ndim == 1


def give_back(y: np.ndarray, was_1d: bool) -> np.ndarray:
    y = np.ascontiguousarray(y, dtype=np.float32)
    return y[0] if was_1d else y


def check_fs(fs: float) -> float:
    if not np.isfinite(fs) or fs <= 0:
        raise ConfigError(f"sampling rate must be a positive number of Hz, got {fs!r}")
    return float(fs)


def per_lead(func: Callable[[np.ndarray], np.ndarray], x2d: np.ndarray) -> np.ndarray:
    return np.stack([func(row) for row in x2d])

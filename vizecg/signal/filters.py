"""Filters for ECG in mV: band-pass, mains notch, baseline-wander removal, resampling, amplitude scaling.

All take (samples,) or (leads, samples) and return the same shape as float32. Filtering is zero-phase
(forward-backward) so that wave positions, and the R-peaks found on them, do not move.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Literal

import numpy as np
import pywt
from scipy import ndimage, signal
from scipy.interpolate import CubicSpline

from vizecg.errors import ConfigError, DataError
from vizecg.signal._arrays import as_leads, check_fs, give_back

BaselineMethod = Literal["median", "spline", "wavelet"]
NormalizeMethod = Literal["zscore", "minmax", "mad"]


def _sosfiltfilt(sos: np.ndarray, x2d: np.ndarray) -> np.ndarray:
    padlen = 3 * (2 * len(sos) + 1)
    if x2d.shape[-1] <= padlen:
        raise DataError(f"signal of {x2d.shape[-1]} samples is too short to filter (needs > {padlen})")
    return signal.sosfiltfilt(sos, x2d, axis=-1)


def bandpass(x: np.ndarray, fs: float, low: float | None = 0.5, high: float | None = 40.0,
             order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass. low=None gives a low-pass, high=None a high-pass.

    A `high` at or above Nyquist is dropped (there is nothing above Nyquist to remove), so the same
    settings work on 100 Hz and 500 Hz records.
    """
    fs = check_fs(fs)
    x2d, was_1d = as_leads(x)
    nyq = fs / 2
    if high is not None and high >= nyq:
        high = None
    if low is not None and not 0 < low < nyq:
        raise ConfigError(f"band-pass low cut {low} Hz must lie between 0 and Nyquist ({nyq} Hz)")
    if low is not None and high is not None and low >= high:
        raise ConfigError(f"band-pass low cut {low} Hz must be below high cut {high} Hz")
    if low is None and high is None:
        return give_back(x2d, was_1d)
    if low is None:
        sos = signal.butter(order, high, btype="lowpass", fs=fs, output="sos")
    elif high is None:
        sos = signal.butter(order, low, btype="highpass", fs=fs, output="sos")
    else:
        sos = signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    return give_back(_sosfiltfilt(sos, x2d), was_1d)


def notch(x: np.ndarray, fs: float, freq: float = 50.0, q: float = 30.0) -> np.ndarray:
    """Zero-phase IIR notch at the mains frequency (50 Hz Europe, 60 Hz Americas)."""
    fs = check_fs(fs)
    if not 0 < freq < fs / 2:
        raise ConfigError(f"notch frequency {freq} Hz must lie between 0 and Nyquist ({fs / 2} Hz)")
    x2d, was_1d = as_leads(x)
    b, a = signal.iirnotch(freq, q, fs=fs)
    if x2d.shape[-1] <= 3 * max(len(a), len(b)):
        raise DataError(f"signal of {x2d.shape[-1]} samples is too short to notch-filter")
    return give_back(signal.filtfilt(b, a, x2d, axis=-1), was_1d)


def _odd(n: float) -> int:
    n = max(int(round(n)), 1)
    return n if n % 2 else n + 1


def remove_baseline(x: np.ndarray, fs: float, method: BaselineMethod = "median",
                    rpeaks: np.ndarray | None = None) -> np.ndarray:
    """Subtract baseline wander.

    median: two-stage median filter (200 ms removes QRS and P, 600 ms removes T) - the classic
        de Chazal estimate; robust and needs nothing else.
    spline: cubic spline through isoelectric points in the PR segment of each beat (60-100 ms before R).
        `rpeaks` (sample indices, shared by all leads) are detected on the first lead when not given.
    wavelet: drop the wavelet approximation below ~0.5 Hz (db4 decomposition).
    """
    fs = check_fs(fs)
    x2d, was_1d = as_leads(x)
    if method == "median":
        base = ndimage.median_filter(x2d, size=(1, _odd(0.2 * fs)), mode="nearest")
        base = ndimage.median_filter(base, size=(1, _odd(0.6 * fs)), mode="nearest")
    elif method == "spline":
        base = _spline_baseline(x2d, fs, rpeaks)
    elif method == "wavelet":
        base = np.stack([_wavelet_baseline(row, fs) for row in x2d])
    else:
        raise ConfigError(f"unknown baseline method {method!r} (known: median, spline, wavelet)")
    return give_back(x2d - base, was_1d)


def _spline_baseline(x2d: np.ndarray, fs: float, rpeaks: np.ndarray | None) -> np.ndarray:
    if rpeaks is None:
        from vizecg.signal.rpeaks import detect_rpeaks  # rpeaks builds on these filters

        rpeaks = detect_rpeaks(x2d[0], fs)
    n = x2d.shape[-1]
    # Mean of a 40 ms window ending 60 ms before R: the PR segment, between P wave and Q onset.
    start = np.asarray(rpeaks, dtype=int) - int(round(0.1 * fs))
    width = max(int(round(0.04 * fs)), 1)
    start = start[(start >= 0) & (start + width <= n)]
    t = np.arange(n)
    if len(start) == 0:  # no beat to anchor on: fall back to the lead's median level
        return np.broadcast_to(np.median(x2d, axis=1, keepdims=True), x2d.shape)
    csum = np.concatenate([np.zeros((x2d.shape[0], 1)), np.cumsum(x2d, axis=1)], axis=1)
    levels = (csum[:, start + width] - csum[:, start]) / width  # (leads, knots)
    knots = start + width / 2
    if len(knots) < 4:
        return np.stack([np.interp(t, knots, lv) for lv in levels])
    spline = CubicSpline(knots, levels, axis=1)
    base = spline(np.clip(t, knots[0], knots[-1]))  # flat beyond the first and last beat, no wild extrapolation
    return base


def _wavelet_baseline(row: np.ndarray, fs: float, cutoff_hz: float = 0.5, wavelet: str = "db4") -> np.ndarray:
    # The level-L approximation spans 0 .. fs / 2**(L+1); pick the first level at or below the cut-off.
    level = int(np.ceil(np.log2(fs / cutoff_hz))) - 1
    level = max(1, min(level, pywt.dwt_max_level(len(row), pywt.Wavelet(wavelet).dec_len)))
    coeffs = pywt.wavedec(row, wavelet, level=level)
    coeffs = [coeffs[0]] + [np.zeros_like(c) for c in coeffs[1:]]
    return pywt.waverec(coeffs, wavelet)[: len(row)]


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased); length becomes ceil(n * fs_out / fs_in)."""
    fs_in, fs_out = check_fs(fs_in), check_fs(fs_out)
    x2d, was_1d = as_leads(x)
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    if abs(float(ratio) - fs_out / fs_in) > 1e-6 * fs_out / fs_in:
        raise ConfigError(f"cannot resample {fs_in} Hz -> {fs_out} Hz with a rational ratio of small integers")
    if ratio == 1:
        return give_back(x2d, was_1d)
    # padtype="line": ECG leads sit on an offset; zero padding would ring at both ends.
    y = signal.resample_poly(x2d, ratio.numerator, ratio.denominator, axis=-1, padtype="line")
    return give_back(y, was_1d)


def normalize_amplitude(x: np.ndarray, method: NormalizeMethod = "zscore") -> np.ndarray:
    """Per-lead scaling. zscore: mean 0, std 1; minmax: into [0, 1]; mad: median 0, robust std 1
    (1.4826 * MAD, so a few huge artefacts do not shrink the ECG). A flat lead stays flat (zeros)."""
    x2d, was_1d = as_leads(x)
    if method == "zscore":
        centre, scale = x2d.mean(axis=1, keepdims=True), x2d.std(axis=1, keepdims=True)
    elif method == "minmax":
        centre = x2d.min(axis=1, keepdims=True)
        scale = x2d.max(axis=1, keepdims=True) - centre
    elif method == "mad":
        centre = np.median(x2d, axis=1, keepdims=True)
        scale = 1.4826 * np.median(np.abs(x2d - centre), axis=1, keepdims=True)
    else:
        raise ConfigError(f"unknown normalisation {method!r} (known: zscore, minmax, mad)")
    scale = np.where(scale > 1e-12, scale, 1.0)
    return give_back((x2d - centre) / scale, was_1d)

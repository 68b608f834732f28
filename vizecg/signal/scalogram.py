"""Time-frequency image of an ECG: continuous wavelet transform magnitude (pywt.cwt)."""
from __future__ import annotations

import numpy as np
import pywt

from vizecg.errors import ConfigError
from vizecg.signal._arrays import as_leads, check_fs


def scalogram_frequencies(n_scales: int = 64, fmin: float = 0.5, fmax: float = 50.0) -> np.ndarray:
    """Centre frequency (Hz) of each scalogram row: log-spaced, highest first (row 0 = smallest scale)."""
    if n_scales < 1 or not 0 < fmin < fmax:
        raise ConfigError(f"scalogram needs n_scales >= 1 and 0 < fmin < fmax (got {n_scales}, {fmin}, {fmax})")
    return np.geomspace(fmax, fmin, n_scales)


def scalogram(x: np.ndarray, fs: float, n_scales: int = 64, wavelet: str = "morl", fmin: float = 0.5,
              fmax: float = 50.0, out_len: int | None = None) -> np.ndarray:
    """|CWT| of (samples,) -> (scales, t) or of (leads, samples) -> (leads, scales, t), float32.

    Rows follow `scalogram_frequencies` (high to low). With `out_len`, time is averaged into that many
    equal bins (a 10 s lead at 500 Hz -> e.g. 256 columns for an image model)."""
    fs = check_fs(fs)
    if fmax > fs / 2:
        raise ConfigError(f"scalogram fmax {fmax} Hz is above Nyquist ({fs / 2} Hz) for {fs} Hz signals")
    if wavelet not in pywt.wavelist(kind="continuous"):
        known = ", ".join(pywt.wavelist(kind="continuous"))
        raise ConfigError(f"unknown continuous wavelet {wavelet!r} (known: {known})")
    x2d, was_1d = as_leads(x)
    freqs = scalogram_frequencies(n_scales, fmin, fmax)
    scales = pywt.frequency2scale(wavelet, freqs / fs)
    coef, _ = pywt.cwt(x2d, scales, wavelet, sampling_period=1.0 / fs, method="fft", axis=-1)
    mag = np.abs(coef).transpose(1, 0, 2)  # (scales, leads, t) -> (leads, scales, t)
    if out_len is not None:
        mag = _bin_time(mag, out_len)
    mag = mag.astype(np.float32)
    return mag[0] if was_1d else mag


def _bin_time(mag: np.ndarray, out_len: int) -> np.ndarray:
    n = mag.shape[-1]
    if not 1 <= out_len <= n:
        raise ConfigError(f"scalogram out_len must be between 1 and the signal length {n}, got {out_len}")
    edges = np.linspace(0, n, out_len + 1).round().astype(int)
    sums = np.add.reduceat(mag, edges[:-1], axis=-1)
    return sums / np.diff(edges)

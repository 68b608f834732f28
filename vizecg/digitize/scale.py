"""Pixels per millimetre from the grid's periodicity, and paper speed / gain from the calibration pulse.

The grid is a comb of lines every 1 mm with darker ones every 5 mm, so the spectrum of its column (or row)
profile holds peaks at every multiple of 1/(5 mm). We pick the 5 mm period whose harmonic comb collects the most
spectral energy, then refine the 1 mm peak (the 5th harmonic) with a zero-padded FFT and parabolic interpolation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from vizecg.render import paper

N_HARMONICS = 10
GRID_STRENGTH_MIN = 6.0  # 1 mm peak / spectral background: printed grids score > 30, plain paper ~ 2


@dataclass(frozen=True)
class GridScale:
    px_per_mm: float  # NaN when no grid periodicity was found
    strength: float  # peak-to-background ratio of the 1 mm line (>~ 4: a real grid)


def _spectrum(profile: np.ndarray, pad: int = 8) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(profile, np.float64)
    p = p - p.mean()
    n = len(p)
    spec = np.abs(np.fft.rfft(p * np.hanning(n), n * pad))
    freqs = np.fft.rfftfreq(n * pad)  # cycles per pixel
    return freqs, spec


def grid_period(profile: np.ndarray, min_px_per_mm: float, max_px_per_mm: float) -> GridScale:
    """Scale (px/mm) along one axis from a grid-darkness profile along that axis."""
    profile = np.asarray(profile, np.float64)
    if len(profile) < 64 or not np.isfinite(profile).all() or profile.std() == 0:
        return GridScale(float("nan"), 0.0)
    freqs, spec = _spectrum(profile)
    df = freqs[1]
    # Flatten the background (slow shading, the trace) so the comb score sees peaks, not a 1/f slope.
    background = median_filter(spec, size=max(3, int(round(0.01 / df))) | 1)
    peaks = np.maximum(spec - background, 0.0)
    # Candidate 5 mm periods (px), log-spaced finely enough that every harmonic lands within one pad bin.
    p_lo, p_hi = paper.MAJOR_GRID_MM * min_px_per_mm, paper.MAJOR_GRID_MM * max_px_per_mm
    periods = np.exp(np.arange(np.log(p_lo), np.log(p_hi), 0.0005))
    k = np.arange(1, N_HARMONICS + 1)
    f = k[None, :] / periods[:, None]
    inside = f < 0.5
    idx = np.clip(np.round(f / df).astype(int), 0, len(peaks) - 1)
    # max over +-1 bin so a comb slightly off a bin still collects its peak
    local = np.maximum(np.maximum(peaks[idx], peaks[np.clip(idx - 1, 0, None)]),
                       peaks[np.clip(idx + 1, None, len(peaks) - 1)])
    score = (local * inside).sum(axis=1)
    major = periods[int(np.argmax(score))]
    # Refine on the 1 mm line: the strongest and sharpest peak of the comb.
    f1 = paper.MAJOR_GRID_MM / major
    if f1 >= 0.5:
        return GridScale(float("nan"), 0.0)
    i = int(round(f1 / df))
    w = max(2, int(round(0.04 * f1 / df)))
    lo, hi = max(1, i - w), min(len(spec) - 2, i + w)
    j = lo + int(np.argmax(spec[lo:hi + 1]))
    a, b, c = np.log(spec[j - 1: j + 2] + 1e-12)
    delta = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    f_minor = (j + float(np.clip(delta, -0.5, 0.5))) * df
    strength = float(spec[j] / (np.median(spec[max(1, j - 20 * w): j + 20 * w]) + 1e-12))
    return GridScale(1.0 / f_minor / paper.MINOR_GRID_MM, strength)


def grid_period_2d(grid: np.ndarray, axis: int, min_px_per_mm: float, max_px_per_mm: float,
                   strip_px: int) -> GridScale:
    """Scale along `axis` (1: x, from column profiles; 0: y) of a 2-D grid-darkness image: the whole page's
    profile, else the median over strips `strip_px` wide across the other axis. A curled or waved page bends
    its lines by more than a millimetre over the width, which blurs the whole-page profile; a strip's lines
    stay nearly straight."""
    g = grid if axis == 1 else grid.T
    whole = grid_period(g.mean(axis=0), min_px_per_mm, max_px_per_mm)
    if whole.strength >= GRID_STRENGTH_MIN:
        return whole
    strips = [grid_period(g[a:a + strip_px].mean(axis=0), min_px_per_mm, max_px_per_mm)
              for a in range(0, g.shape[0] - strip_px + 1, strip_px)]
    strong = [s for s in strips if s.strength >= GRID_STRENGTH_MIN]
    if len(strong) < max(2, len(strips) // 3):
        return whole
    return GridScale(float(np.median([s.px_per_mm for s in strong])), float(np.median([s.strength for s in strong])))


def snap(value: float, offered: tuple[float, ...], tolerance: float = 0.15) -> float | None:
    """The offered setting within `tolerance` (relative) of a measured value, else None."""
    best = min(offered, key=lambda o: abs(value / o - 1.0))
    return float(best) if abs(value / best - 1.0) <= tolerance else None


def snap_agreed(values: list[float], offered: tuple[float, ...], tolerance: float = 0.15) -> float | None:
    """The offered setting that more than half of several measurements snap to, else None: a calibration pulse
    bent by a crease or a failed flattening measures any size, the true ones agree."""
    snapped = [snap(v, offered, tolerance) for v in values]
    best = max(offered, key=snapped.count)
    return float(best) if 2 * snapped.count(best) > len(values) else None

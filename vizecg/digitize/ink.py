"""Separate the pen trace from paper, grid and shading: darkness relative to the local paper brightness.

The grid is printed in a light colour and the trace in black, so the brightest channel (HSV value) keeps the
grid bright and the trace dark; dividing by the local paper level (a large max-filter) removes shadows and
vignetting before thresholding.
"""
from __future__ import annotations

import cv2
import numpy as np


def channel_max(image: np.ndarray) -> np.ndarray:
    r, g, b = cv2.split(image)  # cv2 is ~10x faster than ndarray.max(axis=2) on uint8
    return cv2.max(cv2.max(r, g), b)


def channel_min(image: np.ndarray) -> np.ndarray:
    r, g, b = cv2.split(image)
    return cv2.min(cv2.min(r, g), b)


def paper_normalised(image: np.ndarray, px_per_mm: float | None = None) -> np.ndarray:
    """(H, W) float32 in [0, ~1]: each pixel's brightest channel over the local paper brightness."""
    value = channel_max(image).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)
    k = norm_window(px_per_mm)
    paper = cv2.dilate(value, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    paper = cv2.GaussianBlur(paper, (0, 0), k / 2)
    return value / np.maximum(paper, 1.0)


def norm_window(px_per_mm: float | None) -> int:
    """The paper level's window (px, odd) at this scale: the only way the scale enters `paper_normalised`.
    It must be wider than the thickest dark feature (trace, text) so it only sees paper."""
    return int(max(15, round(3.0 * (px_per_mm or 8.0)))) | 1


def channel_range(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(channel_max, channel_min) of an RGB image, from one split."""
    r, g, b = cv2.split(image)
    return cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b)


def grid_darkness(image: np.ndarray, norm: np.ndarray, ink: np.ndarray,
                  channels: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(H, W) float32: how strongly each pixel is coloured like the grid (ink pixels zeroed). `channels`: the
    image's channel_range where the caller has it already.

    Coloured grids are best seen as chroma (max - min channel); grey ones only as darkness, so take the larger.
    """
    if image.ndim == 3:
        hi, lo = channels or channel_range(image)
        chroma = (hi.astype(np.float32) - lo) / 255.0
    else:
        chroma = np.zeros(norm.shape, np.float32)
    dark = np.clip(1.0 - norm, 0.0, 1.0)
    g = np.maximum(chroma, dark)
    g[ink] = 0.0
    return g


def ink_mask(norm: np.ndarray, threshold: float = 0.5, auto: bool = True) -> tuple[np.ndarray, float]:
    """Boolean ink mask and the threshold used.

    With `auto`, Otsu's threshold on the dark pixels picks the valley between dark grid lines (photocopies,
    grey grids) and the trace, but never above `threshold`.
    """
    thr = threshold
    if auto:
        dark = norm[norm < 0.9]
        if dark.size > 100:
            vals = np.clip(dark * 255, 0, 255).astype(np.uint8)
            otsu, _ = cv2.threshold(vals.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            thr = float(min(threshold, max(0.2, otsu / 255.0)))
    return norm < thr, thr

"""Lead-label crops: the one convention (window around a box, grey, fixed size) shared by training and reading.

A label box (ground truth or the detector's `lead_label`) becomes a window centred on it, a little taller than
the text and three times as wide as tall, so that "I" and "-aVR" both fit with some context and a detector box
a few pixels off still holds the whole name. Windows running off the image are padded with its edge pixels.
"""
from __future__ import annotations

import cv2
import numpy as np

from vizecg.render.paper import BASELINE_FRACTION

CROP_H, CROP_W = 32, 96  # network input (h, w): 3:1 holds the widest name ("-aVR") at the window's height
# Window height over the label box height; the window is 3x as wide as tall. A name's cap height then fills
# about half the crop, as it does in the rendered truth boxes (which hug the ink).
HEIGHT_MARGIN = 1.8
MIN_WIDTH_MARGIN = 1.25  # the window is at least this much wider than the box (a wide box sets the height)
PROBE_ASPECT = 2.2  # width over height of a probe box where no label was detected ("aVR" at its cap height)


def label_window(box: np.ndarray | list[float]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the crop window around an xyxy box (may reach past the image)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    win_h = max(HEIGHT_MARGIN * h, MIN_WIDTH_MARGIN * w / 3.0, 8.0)
    win_w = 3.0 * win_h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - win_w / 2, cy - win_h / 2, cx + win_w / 2, cy + win_h / 2


def to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8: the darkest channel, so red/pink/green grid lines stay light and ink (black, green, blue
    traces and text) stays dark; a plain luminance would make a red grid as dark as the text on some pages."""
    image = np.asarray(image)
    return image if image.ndim == 2 else image[:, :, :3].min(axis=2)


def crop_label(grey: np.ndarray, box: np.ndarray | list[float]) -> np.ndarray:
    """(CROP_H, CROP_W) float32 crop of the window around `box`, standardised (zero mean, unit-ish spread)."""
    h, w = grey.shape[:2]
    wx0, wy0, wx1, wy1 = label_window(box)
    ix0, iy0, ix1, iy1 = int(np.floor(wx0)), int(np.floor(wy0)), int(np.ceil(wx1)), int(np.ceil(wy1))
    inner = grey[max(iy0, 0):max(min(iy1, h), 0), max(ix0, 0):max(min(ix1, w), 0)]
    if inner.size == 0:
        patch = np.full((max(iy1 - iy0, 1), max(ix1 - ix0, 1)), 255, np.uint8)
    else:
        patch = cv2.copyMakeBorder(inner, max(-iy0, 0), max(iy1 - h, 0), max(-ix0, 0), max(ix1 - w, 0),
                                   cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if patch.shape[0] > CROP_H else cv2.INTER_LINEAR
    crop = cv2.resize(patch, (CROP_W, CROP_H), interpolation=interp).astype(np.float32) / 255.0
    # Paper brightness and contrast vary with photo and paper (thermal, grey scans): standardise per crop.
    return (crop - crop.mean()) / (crop.std() + 0.05)


def crop_labels(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n, 1, CROP_H, CROP_W) float32 crops of an RGB (or grey) page at xyxy boxes."""
    grey = to_grey(image)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, 1, CROP_H, CROP_W), np.float32)
    return np.stack([crop_label(grey, b) for b in boxes])[:, None]


def jitter_box(box: np.ndarray, rng: np.random.Generator, shift: float = 0.15, scale: float = 0.25) -> np.ndarray:
    """A box moved by up to `shift` of its size and resized by up to +-`scale`: how a detector box misses."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    cx = (x0 + x1) / 2 + rng.uniform(-shift, shift) * w
    cy = (y0 + y1) / 2 + rng.uniform(-shift, shift) * h
    sw, sh = np.exp(rng.uniform(-scale, scale, 2))
    return np.array([cx - sw * w / 2, cy - sh * h / 2, cx + sw * w / 2, cy + sh * h / 2])


def probe_boxes(panel: np.ndarray, mm: float, caps_mm: tuple[float, ...] = (2.3, 3.0)) -> np.ndarray:
    """(k, 4) label-sized boxes at the places a printer puts a panel's label (render/printout.py _label_origin),
    for cap heights `caps_mm`, 1 mm in from the panel's left edge (0.5 mm on the trace)."""
    x0, y0, _, y1 = (float(v) for v in panel)
    band = max(y1 - y0, 1.0)
    base = y0 + BASELINE_FRACTION * band
    out = []
    for cap in caps_mm:
        h = cap * mm
        for cy, inset in ((y0 + 1.0 * mm + h / 2, 1.0), (base - 3.0 * mm - h / 2, 1.0), (base, 0.5),
                          (base + 2.5 * mm + h / 2, 1.0)):
            cy = min(max(cy, y0 + h / 2), y1 - h / 2)
            bx = x0 + inset * mm
            out.append([bx, cy - h / 2, bx + PROBE_ASPECT * h, cy + h / 2])
    return np.asarray(out, np.float64)

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
    if image.ndim == 2:
        return image
    # elementwise minima: numpy's reduce over a last axis of 3 is ~10x slower (0.1 s on a 200 dpi page)
    return np.minimum(np.minimum(image[:, :, 0], image[:, :, 1]), image[:, :, 2])


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
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, 1, CROP_H, CROP_W), np.float32)
    image = np.asarray(image)
    h, w = image.shape[:2]
    # grey only the part of the page the windows cover (clipped to the page: the crops come out the same)
    win = np.array([label_window(b) for b in boxes])
    ox = int(min(max(np.floor(win[:, 0].min()), 0), w))
    oy = int(min(max(np.floor(win[:, 1].min()), 0), h))
    ex = int(max(min(np.ceil(win[:, 2].max()), w), ox))
    ey = int(max(min(np.ceil(win[:, 3].max()), h), oy))
    grey = to_grey(image[oy:ey, ox:ex])
    if grey.size == 0:  # every window off the page
        grey = to_grey(image)
        ox = oy = 0
    shift = np.array([ox, oy, ox, oy], np.float64)
    return np.stack([crop_label(grey, b - shift) for b in boxes])[:, None]


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


# Where ink_label_boxes looks for a panel's name: printers put it at the panel's left end, above, below or on the
# trace, so the search window spans the whole band and a little either side of the left edge (page mm).
INK_SEARCH_MM = (-4.0, 22.0)  # x range around the panel's left edge
INK_CAP_MM = (1.3, 5.0)  # a name's height range (cap heights of 1.5-4 mm plus descender-free slack)
INK_MAX_WIDTH_MM = 14.0  # "-aVR" at a 4 mm cap height
INK_MAX_BOXES = 8


def ink_label_boxes(image: np.ndarray, panel: np.ndarray, mm: float) -> np.ndarray:
    """(k, 4) boxes around word-sized blobs of ink near a panel's left end: where a name is printed, read from
    the page instead of assumed from a printer's layout (probe_boxes). Grid lines, the pulse and the trace's
    long strokes are removed first (morphological openings longer than any letter); letters are joined into words;
    blobs of a name's size are kept, nearest the panel's top-left corner first. The reader decides what they say
    (and answers not_a_label for a trace fragment)."""
    h_img, w_img = np.asarray(image).shape[:2]
    x0, y0, x1, y1 = (float(v) for v in panel)
    mm = max(float(mm), 1.0)
    rx0 = int(max(x0 + INK_SEARCH_MM[0] * mm, 0))
    rx1 = int(min(x0 + min(INK_SEARCH_MM[1] * mm, 0.4 * max(x1 - x0, 1.0)), w_img))
    ry0, ry1 = int(max(y0, 0)), int(min(y1, h_img))
    if rx1 - rx0 < 4 or ry1 - ry0 < 4:
        return np.zeros((0, 4), np.float64)
    region = to_grey(np.asarray(image)[ry0:ry1, rx0:rx1])
    paper, dark = float(np.percentile(region, 60)), float(np.percentile(region, 0.5))
    if paper - dark < 40:  # nothing darker than the paper here
        return np.zeros((0, 4), np.float64)
    ink = (region < paper - 0.45 * (paper - dark)).astype(np.uint8)
    long = max(int(round(INK_CAP_MM[1] * mm * 1.2)), 3)
    lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (long, 1)))
    lines |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, long)))
    letters = ink & ~lines
    gap = max(int(round(0.8 * mm)), 1)  # letters of one name sit closer than this
    words = cv2.morphologyEx(letters, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (gap, 1)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(words, connectivity=8)
    out = []
    for bx, by, bw, bh, area in stats[1:n]:
        if not (INK_CAP_MM[0] * mm <= bh <= INK_CAP_MM[1] * mm and 0.3 * mm <= bw <= INK_MAX_WIDTH_MM * mm):
            continue
        if area < 0.08 * bw * bh and bw > mm:  # a sparse scatter (grid dots joined up), not letters
            continue
        out.append([rx0 + bx - 0.5, ry0 + by - 0.5, rx0 + bx + bw + 0.5, ry0 + by + bh + 0.5])
    if not out:
        return np.zeros((0, 4), np.float64)
    boxes = np.asarray(out, np.float64)
    near = np.hypot((boxes[:, 0] - x0) / mm, (boxes[:, 1] - y0) / mm)
    return boxes[np.argsort(near, kind="stable")[:INK_MAX_BOXES]]

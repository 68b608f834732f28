"""Beat crops: the local branch's input, cut from a page by ground-truth or detector boxes.

One home for the crop convention (order, letterbox, budget) so that training (distill/) and inference
(detector/ -> models) see identical crops.
"""
from __future__ import annotations

import cv2
import numpy as np

from vizecg.errors import DataError

PAD_VALUE = 255  # letterbox with white: crops then look like more paper, not like a black frame


def beat_order_keys(boxes: np.ndarray) -> np.ndarray:
    """(row, x-centre) keys for boxes with no known lead: boxes whose centres lie within half a median box
    height of the previous one (sorted by y) share a row, so detector boxes order like lead-then-time."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros((0, 2), np.float64)
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    gap = 0.5 * max(float(np.median(boxes[:, 3] - boxes[:, 1])), 1.0)
    order = np.argsort(cy, kind="stable")
    rows = np.zeros(len(boxes), np.float64)
    row = 0
    for prev, cur in zip(order[:-1], order[1:]):
        if cy[cur] - cy[prev] > gap:
            row += 1
        rows[cur] = row
    return np.stack([rows, cx], axis=1)


def select_beats(order_keys: np.ndarray, max_beats: int) -> np.ndarray:
    """Indices of at most `max_beats` beats, ordered by (lead, time).

    Over budget, the budget is shared round-robin between leads (so no lead is starved) and each lead keeps
    beats evenly spread in time (not just its first ones). Deterministic: no randomness involved.
    """
    keys = np.asarray(order_keys, np.float64).reshape(-1, 2)
    order = np.lexsort((keys[:, 1], keys[:, 0]))  # lead first, then time
    if max_beats <= 0:
        return np.zeros(0, np.int64)
    if len(order) <= max_beats:
        return order.astype(np.int64)
    leads, counts = np.unique(keys[order, 0], return_counts=True)
    quota = np.zeros(len(leads), np.int64)
    left = max_beats
    while left > 0:
        for i in range(len(leads)):
            if left > 0 and quota[i] < counts[i]:
                quota[i] += 1
                left -= 1
    kept = []
    start = 0
    for n, q in zip(counts, quota):
        if q > 0:
            # floor(x + 0.5) (not np.round's half-to-even) keeps the picks distinct when the spacing is >= 1.
            picks = np.floor(np.linspace(0, n - 1, q) + 0.5).astype(np.int64) if q > 1 else np.array([(n - 1) // 2])
            kept.append(order[start + picks])
        start += n
    return np.concatenate(kept).astype(np.int64)


def letterbox(patch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (h, w, 3) uint8 to `size` = (height, width) keeping the aspect ratio; pad with white."""
    out_h, out_w = size
    h, w = patch.shape[:2]
    scale = min(out_h / h, out_w / w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    # INTER_AREA when shrinking keeps thin traces visible; LINEAR when enlarging avoids blockiness.
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(patch, (nw, nh), interpolation=interp)
    canvas = np.full((out_h, out_w, 3), PAD_VALUE, np.uint8)
    y0, x0 = (out_h - nh) // 2, (out_w - nw) // 2
    canvas[y0:y0 + nh, x0:x0 + nw] = resized.reshape(nh, nw, -1)
    return canvas


def crop_beats(image: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None = None,
               size: tuple[int, int] = (64, 64), max_beats: int = 24,
               path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut, letterbox and normalise beat crops.

    image: (H, W, 3) or (H, W) uint8 page; boxes: (n, 4) xyxy pixels; order_keys: (n, 2) (lead index, time or
    x) or None (rows are inferred from box positions); size: (height, width) of each crop.
    Returns crops (k, 3, h, w) float32 in [0, 1] ordered by lead then time, and the kept box indices (k,).
    Boxes are clipped to the image; boxes with less than a pixel left are skipped.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise DataError(f"crop_beats needs an (H, W, 3) uint8 image, got {image.shape} {image.dtype}", path)
    image = image[:, :, :3]
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not np.isfinite(boxes).all():
        raise DataError("crop_beats: boxes hold non-finite coordinates", path)
    if order_keys is None:
        order_keys = beat_order_keys(boxes)
    order_keys = np.asarray(order_keys, np.float64).reshape(-1, 2)
    if len(order_keys) != len(boxes):
        raise DataError(f"crop_beats: {len(boxes)} boxes but {len(order_keys)} order keys", path)
    H, W = image.shape[:2]
    x0 = np.clip(np.floor(boxes[:, 0]), 0, W).astype(np.int64)
    y0 = np.clip(np.floor(boxes[:, 1]), 0, H).astype(np.int64)
    x1 = np.clip(np.ceil(boxes[:, 2]), 0, W).astype(np.int64)
    y1 = np.clip(np.ceil(boxes[:, 3]), 0, H).astype(np.int64)
    valid = np.where((x1 - x0 >= 1) & (y1 - y0 >= 1))[0]
    kept = valid[select_beats(order_keys[valid], max_beats)]
    h, w = int(size[0]), int(size[1])
    crops = np.empty((len(kept), 3, h, w), np.float32)
    for j, i in enumerate(kept):
        patch = letterbox(image[y0[i]:y1[i], x0[i]:x1[i]], (h, w))
        crops[j] = patch.transpose(2, 0, 1).astype(np.float32) / 255.0
    return crops, kept.astype(np.int64)

"""Box maths shared by training-data preparation and inference: letterbox, tiles, clipping, IoU, NMS, WBF.

All boxes are float (n, 4) xyxy arrays in pixels. Pure numpy, so the ONNX path needs neither torch nor ultralytics.
"""
from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 114  # ultralytics' letterbox grey


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio and pad to (size, size), exactly as ultralytics' LetterBox(auto=False).

    Returns the padded image, the gain (new px per old px) and the (left, top) padding.
    """
    h, w = image.shape[:2]
    gain = min(size / h, size / w)
    new_w, new_h = int(round(w * gain)), int(round(h * gain))
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    out = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return out, gain, (left, top)


def unletterbox(boxes: np.ndarray, gain: float, pad: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Map xyxy boxes from letterboxed input pixels back to the original (h, w) image, clipped to it.

    Each axis is divided by its own resize ratio (rounded side / side), as ultralytics' scale_boxes does: on a
    2000 px page one gain for both axes puts the far edge up to a pixel off.
    """
    out = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    h, w = shape
    out[:, [0, 2]] -= pad[0]
    out[:, [1, 3]] -= pad[1]
    out[:, [0, 2]] /= max(int(round(w * gain)), 1) / w
    out[:, [1, 3]] /= max(int(round(h * gain)), 1) / h
    return clip_boxes(out, shape)


def clip_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    out = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out


def tile_origins(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of side `tile` covering [0, length) with at least `overlap` fraction shared."""
    if tile >= length:
        return [0]
    stride = max(1, int(tile * (1.0 - overlap)))
    n = int(np.ceil((length - tile) / stride)) + 1
    # Spread the tiles evenly so the last one ends exactly at the edge (no sliver tile).
    return [int(round(i * (length - tile) / (n - 1))) for i in range(n)]


def tile_windows(shape: tuple[int, int], tile: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) windows of one image, row by row."""
    h, w = shape
    return [(x, y, min(x + tile, w), min(y + tile, h))
            for y in tile_origins(h, tile, overlap) for x in tile_origins(w, tile, overlap)]


def boxes_in_window(boxes: np.ndarray, window: tuple[int, int, int, int], min_visible: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to `window` in window coordinates, keeping those with >= min_visible of their area inside.

    Returns (clipped boxes (k, 4), indices (k,) into `boxes`).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = window
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(x0, x1)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(y0, y1)
    area = box_area(boxes)
    inside = box_area(clipped)
    keep = (inside > 0) & (inside >= min_visible * np.maximum(area, 1e-9))
    out = clipped[keep] - np.array([x0, y0, x0, y0], np.float64)
    return out, np.flatnonzero(keep)


def box_area(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of two sets of xyxy boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = _intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def pairwise_ios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) intersection over the smaller box: 1 when a tile-cut partial box lies inside the whole one."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = _intersection(a, b)
    return inter / np.maximum(np.minimum(box_area(a)[:, None], box_area(b)[None, :]), 1e-9)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clip(0)
    return wh[..., 0] * wh[..., 1]


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, metric: str = "iou",
        max_det: int = 300) -> np.ndarray:
    """Class-wise greedy NMS; returns kept indices by descending score. metric 'ios' merges tile-cut boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores), kind="stable")
    classes = np.asarray(classes)
    overlap = pairwise_ios if metric == "ios" else pairwise_iou
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), bool)
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(int(i))
        if len(keep) >= max_det:
            break
        rest = order[pos + 1:]
        rest = rest[~suppressed[rest] & (classes[rest] == classes[i])]
        if len(rest):
            suppressed[rest[overlap(boxes[i:i + 1], boxes[rest])[0] > iou]] = True
    return np.asarray(keep, np.int64)


def weighted_boxes_fusion(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float,
                          metric: str = "ios") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse clusters of overlapping same-class boxes into their score-weighted mean box (WBF, simplified).

    A cluster is the highest-scoring remaining box and every same-class box overlapping it above `iou`;
    the fused score is the cluster's best score (a beat seen in two tiles is not twice as likely).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64)
    classes = np.asarray(classes)
    overlap = pairwise_ios if metric == "ios" else pairwise_iou
    order = np.argsort(-scores, kind="stable")
    used = np.zeros(len(boxes), bool)
    out_b, out_s, out_c = [], [], []
    for i in order:
        if used[i]:
            continue
        cand = np.flatnonzero(~used & (classes == classes[i]))
        members = cand[overlap(boxes[i:i + 1], boxes[cand])[0] > iou]
        members = np.union1d(members, [i])
        used[members] = True
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_s.append(scores[i])
        out_c.append(classes[i])
    if not out_b:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    return np.asarray(out_b), np.asarray(out_s), np.asarray(out_c, np.int64)


def xywhn_to_xyxy(xywhn: np.ndarray, w: int, h: int) -> np.ndarray:
    b = np.asarray(xywhn, np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] - b[:, 2] / 2) * w, (b[:, 1] - b[:, 3] / 2) * h,
                     (b[:, 0] + b[:, 2] / 2) * w, (b[:, 1] + b[:, 3] / 2) * h], 1)


def xyxy_to_xywhn(xyxy: np.ndarray, w: int, h: int) -> np.ndarray:
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / 2 / w, (b[:, 1] + b[:, 3]) / 2 / h,
                     (b[:, 2] - b[:, 0]) / w, (b[:, 3] - b[:, 1]) / h], 1)

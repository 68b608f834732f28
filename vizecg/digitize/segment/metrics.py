"""Pixel scores of an ink mask against the truth's trace mask, summed over pages before dividing (a page with
more trace weighs more, as every pixel of it is read)."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def pixel_counts(pred: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None,
                 tolerance_px: int = 0) -> dict[str, int]:
    """True/false positives and false negatives of bool mask `pred` against `truth` inside `region`.

    With `tolerance_px` a predicted pixel counts as right when a truth pixel lies within that many px of it, and
    a truth pixel as found when a prediction does (the relaxed scores of thin-structure segmentation: a trace
    drawn one pixel wider or shifted by a pixel is not wrong). Returns tp_pred (predictions that are right),
    fp, tp_truth (truth pixels found) and fn."""
    if region is None:
        region = np.ones(truth.shape, bool)
    pred, truth = pred & region, truth & region
    if tolerance_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance_px + 1,) * 2)
        near_truth = cv2.dilate(truth.astype(np.uint8), k).astype(bool)
        near_pred = cv2.dilate(pred.astype(np.uint8), k).astype(bool)
    else:
        near_truth, near_pred = truth, pred
    tp_pred = int((pred & near_truth).sum())
    tp_truth = int((truth & near_pred).sum())
    return {"tp_pred": tp_pred, "fp": int(pred.sum()) - tp_pred,
            "tp_truth": tp_truth, "fn": int(truth.sum()) - tp_truth}


def add_counts(total: dict[str, int], counts: dict[str, int]) -> dict[str, int]:
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v
    return total


def scores(c: dict[str, int]) -> dict[str, Any]:
    """precision, recall, F1 (= Dice) and IoU of summed counts (IoU only exact at tolerance 0)."""
    p_den = c.get("tp_pred", 0) + c.get("fp", 0)
    r_den = c.get("tp_truth", 0) + c.get("fn", 0)
    p = c["tp_pred"] / p_den if p_den else float("nan")
    r = c["tp_truth"] / r_den if r_den else float("nan")
    f1 = 2 * p * r / (p + r) if p_den and r_den and (p + r) > 0 else (0.0 if p_den and r_den else float("nan"))
    iou = f1 / (2 - f1) if np.isfinite(f1) else float("nan")
    return {"precision": p, "recall": r, "f1": f1, "iou": iou, "truth_px": r_den, "pred_px": p_den}

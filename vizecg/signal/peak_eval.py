"""Scoring an R-peak detector against reference beat annotations (MIT-BIH style, one-to-one matching)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vizecg.errors import DataError

if TYPE_CHECKING:
    from vizecg.data import MitdbDataset

TOLERANCE_S = 0.15  # a detection within 150 ms of a reference beat counts (ANSI/AAMI EC57 uses 150 ms)


def match_peaks(detected: np.ndarray, reference: np.ndarray, fs: float,
                tolerance_s: float = TOLERANCE_S) -> tuple[int, int, int]:
    """(tp, fp, fn): each reference beat is matched to at most one detection and vice versa.

    Pairs are taken greedily from the closest (detection, reference) distance upwards, so a detection
    between two beats goes to the nearer one and the farther beat stays free for its own detection.
    """
    det = np.unique(np.asarray(detected, dtype=np.int64))
    ref = np.unique(np.asarray(reference, dtype=np.int64))
    tol = tolerance_s * fs
    if len(det) == 0 or len(ref) == 0:
        return 0, len(det), len(ref)
    # Candidate pairs: each detection with its nearest reference on the left and on the right.
    pos = np.searchsorted(ref, det)
    di = np.concatenate([np.arange(len(det)), np.arange(len(det))])
    ri = np.concatenate([pos - 1, pos])
    ok = (ri >= 0) & (ri < len(ref))
    di, ri = di[ok], ri[ok]
    dist = np.abs(det[di] - ref[ri])
    ok = dist <= tol
    di, ri, dist = di[ok], ri[ok], dist[ok]
    used_d = np.zeros(len(det), dtype=bool)
    used_r = np.zeros(len(ref), dtype=bool)
    tp = 0
    for k in np.argsort(dist, kind="stable"):
        if not used_d[di[k]] and not used_r[ri[k]]:
            used_d[di[k]] = used_r[ri[k]] = True
            tp += 1
    return tp, len(det) - tp, len(ref) - tp


def _ratios(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    """Se and PPV as fractions; None where the denominator is 0 (no reference beats / no detections): 0 of 0
    is not 100 %."""
    return {"sensitivity": tp / (tp + fn) if tp + fn else None, "ppv": tp / (tp + fp) if tp + fp else None}


def evaluate_mitdb(root: "str | Path | MitdbDataset", records: Iterable[str] | None = None, channel: int = 0,
                   detector: Callable[[np.ndarray, float], np.ndarray] | None = None,
                   tolerance_s: float = TOLERANCE_S, exclude_rhythms: Iterable[str] = (),
                   progress: bool = False) -> dict:
    """Run `detector` (default detect_rpeaks) on whole MIT-BIH records and score it against every beat
    annotation. Returns {"sensitivity", "ppv", "tp", "fp", "fn", "records": {id: {tp, fp, fn, sensitivity, ppv}}}
    with sensitivity / ppv as fractions (None where nothing was there to count: no detections for the PPV, no
    reference beats left after `exclude_rhythms` for the sensitivity). A record with no reference beat at all
    cannot be scored: DataError naming its .atr.

    `exclude_rhythms=("VFL",)` drops detections and references inside ventricular flutter episodes, as
    ANSI/AAMI EC57 does (flutter waves are annotated "!", which is not a beat label). By default nothing is
    excluded: whole records."""
    from vizecg.data import MitdbDataset
    from vizecg.signal.rpeaks import detect_rpeaks

    detector = detector or detect_rpeaks
    dataset = root if isinstance(root, MitdbDataset) else MitdbDataset(root)
    ids = list(dataset.record_ids) if records is None else [str(r) for r in records]
    unknown = sorted(set(ids) - set(dataset.record_ids))
    if unknown:
        raise DataError(f"no MIT-BIH record(s) {', '.join(unknown)}", dataset.root)
    excluded = set(exclude_rhythms)
    per_record: dict[str, dict] = {}
    iterator: Iterable[str] = ids
    if progress:
        from tqdm import tqdm

        iterator = tqdm(ids, desc="R-peaks", unit="record")
    for rid in iterator:
        rec = dataset.get(rid)
        if not 0 <= channel < rec.n_leads:
            raise DataError(f"record {rid} has {rec.n_leads} channel(s); channel {channel} does not exist",
                            dataset.root)
        detected = np.asarray(detector(rec.signal[channel], rec.fs))
        reference = rec.meta["beats"]["sample"]
        if len(reference) == 0:
            raise DataError(f"record {rid} has no reference beat annotations: it cannot be scored",
                            dataset.root / f"{rid}.atr")
        spans = [(a, b) for a, b, label in rec.meta.get("rhythms", []) if label in excluded]
        if spans:
            detected, reference = _outside(detected, spans), _outside(reference, spans)
        tp, fp, fn = match_peaks(detected, reference, rec.fs, tolerance_s)
        per_record[rid] = {"tp": tp, "fp": fp, "fn": fn, **_ratios(tp, fp, fn)}
    tp = sum(r["tp"] for r in per_record.values())
    fp = sum(r["fp"] for r in per_record.values())
    fn = sum(r["fn"] for r in per_record.values())
    return {**_ratios(tp, fp, fn), "tp": tp, "fp": fp, "fn": fn, "tolerance_s": tolerance_s,
            "channel": channel, "excluded_rhythms": sorted(excluded), "records": per_record}


def _outside(samples: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(len(samples), dtype=bool)
    for start, stop in spans:
        keep &= ~((samples >= start) & (samples < stop))
    return samples[keep]

"""Heartbeats of a record (R peaks + labels) and their boxes in one printed panel."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizecg.record import EcgRecord
from vizecg.render.truth import BeatTruth, Box, LeadTruth

# A beat spans P onset .. T end around its R peak, cut at the midpoints to the neighbouring beats.
BEAT_BEFORE_R_S = 0.25
BEAT_AFTER_R_S = 0.45
BOX_MARGIN_MM = 0.5  # vertical slack around the trace so the box does not cut the ink
# Leads that show the R wave best, in order of preference, for detection when the source has no annotations.
_DETECTION_LEADS = ("II", "MLII", "V5", "I", "V6", "V2", "MLI", "MLIII")


@dataclass(frozen=True)
class RecordBeats:
    """Every beat of a record: R sample, the span [start, stop] (samples, inclusive) and source labels if any."""

    r_sample: np.ndarray  # (n,) int64
    start: np.ndarray  # (n,) int64
    stop: np.ndarray  # (n,) int64
    symbol: list[str] | None
    aami: list[str] | None
    origin: str  # "annotations" or "detected:<lead>"


def record_beats(record: EcgRecord) -> RecordBeats:
    """R peaks from the source's annotations where present (MIT-BIH), else detected on the best lead."""
    ann = record.meta.get("beats")
    if ann is not None and len(ann["sample"]):
        r = np.asarray(ann["sample"], np.int64)
        order = np.argsort(r, kind="stable")
        r = r[order]
        symbol = [ann["symbol"][i] for i in order] if ann.get("symbol") is not None else None
        aami = [ann["aami"][i] for i in order] if ann.get("aami") is not None else None
        origin = "annotations"
    else:
        r, origin = _detect(record)
        symbol = aami = None
    fs = record.fs
    before = int(round(BEAT_BEFORE_R_S * fs))
    after = int(round(BEAT_AFTER_R_S * fs))
    start = r - before
    stop = r + after
    if len(r) > 1:
        mid = (r[:-1] + r[1:]) // 2
        start[1:] = np.maximum(start[1:], mid + 1)
        stop[:-1] = np.minimum(stop[:-1], mid)
    return RecordBeats(r, start, stop, symbol, aami, origin)


def _detect(record: EcgRecord) -> tuple[np.ndarray, str]:
    from vizecg.signal import detect_rpeaks

    sig = record.signal
    finite = np.isfinite(sig).mean(axis=1)
    candidates = [n for n in _DETECTION_LEADS if n in record.lead_names] + list(record.lead_names)
    # A lead with gaps detects worse; take the preferred lead among the most complete ones.
    best = max(candidates, key=lambda n: finite[record.lead_names.index(n)])
    name = next(n for n in candidates if finite[record.lead_names.index(n)] == finite[record.lead_names.index(best)])
    x = sig[record.lead_names.index(name)]
    if not np.isfinite(x).any():
        return np.zeros(0, np.int64), f"detected:{name}"
    peaks = np.asarray(detect_rpeaks(np.nan_to_num(x, nan=0.0), record.fs), np.int64)
    peaks = peaks[np.isfinite(x[peaks])] if len(peaks) else peaks
    return peaks, f"detected:{name}"


def panel_beats(beats: RecordBeats, lead: LeadTruth, panel_index: int, px_per_mm: float) -> list[BeatTruth]:
    """Boxes of the beats that lie wholly inside the panel's window and are drawn without a gap."""
    n = len(lead.trace)
    if not lead.present or n == 0:
        return []
    first, last = lead.sample_start, lead.sample_start + n - 1
    inside = np.flatnonzero((beats.start >= first) & (beats.stop <= last))
    out = []
    margin = BOX_MARGIN_MM * px_per_mm
    pb = lead.panel_box
    for i in inside:
        a, b = beats.start[i] - first, beats.stop[i] - first
        pts = lead.trace[a:b + 1]
        if not np.isfinite(pts).all():
            continue  # a gap in the beat: not a complete beat on paper
        x0, x1 = float(pts[0, 0]), float(pts[-1, 0])
        y0 = max(float(pts[:, 1].min()) - margin, pb.y0)
        y1 = min(float(pts[:, 1].max()) + margin, pb.y1)
        r = lead.trace[beats.r_sample[i] - first]
        out.append(BeatTruth(
            box=Box(x0, y0, x1, y1), lead=lead.lead, panel_index=panel_index,
            r_peak=(float(r[0]), float(r[1])), r_sample=int(beats.r_sample[i]),
            label=None if beats.symbol is None else beats.symbol[i],
            aami=None if beats.aami is None else beats.aami[i]))
    return out

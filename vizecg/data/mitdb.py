"""MIT-BIH Arrhythmia Database (Moody & Mark 2001): records with beat and rhythm annotations (.atr)."""
from __future__ import annotations

from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import wfdb

from vizecg.data.source import DataSource
from vizecg.data.wfdb_io import read_wfdb, read_wfdb_header
from vizecg.errors import DataError
from vizecg.record import EcgRecord

# AAMI EC57 beat classes from MIT-BIH beat symbols; other symbols (+, ~, |, x, ...) are not beats.
AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
AAMI_OF_SYMBOL: dict[str, str] = {
    **dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"),
    "F": "F", **dict.fromkeys("/fQ", "Q"),
}
# Records 201 and 202 come from the same patient (MIT-BIH directory); group them for patient-wise splits.
_SAME_PATIENT = {"202": "201"}


def mitdb_patient_id(record_id: str) -> str:
    return _SAME_PATIENT.get(record_id, record_id)


# An annotation file must reach the end of its signal: in MIT-BIH the last annotation lies at most 1.8 s before
# the end of the record (record 232). Annotations that stop longer before the end than this (30 s, or 5 % of a
# long record) come from a truncated or mismatched file, and scoring against them would count every later
# detection as a false positive.
_MAX_UNANNOTATED_TAIL_S = 30.0
_MAX_UNANNOTATED_TAIL_SHARE = 0.05


def read_annotations(base: Path, n_samples: int, fs: float) -> dict[str, Any]:
    """Beats (sample, symbol, AAMI class) and rhythm episodes [(start, end, label)] from <base>.atr.

    The file must be whole: non-empty, ending with the format's end-of-file word, its annotations inside the
    signal and reaching its end (else DataError naming the .atr)."""
    atr = base.with_suffix(".atr")
    if not atr.is_file():
        raise DataError("annotation file not found", atr)
    raw = atr.read_bytes()
    if not raw:
        raise DataError("annotation file is empty (0 bytes): no reference beats", atr)
    if raw[-2:] != b"\x00\x00":  # MIT format: a file ends with the 16-bit word 0 (wfdb.rdann reads on without it)
        raise DataError(f"annotation file is truncated ({len(raw)} bytes, no end-of-file marker)", atr)
    try:
        ann = wfdb.rdann(str(base), "atr")
    except Exception as exc:
        raise DataError(f"unreadable annotations ({type(exc).__name__}: {exc})", atr) from None
    samples = np.asarray(ann.sample, dtype=np.int64)
    if len(samples) == 0:
        raise DataError("annotation file holds no annotations: no reference beats", atr)
    if samples.min() < 0 or samples.max() >= n_samples:
        raise DataError(f"annotations at samples {samples.min()}..{samples.max()} lie outside the signal's "
                        f"{n_samples} samples (annotations of another record?)", atr)
    tail_s = (n_samples - 1 - samples.max()) / fs
    limit_s = max(_MAX_UNANNOTATED_TAIL_S, _MAX_UNANNOTATED_TAIL_SHARE * n_samples / fs)
    if tail_s > limit_s:
        raise DataError(f"annotations end at {samples.max() / fs:.1f} s but the signal lasts {n_samples / fs:.1f} s "
                        f"(the last {tail_s:.1f} s carry none; at most {limit_s:g} s expected): "
                        "truncated or mismatched annotation file", atr)
    symbols = list(ann.symbol)
    aux = [(a or "").strip("\x00 ") for a in (ann.aux_note or [""] * len(symbols))]
    is_beat = [s in AAMI_OF_SYMBOL for s in symbols]
    beats = {
        "sample": samples[np.array(is_beat, dtype=bool)],
        "symbol": [s for s, b in zip(symbols, is_beat) if b],
        "aami": [AAMI_OF_SYMBOL[s] for s, b in zip(symbols, is_beat) if b],
    }
    changes = [(int(s), a[1:]) for s, sym, a in zip(samples, symbols, aux) if sym == "+" and a.startswith("(")]
    rhythms = [(start, changes[i + 1][0] if i + 1 < len(changes) else n_samples, label)
               for i, (start, label) in enumerate(changes)]
    return {"beats": beats, "rhythms": rhythms}


def window_annotations(meta: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Beats and rhythm episodes inside [start, stop), re-indexed so that `start` becomes sample 0."""
    beats = meta["beats"]
    keep = (beats["sample"] >= start) & (beats["sample"] < stop)
    idx = np.flatnonzero(keep)
    return {
        "beats": {"sample": beats["sample"][idx] - start,
                  "symbol": [beats["symbol"][i] for i in idx], "aami": [beats["aami"][i] for i in idx]},
        "rhythms": [(max(a, start) - start, min(b, stop) - start, label)
                    for a, b, label in meta["rhythms"] if a < stop and b > start],
    }


class MitdbDataset(DataSource):
    """The MIT-BIH Arrhythmia Database (or any subset of it, e.g. the embedded excerpt) at 360 Hz."""

    name = "mitdb"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError("MIT-BIH folder not found", self.root)
        ids = sorted(p.stem for p in self.root.glob("*.hea") if p.with_suffix(".atr").is_file())
        if not ids:
            raise DataError("no MIT-BIH records (.hea with .atr) in this folder", self.root)
        self.record_ids = ids
        self.fs = float(read_wfdb_header(self.root / ids[0]).fs)

    def _read(self, record_id: str) -> EcgRecord:
        base = self.root / record_id
        record = self._check_fs(read_wfdb(base), base.with_suffix(".hea"))
        annotations = read_annotations(base, record.n_samples, record.fs)
        rhythm = sorted({label for _, _, label in annotations["rhythms"]})
        meta = {**annotations, "comments": record.meta.get("comments", [])}
        return record.with_signal(record.signal, patient_id=mitdb_patient_id(record_id), source="mitdb",
                                  labels={"rhythm": rhythm}, meta=meta)

    @cached_property
    def metadata(self) -> pd.DataFrame:
        """Per record: patient, beat counts per AAMI class, rhythm labels (reads annotations, not signals)."""
        rows = []
        for record_id in self.record_ids:
            base = self.root / record_id
            header = read_wfdb_header(base)
            ann = read_annotations(base, int(header.sig_len), float(header.fs))
            counts = Counter(ann["beats"]["aami"])
            episodes = Counter(label for _, _, label in ann["rhythms"])
            rows.append({"record_id": record_id, "patient_id": mitdb_patient_id(record_id),
                         "n_samples": int(header.sig_len), "duration_s": header.sig_len / header.fs,
                         "n_beats": len(ann["beats"]["aami"]),
                         **{f"beats_{c}": counts.get(c, 0) for c in AAMI_CLASSES},
                         "symbols": dict(Counter(ann["beats"]["symbol"])),
                         "rhythm": ",".join(sorted(episodes)), "rhythm_episodes": dict(episodes)})
        return pd.DataFrame(rows).set_index("record_id")

    def segments(self, record_id: str, seconds: float, step: float | None = None) -> Iterator[EcgRecord]:
        """Fixed-length windows of one record (the tail shorter than `seconds` is dropped).

        Each window's meta has its beats and rhythm episodes re-indexed to the window, and `offset`
        (first sample in the parent record).
        """
        if seconds <= 0 or (step is not None and step <= 0):
            raise DataError(f"segment length and step must be positive (got {seconds}, {step})", self.root)
        record = self.get(record_id)
        length = int(round(seconds * record.fs))
        stride = length if step is None else int(round(step * record.fs))
        for start in range(0, record.n_samples - length + 1, stride):
            meta = {**window_annotations(record.meta, start, start + length), "offset": start,
                    "parent": record_id}
            labels = {"rhythm": sorted({label for _, _, label in meta["rhythms"]})}
            yield record.with_signal(record.signal[:, start:start + length], record_id=f"{record_id}:{start}",
                                     labels=labels, meta=meta)

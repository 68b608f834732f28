"""What a data source holds, in numbers (from metadata tables and headers; signals are not read for PTB-XL/MIT-BIH)."""
from __future__ import annotations

from collections import Counter
from typing import Any

from vizecg.data.mitdb import AAMI_CLASSES, MitdbDataset
from vizecg.data.ptbxl import PtbxlDataset
from vizecg.data.source import SUPERCLASSES, DataSource
from vizecg.data.wfdb_io import read_wfdb_header


def summarize_source(source: DataSource) -> dict[str, Any]:
    meta = source.metadata
    out: dict[str, Any] = {"source": source.name, "records": len(source),
                           "patients": int(meta["patient_id"].nunique()), "fs": source.fs}
    if isinstance(source, PtbxlDataset):
        out["superclasses"] = {c: int(meta[c].sum()) for c in SUPERCLASSES}
        out["no_superclass"] = int((meta[list(SUPERCLASSES)].sum(axis=1) == 0).sum())
        out["normal"] = int(meta["normal"].sum())
        out["abnormal"] = len(meta) - out["normal"]
        rhythms = Counter(code for text in meta["rhythm"] for code in text.split(",") if code)
        out["rhythms"] = dict(rhythms.most_common())
        out["folds"] = {str(k): int(v) for k, v in sorted(Counter(meta["strat_fold"]).items())}
        # PTB-XL records are all 10 s: one header gives the length (reading 21k headers would be slow).
        if len(source):
            header = read_wfdb_header(source.record_path(source.record_ids[0]))
            out["seconds_per_record"] = header.sig_len / header.fs
    elif isinstance(source, MitdbDataset):
        out["beats"] = {c: int(meta[f"beats_{c}"].sum()) for c in AAMI_CLASSES}
        out["beat_symbols"] = dict(sum((Counter(s) for s in meta["symbols"]), Counter()).most_common())
        out["rhythms"] = dict(sum((Counter(e) for e in meta["rhythm_episodes"]), Counter()).most_common())
        out["duration_s"] = float(meta["duration_s"].sum())
    else:
        durations = [record.duration_s for record in source]
        out["duration_s"] = float(sum(durations))
    return out


def format_summary(summary: dict[str, Any]) -> str:
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        elif isinstance(value, float):
            value = f"{value:g}"
        lines.append(f"{key.replace('_', ' '):<20}{value}")
    return "\n".join(lines)

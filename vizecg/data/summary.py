"""What a data source holds, in numbers (from metadata tables and headers; signals are not read for PTB-XL/MIT-BIH)."""
from __future__ import annotations

from collections import Counter
from typing import Any

from vizecg.data.mitdb import AAMI_CLASSES, MitdbDataset
from vizecg.data.ptbxl import PtbxlDataset
from vizecg.data.source import SUPERCLASSES, DataSource
from vizecg.data.splits import SPLITS
from vizecg.data.wfdb_io import read_wfdb_header


def summarize_source(source: DataSource) -> dict[str, Any]:
    meta = source.metadata
    out: dict[str, Any] = {"source": source.name, "records": len(source),
                           "patients": int(meta["patient_id"].nunique()), "fs": source.fs}
    if isinstance(source, PtbxlDataset):
        # fs is None where records come at different rates: native_fs counts them, and names the 100 Hz-only ones.
        out["native_fs"] = {str(k): int(v) for k, v in sorted(Counter(meta["native_fs"]).items(), reverse=True)}
        only_100 = [r for r, f in zip(meta.index, meta["native_fs"]) if f == 100]
        out["records_100hz_only"] = _id_ranges(only_100) if only_100 else "none"
        known = meta["patient_id"].notna()
        if not known.all():  # PTB-XL 501+: no patient ids; "patients" counts the records that have one
            out["records_without_patient_id"] = int((~known).sum())
        out["split"] = {s: int((meta["split"] == s).sum()) for s in SPLITS}
        out["superclasses"] = {c: int(meta[c].sum()) for c in SUPERCLASSES}
        out["no_superclass"] = int((meta[list(SUPERCLASSES)].sum(axis=1) == 0).sum())
        out["normal"] = int(meta["normal"].sum())
        out["abnormal"] = len(meta) - out["normal"]
        rhythm = meta["rhythm"].dropna()  # known only where the table has scp codes
        if len(rhythm) < len(meta):
            out["records_with_scp_codes"] = len(rhythm)
        rhythms = Counter(code for text in rhythm for code in text.split(",") if code)
        out["rhythms"] = dict(rhythms.most_common())
        folds = meta["strat_fold"].dropna().astype(int)
        out["folds"] = {str(k): int(v) for k, v in sorted(Counter(folds).items())}
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


def _id_ranges(ids: list[str]) -> str:
    """'00501-01999' for consecutive numeric ids (a few ranges instead of 1,499 ids), comma-separated."""
    runs: list[list[str]] = []
    for rid in ids:
        if runs and rid.isdigit() and runs[-1][-1].isdigit() and int(rid) == int(runs[-1][-1]) + 1:
            runs[-1].append(rid)
        else:
            runs.append([rid])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def format_summary(summary: dict[str, Any]) -> str:
    lines = []
    width = max(20, *(len(k) + 2 for k in summary))
    for key, value in summary.items():
        if value is None:
            value = "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        elif isinstance(value, float):
            value = f"{value:g}"
        lines.append(f"{key.replace('_', ' '):<{width}}{value}")
    return "\n".join(lines)

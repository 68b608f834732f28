"""Rebuild the embedded real-data sample from the shared datasets (deterministic: same input, same files).

    .venv/bin/python vizecg/sample_data/make_sample.py [--shared ../shared/data]

PTB-XL: 60 records at 500 Hz chosen greedily - first >= 10 of each superclass (rarest class first), then
the rhythms AFIB/AFLT/PACE, then 2 records with no diagnostic statement, then normal records; at every step
the candidate from the least-represented strat_fold wins (ties: lowest ecg_id), so all 10 folds appear.
MIT-BIH: the first 5 minutes of records 100 (normal sinus rhythm) and 208 (many PVCs, fusion beats,
trigeminy), with their reference annotations.
"""
from __future__ import annotations

import argparse
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import wfdb

from vizecg.data import SUPERCLASSES, PtbxlDataset

HERE = Path(__file__).resolve().parent
N_RECORDS = 60
PER_CLASS = 10
RHYTHMS = {"AFIB": 3, "AFLT": 2, "PACE": 2}
MITDB_RECORDS = ("100", "208")
MITDB_SECONDS = 300


def choose_ptbxl(ds: PtbxlDataset) -> list[str]:
    meta = ds.metadata
    chosen: list[str] = []

    def take(candidates: list[str], n: int) -> None:
        pool = [r for r in candidates if r not in chosen]
        for _ in range(n):
            if not pool:
                return
            folds = Counter(meta.loc[chosen, "strat_fold"]) if chosen else Counter()
            best = min(pool, key=lambda r: (folds[meta.at[r, "strat_fold"]], r))
            chosen.append(best)
            pool.remove(best)

    for cls in sorted(SUPERCLASSES, key=lambda c: meta[c].sum()):
        have = int(meta.loc[chosen, cls].sum()) if chosen else 0
        take([r for r in meta.index if meta.at[r, cls]], PER_CLASS - have)
    for rhythm, n in RHYTHMS.items():
        take([r for r in meta.index if rhythm in ds.labels(r)["rhythm"]], n)
    take([r for r in meta.index if not ds.labels(r)["superclasses"]], 2)
    take([r for r in meta.index if meta.at[r, "normal"]], N_RECORDS - len(chosen))
    return sorted(chosen)


def write_ptbxl(shared: Path, out: Path) -> None:
    src = shared / "ptbxl"
    ds = PtbxlDataset(src)
    ids = choose_ptbxl(ds)
    shutil.rmtree(out / "records500", ignore_errors=True)  # README.md is hand-written: keep it
    out.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(src / "ptbxl_database.csv")
    table = table[table["ecg_id"].isin([int(i) for i in ids])]
    table.to_csv(out / "ptbxl_database.csv", index=False)
    for name in ("scp_statements.csv", "LICENSE.txt"):
        shutil.copy2(src / name, out / name)
    for rel in table["filename_hr"]:
        for ext in (".hea", ".dat"):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / f"{rel}{ext}", out / f"{rel}{ext}")
    meta = ds.metadata.loc[ids]
    counts = {c: int(meta[c].sum()) for c in SUPERCLASSES}
    print(f"PTB-XL sample: {len(ids)} records, {meta['patient_id'].nunique()} patients, {counts}, "
          f"folds {dict(sorted(Counter(meta['strat_fold']).items()))}")


def write_mitdb(shared: Path, out: Path) -> None:
    if out.exists():
        for p in out.glob("*"):
            if p.suffix in (".hea", ".dat", ".atr"):
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for name in MITDB_RECORDS:
        base = str(shared / "mitdb" / name)
        header = wfdb.rdheader(base)
        n = int(MITDB_SECONDS * header.fs)
        rec = wfdb.rdrecord(base, sampto=n, physical=False)  # digital: the excerpt keeps the exact ADC values
        rec.checksum = rec.calc_checksum()
        rec.init_value = [int(v) for v in rec.d_signal[0]]
        rec.wrsamp(write_dir=str(out), expanded=False)
        ann = wfdb.rdann(base, "atr", sampto=n - 1)
        wfdb.wrann(name, "atr", ann.sample, ann.symbol, subtype=ann.subtype, chan=ann.chan, num=ann.num,
                   aux_note=ann.aux_note, fs=header.fs, write_dir=str(out))
        print(f"MIT-BIH {name}: {n} samples, {len(ann.sample)} annotations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared" / "data")
    args = parser.parse_args()
    write_ptbxl(args.shared, HERE / "ptbxl")
    write_mitdb(args.shared, HERE / "mitdb")


if __name__ == "__main__":
    main()

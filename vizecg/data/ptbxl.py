"""PTB-XL (Wagner et al. 2020): the metadata table gives labels and folds; signals are read on demand.

Works on the full PhysioNet download and on any subset with the same layout (ptbxl_database.csv,
scp_statements.csv, records500/ and optionally records100/).
"""
from __future__ import annotations

import ast
import copy
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from vizecg.data.source import SUPERCLASSES, DataSource
from vizecg.data.wfdb_io import read_wfdb
from vizecg.errors import DataError
from vizecg.record import EcgRecord

_REQUIRED_COLUMNS = ("ecg_id", "patient_id", "scp_codes", "strat_fold", "filename_hr")


def ptbxl_record_id(ecg_id: int) -> str:
    return f"{int(ecg_id):05d}"


class PtbxlDataset(DataSource):
    """PTB-XL at 500 Hz (records500) or 100 Hz (records100, or records500 resampled when it is absent)."""

    def __init__(self, root: str | Path, fs: int = 500):
        if fs not in (500, 100):
            raise DataError(f"PTB-XL comes at 500 or 100 Hz, not {fs}", root)
        self.root = Path(root)
        self.fs = float(fs)
        self.name = "ptbxl" if fs == 500 else "ptbxl@100"
        table = self._read_table(self.root / "ptbxl_database.csv", _REQUIRED_COLUMNS, index_col=None)
        table = _check_integer_columns(table, self.root / "ptbxl_database.csv")
        scp = self._read_table(self.root / "scp_statements.csv", ("diagnostic", "rhythm", "diagnostic_class"),
                               index_col=0)
        self._diagnostic_class = {code: cls for code, cls, diag in
                                  zip(scp.index, scp["diagnostic_class"], scp["diagnostic"])
                                  if diag == 1 and cls in SUPERCLASSES}
        self._rhythm_codes = {code for code, flag in zip(scp.index, scp["rhythm"]) if flag == 1}
        table = table.sort_values("ecg_id")
        table.index = pd.Index([ptbxl_record_id(i) for i in table["ecg_id"]], name="record_id")
        self._table = table
        self.record_ids = list(table.index)

    @staticmethod
    def _read_table(path: Path, columns: tuple[str, ...], index_col: int | None) -> pd.DataFrame:
        if not path.is_file():
            raise DataError("PTB-XL table not found (is this a PTB-XL folder?)", path)
        try:
            table = pd.read_csv(path, index_col=index_col)
        except Exception as exc:
            raise DataError(f"unreadable CSV ({type(exc).__name__}: {exc})", path) from None
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise DataError(f"missing column(s) {', '.join(missing)}", path)
        return table

    # -- labels from the table (no signal read) -------------------------------------------------------------
    def labels(self, record_id: str) -> dict[str, Any]:
        """{"superclasses", "normal", "rhythm", "scp_codes"} for one record, from the metadata table."""
        return copy.deepcopy(self._labels[record_id])  # callers may edit their record's labels

    @cached_property
    def _labels(self) -> dict[str, dict[str, Any]]:
        out = {}
        path = self.root / "ptbxl_database.csv"
        for record_id, text in zip(self._table.index, self._table["scp_codes"]):
            try:
                codes = {str(k): float(v) for k, v in ast.literal_eval(text).items()}
            except (ValueError, SyntaxError, AttributeError):
                raise DataError(f"record {record_id}: scp_codes {text!r} is not a {{code: likelihood}} dict",
                                path) from None
            # Any likelihood counts, as in the dataset's own superclass tables (and the shared data README).
            supers = sorted({self._diagnostic_class[c] for c in codes if c in self._diagnostic_class})
            out[record_id] = {
                "superclasses": supers,
                "normal": int(supers == ["NORM"]),
                "rhythm": sorted(c for c in codes if c in self._rhythm_codes),
                "scp_codes": codes,
            }
        return out

    @cached_property
    def metadata(self) -> pd.DataFrame:
        t = self._table
        meta = pd.DataFrame(index=t.index)
        meta["patient_id"] = [_patient_str(p) for p in t["patient_id"]]
        meta["strat_fold"] = t["strat_fold"].astype(int)
        for cls in SUPERCLASSES:
            meta[cls] = [int(cls in self._labels[r]["superclasses"]) for r in t.index]
        meta["normal"] = [self._labels[r]["normal"] for r in t.index]
        meta["rhythm"] = [",".join(self._labels[r]["rhythm"]) for r in t.index]
        for col in ("age", "sex"):
            if col in t.columns:
                meta[col] = t[col]
        return meta

    # -- signals --------------------------------------------------------------------------------------------
    def record_path(self, record_id: str) -> Path:
        """The WFDB record (no extension) served at self.fs: records100 when asked and present, else records500."""
        row = self._table.loc[record_id]
        if self.fs == 100 and "filename_lr" in row.index:
            path_lr = self.root / str(row["filename_lr"])
            if path_lr.with_suffix(".hea").is_file():
                return path_lr
        return self.root / str(row["filename_hr"])

    def _read(self, record_id: str) -> EcgRecord:
        row = self._table.loc[record_id]
        path = self.record_path(record_id)
        record = read_wfdb(path)
        if self.fs == 100 and record.fs == 500:
            # records100 is absent (e.g. the embedded sample): downsample with an anti-alias filter.
            record = record.with_signal(resample_poly(record.signal, 1, 5, axis=1).astype(np.float32), fs=100)
        self._check_fs(record, path)
        meta = {"strat_fold": int(row["strat_fold"]), "age": _plain(row.get("age")), "sex": _plain(row.get("sex")),
                "report": str(row.get("report", "") or ""), "file": str(path)}
        return record.with_signal(record.signal, record_id=record_id, patient_id=_patient_str(row["patient_id"]),
                                  labels=self.labels(record_id), source="ptbxl", meta=meta)


def _check_integer_columns(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """ecg_id and strat_fold must be whole numbers (folds 1..10), else the split and record ids are guesses."""
    table = table.copy()
    for col in ("ecg_id", "strat_fold"):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() | (values != values.round())
        if col == "strat_fold":
            bad |= ~values.between(1, 10)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            ecg_id = table["ecg_id"].iloc[i]
            raise DataError(f"row {i + 2} (ecg_id {ecg_id}): {col} {table[col].iloc[i]!r} is not "
                            f"{'a fold 1..10' if col == 'strat_fold' else 'an integer'}"
                            f"{f' ({int(bad.sum())} such rows)' if bad.sum() > 1 else ''}", path)
        table[col] = values.astype(int)
    if table["ecg_id"].duplicated().any():
        dup = table["ecg_id"][table["ecg_id"].duplicated()].iloc[0]
        raise DataError(f"ecg_id {dup} appears in more than one row", path)
    return table


def _patient_str(value: Any) -> str:
    """PTB-XL stores patient ids as floats (15709.0); everyone else wants "15709"."""
    try:
        return str(int(float(value)))
    except (TypeError, ValueError):
        return str(value)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value

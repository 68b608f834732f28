"""PTB-XL (Wagner et al. 2020): the metadata table gives labels and folds; signals are read on demand.

Works on the full PhysioNet download and on any subset with the same layout (ptbxl_database.csv,
scp_statements.csv, records500/ and optionally records100/). A folder may also hold `superclass_labels.csv`
(ecg_id, split, NORM, MI, STTC, CD, HYP): records listed there but absent from ptbxl_database.csv exist at
100 Hz only (records100/) and carry just those labels and their split: no scp codes, patient, fold, age or report.
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
from vizecg.data.splits import SPLITS, split_of
from vizecg.data.wfdb_io import read_wfdb
from vizecg.errors import DataError
from vizecg.record import EcgRecord

_REQUIRED_COLUMNS = ("ecg_id", "patient_id", "scp_codes", "strat_fold", "filename_hr")
LABELS_FILE = "superclass_labels.csv"


def ptbxl_record_id(ecg_id: int) -> str:
    return f"{int(ecg_id):05d}"


class PtbxlDataset(DataSource):
    """PTB-XL records, served at `fs`:

    - 500 (the default): the rows of ptbxl_database.csv, at 500 Hz from records500 (full metadata; a folder's
      superclass_labels.csv is not read). This is the source as it was before 100 Hz-only records existed.
    - None: every labelled record (superclass_labels.csv where present, else every table row), each at the
      highest rate the folder holds it: records500 where a 500 Hz copy exists, else records100 (metadata column
      and record.meta `native_fs` say which). `self.fs` is that rate where all records share it, else None.
    - 100: the same records as None, all at 100 Hz (records100, or records500 resampled where it is absent).
    """

    def __init__(self, root: str | Path, fs: int | None = 500):
        if fs not in (500, 100, None):
            raise DataError(f"PTB-XL comes at 500 or 100 Hz, not {fs}", root)
        self.root = Path(root)
        self.name = "ptbxl@100" if fs == 100 else "ptbxl"
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
        table["split"] = [split_of(int(f)) for f in table["strat_fold"]]  # the one fold rule: 1-8 / 9 / 10
        table["native_fs"] = 500
        self._table = table
        self._extra_labels: dict[str, list[str]] = {}  # superclasses of the records without a table row
        labels_path = self.root / LABELS_FILE
        if fs != 500 and labels_path.is_file():
            self._table = self._with_labels_file(read_superclass_labels(labels_path), labels_path)
        self.record_ids = list(self._table.index)
        rates = set(self._table["native_fs"]) if fs is None else {fs}
        self.fs = float(rates.pop()) if len(rates) == 1 else None

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

    def _with_labels_file(self, extra: pd.DataFrame, path: Path) -> pd.DataFrame:
        """The labels file's records: table rows where the table has them (checked to agree), the rest at 100 Hz."""
        table = self._table
        both = extra.index.intersection(table.index)
        for record_id in both:
            mine = self._labels[record_id]["superclasses"]
            theirs = [c for c in SUPERCLASSES if extra.at[record_id, c]]
            split, table_split = extra.at[record_id, "split"], table.at[record_id, "split"]
            if sorted(mine) != sorted(theirs) or split != table_split:
                raise DataError(f"record {record_id}: {', '.join(theirs) or 'no superclass'} ({split}) here but "
                                f"{', '.join(mine) or 'no superclass'} ({table_split}) in ptbxl_database.csv", path)
        only = extra.drop(index=both)
        added = pd.DataFrame({
            "ecg_id": only["ecg_id"], "split": only["split"], "native_fs": 100,
            # PTB-XL's own layout: records100/<thousands>/<ecg_id>_lr
            "filename_lr": [f"records100/{i // 1000 * 1000:05d}/{i:05d}_lr" for i in only["ecg_id"]]},
            index=only.index)
        # Sorted by name, as the table's records list theirs.
        self._extra_labels = {r: sorted(c for c in SUPERCLASSES if only.at[r, c]) for r in only.index}
        return pd.concat([table.loc[both], added]).sort_values("ecg_id")

    # -- labels from the table (no signal read) -------------------------------------------------------------
    def labels(self, record_id: str) -> dict[str, Any]:
        """{"superclasses", "normal", "rhythm", "scp_codes"} for one record, from the metadata table; records
        known only from superclass_labels.csv have {"superclasses", "normal"} (their rhythm is unknown)."""
        if record_id in self._extra_labels:
            supers = self._extra_labels[record_id]
            return {"superclasses": list(supers), "normal": int(supers == ["NORM"])}
        return copy.deepcopy(self._labels[record_id])  # callers may edit their record's labels

    @cached_property
    def _labels(self) -> dict[str, dict[str, Any]]:
        out = {}
        path = self.root / "ptbxl_database.csv"
        rows = self._table[self._table["native_fs"] == 500]  # the table's rows; the others have no scp codes
        for record_id, text in zip(rows.index, rows["scp_codes"]):
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
        """One row per record: patient_id (None where unknown), strat_fold (NaN where unknown), split
        (train/val/test), native_fs, the superclasses, normal, rhythm (None where unknown), age, sex."""
        t = self._table
        labels = {r: self.labels(r) for r in t.index}
        meta = pd.DataFrame(index=t.index)
        meta["patient_id"] = [None if pd.isna(p) else _patient_str(p) for p in t["patient_id"]]
        fold = t["strat_fold"]
        meta["strat_fold"] = fold.astype(int) if fold.notna().all() else fold.astype(float)
        meta["split"] = t["split"]
        meta["native_fs"] = t["native_fs"].astype(int)
        for cls in SUPERCLASSES:
            meta[cls] = [int(cls in labels[r]["superclasses"]) for r in t.index]
        meta["normal"] = [labels[r]["normal"] for r in t.index]
        meta["rhythm"] = [",".join(labels[r]["rhythm"]) if "rhythm" in labels[r] else None for r in t.index]
        for col in ("age", "sex"):
            if col in t.columns:
                meta[col] = t[col]
        return meta

    # -- signals --------------------------------------------------------------------------------------------
    def record_path(self, record_id: str) -> Path:
        """The WFDB record (no extension) served at self.fs: records100 when asked and present, else records500;
        records100 always for a record held at 100 Hz only."""
        row = self._table.loc[record_id]
        lr = row.get("filename_lr")
        if int(row["native_fs"]) == 100:
            return self.root / str(lr)
        if self.fs == 100 and isinstance(lr, str):
            path_lr = self.root / lr
            if path_lr.with_suffix(".hea").is_file():
                return path_lr
        return self.root / str(row["filename_hr"])

    def _read(self, record_id: str) -> EcgRecord:
        row = self._table.loc[record_id]
        path = self.record_path(record_id)
        record = read_wfdb(path)
        native = int(row["native_fs"])
        if self.fs == 100 and record.fs == 500:
            # records100 is absent (e.g. the embedded sample): downsample with an anti-alias filter.
            record = record.with_signal(resample_poly(record.signal, 1, 5, axis=1).astype(np.float32), fs=100)
        served = self.fs if self.fs is not None else native
        if abs(record.fs - served) > 1e-6:
            raise DataError(f"record {record_id} is sampled at {record.fs:g} Hz but source {self.name} serves it "
                            f"at {served:g} Hz", str(path))
        fold = row["strat_fold"]
        meta = {"strat_fold": None if pd.isna(fold) else int(fold), "age": _plain(row.get("age")),
                "sex": _plain(row.get("sex")), "report": str(row.get("report", "") or "") if native == 500 else None,
                "file": str(path), "split": str(row["split"]), "native_fs": native}
        patient = row["patient_id"]
        return record.with_signal(record.signal, record_id=record_id,
                                  patient_id=None if pd.isna(patient) else _patient_str(patient),
                                  labels=self.labels(record_id), source="ptbxl", meta=meta)


def read_superclass_labels(path: Path) -> pd.DataFrame:
    """superclass_labels.csv (ecg_id, split, NORM, MI, STTC, CD, HYP), indexed by record id, checked row by row."""
    columns = ("ecg_id", "split", *SUPERCLASSES)
    table = PtbxlDataset._read_table(path, columns, index_col=None)
    if table.empty:
        raise DataError("no rows", path)
    table = table.reset_index(drop=True)

    def refuse(mask: Any, col: str, wanted: str) -> None:
        bad = np.flatnonzero(np.asarray(mask))
        if len(bad):
            i = int(bad[0])
            more = f" ({len(bad)} such rows)" if len(bad) > 1 else ""
            value = _plain(table[col].iloc[i])
            raise DataError(f"row {i + 2} (ecg_id {table['ecg_id'].iloc[i]}): {col} {value!r} is not {wanted}{more}",
                            path)

    ids = pd.to_numeric(table["ecg_id"], errors="coerce")
    refuse(ids.isna() | (ids != ids.round()) | (ids < 1), "ecg_id", "a positive integer")
    table["ecg_id"] = ids.astype(int)
    refuse(table["ecg_id"].duplicated(), "ecg_id", "unique (it appears in an earlier row)")
    refuse(~table["split"].isin(SPLITS), "split", "one of train, val, test")
    for cls in SUPERCLASSES:
        values = pd.to_numeric(table[cls], errors="coerce")
        refuse(~values.isin([0, 1]), cls, "0 or 1")
        table[cls] = values.astype(int)
    table.index = pd.Index([ptbxl_record_id(i) for i in table["ecg_id"]], name="record_id")
    return table[list(columns)]


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

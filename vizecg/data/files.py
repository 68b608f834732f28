"""Plain-file records: CSV (one column per lead, mV) and NPZ (signal, fs, lead_names, record_id)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from vizecg.errors import DataError
from vizecg.record import EcgRecord, check_amplitude
from vizecg.runs import atomic_write_bytes, atomic_write_text


def _make_record(path: Path, **fields) -> EcgRecord:
    try:
        record = EcgRecord(source=str(path), **fields)
    except DataError as exc:
        raise DataError(exc.problem, path) from None
    return check_amplitude(record, path)


def read_csv(path: str | Path, fs: float | None = None) -> EcgRecord:
    """A CSV whose header row names the leads (mV); the rate comes from a `time` column (s) or `fs`."""
    path = Path(path)
    if not path.is_file():
        raise DataError("CSV file not found", path)
    try:
        table = pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"unreadable CSV ({type(exc).__name__}: {exc})", path) from None
    time_col = next((c for c in table.columns if str(c).strip().lower() in ("time", "t", "time_s")), None)
    if time_col is not None:
        t = pd.to_numeric(table[time_col], errors="coerce").to_numpy(dtype=float)
        dt = np.diff(t)
        if len(t) < 2 or not np.isfinite(t).all() or (dt <= 0).any():
            raise DataError(f"column {time_col!r} is not an increasing time axis", path)
        if np.ptp(dt) > 1e-3 * dt.mean():
            raise DataError(f"column {time_col!r} is not evenly sampled", path)
        fs_from_time = 1.0 / dt.mean()
        if fs is not None and abs(fs_from_time - fs) > 1e-3 * fs:
            raise DataError(f"fs={fs} given but the time column says {fs_from_time:.3f} Hz", path)
        fs = fs if fs is not None else round(fs_from_time, 6)
        table = table.drop(columns=[time_col])
    if fs is None:
        raise DataError("no `time` column and no sampling rate given (pass fs)", path)
    if table.shape[1] == 0 or table.shape[0] == 0:
        raise DataError(f"no lead columns/rows (shape {table.shape})", path)
    values = table.apply(pd.to_numeric, errors="coerce")
    text_cells = values.isna() & table.notna()
    if text_cells.any().any():
        col = text_cells.any().idxmax()
        raise DataError(f"column {col!r} holds non-numeric values", path)
    return _make_record(path, signal=values.to_numpy(dtype=np.float64).T, fs=float(fs),
                        lead_names=tuple(str(c) for c in table.columns), record_id=path.stem)


def write_csv(record: EcgRecord, path: str | Path) -> Path:
    """Header `time,<leads...>`; samples in mV with 6 decimals (1 nV: far below any ADC step)."""
    path = Path(path)
    t = np.arange(record.n_samples) / record.fs
    table = pd.DataFrame(record.signal.T, columns=list(record.lead_names))
    table.insert(0, "time", t)
    buf = io.StringIO()
    table.to_csv(buf, index=False, float_format="%.6f")
    atomic_write_text(path, buf.getvalue())
    return path


def read_npz(path: str | Path) -> EcgRecord:
    path = Path(path)
    if not path.is_file():
        raise DataError("NPZ file not found", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("signal", "fs", "lead_names") if k not in data.files]
            if missing:
                raise DataError(f"missing key(s) {', '.join(missing)} (has {', '.join(data.files)})", path)
            signal, fs = data["signal"], float(data["fs"])
            leads = tuple(str(x) for x in np.atleast_1d(data["lead_names"]))
            record_id = str(data["record_id"]) if "record_id" in data.files else path.stem
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"unreadable NPZ ({type(exc).__name__}: {exc})", path) from None
    return _make_record(path, signal=signal, fs=fs, lead_names=leads, record_id=record_id)


def write_npz(record: EcgRecord, path: str | Path) -> Path:
    path = Path(path)
    buf = io.BytesIO()
    np.savez_compressed(buf, signal=record.signal, fs=np.float64(record.fs),
                        lead_names=np.array(record.lead_names), record_id=np.array(record.record_id))
    atomic_write_bytes(path, buf.getvalue())
    return path

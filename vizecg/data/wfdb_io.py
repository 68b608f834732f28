"""WFDB records <-> EcgRecord. wfdb does the parsing; this module turns its failures into DataError."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import wfdb

from vizecg.errors import DataError
from vizecg.record import EcgRecord, check_amplitude

# Physical units WFDB headers use for ECG channels, as a factor to millivolts.
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}
_WFDB_EXTENSIONS = {".hea", ".dat", ".atr", ".mat"}
# ADC gains (adu per mV) a real ECG header can carry: below 1 one step is over 1 mV (no ECG is visible), above
# 1e8 one step is under 10 pV (no ADC resolves that); both mean a corrupt or mistyped header.
_GAIN_ADU_PER_MV = (1.0, 1e8)
# Bytes per sample of the common WFDB storage formats (to name a truncated .dat before wfdb trips on it).
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "61": 2, "80": 1, "160": 2, "212": 1.5, "24": 3, "32": 4}


def wfdb_base(path: str | Path) -> Path:
    """Record path without extension ('x/00001_hr.hea' and 'x/00001_hr' name the same record)."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in _WFDB_EXTENSIONS else path


def read_wfdb_header(path: str | Path) -> wfdb.Record:
    """The header only (rate, length, lead names) - cheap, no samples read."""
    base = wfdb_base(path)
    hea = base.with_suffix(".hea")
    if not hea.is_file():
        raise DataError("WFDB header not found", hea)
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises bare ValueError/IndexError/... on malformed headers
        raise DataError(f"unreadable WFDB header ({type(exc).__name__}: {exc})", hea) from None
    described = len(header.sig_name or [])
    if described != header.n_sig:
        raise DataError(f"header declares {header.n_sig} signals but describes {described}", hea)
    if header.fs is None or header.fs <= 0:
        raise DataError(f"header gives no valid sampling rate ({header.fs})", hea)
    if header.n_sig and not header.sig_len:
        raise DataError(f"header gives no sample count (first line {base.name} {header.n_sig} {header.fs:g} "
                        "needs a fourth field: samples per signal)", hea)
    _check_gains(header, hea)
    return header


def _check_gains(header: wfdb.Record, hea: Path) -> None:
    """A negative gain would draw the ECG upside down, an absurd one at 1e12 mV or at 1e-9 mV: refuse both."""
    lo, hi = _GAIN_ADU_PER_MV
    for i, gain in enumerate(header.adc_gain or []):
        name = (header.sig_name or [])[i] if i < len(header.sig_name or []) else str(i)
        unit = ((header.units or [None] * (i + 1))[i] or "mV").strip().lower()
        factor = _TO_MV.get(unit)
        if gain is None or factor is None:  # no gain: the WFDB default; a unit that is no voltage: read_wfdb says
            continue
        shown = f"ADC gain {gain:g} adu/{header.units[i]}"
        if not np.isfinite(gain) or gain < 0:
            raise DataError(f"lead {name}: {shown} is negative (the ECG would be drawn inverted)", hea)
        per_mv = gain / factor
        if gain and not lo <= per_mv <= hi:  # 0 is the format's "default gain" (200), which wfdb applies
            raise DataError(f"lead {name}: {shown}{'' if factor == 1 else f' ({per_mv:g} adu/mV)'} is outside "
                            f"{lo:g}..{hi:g} adu/mV (one ADC step would be {1 / per_mv:.3g} mV)", hea)


def read_wfdb(path: str | Path, sampfrom: int = 0, sampto: int | None = None, allow_nan: bool = False) -> EcgRecord:
    """Read any WFDB record into mV. `path` may carry .hea/.dat or no extension.

    Missing samples (the format's invalid code, NaN after reading) are an error unless `allow_nan` (a digitized
    record keeps NaN where the page showed nothing)."""
    base = wfdb_base(path)
    hea = base.with_suffix(".hea")
    header = read_wfdb_header(base)
    if header.n_sig == 0 or not header.sig_name:
        raise DataError("WFDB header lists no signals", hea)
    for name in dict.fromkeys(header.file_name or []):
        dat = base.parent / name
        if not dat.is_file():
            raise DataError(f"signal file {name} named by the header is missing", hea)
        fmts = [f for f, n in zip(header.fmt, header.file_name) if n == name]
        if header.sig_len and all(f in _BYTES_PER_SAMPLE for f in fmts):
            need = int(header.sig_len * sum(_BYTES_PER_SAMPLE[f] for f in fmts))
            offset = max((int(b or 0) for b, n in zip(header.byte_offset or [], header.file_name) if n == name),
                         default=0)
            if dat.stat().st_size < need + offset:
                raise DataError(f"signal file is truncated: {dat.stat().st_size} bytes, the header implies "
                                f"{need + offset}", dat)
    try:
        rec = wfdb.rdrecord(str(base), sampfrom=sampfrom, sampto=sampto, physical=True)
    except Exception as exc:
        raise DataError(f"unreadable WFDB record ({type(exc).__name__}: {exc})", hea) from None
    signal = rec.p_signal
    expected = (sampto or header.sig_len) - sampfrom
    if signal is None or signal.ndim != 2 or signal.shape[0] != expected:
        got = None if signal is None else signal.shape[0]
        raise DataError(f"signal file holds {got} samples per lead but the header promises {expected} "
                        "(truncated .dat?)", hea)
    scale = np.ones(signal.shape[1])
    for i, unit in enumerate(rec.units or ["mV"] * signal.shape[1]):
        factor = _TO_MV.get((unit or "mV").strip().lower())
        if factor is None:
            raise DataError(f"lead {rec.sig_name[i]}: unit {unit!r} is not a voltage", hea)
        scale[i] = factor
    signal = (signal * scale).T  # (leads, samples)
    if not allow_nan and np.isnan(signal).any():
        bad = [rec.sig_name[i] for i in np.where(np.isnan(signal).any(axis=1))[0]]
        raise DataError(f"invalid (NaN) samples in lead(s) {', '.join(bad)}", hea)
    try:
        record = EcgRecord(signal=signal, fs=float(rec.fs), lead_names=tuple(rec.sig_name),
                           record_id=base.name, source=str(hea), meta={"comments": list(rec.comments or [])},
                           allow_nan=allow_nan)
    except DataError as exc:
        raise DataError(exc.problem, hea) from None
    return check_amplitude(record, hea)


def write_wfdb(record: EcgRecord, directory: str | Path, fmt: str = "16", adc_gain: float = 1000.0) -> Path:
    """Write `record` as <directory>/<record_id>.hea/.dat (16-bit, 1 adu = 1 uV by default); returns the .hea path.

    Reading it back with read_wfdb gives the signal to within 1/adc_gain mV; NaN samples are written as the
    invalid code -32768, which WFDB readers return as NaN (read_wfdb(..., allow_nan=True)). Written into a temporary
    folder first, then moved, so a crash never leaves a half-written record.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = record.record_id
    if not name or any(c in name for c in "/\\ ."):
        raise DataError(f"record id {name!r} cannot be a WFDB record name", directory)
    lo, hi = -32767, 32767  # -32768 is the 16-bit "invalid sample" code
    digital = np.round(record.signal.astype(np.float64) * adc_gain)
    missing = np.isnan(digital)
    if np.nanmin(digital, initial=0) < lo or np.nanmax(digital, initial=0) > hi:
        raise DataError(f"record {name}: signal exceeds the 16-bit range at gain {adc_gain} adu/mV "
                        f"(|x| <= {hi / adc_gain:.1f} mV)", directory)
    with tempfile.TemporaryDirectory(dir=directory, prefix=f".{name}.") as tmp:
        wfdb.wrsamp(name, fs=record.fs, units=["mV"] * record.n_leads, sig_name=list(record.lead_names),
                    d_signal=np.where(missing, lo - 1, digital).T.astype(np.int16), fmt=[fmt] * record.n_leads,
                    adc_gain=[adc_gain] * record.n_leads, baseline=[0] * record.n_leads, write_dir=tmp)
        for ext in (".dat", ".hea"):  # header last: a record is complete once its header exists
            os.replace(Path(tmp) / f"{name}{ext}", directory / f"{name}{ext}")
    return directory / f"{name}.hea"

"""The one record type that flows through VizECG: a multi-lead ECG in millivolts."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vizecg.errors import DataError

# Canonical 12-lead order. Records may hold a subset (e.g. MIT-BIH: MLII, V1) in any order,
# but lead names must come from KNOWN_LEADS so that renderers and models can place them.
STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# The right-sided and posterior chest leads a 15-lead page prints in its fifth column (render/style.py); a
# record may carry them beside the 12, so that such a page shows them under their own printed names.
EXTRA_LEADS: tuple[str, ...] = ("V4R", "V8", "V9")
# Aliases seen in WFDB headers (PTB-XL writes lower case, MIT-BIH writes MLII).
_ALIASES = {name.upper(): name for name in STANDARD_LEADS + EXTRA_LEADS} | {
    "MLI": "MLI", "MLII": "MLII", "MLIII": "MLIII", "AVR": "aVR", "AVL": "aVL", "AVF": "aVF",
}
KNOWN_LEADS: frozenset[str] = frozenset(STANDARD_LEADS + EXTRA_LEADS) | {"MLI", "MLII", "MLIII"}
# Largest plausible ECG amplitude, mV: in PTB-XL records 1-1999 and all 48 MIT-BIH records the 99th percentile
# of |x| stays at most 9.8 mV in every lead. A lead whose 99th percentile exceeds this bound was stored in other
# units (uV, raw ADC counts) or under a wrong gain; the percentile lets a few spikes (1 % of samples) through.
MAX_PLAUSIBLE_MV = 20.0


def canonical_lead_name(name: str, path: str | None = None) -> str:
    """'avr' -> 'aVR', 'ml2'-style names are not guessed: unknown names are an error."""
    key = name.strip().upper()
    if key in _ALIASES:
        return _ALIASES[key]
    raise DataError(f"unknown lead name {name!r} (known: {', '.join(sorted(KNOWN_LEADS))})", path)


@dataclass(frozen=True)
class EcgRecord:
    """A multi-lead ECG.

    signal: float32 array (leads, samples) in mV; NaN marks samples that do not exist (gaps), but a record
    read from disk is validated to have none unless allow_nan=True was asked for.
    """

    signal: np.ndarray  # (leads, samples), float32, mV
    fs: float  # sampling rate, Hz
    lead_names: tuple[str, ...]
    record_id: str
    patient_id: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)  # e.g. {"superclasses": [...], "normal": 1, "rhythm": [...]}
    source: str = ""  # where it came from: "ptbxl", "mitdb", a file path...
    meta: dict[str, Any] = field(default_factory=dict)  # anything else (fold, age, beat annotations...)
    allow_nan: bool = False

    def __post_init__(self) -> None:
        where = self.source or None
        sig = np.asarray(self.signal)
        if sig.ndim != 2:
            raise DataError(f"record {self.record_id}: signal must be 2-D (leads, samples), got shape {sig.shape}", where)
        if sig.shape[0] != len(self.lead_names):
            raise DataError(
                f"record {self.record_id}: {sig.shape[0]} signal rows but {len(self.lead_names)} lead names", where)
        if sig.shape[1] < 1:
            raise DataError(f"record {self.record_id}: signal has no samples", where)
        if not np.isfinite(self.fs) or self.fs <= 0:
            raise DataError(f"record {self.record_id}: sampling rate must be positive, got {self.fs}", where)
        names = tuple(canonical_lead_name(n, where) for n in self.lead_names)
        if len(set(names)) != len(names):
            raise DataError(f"record {self.record_id}: duplicate lead names {names}", where)
        if not np.issubdtype(sig.dtype, np.number):
            raise DataError(f"record {self.record_id}: signal is not numeric ({sig.dtype})", where)
        sig = sig.astype(np.float32, copy=False)
        if np.isinf(sig).any():
            raise DataError(f"record {self.record_id}: signal holds infinite samples", where)
        if not self.allow_nan and np.isnan(sig).any():
            bad = sorted({names[i] for i in np.where(np.isnan(sig).any(axis=1))[0]})
            raise DataError(f"record {self.record_id}: NaN samples in lead(s) {', '.join(bad)}", where)
        object.__setattr__(self, "signal", sig)
        object.__setattr__(self, "lead_names", names)
        object.__setattr__(self, "fs", float(self.fs))

    @property
    def n_leads(self) -> int:
        return self.signal.shape[0]

    @property
    def n_samples(self) -> int:
        return self.signal.shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def lead(self, name: str) -> np.ndarray:
        """One lead's samples (mV) by name."""
        name = canonical_lead_name(name, self.source or None)
        try:
            return self.signal[self.lead_names.index(name)]
        except ValueError:
            raise DataError(f"record {self.record_id} has no lead {name} (has {', '.join(self.lead_names)})",
                            self.source or None) from None

    def with_signal(self, signal: np.ndarray, fs: float | None = None,
                    lead_names: tuple[str, ...] | None = None, **changes: Any) -> "EcgRecord":
        """A copy with a new signal (and optionally rate / leads); metadata carried along."""
        return replace(self, signal=signal, fs=self.fs if fs is None else fs,
                       lead_names=self.lead_names if lead_names is None else tuple(lead_names), **changes)


def check_amplitude(record: EcgRecord, path: object = None) -> EcgRecord:
    """Refuse a record whose leads lie outside the physiological range (see MAX_PLAUSIBLE_MV); readers call this
    so that a file in the wrong units is named when it is read, not drawn as pages of saturated lines."""
    sig = np.abs(record.signal)
    finite = np.isfinite(sig).any(axis=1)
    level = np.full(record.n_leads, 0.0)
    if finite.any():
        level[finite] = np.nanpercentile(sig[finite], 99, axis=1)
    bad = np.flatnonzero(level > MAX_PLAUSIBLE_MV)
    if len(bad):
        shown = ", ".join(f"{record.lead_names[i]} {level[i]:.3g} mV" for i in bad[:4])
        raise DataError(f"record {record.record_id}: amplitude outside the physiological range (99th percentile "
                        f"of |x| is {shown}; an ECG stays within +-{MAX_PLAUSIBLE_MV:g} mV): "
                        "wrong units (uV? ADC counts?) or wrong gain", None if path is None else str(path))
    return record

"""One configurable preprocessing chain for records: notch -> baseline -> band-pass -> resample -> scale; and the
12-lead array the signal models read (model_input)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizecg.record import STANDARD_LEADS, EcgRecord
from vizecg.signal.filters import BaselineMethod, NormalizeMethod, bandpass, normalize_amplitude, notch, \
    remove_baseline, resample


@dataclass
class PreprocessConfig:
    """Each step is skipped when its field is None."""

    notch_hz: float | None = None  # mains frequency to notch out (50 or 60); PTB-XL and MIT-BIH need none
    baseline: BaselineMethod | None = None  # wander removal before the band-pass, for steep drifts
    bandpass_hz: tuple[float, float] | None = (0.5, 40.0)  # diagnostic ECG band; keeps ST levels and QRS
    target_fs: float | None = None  # resample to this rate (models expect one rate, e.g. 100 or 500 Hz)
    normalize: NormalizeMethod | None = None  # per-lead amplitude scaling for signal models


def preprocess(record: EcgRecord, config: PreprocessConfig | None = None) -> EcgRecord:
    """A new record with the configured steps applied (the input record is left untouched)."""
    cfg = config or PreprocessConfig()
    sig, fs = record.signal, record.fs
    if cfg.notch_hz is not None:
        sig = notch(sig, fs, cfg.notch_hz)
    if cfg.baseline is not None:
        sig = remove_baseline(sig, fs, cfg.baseline)
    if cfg.bandpass_hz is not None:
        sig = bandpass(sig, fs, *cfg.bandpass_hz)
    if cfg.target_fs is not None and cfg.target_fs != fs:
        sig = resample(sig, fs, cfg.target_fs)
        fs = float(cfg.target_fs)
    if cfg.normalize is not None:
        sig = normalize_amplitude(sig, cfg.normalize)
    return record.with_signal(sig, fs=fs)


def model_input(record: EcgRecord, fs: float, n_samples: int, band: tuple[float, float] | None) -> np.ndarray:
    """(12, n_samples) float32 mV in STANDARD_LEADS order, what the signal models read: band-passed (`band` Hz,
    None: raw), resampled to `fs`, cut or zero-padded to `n_samples`.

    Leads the record lacks stay zero (MIT-BIH has 2), so every model sees the same 12 rows. Missing samples (NaN:
    what a digitized page does not show) are 0 mV, the baseline, before filtering."""
    x = np.nan_to_num(record.signal.astype(np.float64), nan=0.0)
    rec = preprocess(record.with_signal(x), PreprocessConfig(bandpass_hz=band, target_fs=fs))
    out = np.zeros((len(STANDARD_LEADS), n_samples), np.float32)
    n = min(n_samples, rec.signal.shape[1])
    for i, name in enumerate(rec.lead_names):
        if name in STANDARD_LEADS:
            out[STANDARD_LEADS.index(name), :n] = rec.signal[i, :n]
    return out

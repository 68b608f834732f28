"""One configurable preprocessing chain for records: notch -> baseline -> band-pass -> resample -> scale."""
from __future__ import annotations

from dataclasses import dataclass

from vizecg.record import EcgRecord
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

"""Filters, baseline removal, resampling, derived leads and scalograms on synthetic sines and real PTB-XL."""
from __future__ import annotations

import numpy as np
import pytest

from vizecg.config import load_config
from vizecg.errors import ConfigError, DataError
from vizecg.record import STANDARD_LEADS
from vizecg.signal import (PreprocessConfig, bandpass, derive_limb_leads, normalize_amplitude, notch, preprocess,
                           remove_baseline, resample, scalogram, scalogram_frequencies)

FS = 500.0
T = np.arange(int(10 * FS)) / FS


def sine(freq: float, amp: float = 1.0) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * T)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def middle(x: np.ndarray) -> np.ndarray:
    return x[..., int(FS): -int(FS)]  # ignore filter edges


@pytest.fixture(scope="module")
def ptbxl_record(ptbxl_root):
    from vizecg.data import load_source

    source = load_source(f"ptbxl:{ptbxl_root}")
    return source.get(source.record_ids[0])


def test_bandpass_keeps_ecg_band_and_removes_drift_and_hum():
    t = np.arange(int(60 * FS)) / FS  # a minute, so a 0.1 Hz wave has whole cycles away from the edges
    wave = {f: np.sin(2 * np.pi * f * t) for f in (0.1, 10.0, 100.0)}
    y = bandpass(wave[0.1] + wave[10.0] + wave[100.0], FS, 0.5, 40.0)
    assert y.dtype == np.float32 and y.shape == t.shape
    core = slice(int(10 * FS), -int(10 * FS))
    # What is left is the 10 Hz component alone, at full amplitude.
    assert rms(y[core] - wave[10.0][core]) < 0.01


def test_bandpass_is_per_lead_and_zero_phase():
    x = np.stack([sine(10.0), sine(5.0, 2.0)])
    y = bandpass(x, FS)
    assert y.shape == (2, len(T))
    # Zero phase: the 10 Hz wave is not delayed.
    assert np.corrcoef(middle(y[0]), middle(x[0]))[0, 1] > 0.999


def test_notch_removes_mains_keeps_neighbours():
    y = notch(sine(50.0) + sine(10.0), FS, freq=50.0)
    assert rms(middle(y) - middle(sine(10.0))) < 0.02
    assert rms(middle(notch(sine(60.0), FS, freq=60.0))) < 0.02


def test_bad_filter_input_is_a_clear_error():
    with pytest.raises(DataError, match="NaN"):
        bandpass(np.array([0.0, np.nan] * 100), FS)
    with pytest.raises(DataError, match="too short"):
        bandpass(np.zeros(10), FS)
    with pytest.raises(ConfigError, match="Nyquist"):
        notch(sine(10.0), 100.0, freq=60.0)
    with pytest.raises(ConfigError, match="baseline method"):
        remove_baseline(sine(10.0), FS, method="polynomial")


@pytest.mark.parametrize("method", ["median", "spline", "wavelet"])
def test_remove_baseline_on_real_ecg_with_drift(ptbxl_record, method):
    # Wavelet bands overlap, so some 0.33 Hz drift leaks into the kept detail band.
    tolerance = {"median": 0.05, "spline": 0.05, "wavelet": 0.08}[method]
    lead = ptbxl_record.lead("II")
    fs = ptbxl_record.fs
    t = np.arange(len(lead)) / fs
    drift = 0.8 * np.sin(2 * np.pi * 0.15 * t) + 0.3 * np.sin(2 * np.pi * 0.33 * t + 1.0)
    clean = remove_baseline(lead, fs, method)
    cleaned = remove_baseline(lead + drift, fs, method)
    core = slice(int(fs), -int(fs))
    # The drift (0.8 mV) is gone: the result matches the de-drifted original within a few hundredths of a mV.
    assert rms(cleaned[core] - clean[core]) < tolerance
    # ... and the ECG survives: QRS still there with its amplitude.
    assert np.ptp(cleaned[core]) > 0.7 * np.ptp(lead[core])


@pytest.mark.parametrize("fs_in,fs_out", [(250.0, 500.0), (500.0, 100.0), (360.0, 500.0)])
def test_resample_length_and_frequency(fs_in, fs_out):
    t = np.arange(int(10 * fs_in)) / fs_in
    x = np.sin(2 * np.pi * 7.0 * t)
    y = resample(x, fs_in, fs_out)
    assert y.shape == (int(np.ceil(len(x) * fs_out / fs_in)),) and y.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(len(y), 1 / fs_out)[np.argmax(spectrum)] == pytest.approx(7.0, abs=0.1)
    t_out = np.arange(len(y)) / fs_out
    assert rms((y - np.sin(2 * np.pi * 7.0 * t_out))[int(fs_out):-int(fs_out)]) < 0.01


def test_derived_limb_leads_match_recorded_ptbxl(ptbxl_record):
    only_i_ii = ptbxl_record.with_signal(np.stack([ptbxl_record.lead("I"), ptbxl_record.lead("II"),
                                                   ptbxl_record.lead("V1")]), lead_names=("I", "II", "V1"))
    derived = derive_limb_leads(only_i_ii)
    assert derived.lead_names == ("I", "II", "III", "aVR", "aVL", "aVF", "V1")
    for name in ("III", "aVR", "aVL", "aVF"):
        # PTB-XL stores each lead rounded to 1 uV, so the derivation is exact to rounding.
        assert rms(derived.lead(name) - ptbxl_record.lead(name)) < 0.02, name
    full = derive_limb_leads(ptbxl_record)
    assert full.lead_names == STANDARD_LEADS and np.array_equal(full.signal, ptbxl_record.signal)


def test_derive_limb_leads_needs_i_and_ii(ptbxl_record):
    v_only = ptbxl_record.with_signal(ptbxl_record.signal[6:8], lead_names=("V1", "V2"))
    with pytest.raises(DataError, match="lead\\(s\\) I, II"):
        derive_limb_leads(v_only)


def test_normalize_amplitude():
    x = np.stack([sine(5.0, 3.0) + 2.0, np.zeros(len(T))])
    z = normalize_amplitude(x, "zscore")
    assert z[0].mean() == pytest.approx(0, abs=1e-5) and z[0].std() == pytest.approx(1, abs=1e-4)
    assert np.all(z[1] == 0)  # a flat lead stays flat
    m = normalize_amplitude(x, "minmax")
    assert m[0].min() == pytest.approx(0) and m[0].max() == pytest.approx(1)
    spiky = sine(5.0).copy()
    spiky[::500] = 100.0  # artefacts do not shrink the robust scale, as they shrink the standard deviation
    assert np.percentile(np.abs(normalize_amplitude(spiky, "mad")), 90) > 0.85
    assert np.percentile(np.abs(normalize_amplitude(spiky, "zscore")), 90) < 0.4


def test_scalogram_shape_and_peak_frequency():
    s = scalogram(sine(10.0), FS, n_scales=48, fmin=1.0, fmax=50.0)
    assert s.shape == (48, len(T)) and s.dtype == np.float32
    freqs = scalogram_frequencies(48, 1.0, 50.0)
    assert freqs[np.argmax(middle(s).mean(axis=1))] == pytest.approx(10.0, rel=0.1)
    multi = scalogram(np.stack([sine(10.0), sine(3.0)]), FS, n_scales=32, out_len=250)
    assert multi.shape == (2, 32, 250)
    freqs = scalogram_frequencies(32)
    assert freqs[np.argmax(multi[1, :, 20:-20].mean(axis=1))] == pytest.approx(3.0, rel=0.1)


def test_preprocess_record(ptbxl_record):
    cfg = load_config(PreprocessConfig, overrides=["baseline=median", "target_fs=100", "normalize=zscore"])
    out = preprocess(ptbxl_record, cfg)
    assert out.fs == 100.0 and out.n_samples == ptbxl_record.n_samples * 100 // int(ptbxl_record.fs)
    assert out.lead_names == ptbxl_record.lead_names and out.record_id == ptbxl_record.record_id
    assert np.allclose(out.signal.std(axis=1), 1.0, atol=1e-3)
    assert ptbxl_record.fs == 500.0  # the input record is untouched
    with pytest.raises(ConfigError, match="baseline"):
        load_config(PreprocessConfig, overrides=["baseline=polynomial"])


def test_model_input_is_the_12_lead_array_the_signal_models_read():
    from vizecg.data import load_source
    from vizecg.signal import model_input, resample

    src = load_source("sample")
    rec = src.get(src.record_ids[0])  # 12 leads, 500 Hz, 10 s
    x = model_input(rec, 100.0, 1000, (0.5, 40.0))
    assert x.shape == (12, 1000) and x.dtype == np.float32
    expected = resample(bandpass(rec.signal, rec.fs, 0.5, 40.0), rec.fs, 100.0)
    rows = [STANDARD_LEADS.index(n) for n in rec.lead_names]
    assert np.array_equal(x[rows], expected[:, :1000])
    # two leads with a gap (a digitized page shows 2.5 s of most leads): other rows zero, the gap at the baseline
    sig = rec.signal[[1, 7]].copy()
    sig[0, 2000:] = np.nan
    two = model_input(rec.with_signal(sig, lead_names=("II", "V2"), allow_nan=True), 100.0, 1200, None)
    assert two.shape == (12, 1200) and np.isfinite(two).all()
    assert not two[[i for i in range(12) if STANDARD_LEADS[i] not in ("II", "V2")]].any()
    assert np.abs(two[STANDARD_LEADS.index("II"), 420:1000]).max() < 1e-3  # the gap at 0 mV (resampling rings a little)
    assert not two[:, 1000:].any()  # 10 s at 100 Hz, zero-padded to 1200

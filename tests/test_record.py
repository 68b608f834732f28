"""EcgRecord validates on construction so that bad signals never travel further down the pipeline."""
import numpy as np
import pytest

from vizecg.errors import DataError
from vizecg.record import STANDARD_LEADS, EcgRecord


def _sig(leads=12, n=100):
    return np.zeros((leads, n), np.float64)


def test_valid_record_is_float32_with_canonical_names():
    rec = EcgRecord(_sig(), 500, tuple(n.lower() for n in STANDARD_LEADS), "r1", source="x.hea")
    assert rec.signal.dtype == np.float32 and rec.lead_names == STANDARD_LEADS
    assert rec.duration_s == pytest.approx(0.2)
    assert rec.lead("avf").shape == (100,)


@pytest.mark.parametrize("signal,fs,leads,problem", [
    (np.zeros(100), 500, ("I",), "2-D"),
    (_sig(2), 500, ("I",), "2 signal rows but 1 lead names"),
    (_sig(1), 0, ("I",), "sampling rate"),
    (_sig(1), 500, ("Q7",), "unknown lead name"),
    (_sig(2), 500, ("I", "i"), "duplicate lead"),
    (np.full((1, 10), np.inf), 500, ("I",), "infinite"),
    (np.full((1, 10), np.nan), 500, ("I",), "NaN samples in lead"),
])
def test_bad_records_raise_clear_errors(signal, fs, leads, problem):
    with pytest.raises(DataError, match=problem) as e:
        EcgRecord(signal, fs, leads, "bad", source="/data/bad.hea")
    assert "/data/bad.hea" in str(e.value)


def test_nan_allowed_when_asked_and_missing_lead_named():
    sig = np.zeros((1, 10)); sig[0, 3] = np.nan
    rec = EcgRecord(sig, 100, ("II",), "gap", allow_nan=True)
    assert np.isnan(rec.signal).sum() == 1
    with pytest.raises(DataError, match="has no lead V1"):
        rec.lead("V1")

"""Record files: WFDB/CSV/NPZ round trips, folder sources, and every bad input raising DataError naming the file."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from vizecg.data import (SAMPLE_PTBXL, load_source, read_csv, read_npz, read_wfdb, write_csv, write_npz,
                         write_wfdb)
from vizecg.errors import DataError

SAMPLE_RECORD = SAMPLE_PTBXL / "records500" / "00000" / "00001_hr"


@pytest.fixture
def record():
    return read_wfdb(SAMPLE_RECORD)


@pytest.fixture
def wfdb_copy(tmp_path):
    for ext in (".hea", ".dat"):
        shutil.copy(SAMPLE_RECORD.with_suffix(ext), tmp_path / f"00001_hr{ext}")
    return tmp_path / "00001_hr"


def test_read_wfdb_accepts_any_extension(record):
    for path in (f"{SAMPLE_RECORD}.hea", f"{SAMPLE_RECORD}.dat"):
        np.testing.assert_array_equal(read_wfdb(path).signal, record.signal)
    assert record.signal.shape == (12, 5000) and record.fs == 500


def test_wfdb_round_trip_within_adc_step(record, tmp_path):
    hea = write_wfdb(record, tmp_path)
    back = read_wfdb(hea)
    assert back.lead_names == record.lead_names and back.fs == record.fs and back.record_id == record.record_id
    assert np.abs(back.signal - record.signal).max() <= 0.5e-3 + 1e-6  # half of 1 uV


def test_csv_and_npz_round_trips(record, tmp_path):
    back = read_csv(write_csv(record, tmp_path / "r.csv"))
    assert back.fs == pytest.approx(500) and back.lead_names == record.lead_names
    np.testing.assert_allclose(back.signal, record.signal, atol=1e-5)
    back = read_npz(write_npz(record, tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.signal, record.signal)
    assert (back.fs, back.lead_names, back.record_id) == (500, record.lead_names, "00001_hr")


def test_csv_without_time_needs_fs(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("II,V1\n0.1,0.2\n0.3,0.4\n")
    with pytest.raises(DataError, match="sampling rate") as err:
        read_csv(path)
    assert err.value.path == str(path)
    assert read_csv(path, fs=250).signal.shape == (2, 2)


def test_folder_source_reads_mixed_files(record, tmp_path):
    write_wfdb(record.with_signal(record.signal, record_id="a"), tmp_path)
    write_npz(record.with_signal(record.signal, record_id="b"), tmp_path / "b.npz")
    write_csv(record, tmp_path / "c.csv")
    source = load_source(str(tmp_path))
    assert source.record_ids == ["a", "b", "c"] and source.fs == 500
    assert [r.signal.shape for r in source] == [(12, 5000)] * 3


# --- bad input: each names the file and the problem -------------------------------------------------------

def test_missing_file(tmp_path):
    for reader, name in ((read_wfdb, "nope"), (read_csv, "nope.csv"), (read_npz, "nope.npz")):
        with pytest.raises(DataError, match="not found") as err:
            reader(tmp_path / name)
        assert str(tmp_path) in str(err.value)


def test_header_with_fewer_signal_lines_than_declared(wfdb_copy):
    hea = wfdb_copy.with_suffix(".hea")
    hea.write_text("\n".join(hea.read_text().splitlines()[:-1]) + "\n")  # 12 declared, 11 described
    with pytest.raises(DataError, match="declares 12 signals but describes 11") as err:
        read_wfdb(wfdb_copy)
    assert err.value.path == str(hea)


def test_garbage_header(wfdb_copy):
    wfdb_copy.with_suffix(".hea").write_text("this is not a header\n")
    with pytest.raises(DataError, match="WFDB header"):
        read_wfdb(wfdb_copy)


def test_truncated_dat(wfdb_copy):
    dat = wfdb_copy.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:60000])
    with pytest.raises(DataError, match="truncated") as err:
        read_wfdb(wfdb_copy)
    assert err.value.path == str(dat)


def test_invalid_samples_in_dat_are_rejected(wfdb_copy):
    dat = wfdb_copy.with_suffix(".dat")
    raw = np.frombuffer(dat.read_bytes(), dtype="<i2").copy()
    raw[12 * 100 + 1] = -32768  # the 16-bit "no sample" code -> NaN in lead II
    dat.write_bytes(raw.tobytes())
    with pytest.raises(DataError, match=r"NaN.*II") as err:
        read_wfdb(wfdb_copy)
    assert err.value.path.endswith("00001_hr.hea")


def test_nan_and_inf_in_plain_files(tmp_path):
    np.savez(tmp_path / "nan.npz", signal=np.array([[0.1, np.nan]]), fs=500.0, lead_names=np.array(["II"]))
    with pytest.raises(DataError, match="NaN") as err:
        read_npz(tmp_path / "nan.npz")
    assert err.value.path == str(tmp_path / "nan.npz")
    (tmp_path / "inf.csv").write_text("II\n0.1\ninf\n")
    with pytest.raises(DataError, match="infinite") as err:
        read_csv(tmp_path / "inf.csv", fs=500)
    assert err.value.path == str(tmp_path / "inf.csv")


def test_wrong_shapes(tmp_path):
    np.savez(tmp_path / "flat.npz", signal=np.zeros(10), fs=500.0, lead_names=np.array(["II"]))
    with pytest.raises(DataError, match="2-D"):
        read_npz(tmp_path / "flat.npz")
    np.savez(tmp_path / "rows.npz", signal=np.zeros((3, 10)), fs=500.0, lead_names=np.array(["I", "II"]))
    with pytest.raises(DataError, match="3 signal rows but 2 lead names") as err:
        read_npz(tmp_path / "rows.npz")
    assert err.value.path == str(tmp_path / "rows.npz")
    np.savez(tmp_path / "keys.npz", data=np.zeros((1, 10)))
    with pytest.raises(DataError, match="missing key"):
        read_npz(tmp_path / "keys.npz")


def test_unknown_lead_name(tmp_path):
    (tmp_path / "x.csv").write_text("time,II,chest\n0,0.1,0.2\n0.002,0.1,0.2\n")
    with pytest.raises(DataError, match="unknown lead name 'chest'") as err:
        read_csv(tmp_path / "x.csv")
    assert err.value.path == str(tmp_path / "x.csv")


def test_mismatched_sampling_rates_in_one_source(record, tmp_path):
    write_npz(record.with_signal(record.signal, record_id="a"), tmp_path / "a.npz")
    write_npz(record.with_signal(record.signal[:, ::5], fs=100, record_id="b"), tmp_path / "b.npz")
    source = load_source(str(tmp_path))
    assert source.get("a").fs == 500
    with pytest.raises(DataError, match="100 Hz but source") as err:
        source.get("b")
    assert err.value.path == str(tmp_path / "b.npz")


def test_ptbxl_folder_without_tables(tmp_path):
    with pytest.raises(DataError, match="ptbxl_database.csv"):
        load_source(f"ptbxl:{tmp_path}")


# --- implausible headers and amplitudes (issue 12) ---------------------------------------------------------------

def test_header_without_sample_count(wfdb_copy):
    hea = wfdb_copy.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join([" ".join(lines[0].split()[:3])] + lines[1:]) + "\n")  # "00001_hr 12 500"
    with pytest.raises(DataError, match="no sample count") as err:
        read_wfdb(wfdb_copy)
    assert err.value.path == str(hea)


@pytest.mark.parametrize("gain,match", [("-1000.0", "is negative"), ("1e-9", "outside 1..1e\\+08 adu/mV"),
                                        ("1e12", "outside")])
def test_header_with_negative_or_absurd_gain(wfdb_copy, gain, match):
    hea = wfdb_copy.with_suffix(".hea")
    text = hea.read_text()
    assert "1000.0(0)/mV" in text
    hea.write_text(text.replace("1000.0(0)/mV", f"{gain}(0)/mV"))
    with pytest.raises(DataError, match=match) as err:
        read_wfdb(wfdb_copy)
    assert err.value.path == str(hea) and "lead I:" in str(err.value)


@pytest.mark.parametrize("scale", [1e3, 1e6])
def test_plain_files_in_wrong_units_are_refused(record, tmp_path, scale):
    big = record.with_signal(record.signal * scale)  # uV or ADC counts written as if mV
    write_csv(big, tmp_path / "big.csv")
    with pytest.raises(DataError, match="amplitude outside the physiological range") as err:
        read_csv(tmp_path / "big.csv")
    assert err.value.path == str(tmp_path / "big.csv")
    np.savez(tmp_path / "big.npz", signal=big.signal, fs=500.0, lead_names=np.array(big.lead_names))
    with pytest.raises(DataError, match="wrong units") as err:
        read_npz(tmp_path / "big.npz")
    assert err.value.path == str(tmp_path / "big.npz")


def test_a_few_spikes_are_not_an_implausible_record(record, tmp_path):
    spiky = record.signal.copy()
    spiky[1, ::1000] = 500.0  # 5 samples of 5000: an artefact, not a unit error
    write_npz(record.with_signal(spiky), tmp_path / "spiky.npz")
    assert read_npz(tmp_path / "spiky.npz").signal.max() == 500.0


def test_wfdb_gain_too_small_for_its_samples_is_refused(wfdb_copy):
    hea = wfdb_copy.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("1000.0(0)/mV", "10.0(0)/mV"))  # a plausible gain, 100x too small
    with pytest.raises(DataError, match="amplitude outside the physiological range") as err:
        read_wfdb(wfdb_copy)
    assert err.value.path == str(hea)


def test_ptbxl_table_with_a_non_integer_fold(tmp_path):
    import pandas as pd

    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(SAMPLE_PTBXL / name, tmp_path / name)
    table = pd.read_csv(tmp_path / "ptbxl_database.csv")
    table["strat_fold"] = table["strat_fold"].astype(object)
    table.loc[3, "strat_fold"] = "x"
    table.to_csv(tmp_path / "ptbxl_database.csv", index=False)
    with pytest.raises(DataError, match=rf"row 5 \(ecg_id {table.loc[3, 'ecg_id']}\): strat_fold 'x' is not a fold") \
            as err:
        load_source(f"ptbxl:{tmp_path}")
    assert err.value.path == str(tmp_path / "ptbxl_database.csv")

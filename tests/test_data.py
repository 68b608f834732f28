"""Datasets: PTB-XL and MIT-BIH readers, the embedded sample, load_source, the `data summary` command."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vizecg.cli import main
from vizecg.data import SUPERCLASSES, MitdbDataset, PtbxlDataset, load_source
from vizecg.errors import DataError
from vizecg.record import STANDARD_LEADS


def test_sample_ptbxl_records_are_real_12_lead_mv():
    source = load_source("sample")
    assert source.name == "ptbxl" and source.fs == 500 and len(source) >= 50
    record = source.get(source.record_ids[0])
    assert record.signal.shape == (12, 5000)
    assert record.lead_names == STANDARD_LEADS
    # mV scale: QRS amplitudes of a few tenths to a few mV, not ADC counts or volts.
    peak = np.abs(record.signal - np.median(record.signal, axis=1, keepdims=True)).max()
    assert 0.2 < peak < 10


def test_sample_covers_every_superclass_and_fold():
    meta = load_source("sample").metadata
    for cls in SUPERCLASSES:
        assert meta[cls].sum() >= 8, cls
    assert set(meta["strat_fold"]) == set(range(1, 11))
    assert meta["normal"].sum() > 0 and (meta["normal"] == 0).sum() > 0


def test_sample_at_100_hz_is_resampled():
    record = load_source("sample@100").get("00001")
    assert record.fs == 100 and record.signal.shape == (12, 1000)
    full = load_source("sample").get("00001")
    # Same ECG: the 100 Hz version follows the 500 Hz one sample for sample.
    assert np.corrcoef(record.lead("II"), full.lead("II")[::5])[0, 1] > 0.95


def test_ptbxl_labels_of_known_record(ptbxl_root):
    record = PtbxlDataset(ptbxl_root).get("00001")
    assert record.record_id == "00001" and record.patient_id == "15709" and record.source == "ptbxl"
    assert record.labels["superclasses"] == ["NORM"] and record.labels["normal"] == 1
    assert record.labels["rhythm"] == ["SR"]
    assert record.labels["scp_codes"] == {"NORM": 100.0, "LVOLT": 0.0, "SR": 0.0}
    assert record.meta["strat_fold"] == 3 and "niederspannung" in record.meta["report"]


def test_ptbxl_100hz_reads_records100_when_present(ptbxl_root):
    record = load_source(f"ptbxl:{ptbxl_root}@100").get("00002")
    assert record.fs == 100 and record.signal.shape == (12, 1000)
    assert "records100" in record.meta["file"]


def test_ptbxl_iteration_is_lazy_and_ordered(ptbxl_root):
    source = PtbxlDataset(ptbxl_root)
    first_two = [r.record_id for r, _ in zip(source, range(2))]
    assert first_two == ["00001", "00002"]
    with pytest.raises(DataError, match="no record"):
        source.get("99999")


def test_mitdb_beats_rhythms_and_patients(mitdb_root):
    source = MitdbDataset(mitdb_root)
    assert len(source) == 48 and source.fs == 360
    meta = source.metadata
    assert meta.loc["202", "patient_id"] == meta.loc["201", "patient_id"] == "201"
    assert meta["patient_id"].nunique() == 47
    # Counts published in the shared data README.
    assert {c: int(meta[f"beats_{c}"].sum()) for c in "NSVFQ"} == \
        {"N": 90631, "S": 2781, "V": 7236, "F": 803, "Q": 8043}
    record = source.get("208")
    beats = record.meta["beats"]
    assert len(beats["sample"]) == len(beats["symbol"]) == len(beats["aami"])
    assert {"N", "V", "F"} <= set(beats["aami"])
    assert all(beats["sample"][i] < beats["sample"][i + 1] for i in range(100))
    assert record.meta["rhythms"][0][2] == "N" and "T" in record.labels["rhythm"]


def test_mitdb_segments_reindex_beats():
    source = load_source("sample:mitdb")
    record = source.get("100")
    windows = list(source.segments("100", seconds=10, step=5))
    assert len(windows) == (300 - 10) // 5 + 1
    w = windows[3]
    assert w.signal.shape == (2, 3600) and w.meta["offset"] == 3 * 1800
    np.testing.assert_array_equal(w.signal, record.signal[:, 5400:9000])
    inside = record.meta["beats"]["sample"]
    inside = inside[(inside >= 5400) & (inside < 9000)] - 5400
    np.testing.assert_array_equal(w.meta["beats"]["sample"], inside)
    assert w.meta["rhythms"] == [(0, 3600, "N")]


def test_unknown_spec_lists_accepted_forms():
    with pytest.raises(DataError, match="ptbxl:PATH"):
        load_source("physionet://nope")


def test_cli_summary_ptbxl_json(ptbxl_root, capsys):
    # @500: the 500 records with full metadata (the whole labelled source: tests/test_data_ptbxl.py).
    assert main(["data", "summary", "--source", f"ptbxl:{ptbxl_root}@500", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 500 and summary["patients"] == 466 and summary["fs"] == 500
    assert summary["superclasses"] == {"NORM": 297, "MI": 73, "STTC": 96, "CD": 78, "HYP": 40}
    assert summary["normal"] + summary["abnormal"] == 500
    assert summary["rhythms"]["SR"] == 407 and summary["rhythms"]["AFIB"] == 13
    assert sum(summary["folds"].values()) == 500 and set(summary["folds"]) == {str(i) for i in range(1, 11)}


def test_cli_summary_mitdb_sample_table(capsys):
    assert main(["data", "summary", "--source", "sample:mitdb"]) == 0
    out = capsys.readouterr().out
    assert "records             2" in out and "V 168" in out


def test_cli_bad_source_exits_2(capsys):
    assert main(["data", "summary", "--source", "/no/such/folder"]) == 2
    assert "unknown data source" in capsys.readouterr().err

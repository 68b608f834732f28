"""PTB-XL beyond the 500 full-metadata records: records 501-1999 at 100 Hz with superclass_labels.csv (shared data
README), the labelled source's counts and split, the @500 subset, 100 Hz records drawn resampled, bad label files."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vizecg.cli import main
from vizecg.data import SAMPLE_PTBXL, SUPERCLASSES, PtbxlDataset, load_source
from vizecg.errors import DataError
from vizecg.render import RenderConfig, render_printout

DROPPED = ["00137", "00139", "00140", "00141", "00142", "00143", "00145", "00456", "00458", "00459", "00461", "00462"]


@pytest.fixture(scope="module")
def labelled_root(ptbxl_root):
    if not (ptbxl_root / "superclass_labels.csv").is_file():
        pytest.skip(f"no superclass_labels.csv in {ptbxl_root} (shared data before records 501-1999)")
    return ptbxl_root


@pytest.fixture(scope="module")
def labelled(labelled_root):
    return load_source(f"ptbxl:{labelled_root}")


def test_labelled_source_holds_1987_records_split_1490_242_255(labelled):
    meta = labelled.metadata
    assert len(labelled) == 1987 and labelled.fs is None  # two rates: see native_fs
    assert meta["split"].value_counts().to_dict() == {"train": 1490, "val": 242, "test": 255}
    # Counts published in the shared data README.
    assert {c: int(meta[c].sum()) for c in SUPERCLASSES} == {"NORM": 1051, "STTC": 467, "CD": 410, "MI": 370,
                                                             "HYP": 215}
    assert int((meta[list(SUPERCLASSES)].sum(axis=1) == 0).sum()) == 22
    only_100 = meta.index[meta["native_fs"] == 100]
    assert list(only_100) == [f"{i:05d}" for i in range(501, 2000)]
    # Unknown stays unknown: no fold, patient or rhythm is made up for 501+.
    assert meta.loc[only_100, "strat_fold"].isna().all() and meta.loc[only_100, "patient_id"].isna().all()
    assert meta.loc[only_100, "rhythm"].isna().all()
    assert not set(DROPPED) & set(labelled.record_ids)  # v1.0.3 dropped them: not labelled, not served


def test_at_500_is_the_full_metadata_source_as_before(labelled_root, labelled):
    subset = load_source(f"ptbxl:{labelled_root}@500")
    assert subset.record_ids == PtbxlDataset(labelled_root).record_ids == [f"{i:05d}" for i in range(1, 501)]
    assert subset.fs == 500 and (subset.metadata["native_fs"] == 500).all()
    assert subset.metadata["split"].value_counts().to_dict() == {"train": 353, "val": 81, "test": 66}
    # A record with a 500 Hz copy is the same record in the labelled source.
    a, b = subset.get("00001"), labelled.get("00001")
    assert a.fs == b.fs == 500 and np.array_equal(a.signal, b.signal)
    assert (a.labels, a.patient_id, a.meta) == (b.labels, b.patient_id, b.meta)


def test_labels_of_1_to_500_agree_with_superclass_labels_csv(labelled_root):
    csv = pd.read_csv(labelled_root / "superclass_labels.csv")
    csv.index = [f"{i:05d}" for i in csv["ecg_id"]]
    meta = PtbxlDataset(labelled_root).metadata  # from scp_codes and strat_fold alone
    common = meta.index.intersection(csv.index)
    assert len(common) == 488 and sorted(set(meta.index) - set(common)) == DROPPED
    for cls in SUPERCLASSES:
        assert (meta.loc[common, cls] == csv.loc[common, cls]).all(), cls
    assert (meta.loc[common, "split"] == csv.loc[common, "split"]).all()


def test_a_record_beyond_500_comes_at_100_hz_with_its_labels(labelled_root, labelled):
    row = pd.read_csv(labelled_root / "superclass_labels.csv").set_index("ecg_id").loc[507]
    record = labelled.get("00507")
    assert record.fs == 100 and record.signal.shape == (12, 1000) and record.patient_id is None
    supers = sorted(c for c in SUPERCLASSES if row[c])  # sorted by name, as records 1-500 list theirs
    assert record.labels == {"superclasses": supers, "normal": int(supers == ["NORM"])} and supers == ["CD", "MI"]
    assert record.meta["native_fs"] == 100 and record.meta["split"] == row["split"]
    assert record.meta["strat_fold"] is None and record.meta["file"].endswith("records100/00000/00507_lr")
    at_100 = load_source(f"ptbxl:{labelled_root}@100")
    assert len(at_100) == 1987 and np.array_equal(at_100.get("00507").signal, record.signal)
    assert at_100.get("00001").fs == 100


def test_a_100_hz_record_is_drawn_resampled_and_the_page_says_so(labelled):
    record = labelled.get("00501")
    p = render_printout(record, RenderConfig(dpi=100))
    assert "drawn from a 100 Hz record resampled to 500 Hz" in p.truth.warnings
    assert p.truth.render_params["record_fs"] == 100 and p.truth.render_params["drawn_fs"] == 500
    assert "drawn from a 100 Hz record resampled to 500 Hz" in json.dumps(p.truth.to_json())
    strip = next(lt for lt in p.truth.leads if lt.is_rhythm_strip)
    assert len(strip.trace) == 5000 and p.truth.beats  # 10 s at the drawing rate, beats found on it
    full = render_printout(labelled.get("00001"), RenderConfig(dpi=100))
    assert not any("resampled" in w for w in full.truth.warnings) and "drawn_fs" not in full.truth.render_params


def test_a_render_folder_page_of_a_100_hz_record_carries_the_warning(labelled_root, tmp_path):
    assert main(["render", "--source", f"ptbxl:{labelled_root}", "--records", "00501", "--n", "1", "--dpi", "100",
                 "--quiet", "--out", str(tmp_path)]) == 0
    label = json.loads(next((tmp_path / "labels").glob("*.json")).read_text())
    assert label["record_id"] == "00501"
    assert "drawn from a 100 Hz record resampled to 500 Hz" in label["warnings"]


def test_summary_cli_json_of_the_labelled_source(labelled_root, capsys):
    assert main(["data", "summary", "--source", f"ptbxl:{labelled_root}", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)  # nothing but JSON on stdout
    assert summary["records"] == 1987 and summary["split"] == {"train": 1490, "val": 242, "test": 255}
    assert summary["superclasses"] == {"NORM": 1051, "MI": 370, "STTC": 467, "CD": 410, "HYP": 215}
    assert summary["native_fs"] == {"500": 488, "100": 1499} and summary["records_100hz_only"] == "00501-01999"
    assert summary["records_without_patient_id"] == 1499 and summary["fs"] is None
    assert summary["records_with_scp_codes"] == 488 and sum(summary["folds"].values()) == 488


# --- a label file that is wrong is named with its problem (embedded sample tables, no shared data needed) -------
@pytest.fixture
def folder(tmp_path):
    from conftest import labelled_sample_copy

    return labelled_sample_copy(tmp_path, [{"ecg_id": 30001, "split": "test", "NORM": 0, "MI": 1, "STTC": 0, "CD": 0,
                                            "HYP": 0}])


def test_label_file_adds_a_100_hz_only_record(folder):
    src = load_source(f"ptbxl:{folder}")
    assert src.record_ids[-1] == "30001" and len(src) == len(PtbxlDataset(SAMPLE_PTBXL)) + 1
    assert src.labels("30001") == {"superclasses": ["MI"], "normal": 0}
    assert src.metadata.loc["30001", "split"] == "test"
    with pytest.raises(DataError, match="WFDB header not found") as err:
        src.get("30001")  # listed, but its records100 file is not there: named, not a traceback
    assert err.value.path.endswith("records100/30000/30001_lr.hea")


@pytest.mark.parametrize("edit,match", [
    (lambda t: t.assign(split=t["split"].where(t.index != 2, "holdout")),
     r"row 4 \(ecg_id \d+\): split 'holdout' is not one of train"),
    (lambda t: t.assign(MI=t["MI"].where(t.index != 0, 2)), r"row 2 \(ecg_id \d+\): MI 2 is not 0 or 1"),
    (lambda t: pd.concat([t, t.iloc[[1]]]), r"ecg_id \d+ is not unique"),
    (lambda t: t.drop(columns=["HYP"]), "missing column"),
    (lambda t: t.assign(split=t["split"].where(t.index != 0, "test" if t.loc[0, "split"] != "test" else "val")),
     r"record \d+: .* here but .* in ptbxl_database.csv"),
])
def test_bad_label_file_is_a_clear_error(folder, edit, match):
    path = folder / "superclass_labels.csv"
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(DataError, match=match) as err:
        load_source(f"ptbxl:{folder}")
    assert err.value.path == str(path)
    assert len(load_source(f"ptbxl:{folder}@500")) == len(PtbxlDataset(SAMPLE_PTBXL))  # @500 never reads it

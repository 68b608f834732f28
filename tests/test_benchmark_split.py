"""The benchmark's records by split: the one fold rule (PTB-XL strat_fold 1-8 / 9 / 10, a fold-less record's own
split), on a fake source and render folder and on the shared PTB-XL (1,490 / 242 / 255 of 1,987 records)."""
from __future__ import annotations

import pytest

from experiments.benchmark import check_split, planned_splits
from experiments.config import load_benchmark_config, profile_path
from vizecg.data import SAMPLE_PTBXL, PtbxlDataset, RenderFolder
from vizecg.errors import DataError

HEADER = "id,record_id,patient_id,image,label,fold,split,NORM,MI,STTC,CD,HYP,normal"
# (page, fold, the manifest's split): fold 10 pages are filed under val there; fold-less ones carry their split
PAGES = [("a", 3, "train"), ("b", 9, "val"), ("c", 10, "val"), ("d", None, "train"), ("e", None, "val"),
         ("f", None, "test")]
EXTRA = {"30001": "test", "30002": "train", "30003": "val"}  # known only from superclass_labels.csv


def _render_folder(root, pages=PAGES):
    lines = [f"{p},{p},,images/{p}.jpg,labels/{p}.json,{'' if f is None else f},{s},1,0,0,0,0,1" for p, f, s in pages]
    (root / "manifest.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return root


def _cfg(*overrides):
    return load_benchmark_config(profile_path("cpu"), list(overrides))


@pytest.fixture
def fake_ptbxl(tmp_path):
    """The embedded sample's tables plus three records without a fold (as PTB-XL 501-1999 are)."""
    from conftest import labelled_sample_copy

    return labelled_sample_copy(tmp_path, [{"ecg_id": int(r), "split": s, "NORM": 1, "MI": 0, "STTC": 0, "CD": 0,
                                            "HYP": 0} for r, s in EXTRA.items()])


def test_pages_are_selected_by_the_one_fold_rule(tmp_path):
    cfg = _cfg()
    folder = RenderFolder(_render_folder(tmp_path))
    chosen = {s: [p.id for p in folder.select(**cfg.selection(s))] for s in ("train", "val", "test")}
    assert chosen == {"train": ["a", "d"], "val": ["b", "e"], "test": ["c", "f"]}  # fold 10 is test, never val
    assert check_split(cfg, tmp_path) == {"train": 2, "val": 2, "test": 2}


def test_folds_regroup_only_pages_that_have_folds(tmp_path):
    cfg = _cfg("train_folds=[1,2,3,4,5,6,7,8]", "val_folds=[9]", "test_folds=[10]")
    assert cfg.selection("test") == {"folds": [10]}
    with pytest.raises(DataError, match=r"3 page\(s\) have no PTB-XL fold .* leave train_folds") as err:
        check_split(cfg, _render_folder(tmp_path))
    assert err.value.path.endswith("manifest.csv")
    (tmp_path / "no_test").mkdir()
    with pytest.raises(DataError, match="no test pages"):
        check_split(_cfg(), _render_folder(tmp_path / "no_test", PAGES[:2]))


def test_planned_split_of_a_source_with_fold_less_records(fake_ptbxl):
    sample = PtbxlDataset(SAMPLE_PTBXL).metadata["split"].value_counts().to_dict()
    plan = planned_splits(_cfg(f"source=ptbxl:{fake_ptbxl}"))
    assert {s: len(v) for s, v in plan.items()} == {s: sample.get(s, 0) + list(EXTRA.values()).count(s)
                                                     for s in ("train", "val", "test")} | {"none": 0}
    assert all(r in plan[s] for r, s in EXTRA.items())
    # by folds, the fold-less records belong to no split: the run refuses them (check_split) instead of dropping them
    by_folds = planned_splits(_cfg(f"source=ptbxl:{fake_ptbxl}", "train_folds=[1,2,3,4,5,6,7,8]", "val_folds=[9]",
                                   "test_folds=[10]"))
    assert sorted(by_folds["none"]) == sorted(EXTRA)


def test_cpu_profiles_split_the_shared_ptbxl(ptbxl_root):
    if not (ptbxl_root / "superclass_labels.csv").is_file():
        pytest.skip(f"no superclass_labels.csv in {ptbxl_root} (shared data before records 501-1999)")
    plan = planned_splits(_cfg(f"source=ptbxl:{ptbxl_root}"))
    assert {s: len(v) for s, v in plan.items()} == {"train": 1490, "val": 242, "test": 255, "none": 0}
    old = planned_splits(load_benchmark_config(profile_path("cpu500"), [f"source=ptbxl:{ptbxl_root}@500"]))
    assert {s: len(v) for s, v in old.items()} == {"train": 353, "val": 81, "test": 66, "none": 0}

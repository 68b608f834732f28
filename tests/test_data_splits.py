"""Patient-wise splits on the real PTB-XL subset: no patient on both sides, labels spread over folds."""
from __future__ import annotations

import numpy as np
import pytest

from vizecg.data import SUPERCLASSES, PtbxlDataset, load_source, patient_kfold, ptbxl_split
from vizecg.errors import DataError


def test_patient_kfold_has_no_leak_and_is_stratified(ptbxl_root):
    meta = PtbxlDataset(ptbxl_root).metadata
    folds = patient_kfold(meta, n_folds=5, seed=0)
    assert list(folds.index) == list(meta.index) and set(folds) == set(range(5))
    assert (meta.assign(fold=folds).groupby("patient_id")["fold"].nunique() == 1).all()
    for cls in SUPERCLASSES:  # every class in every fold, roughly a fifth each
        per_fold = meta[cls].groupby(folds).sum()
        assert (per_fold > 0).all() and per_fold.max() <= 2 * per_fold.min() + 3, (cls, per_fold.tolist())
    np.testing.assert_array_equal(folds, patient_kfold(meta, n_folds=5, seed=0))
    assert not (folds == patient_kfold(meta, n_folds=5, seed=1)).all()


def test_ptbxl_split_follows_strat_fold(ptbxl_root):
    meta = PtbxlDataset(ptbxl_root).metadata
    split = ptbxl_split(meta)
    assert sum(len(v) for v in split.values()) == 500
    assert len(split["val"]) == 81 and len(split["test"]) == 66
    patients = {k: set(meta.loc[v, "patient_id"]) for k, v in split.items()}
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"]
                or patients["val"] & patients["test"])


def test_patient_kfold_rejects_bad_requests():
    meta = load_source("sample").metadata
    with pytest.raises(DataError, match="n_folds"):
        patient_kfold(meta, n_folds=1)
    with pytest.raises(DataError, match="no label column"):
        patient_kfold(meta, n_folds=3, label_columns=["AFIB"])
    folds = patient_kfold(meta, n_folds=3, seed=0, label_columns=[])
    assert (meta.assign(fold=folds).groupby("patient_id")["fold"].nunique() == 1).all()


def test_one_fold_rule_fold_10_is_test_and_records_without_a_fold_keep_their_split():
    from vizecg.data import split_of

    assert [split_of(f) for f in range(1, 11)] == ["train"] * 8 + ["val", "test"]
    assert split_of(10, "val") == "test"  # the fold decides: render folders file fold 10 under val
    assert [split_of(None, s) for s in ("train", "val", "test", "", None)] == ["train", "val", "test", None, None]
    with pytest.raises(DataError, match="fold 0 is not a PTB-XL strat_fold"):
        split_of(0)
    with pytest.raises(DataError, match="page 7: split 'valid' is not one of train, val, test"):
        split_of(None, "valid", where="page 7")


def test_ptbxl_split_uses_the_split_of_records_without_a_fold():
    import pandas as pd

    meta = pd.DataFrame({"strat_fold": [1.0, 9.0, 10.0, np.nan, np.nan],
                         "split": ["train", "val", "test", "test", "val"]},
                        index=["00001", "00002", "00003", "00600", "00601"])
    assert ptbxl_split(meta) == {"train": ["00001"], "val": ["00002", "00601"], "test": ["00003", "00600"]}
    with pytest.raises(DataError, match="record 00009 has neither a strat_fold nor a split"):
        ptbxl_split(pd.DataFrame({"strat_fold": [np.nan]}, index=["00009"]))


def test_patient_kfold_refuses_records_without_patient_id():
    # PTB-XL 501-1999 carry no patient id: a patient-wise split of them must be refused, not grouped by NaN
    meta = load_source("sample").metadata.copy()
    meta["patient_id"] = meta["patient_id"].astype(object)
    meta.iloc[0, meta.columns.get_loc("patient_id")] = None
    with pytest.raises(DataError, match="no patient_id"):
        patient_kfold(meta, n_folds=3, seed=0, label_columns=[])

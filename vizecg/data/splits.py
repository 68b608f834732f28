"""Patient-wise splits: no patient's ECGs on both sides of a split (else scores measure memorised patients).

The one fold rule of the project (`split_of`): PTB-XL strat_fold 1-8 train, 9 val, 10 test, so fold 10 never
steers early stopping or a threshold; a record or page without a fold keeps the split its source or its render
gave it ('train', 'val' or 'test').
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from vizecg.data.source import SUPERCLASSES
from vizecg.errors import DataError

# PTB-XL's recommended use of its strat_fold (Wagner et al. 2020): the folds are patient-wise and label-stratified.
TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS: tuple[int, ...] = (9,)
TEST_FOLDS: tuple[int, ...] = (10,)
SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_of(fold: int | None, split: str | None = None, where: str | Path | None = None) -> str | None:
    """'train', 'val' or 'test' by the fold when there is one, else the split given (None: neither is known).

    A fold outside 1-10 or a split outside SPLITS is a DataError naming `where`: a guessed split could leak a
    test record into training."""
    if fold is not None:
        if fold in TRAIN_FOLDS:
            return "train"
        if fold in VAL_FOLDS:
            return "val"
        if fold in TEST_FOLDS:
            return "test"
        raise DataError(f"fold {fold} is not a PTB-XL strat_fold (1-10)", where)
    if split is None or split == "":
        return None
    if split not in SPLITS:
        raise DataError(f"split {split!r} is not one of {', '.join(SPLITS)}", where)
    return split


def cell(value: Any) -> Any | None:
    """A table cell's value, None where it is missing (None, NaN, pandas NA)."""
    return None if value is None or (not isinstance(value, str) and bool(pd.isna(value))) else value


def record_fold(row: Any) -> tuple[int | None, str | None]:
    """(strat_fold, split) of one metadata row (a Series, a mapping or None), None where missing: what
    `split_of` takes."""
    if row is None:
        return None, None
    fold, split = cell(row.get("strat_fold")), cell(row.get("split"))
    return (None if fold is None else int(fold)), (None if split is None else str(split))


def patient_kfold(metadata: pd.DataFrame, n_folds: int = 5, seed: int = 0,
                  label_columns: Sequence[str] | None = None) -> pd.Series:
    """Fold index (0..n_folds-1) per record, grouped by `patient_id`, stratified on the combined labels.

    label_columns default to the superclass columns present. Label combinations rarer than n_folds are
    pooled into one stratum, so that StratifiedGroupKFold can spread them.
    """
    if "patient_id" not in metadata.columns:
        raise DataError("metadata has no patient_id column; cannot split by patient")
    unknown = metadata["patient_id"].isna()
    if unknown.any():  # PTB-XL 501-1999 carry no patient id: grouping them would put one patient on both sides
        raise DataError(f"{int(unknown.sum())} records have no patient_id (e.g. {metadata.index[unknown][0]}): they "
                        "cannot be grouped by patient; use their split (ptbxl_split) or ptbxl:PATH@500")
    n_patients = metadata["patient_id"].nunique()
    if n_folds < 2 or n_folds > n_patients:
        raise DataError(f"n_folds must be in 2..{n_patients} (patients), got {n_folds}")
    if label_columns is None:
        label_columns = [c for c in SUPERCLASSES if c in metadata.columns]
    missing = [c for c in label_columns if c not in metadata.columns]
    if missing:
        raise DataError(f"metadata has no label column(s) {', '.join(missing)}")
    groups = metadata["patient_id"].astype(str).to_numpy()
    X = np.zeros((len(metadata), 1))
    if label_columns:
        keys = metadata[list(label_columns)].astype(int).astype(str).agg("".join, axis=1).to_numpy()
        counts = Counter(keys)
        keys = np.array([k if counts[k] >= n_folds else "rare" for k in keys])
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(X, keys, groups)
    else:
        # GroupKFold shuffles only via a permuted group order: do it with the seed.
        order = np.random.default_rng(seed).permutation(len(metadata))
        splits = ((order[tr], order[te]) for tr, te in GroupKFold(n_splits=n_folds).split(X[order], groups=groups[order]))
    folds = np.full(len(metadata), -1, dtype=int)
    for fold, (_, test_idx) in enumerate(splits):
        folds[test_idx] = fold
    return pd.Series(folds, index=metadata.index, name="fold")


def ptbxl_split(metadata: pd.DataFrame) -> dict[str, list[str]]:
    """Record ids per split by the one fold rule (`split_of`): strat_fold 1-8 train, 9 val, 10 test; a record
    without a strat_fold takes its `split` column."""
    if "strat_fold" not in metadata.columns:
        raise DataError("metadata has no strat_fold column (not PTB-XL?)")
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for rid, row in metadata.iterrows():
        name = split_of(*record_fold(row), where=f"record {rid}")
        if name is None:
            raise DataError(f"record {rid} has neither a strat_fold nor a split")
        out[name].append(str(rid))
    return out

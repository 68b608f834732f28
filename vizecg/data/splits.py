"""Patient-wise splits: no patient's ECGs on both sides of a split (else scores measure memorised patients)."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from vizecg.data.source import SUPERCLASSES
from vizecg.errors import DataError


def patient_kfold(metadata: pd.DataFrame, n_folds: int = 5, seed: int = 0,
                  label_columns: Sequence[str] | None = None) -> pd.Series:
    """Fold index (0..n_folds-1) per record, grouped by `patient_id`, stratified on the combined labels.

    label_columns default to the superclass columns present. Label combinations rarer than n_folds are
    pooled into one stratum, so that StratifiedGroupKFold can spread them.
    """
    if "patient_id" not in metadata.columns:
        raise DataError("metadata has no patient_id column; cannot split by patient")
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
    """The PTB-XL convention: strat_fold 1-8 train, 9 val, 10 test (the dataset's folds are patient-wise)."""
    if "strat_fold" not in metadata.columns:
        raise DataError("metadata has no strat_fold column (not PTB-XL?)")
    fold = metadata["strat_fold"].astype(int)
    return {"train": [str(r) for r in metadata.index[fold <= 8]],
            "val": [str(r) for r in metadata.index[fold == 9]],
            "test": [str(r) for r in metadata.index[fold == 10]]}

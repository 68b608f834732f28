"""Shared test fixtures: where the real datasets live, and skips when they are absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real PTB-XL subset and MIT-BIH (see shared/data/README.md); the product itself never needs them.
SHARED_DATA = Path(os.environ.get("VIZECG_SHARED_DATA", REPO.parent / "shared" / "data"))
PTBXL_ROOT = SHARED_DATA / "ptbxl"
MITDB_ROOT = SHARED_DATA / "mitdb"

requires_shared_data = pytest.mark.skipif(
    not (PTBXL_ROOT / "ptbxl_database.csv").is_file() or not (MITDB_ROOT / "100.hea").is_file(),
    reason=f"shared real data not found at {SHARED_DATA} (set VIZECG_SHARED_DATA)")


@pytest.fixture(scope="session")
def ptbxl_root() -> Path:
    if not (PTBXL_ROOT / "ptbxl_database.csv").is_file():
        pytest.skip(f"PTB-XL not found at {PTBXL_ROOT} (set VIZECG_SHARED_DATA)")
    return PTBXL_ROOT


@pytest.fixture(scope="session")
def mitdb_root() -> Path:
    if not (MITDB_ROOT / "100.hea").is_file():
        pytest.skip(f"MIT-BIH not found at {MITDB_ROOT} (set VIZECG_SHARED_DATA)")
    return MITDB_ROOT


def labelled_sample_copy(root: Path, extra: list[dict] = ()) -> Path:
    """The embedded PTB-XL sample's tables in `root` with a superclass_labels.csv that lists its records and the
    `extra` rows (ecg_id, split, NORM..HYP): records known only by their split and labels, as PTB-XL 501-1999 are."""
    import shutil

    import pandas as pd

    from vizecg.data import SAMPLE_PTBXL, SUPERCLASSES, PtbxlDataset

    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(SAMPLE_PTBXL / name, root / name)
    meta = PtbxlDataset(SAMPLE_PTBXL).metadata
    labels = meta[["split", *SUPERCLASSES]].copy()
    labels.insert(0, "ecg_id", [int(r) for r in meta.index])
    pd.concat([labels, pd.DataFrame(list(extra))]).to_csv(root / "superclass_labels.csv", index=False)
    return root

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

"""`load_source(spec)`: one string names any data VizECG can read (CLI --source, configs, benchmarks)."""
from __future__ import annotations

from pathlib import Path

from vizecg.data.files import read_csv, read_npz
from vizecg.data.mitdb import MitdbDataset
from vizecg.data.ptbxl import PtbxlDataset
from vizecg.data.source import DataSource
from vizecg.data.wfdb_io import read_wfdb, read_wfdb_header
from vizecg.errors import DataError
from vizecg.record import EcgRecord

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLE_PTBXL = SAMPLE_DATA / "ptbxl"
SAMPLE_MITDB = SAMPLE_DATA / "mitdb"

SPEC_FORMS = ('"sample" (embedded PTB-XL subset, 500 Hz)', '"sample@100"', '"sample:mitdb" (embedded MIT-BIH excerpt)',
              '"ptbxl:PATH" (every labelled record, 500 Hz where held, else 100 Hz), "ptbxl:PATH@100" (all at '
              '100 Hz) or "ptbxl:PATH@500" (only the records with a 500 Hz copy and full metadata)', '"mitdb:PATH"',
              "a folder of .hea/.csv/.npz records")
_READERS = {".hea": read_wfdb, ".npz": read_npz}


class FolderSource(DataSource):
    """Every .hea, .csv and .npz record directly inside one folder (record id = file stem)."""

    def __init__(self, root: str | Path, csv_fs: float | None = None):
        self.root = Path(root)
        self.name = str(self.root)
        self.csv_fs = csv_fs
        self._files: dict[str, Path] = {}
        for path in sorted(self.root.iterdir()):
            if path.suffix.lower() not in (".hea", ".csv", ".npz") or path.name.startswith("."):
                continue
            if path.stem in self._files:
                raise DataError(f"record {path.stem!r} exists twice ({self._files[path.stem].name}, {path.name})",
                                self.root)
            self._files[path.stem] = path
        if not self._files:
            raise DataError("no .hea, .csv or .npz records in this folder", self.root)
        self.record_ids = list(self._files)
        # The first record sets the source's rate (a header read for WFDB; CSV/NPZ must be read whole).
        first = self._files[self.record_ids[0]]
        self.fs = float(read_wfdb_header(first).fs) if first.suffix.lower() == ".hea" else \
            self._read_unchecked(self.record_ids[0]).fs

    def _read_unchecked(self, record_id: str) -> EcgRecord:
        path = self._files[record_id]
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return read_csv(path, fs=self.csv_fs)
        return _READERS[suffix](path)

    def _read(self, record_id: str) -> EcgRecord:
        return self._check_fs(self._read_unchecked(record_id), self._files[record_id])


def load_source(spec: str) -> DataSource:
    """Open a data source by name; see SPEC_FORMS. Nothing is read beyond tables and one header."""
    spec = str(spec).strip()
    kind, _, rest = spec.partition(":")
    if kind in ("sample", "sample@100") and not rest:
        return PtbxlDataset(SAMPLE_PTBXL, fs=100 if kind.endswith("@100") else 500)
    if spec == "sample:mitdb":
        return MitdbDataset(SAMPLE_MITDB)
    if kind == "ptbxl" and rest:
        path, fs = _split_rate(rest)
        return PtbxlDataset(path, fs=fs)
    if kind == "mitdb" and rest:
        return MitdbDataset(rest)
    path = Path(spec)
    if spec and path.is_dir():
        if (path / "ptbxl_database.csv").is_file():
            return PtbxlDataset(path, fs=None)
        return FolderSource(path)
    raise DataError(f"unknown data source {spec!r}; accepted: {'; '.join(SPEC_FORMS)}")


def _split_rate(text: str) -> tuple[str, int | None]:
    """"PATH@100" -> (PATH, 100); a bare PATH serves each record at its highest rate (None)."""
    path, at, rate = text.rpartition("@")
    if at and rate.isdigit():
        return path, int(rate)
    return text, None


def read_record(path: str | Path, fs: float | None = None) -> EcgRecord:
    """One record file of any supported kind (.hea/.dat WFDB, .csv, .npz)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path, fs=fs)
    if suffix == ".npz":
        return read_npz(path)
    return read_wfdb(path)

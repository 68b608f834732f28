"""Real ECG data: WFDB/CSV/NPZ readers and writers, PTB-XL, MIT-BIH, the embedded sample, patient-wise splits, and
the reader of render folders (`vizecg render` output)."""
from vizecg.data.files import read_csv, read_npz, write_csv, write_npz
from vizecg.data.mitdb import AAMI_CLASSES, AAMI_OF_SYMBOL, MitdbDataset
from vizecg.data.ptbxl import PtbxlDataset
from vizecg.data.render_folder import RenderFolder, RenderPage
from vizecg.data.source import SUPERCLASSES, DataSource
from vizecg.data.sources import SAMPLE_MITDB, SAMPLE_PTBXL, FolderSource, load_source, read_record
from vizecg.data.splits import SPLITS, patient_kfold, ptbxl_split, split_of
from vizecg.data.wfdb_io import read_wfdb, write_wfdb

__all__ = [
    "AAMI_CLASSES", "AAMI_OF_SYMBOL", "DataSource", "FolderSource", "MitdbDataset", "PtbxlDataset", "RenderFolder",
    "RenderPage", "SAMPLE_MITDB", "SAMPLE_PTBXL", "SPLITS", "SUPERCLASSES", "load_source", "patient_kfold",
    "ptbxl_split", "read_csv", "read_npz", "read_record", "read_wfdb", "split_of", "write_csv", "write_npz",
    "write_wfdb",
]

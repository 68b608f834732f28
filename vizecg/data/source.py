"""DataSource: the one interface every dataset offers (ids, lazy records, a metadata table)."""
from __future__ import annotations

from typing import Iterator

import pandas as pd

from vizecg.errors import DataError
from vizecg.record import EcgRecord

# PTB-XL diagnostic superclasses, in the order models and tables use.
SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")


class DataSource:
    """A set of records read on demand.

    Subclasses set `name`, `fs`, `record_ids` and implement `_read(record_id)`; `metadata` is a DataFrame
    indexed by record_id (at least a `patient_id` column) that can be used without reading any signal.
    """

    name: str = ""
    fs: float | None = None
    record_ids: list[str]

    def _read(self, record_id: str) -> EcgRecord:
        raise NotImplementedError

    @property
    def metadata(self) -> pd.DataFrame:
        return pd.DataFrame({"patient_id": list(self.record_ids)},
                            index=pd.Index(list(self.record_ids), name="record_id"))

    def get(self, record_id: str) -> EcgRecord:
        record_id = str(record_id)
        if record_id not in self._id_set:
            shown = ", ".join(self.record_ids[:5]) + (" ..." if len(self.record_ids) > 5 else "")
            raise DataError(f"{self.name}: no record {record_id!r} (has {len(self)}: {shown})")
        return self._read(record_id)

    @property
    def _id_set(self) -> set[str]:
        cached = self.__dict__.get("_ids_cache")
        if cached is None or len(cached) != len(self.record_ids):
            cached = self.__dict__["_ids_cache"] = set(self.record_ids)
        return cached

    def __len__(self) -> int:
        return len(self.record_ids)

    def __iter__(self) -> Iterator[EcgRecord]:
        for record_id in self.record_ids:
            yield self._read(record_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, records={len(self)}, fs={self.fs})"

    def _check_fs(self, record: EcgRecord, path: object) -> EcgRecord:
        """One source, one sampling rate: a record at another rate is an error, not a silent mix."""
        if self.fs is not None and abs(record.fs - self.fs) > 1e-6:
            raise DataError(f"record {record.record_id} is sampled at {record.fs:g} Hz but source {self.name} "
                            f"is at {self.fs:g} Hz", str(path))
        return record

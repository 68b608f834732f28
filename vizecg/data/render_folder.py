"""The render folder, read: the one reader of what `vizecg render` (vizecg.builders.render_job) writes.

DIR/manifest.csv lists the pages (id, record_id, patient_id, image, label, fold, split, layout, photo, seed,
NORM..HYP, normal, family); DIR/images/<id>.png|jpg is the page, DIR/labels/<id>.json its PageTruth with the
record's labels and the photo's parameters, DIR/signals/<record_id>.npz the record it prints, and
DIR/yolo/{images,labels}/<split>/ its YOLO view. Background images (detector.negatives) are written the same way,
without record, patient or fold. Folders made before a column existed (family) read it as empty.

Each page's `split` comes from the one fold rule (vizecg.data.splits.split_of): its PTB-XL fold when it has one
(1-8 train, 9 val, 10 test), else the split the manifest gives. The manifest's own split column is kept as
`yolo_split`: the folder of the page's YOLO view, where fold 10 pages have always been filed under val.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from vizecg.data.source import SUPERCLASSES
from vizecg.data.splits import split_of
from vizecg.errors import DataError

MANIFEST = "manifest.csv"
REQUIRED = ("id", "image", "label")  # the least a render-like folder lists (background images have no record)
LABEL_COLUMNS = (*SUPERCLASSES, "normal")  # page-level targets: 1 / 0, empty where the source has none
_TYPED = {"id", "record_id", "patient_id", "image", "label", "fold", "split", "layout", "photo", "family",
          *LABEL_COLUMNS}


@dataclass(frozen=True)
class RenderPage:
    """One page of a render folder; paths are absolute (the folder's root joined to the manifest's entries)."""

    id: str
    record_id: str  # "" for a page printed from no record (a background image)
    patient_id: str
    image: Path
    label: Path  # labels/<id>.json
    signal: Path | None  # signals/<record_id>.npz: the record's true signal; None without a record
    yolo_image: Path  # yolo/images/<yolo_split>/<image name> (a link to the image)
    yolo_label: Path  # yolo/labels/<yolo_split>/<id>.txt
    fold: int | None  # PTB-XL strat_fold; None for sources without one
    split: str | None  # 'train' / 'val' / 'test' by the one fold rule; None: neither fold nor split listed
    yolo_split: str  # the manifest's split column as written (fold 10 pages: 'val')
    layout: str
    photo: str  # the photo preset named in the job ('mixed' pages: see the label's photo_params)
    family: str  # print-style family ("" for fixed and random styles)
    labels: dict[str, int | None]  # LABEL_COLUMNS the manifest has: 1 / 0, None where the source has no label
    extra: dict[str, str]  # the manifest's other columns as written (seed; background images: kind, index)

    def read_label(self) -> dict[str, Any]:
        """The label JSON (PageTruth fields + record_id, labels, fold, split, photo parameters)."""
        return read_label(self.label)

    def read_truth(self) -> Any:
        """The page's PageTruth (vizecg.render.truth: the folder's ground truth is the renderer's format)."""
        from vizecg.render.truth import PageTruth

        label = self.read_label()
        try:
            return PageTruth.from_json(label)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DataError(f"label JSON is not a page's ground truth ({type(exc).__name__}: {exc})",
                            self.label) from None

    def read_signal(self) -> Any:
        """The EcgRecord the page prints (signals/<record_id>.npz)."""
        from vizecg.data.files import read_npz

        if self.signal is None:
            raise DataError(f"page {self.id} was printed from no record: it has no signal", self.label)
        return read_npz(self.signal)


def read_label(path: Path) -> dict[str, Any]:
    """A label JSON as a dict; a missing or corrupt file is a DataError naming it."""
    try:
        label = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError("label JSON not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"label JSON is not valid JSON ({exc})", path) from None
    if not isinstance(label, dict):
        raise DataError("label JSON is not a mapping", path)
    return label


class RenderFolder:
    """The pages of a render folder, in manifest order. `require` names columns a reader needs beyond REQUIRED
    (e.g. record_id for anything that reads the signal); a folder without them is refused, naming the manifest."""

    def __init__(self, root: str | Path, require: Sequence[str] = ()):
        self.root = Path(root)
        self.manifest = self.root / MANIFEST
        if not self.manifest.is_file():
            raise DataError(f"no {MANIFEST}: not a folder written by `vizecg render`", self.root)
        try:
            with self.manifest.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                rows = list(reader)
                self.columns: tuple[str, ...] = tuple(reader.fieldnames or ())
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"not a readable CSV ({exc})", self.manifest) from None
        missing = [c for c in (*REQUIRED, *require) if c not in self.columns]
        if missing:
            raise DataError(f"lacks column(s) {', '.join(missing)}: not a manifest written by `vizecg render`",
                            self.manifest)
        if not rows:
            raise DataError("lists no pages", self.manifest)
        self.pages: tuple[RenderPage, ...] = tuple(self._page(row, line) for line, row in enumerate(rows, 2))

    def _page(self, row: dict[str, str | None], line: int) -> RenderPage:
        where = f"{self.manifest} line {line}"
        if None in row or any(row.get(c) is None for c in REQUIRED):  # more or fewer cells than the header
            raise DataError(f"line {line} does not have the header's {len(self.columns)} cells", self.manifest)
        text = {k: (v or "").strip() for k, v in row.items()}
        fold = _integer(text.get("fold", ""), "fold", where)
        yolo_split = text.get("split", "")
        record_id = text.get("record_id", "")
        image = self.root / text["image"]
        return RenderPage(
            id=text["id"], record_id=record_id, patient_id=text.get("patient_id", ""), image=image,
            label=self.root / text["label"],
            signal=self.root / "signals" / f"{record_id}.npz" if record_id else None,
            yolo_image=self.root / "yolo" / "images" / yolo_split / image.name,
            yolo_label=self.root / "yolo" / "labels" / yolo_split / f"{text['id']}.txt",
            fold=fold, split=split_of(fold, yolo_split, where), yolo_split=yolo_split,
            layout=text.get("layout", ""), photo=text.get("photo", ""), family=text.get("family", ""),
            labels={c: _integer(text[c], c, where) for c in LABEL_COLUMNS if c in text},
            extra={k: v for k, v in text.items() if k not in _TYPED})

    def __len__(self) -> int:
        return len(self.pages)

    def __iter__(self) -> Iterator[RenderPage]:
        return iter(self.pages)

    def select(self, folds: Sequence[int] | None = None, splits: Sequence[str] | None = None,
               record_ids: Sequence[str] | None = None) -> list[RenderPage]:
        """Pages whose fold is in `folds`, split (the fold rule's) in `splits` and record id in `record_ids`
        (None: no filter on that)."""
        if folds is not None and "fold" not in self.columns:
            raise DataError("selection by fold, but the manifest has no fold column", self.manifest)
        if splits is not None and not {"fold", "split"} & set(self.columns):
            raise DataError("selection by split, but the manifest has no split column", self.manifest)
        fold_set = None if folds is None else {int(f) for f in folds}
        split_set = None if splits is None else set(splits)
        record_set = None if record_ids is None else {str(r) for r in record_ids}
        return [p for p in self.pages
                if (fold_set is None or p.fold in fold_set) and (split_set is None or p.split in split_set)
                and (record_set is None or p.record_id in record_set)]


def photo_condition(photo_params: dict[str, Any] | None, preset: str = "") -> str:
    """The capture condition a page went through ('none', 'scan', 'phone', 'screen', 'photocopy'...), from its
    label's photo_params: for the mixed presets the one drawn (mixed.base), else the preset; `preset` (the job's,
    e.g. a manifest's photo column) where the label records neither."""
    params = photo_params or {}
    mixed = params.get("mixed")
    if isinstance(mixed, dict) and isinstance(mixed.get("base"), str) and mixed["base"]:
        return mixed["base"]
    named = params.get("preset")
    if isinstance(named, str) and named and named not in ("mixed", "mixed-all"):
        return named
    return str(preset or "none")


def _integer(text: str, column: str, where: str) -> int | None:
    """A whole number cell ('9', '9.0'); empty is None."""
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():
        raise DataError(f"{column} {text!r} is not a whole number", where)
    return int(value)

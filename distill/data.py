"""Torch datasets over a render folder (`vizecg render` output) and the collate into the model batch dict.

Render folder DIR (read by vizecg.data.RenderFolder): images/<id>.png|jpg, labels/<id>.json (PageTruth +
record_id, labels, fold, split), signals/<record_id>.npz, manifest.csv (id, record_id, patient_id, image, label,
fold, split, NORM..HYP, normal). A page's split is the one fold rule's (PTB-XL folds 1-8 train, 9 val, 10 test).

Tasks and targets:
  superclass  5 PTB-XL superclasses, multi-label: target (5,) float, one logit each, BCE.
  normal      normal vs abnormal as ONE logit, multi-label style: target (1,) float, BCE. One logit (not a
              2-class softmax) so that the same sigmoid / AUROC code serves it and the superclasses.
  aami        MIT-BIH AAMI beat classes N/S/V/F/Q on single beat crops, multi-class: target () long, CE.

Decoding a PNG, parsing the label JSON and filtering the signal cost far more than a training step on tiny
models, so each field of each item is computed once and cached as DIR/cache/<field>-<key>/<id>.npz, where
<key> hashes every parameter that shapes the field (page size, crop size, detector tag, filter band...) and the
code that computes it (FIELD_CODE). Signals are prepared by vizecg.signal.model_input; the digitized route's
(photo -> digitizer -> signal) lives in vizecg.digitize.route.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from vizecg.crops import crop_beats
from vizecg.data import AAMI_CLASSES, SUPERCLASSES, RenderFolder, RenderPage, read_npz
from vizecg.data.render_folder import read_label
from vizecg.errors import ConfigError, DataError
from vizecg.images import read_image
from vizecg.runs import atomic_write_bytes, source_hash
from vizecg.signal.preprocess import model_input

log = logging.getLogger("vizecg.train")

TASK_CLASSES: dict[str, tuple[str, ...]] = {"superclass": SUPERCLASSES, "normal": ("normal",), "aami": AAMI_CLASSES}
MULTILABEL: dict[str, bool] = {"superclass": True, "normal": True, "aami": False}
PAGE_FIELDS = ("page", "beats", "signal")

# boxes_fn(image (H, W, 3) uint8) -> (boxes (n, 4) xyxy px, order_keys (n, 2) or None): e.g. a YOLO detector.
BoxesFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
# The code each cached field is computed by (vizecg.runs.source_hash patterns): part of the cache key, so that a
# field made by other code is computed again instead of read.
FIELD_CODE: dict[str, tuple[str, ...]] = {
    "page": ("distill/data.py", "vizecg/images.py"),
    "beats": ("distill/data.py", "vizecg/images.py", "vizecg/crops.py", "vizecg/data/render_folder.py"),
    "signal": ("distill/data.py", "vizecg/signal/*.py", "vizecg/data/files.py", "vizecg/record.py"),
}


def truth_boxes(label: dict[str, Any], path: Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Visible ground-truth beat boxes (n, 4), order keys (panel index, R-peak x) and AAMI labels."""
    try:
        beats = [b for b in label["beats"] if b.get("visible", True)]
        boxes = np.asarray([b["box"] for b in beats], np.float64).reshape(-1, 4)
        keys = np.asarray([[b["panel_index"], b["r_peak"][0]] for b in beats], np.float64).reshape(-1, 2)
        aami = [b.get("aami") for b in beats]
    except (KeyError, TypeError, IndexError) as exc:
        raise DataError(f"label JSON has malformed beats ({type(exc).__name__}: {exc})", path) from None
    return boxes, keys, aami


def _key(params: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:10]


class _Cache:
    """npz per (field, item) under DIR/cache; unwritable folders simply disable caching."""

    def __init__(self, root: Path, enabled: bool):
        self.root = root / "cache"
        self.enabled = enabled

    def get(self, folder: str, item_id: str, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        path = self.root / folder / f"{item_id}.npz"
        if self.enabled and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as z:
                    return {k: z[k] for k in z.files}
            except Exception:  # a torn or foreign file: recompute and overwrite
                log.warning("cache file %s unreadable; recomputing", path)
        arrays = make()
        if self.enabled:
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            try:
                atomic_write_bytes(path, buf.getvalue())  # atomic: DDP ranks may write the same item
            except OSError as exc:
                log.warning("cannot write cache %s (%s); caching disabled", path, exc)
                self.enabled = False
        return arrays


class _RenderBase(Dataset):
    def __init__(self, root: str | Path, folds: Sequence[int] | None = None, splits: Sequence[str] | None = None,
                 record_ids: Sequence[str] | None = None, crop_size: tuple[int, int] = (64, 64),
                 boxes_fn: BoxesFn | None = None, boxes_tag: str | None = None, cache: bool = True,
                 exclude_families: Sequence[str] = ()):
        self.root = Path(root)
        self.folder = RenderFolder(self.root, require=("record_id",))
        self.pages: list[RenderPage] = self.folder.select(folds, splits, record_ids)
        if exclude_families:  # print-style families held out (a benchmark scores them as never seen)
            self.pages = [p for p in self.pages if p.family not in set(exclude_families)]
        if not self.pages:
            raise DataError(f"no pages selected (folds={folds}, splits={splits}, record_ids={record_ids}, "
                            f"exclude_families={list(exclude_families)}; manifest has {len(self.folder)} rows)",
                            self.folder.manifest)
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        if boxes_fn is not None and boxes_tag is None:
            boxes_tag = getattr(boxes_fn, "__name__", "custom")
        self.boxes_fn = boxes_fn
        self.boxes_tag = boxes_tag or "truth"  # part of the cache key: detector crops never mix with truth crops
        self.cache = _Cache(self.root, cache)

    def _boxes(self, image: np.ndarray, label_path: Path):
        if self.boxes_fn is not None:
            boxes, keys = self.boxes_fn(image)
            return np.asarray(boxes, np.float64).reshape(-1, 4), keys, None
        return truth_boxes(read_label(label_path), label_path)


class PageDataset(_RenderBase):
    """One item per page: page image, beat crops, paired signal and the page-level target."""

    def __init__(self, root: str | Path, task: str = "superclass", fields: Sequence[str] = PAGE_FIELDS,
                 page_size: tuple[int, int] = (192, 256), grayscale: bool = False, max_beats: int = 24,
                 signal_fs: float = 100.0, signal_samples: int = 1000,
                 bandpass: tuple[float, float] | None = (0.5, 40.0),
                 signal_from: Literal["record", "digitized"] = "record", digitize: Any = None, **kwargs: Any):
        super().__init__(root, **kwargs)
        if task not in ("superclass", "normal"):
            raise ConfigError(f"PageDataset task must be 'superclass' or 'normal', got {task!r} "
                              "(aami is per beat: BeatDataset)")
        if signal_from not in ("record", "digitized"):
            raise ConfigError(f"signal_from must be 'record' or 'digitized', got {signal_from!r}")
        self.signal_from = signal_from
        if signal_from == "digitized":  # the digitizer's config (vizecg.digitize.route: configs/digitize.yaml)
            from vizecg.digitize import DigitizeConfig

            self.digitize = digitize if digitize is not None else DigitizeConfig()
        unknown = set(fields) - set(PAGE_FIELDS)
        if unknown:
            raise ConfigError(f"unknown field(s) {sorted(unknown)} (known: {PAGE_FIELDS})")
        self.task, self.fields = task, tuple(fields)
        self.page_size = (int(page_size[0]), int(page_size[1]))  # (height, width)
        self.grayscale, self.max_beats = grayscale, int(max_beats)
        self.signal_fs, self.signal_samples = float(signal_fs), int(signal_samples)
        self.band = None if bandpass is None else (float(bandpass[0]), float(bandpass[1]))
        cols = list(TASK_CLASSES[task])
        missing = [c for c in cols if c not in self.folder.columns]
        if missing:
            raise DataError(f"manifest lacks target column(s) {', '.join(missing)} for task {task}",
                            self.folder.manifest)
        bad = [p.id for p in self.pages if any(p.labels[c] is None for c in cols)]
        if bad:
            raise DataError(f"{len(bad)} selected page(s) have no {task} label (e.g. {bad[0]}); render from a "
                            "labelled source", self.folder.manifest)
        self.targets = np.asarray([[p.labels[c] for c in cols] for p in self.pages], np.float32)  # (n, C)
        keys = {"page": {"size": self.page_size, "gray": grayscale},
                "beats": {"size": self.crop_size, "max": self.max_beats, "boxes": self.boxes_tag},
                "signal": {"fs": self.signal_fs, "n": self.signal_samples, "band": self.band}}
        self._folders = {f: f"{f}-{_key({**keys[f], 'code': source_hash(FIELD_CODE[f])})}" for f in keys}
        if signal_from == "digitized":
            self._folders["signal"] += f"-digitized-{self._digitizer_version()}"

    def __len__(self) -> int:
        return len(self.pages)

    def _image(self, page: RenderPage) -> np.ndarray:
        image = read_image(page.image)
        if self.grayscale:  # photos differ in colour cast; grey pages remove that nuisance
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        return image

    def _make_page(self, page: RenderPage) -> dict[str, np.ndarray]:
        h, w = self.page_size
        return {"page": cv2.resize(self._image(page), (w, h), interpolation=cv2.INTER_AREA)}

    def _make_beats(self, page: RenderPage) -> dict[str, np.ndarray]:
        image = self._image(page)
        boxes, keys, _ = self._boxes(image, page.label)
        crops, _ = crop_beats(image, boxes, keys, self.crop_size, self.max_beats, path=str(page.label))
        return {"beats": np.round(crops * 255).astype(np.uint8)}  # uint8 on disk: 4x smaller

    def _make_signal(self, page: RenderPage) -> dict[str, np.ndarray]:
        if self.signal_from == "digitized":  # the photo, read back by the digitizer (colour: it needs the grid)
            from vizecg.digitize.route import digitized_signal

            signal, read = digitized_signal(read_image(page.image), self.digitize, self.signal_fs,
                                            self.signal_samples, self.band, where=str(page.image))
            return {"signal": signal, "read": np.float32(read)}
        return {"signal": model_input(read_npz(page.signal), self.signal_fs, self.signal_samples, self.band)}

    def _digitizer_version(self) -> str:
        from vizecg.digitize.route import digitizer_version

        return digitizer_version(self.digitize)

    def signal_read_fraction(self, i: int) -> float:
        """Fraction of item i's 12-lead signal that came from the page (1.0 for the recorded signal)."""
        if self.signal_from == "record":
            return 1.0
        page = self.pages[i]
        return float(self.cache.get(self._folders["signal"], page.id, lambda: self._make_signal(page))["read"])

    def __getitem__(self, i: int) -> dict[str, Any]:
        page = self.pages[i]
        item: dict[str, Any] = {"id": page.id, "target": torch.from_numpy(self.targets[i].copy())}
        if "page" in self.fields:
            image = self.cache.get(self._folders["page"], page.id, lambda: self._make_page(page))["page"]
            item["page"] = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0  # (3, H, W)
        if "beats" in self.fields:
            crops = self.cache.get(self._folders["beats"], page.id, lambda: self._make_beats(page))["beats"]
            item["beats"] = torch.from_numpy(crops).float() / 255.0  # (k, 3, h, w)
        if "signal" in self.fields:
            item["signal"] = torch.from_numpy(
                self.cache.get(self._folders["signal"], page.id, lambda: self._make_signal(page))["signal"])
        return item

    def class_counts(self) -> np.ndarray:
        return self.targets.sum(0)


class BeatDataset(_RenderBase):
    """One item per visible, AAMI-labelled beat of MIT-BIH pages: `beat` (3, h, w) and its class index."""

    def __init__(self, root: str | Path, **kwargs: Any):
        super().__init__(root, **kwargs)
        key = {"size": self.crop_size, "boxes": self.boxes_tag, "code": source_hash(FIELD_CODE["beats"])}
        self._folder = f"aami-{_key(key)}"
        self.index: list[tuple[int, int]] = []  # (page row, beat index within the page's cached crops)
        labels: list[int] = []
        for r in range(len(self.pages)):
            y = self._page(r)["aami"]
            self.index += [(r, j) for j in range(len(y))]
            labels += [int(v) for v in y]
        if not self.index:
            raise DataError("no AAMI-labelled visible beats in the selected pages (render from an MIT-BIH source)",
                            self.folder.manifest)
        self.labels = np.asarray(labels, np.int64)

    def _make(self, page: RenderPage) -> dict[str, np.ndarray]:
        image = read_image(page.image)
        boxes, keys, aami = truth_boxes(read_label(page.label), page.label)
        known = np.asarray([a in AAMI_CLASSES for a in aami], bool)
        crops, kept = crop_beats(image, boxes[known], keys[known], self.crop_size, max_beats=len(boxes),
                                 path=str(page.label))
        cls = np.asarray([AAMI_CLASSES.index(a) for a in np.asarray(aami, object)[known][kept]], np.int64)
        return {"beats": np.round(crops * 255).astype(np.uint8), "aami": cls.reshape(-1)}

    def _page(self, r: int) -> dict[str, np.ndarray]:
        page = self.pages[r]
        return self.cache.get(self._folder, page.id, lambda: self._make(page))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r, j = self.index[i]
        page = self._page(r)
        return {"id": f"{self.pages[r].id}#{j}", "beat": torch.from_numpy(page["beats"][j]).float() / 255.0,
                "target": torch.tensor(int(page["aami"][j]), dtype=torch.long)}

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(AAMI_CLASSES)).astype(np.float64)


def collate(items: list[dict[str, Any]], max_beats: int | None = None) -> dict[str, Any]:
    """Stack items into the model batch: page (b,3,H,W), beat (b,3,h,w), beats (b,k,3,h,w) + beat_mask (b,k) zero-padded to
    k = max_beats (fixed, so every batch has the same shape) or the batch maximum, signal (b,12,t), target."""
    batch: dict[str, Any] = {"id": [it["id"] for it in items]}
    for key in ("page", "beat", "signal", "target"):
        if key in items[0]:
            batch[key] = torch.stack([it[key] for it in items])
    if "beats" in items[0]:
        counts = [it["beats"].shape[0] for it in items]
        k = max(max_beats or 0, max(counts), 1)
        _, c, h, w = items[0]["beats"].shape
        beats = torch.zeros(len(items), k, c, h, w)
        mask = torch.zeros(len(items), k, dtype=torch.bool)
        for b, it in enumerate(items):
            n = min(counts[b], k)
            beats[b, :n] = it["beats"][:n]
            mask[b, :n] = True
        batch["beats"], batch["beat_mask"] = beats, mask
    return batch

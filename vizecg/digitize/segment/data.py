"""Training pages and tiles from render folders (`vizecg render`: labels/*.json beside images/).

Split (PTB-XL's convention, by patient): folds 1-8 train, fold 9 validates, fold 10 is never read here (it is
the test set). A page without a fold (a record source without folds) goes by its `split`: train or val; any
other split is left out.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from vizecg.digitize.segment.masks import PageAtScale, draw_runs, page_at_scale
from vizecg.data.render_folder import photo_condition as _condition
from vizecg.errors import DataError
from vizecg.images import read_image
from vizecg.render.truth import PageTruth

Split = Literal["train", "val"]
TRAIN_FOLDS = range(1, 9)
VAL_FOLD = 9


@dataclass(frozen=True)
class SegPage:
    """One rendered page: where its files are and what it is (for the split and the per-family scores)."""

    folder: str
    id: str
    image: Path
    label: Path
    family: str  # print-style family ("" for pages rendered from a plain RenderConfig)
    photo: str  # the photo preset the job named ("mixed-all": `photo_condition` of the truth says which one)
    fold: int | None
    split: str  # as the render folder's manifest says

    def truth(self) -> PageTruth:
        try:
            return PageTruth.from_json(json.loads(self.label.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"unreadable label JSON ({type(exc).__name__}: {exc})", self.label) from None


def seg_split(fold: int | None, split: str) -> Split | None:
    """train / val / None (left out: fold 10, or a split that is neither) of one page."""
    if fold is not None:
        return "train" if fold in TRAIN_FOLDS else "val" if fold == VAL_FOLD else None
    return split if split in ("train", "val") else None  # type: ignore[return-value]


def photo_condition(truth: PageTruth, preset: str = "") -> str:
    """The photo preset a page went through; for the mixed presets the one drawn (photo_params.mixed.base)."""
    return _condition(truth.photo_params, preset)


def folder_pages(folder: str | Path) -> list[SegPage]:
    """Every page of a render folder, in its manifest's order (the manifest, not the label JSONs, is read: they
    hold every trace sample and take minutes to parse for a thousand pages)."""
    root = Path(folder)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise DataError("no manifest.csv: not a folder written by `vizecg render`", root)
    try:
        with open(manifest, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"not a readable CSV ({exc})", manifest) from None
    pages = []
    for row in rows:
        if not row.get("id") or not row.get("image") or not row.get("label"):
            raise DataError("a row lacks id, image or label: not a manifest written by `vizecg render`", manifest)
        fold = (row.get("fold") or "").strip()
        pages.append(SegPage(folder=str(folder), id=row["id"], image=root / row["image"], label=root / row["label"],
                             family=row.get("family") or "", photo=row.get("photo") or "none",
                             fold=int(fold) if fold.isdigit() else None, split=row.get("split") or ""))
    return pages


def split_pages(folders: list[str] | tuple[str, ...]) -> dict[str, list[SegPage]]:
    """{"train": [...], "val": [...]} over the folders (fold 10 and test splits left out)."""
    out: dict[str, list[SegPage]] = {"train": [], "val": []}
    for folder in folders:
        for page in folder_pages(folder):
            which = seg_split(page.fold, page.split)
            if which is not None:
                out[which].append(page)
    return out


def pages_fingerprint(pages: dict[str, list[SegPage]]) -> str:
    """A hash of which pages are in which split: a resumed run must see the same data."""
    key = json.dumps({k: [f"{p.folder}/{p.id}" for p in v] for k, v in sorted(pages.items())})
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def load_page(page: SegPage, px_per_mm: float) -> PageAtScale:
    """A page's image and truth at the network's scale."""
    return page_at_scale(read_image(page.image), page.truth(), px_per_mm)


@dataclass(frozen=True)
class TileConfig:
    """How training tiles are cut from a page at the network's scale."""

    size: int = 256  # px: 64 mm at 4 px/mm (see masks.py)
    trace_share: float = 0.6  # tiles centred near a trace point; the rest anywhere on the sheet (text, header,
    # pulses, the sheet's edge and some background around it)
    scale_jitter: float = 0.2  # each tile at a scale up to this much off (either way): the scale a page is given
    # at inference is measured, and off by some percent
    flip: bool = True  # mirror left-right and up-down: the ink/not-ink question does not care which way
    channel_shuffle: float = 0.5  # chance of permuting RGB: grids come in red, pink, green, blue and grey
    grey: float = 0.1  # chance of a greyscale tile (photocopies, greyscale prints)


def cut_tiles(page: PageAtScale, n: int, cfg: TileConfig, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n tiles of `page`: images (n, 3, s, s) uint8, trace masks (n, 1, s, s) uint8 0/1 and loss weights
    (n, 1, s, s) uint8 0/1 (0 outside the image and where the trace is hidden)."""
    s = cfg.size
    h, w = page.image.shape[:2]
    pts = np.concatenate(page.runs) if page.runs else np.zeros((0, 2))
    xs = np.zeros((n, 3, s, s), np.uint8)
    ys = np.zeros((n, 1, s, s), np.uint8)
    ws = np.zeros((n, 1, s, s), np.uint8)
    for i in range(n):
        j = float(np.exp(rng.uniform(-np.log1p(cfg.scale_jitter), np.log1p(cfg.scale_jitter))))
        half = 0.5 * s / j  # half the window, in page px
        if len(pts) and rng.random() < cfg.trace_share:
            cx, cy = pts[rng.integers(len(pts))] + rng.uniform(-0.8, 0.8, 2) * half
        else:
            x0, y0, x1, y1 = page.page_box
            cx, cy = rng.uniform(x0, max(x0, x1)), rng.uniform(y0, max(y0, y1))
        # keep the window on the page where the page is larger than it
        cx = float(np.clip(cx, half, w - half)) if w > 2 * half else 0.5 * w
        cy = float(np.clip(cy, half, h - half)) if h > 2 * half else 0.5 * h
        m = np.float64([[j, 0, half * j - cx * j], [0, j, half * j - cy * j]])
        img = cv2.warpAffine(page.image, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpAffine(page.valid, m, (s, s), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
        runs = [r * j + m[:, 2] for r in page.runs]
        mask = draw_runs(runs, (s, s), page.line_px * j)
        if cfg.flip:
            if rng.random() < 0.5:
                img, valid, mask = img[:, ::-1], valid[:, ::-1], mask[:, ::-1]
            if rng.random() < 0.5:
                img, valid, mask = img[::-1], valid[::-1], mask[::-1]
        if rng.random() < cfg.channel_shuffle:
            img = img[:, :, rng.permutation(3)]
        if rng.random() < cfg.grey:
            img = np.repeat(cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
        xs[i] = img.transpose(2, 0, 1)
        ys[i, 0] = mask
        ws[i, 0] = valid
    return xs, ys, ws

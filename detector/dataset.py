"""Training data for the detector from `vizecg render` output folders (their YOLO view), optionally tiled.

`prepare_dataset` writes one ultralytics data.yaml with image-list files, choosing each page's split by the one
fold rule (vizecg.data.splits: PTB-XL folds 1-8 train, 9 val, 10 test) and leaving the test pages out (the test
fold stays unseen). Pages without a fold keep the render's own split, so a folder of background images from
`detector.negatives` (no fold, empty YOLO labels, 90% train / 10% val) is one more --data folder. With tiling,
each page is cut into overlapping tiles whose labels are clipped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from detector.config import CLASS_NAMES, TileConfig
from detector.geometry import boxes_in_window, tile_windows, xywhn_to_xyxy, xyxy_to_xywhn
from vizecg.data.render_folder import RenderFolder, RenderPage, photo_condition
from vizecg.errors import DataError
from vizecg.images import read_image, write_image
from vizecg.runs import atomic_write_text


def _check_names(render_dir: Path) -> None:
    data_yaml = render_dir / "yolo" / "data.yaml"
    if not data_yaml.is_file():
        raise DataError("render folder has no YOLO view (yolo/data.yaml)", data_yaml)
    names = yaml.safe_load(data_yaml.read_text()).get("names")
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names or [])
    if tuple(names) != CLASS_NAMES:
        raise DataError(f"YOLO classes {names} differ from the detector's {list(CLASS_NAMES)}", data_yaml)


def detector_split(page: RenderPage) -> str | None:
    """'train', 'val' or None (not used): the fold rule's split, test pages (fold 10) never."""
    return page.split if page.split in ("train", "val") else None


def prepare_dataset(data: list[str], out: str | Path, val_data: list[str] = (), tile: TileConfig = TileConfig()
                    ) -> dict[str, Any]:
    """Write out/data.yaml (+ image lists, + tiles) for ultralytics; returns counts per split."""
    out = Path(out).resolve()
    if not data:
        raise DataError("no training data: give --data with at least one `vizecg render` folder")
    lists: dict[str, list[Path]] = {"train": [], "val": []}
    for d, only_val in [(d, False) for d in data] + [(d, True) for d in val_data]:
        root = Path(d).resolve()
        _check_names(root)
        for page in RenderFolder(root, require=("split",)):
            split = "val" if only_val else detector_split(page)
            if split is None or (split == "val" and val_data and not only_val):
                continue
            if not page.yolo_image.exists() or not page.yolo_label.is_file():
                raise DataError("page listed in manifest.csv has no YOLO image/label", page.yolo_image)
            lists[split].append(page.yolo_image)
    for split in ("train", "val"):
        if not lists[split]:
            raise DataError(f"no {split} pages (train: PTB-XL folds 1-8, val: fold 9) in {', '.join(map(str, data))}")
    if tile.size > 0:
        lists = {split: _write_tiles(paths, out / "tiles", split, tile) for split, paths in lists.items()}
    for split, paths in lists.items():
        atomic_write_text(out / f"{split}.txt", "".join(f"{p}\n" for p in paths))
    data_yaml = {"path": str(out), "train": str(out / "train.txt"), "val": str(out / "val.txt"),
                 "names": {i: n for i, n in enumerate(CLASS_NAMES)}}
    atomic_write_text(out / "data.yaml", yaml.safe_dump(data_yaml, sort_keys=False))
    return {"data_yaml": str(out / "data.yaml"), "train_images": len(lists["train"]), "val_images": len(lists["val"]),
            "tile": tile.size}


def read_yolo_labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(classes (n,), xywhn (n, 4)) of one YOLO label file."""
    rows = [r.split() for r in path.read_text().splitlines() if r.strip()]
    try:
        arr = np.asarray(rows, np.float64).reshape(-1, 5)
    except ValueError:
        raise DataError("YOLO label file is malformed (expected 'class cx cy w h' rows)", path) from None
    return arr[:, 0].astype(np.int64), arr[:, 1:]


def _write_tiles(images: list[Path], root: Path, split: str, tile: TileConfig) -> list[Path]:
    from tqdm import tqdm

    out_paths = []
    for img_path in tqdm(images, desc=f"tiles {split}", unit="page"):
        image = read_image(img_path)
        h, w = image.shape[:2]
        label_path = Path(str(img_path).replace("/images/", "/labels/")).with_suffix(".txt")
        cls, xywhn = read_yolo_labels(label_path)
        boxes = xywhn_to_xyxy(xywhn, w, h)
        for t, win in enumerate(tile_windows((h, w), tile.size, tile.overlap)):
            x0, y0, x1, y1 = win
            clipped, idx = boxes_in_window(boxes, win, tile.min_visible)
            name = f"{img_path.stem}_t{t:02d}"
            tile_img = root / "images" / split / f"{name}.jpg"
            write_image(tile_img, image[y0:y1, x0:x1], quality=95)
            rows = xyxy_to_xywhn(clipped, x1 - x0, y1 - y0)
            atomic_write_text(root / "labels" / split / f"{name}.txt",
                              "".join(f"{c} {r[0]:.6f} {r[1]:.6f} {r[2]:.6f} {r[3]:.6f}\n" for c, r in zip(cls[idx], rows)))
            out_paths.append(tile_img)
    return out_paths


def page_truth_boxes(label: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth (boxes (n, 4) xyxy, classes (n,)) of one label JSON, the same boxes as the render's YOLO view."""
    from vizecg.render import PageTruth

    return truth_boxes(PageTruth.from_json(label))


def truth_boxes(truth: Any) -> tuple[np.ndarray, np.ndarray]:
    """(boxes, classes) of an in-memory PageTruth, as the render's YOLO view writes them."""
    from vizecg.builders.render_job import yolo_lines

    lines = yolo_lines(truth)
    if not lines:
        return np.zeros((0, 4)), np.zeros(0, np.int64)
    arr = np.asarray([r.split() for r in lines], np.float64)
    return xywhn_to_xyxy(arr[:, 1:], truth.width, truth.height), arr[:, 0].astype(np.int64)


def photo_severity(label: dict[str, Any]) -> str:
    """The photo preset a page went through ('none', 'scan', 'phone', 'screen'); 'mixed' resolves to its base."""
    return photo_condition(label.get("photo_params"), str(label.get("photo") or ""))

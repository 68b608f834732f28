"""Score ink masks against the render truth's trace mask on render folders: the learned segmenter's and the
classical one the digitizer computes today (ink.paper_normalised + ink.ink_mask, and with layout.remove_text
as the digitizer then applies), per print-style family and per photo condition.

    OMP_NUM_THREADS=1 .venv/bin/python -m vizecg.digitize.segment_eval --folders runs/labels/test_left_out \
        --model runs/segment/main/model.pt --out runs/segment/main/eval_left_out.json

Scored at the photo's own pixels, inside the sheet's bounding box less the boxes where a finger hides the
trace, with the page's true scale (what the digitizer measures from the grid); the segmenter is run on that box
and 4 mm around it (the digitizer reads the sheet it found), the classical mask on the whole photo as today.
A pixel is trace when the segmenter's probability is >= --threshold. "strict" counts pixels exactly; "tol1"
counts a prediction right within 1 px of the truth (and a truth pixel found within 1 px of a prediction): the
truth's line is drawn at the printed width, which blur and JPEG spread. Precision is what the classical mask loses to grid, text and marks.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vizecg.digitize.config import DigitizeConfig
from vizecg.digitize.segment.data import SegPage, folder_pages, photo_condition, seg_split
from vizecg.digitize.segment.metrics import add_counts, pixel_counts, scores
from vizecg.errors import VizEcgError

TOLERANCES = {"strict": 0, "tol1": 1}


def classical_ink(image: np.ndarray, px_per_mm: float, config: DigitizeConfig = DigitizeConfig()
                  ) -> dict[str, np.ndarray]:
    """The digitizer's own ink masks of an image at its scale: "classical" (darker than a share of the local
    paper level, Otsu-lowered: ink.ink_mask) and "classical_notext" (then without letter-sized pieces and the
    sheet's edge: layout.remove_text)."""
    from vizecg.digitize.ink import ink_mask, paper_normalised
    from vizecg.digitize.layout import remove_text

    ink, _ = ink_mask(paper_normalised(image, px_per_mm), config.ink_threshold, config.ink_auto)
    return {"classical": ink, "classical_notext": remove_text(ink, px_per_mm)}


def select_pages(folders: list[str], split: str = "all", limit: int | None = None) -> list[SegPage]:
    """The folders' pages of one split (train: folds 1-8, val: fold 9, test: fold 10 or split 'test', all)."""
    pages = []
    for folder in folders:
        for page in folder_pages(folder):
            which = seg_split(page.fold, page.split)
            if which is None:
                which = "test" if page.fold == 10 or page.split == "test" else "other"
            if split == "all" or which == split:
                pages.append(page)
    return pages[:limit] if limit else pages


def evaluate_pages(pages: list[SegPage], model: Any = None, threshold: float = 0.5, progress: bool = True
                   ) -> dict[str, Any]:
    """Pixel scores of each method over `pages`: {"methods": {method: {tolerance: {group: scores}}},
    "seconds_per_page": {method: s}}; groups are "all", "family:NAME" and "photo:NAME"."""
    from tqdm import tqdm

    from vizecg.digitize.segment.infer import ink_probability
    from vizecg.digitize.segment.masks import image_px_per_mm, page_region, page_window, trace_mask
    from vizecg.images import read_image

    counts: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    seconds: dict[str, float] = {}
    for page in tqdm(pages, desc="segment eval", disable=not progress, file=sys.stderr):
        truth = page.truth()
        groups = ("all", f"family:{page.family or '(none)'}", f"photo:{photo_condition(truth, page.photo)}")
        image = read_image(page.image)
        ppm = image_px_per_mm(truth)
        mask, region = trace_mask(truth), page_region(truth)
        t0 = time.process_time()
        preds = classical_ink(image, ppm)
        seconds["classical"] = seconds.get("classical", 0.0) + time.process_time() - t0
        if model is not None:
            t0 = time.process_time()
            rows, cols = page_window(truth, margin=int(np.ceil(4 * ppm)))  # the sheet, as the digitizer reads it
            learned = np.zeros(mask.shape, bool)
            learned[rows, cols] = ink_probability(np.ascontiguousarray(image[rows, cols]), ppm, model) >= threshold
            preds["learned"] = learned
            seconds["learned"] = seconds.get("learned", 0.0) + time.process_time() - t0
        for method, pred in preds.items():
            for name, tol in TOLERANCES.items():
                c = pixel_counts(pred, mask, region, tol)
                by = counts.setdefault(method, {}).setdefault(name, {})
                for key in groups:
                    add_counts(by.setdefault(key, {}), c)
    return {"pages": len(pages), "threshold": threshold,
            "methods": {m: {t: {k: scores(c) for k, c in sorted(by.items())} for t, by in mt.items()}
                        for m, mt in counts.items()},
            "cpu_seconds_per_page": {m: s / max(1, len(pages)) for m, s in seconds.items()}}


def format_table(result: dict[str, Any], tolerance: str = "tol1") -> str:
    """One row per group, precision / recall / F1 of each method side by side."""
    methods = list(result["methods"])
    groups = list(next(iter(result["methods"].values()))[tolerance]) if methods else []
    head = f"{'group (' + tolerance + ')':34s}" + "".join(f"{m + ' P/R/F1':>28s}" for m in methods)
    lines = [head]
    for g in groups:
        cells = []
        for m in methods:
            s = result["methods"][m][tolerance][g]
            cells.append(f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f}".rjust(28))
        lines.append(f"{g:34s}" + "".join(cells))
    return "\n".join(lines)


def load_any(path: str | Path) -> Any:
    """A segmenter from a .pt (torch) or a .onnx (onnxruntime) file."""
    if str(path).endswith(".onnx"):
        from vizecg.digitize.segment.infer import OnnxSegmenter

        return OnnxSegmenter(path)
    from vizecg.digitize.segment.model import load_segmenter

    return load_segmenter(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folders", nargs="+", required=True, help="render folders (vizecg render)")
    p.add_argument("--model", help="segmenter weights (.pt) or graph (.onnx); without: the classical masks only")
    p.add_argument("--split", choices=("all", "train", "val", "test"), default="all")
    p.add_argument("--limit", type=int, help="the first N pages only")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="write the result as JSON here")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    import cv2
    import torch

    torch.set_num_threads(a.threads)
    cv2.setNumThreads(a.threads)
    try:
        pages = select_pages(a.folders, a.split, a.limit)
        if not pages:
            raise VizEcgError(f"no pages of split {a.split!r} in {', '.join(a.folders)}")
        model = load_any(a.model) if a.model else None
        result = evaluate_pages(pages, model, a.threshold, progress=not a.no_progress)
    except VizEcgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result |= {"folders": a.folders, "split": a.split, "model": a.model}
    print(format_table(result, "tol1"))
    print()
    print(format_table(result, "strict"))
    print("CPU s/page: " + ", ".join(f"{m} {s:.2f}" for m, s in result["cpu_seconds_per_page"].items()))
    if a.out:
        from vizecg.runs import write_json

        write_json(a.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

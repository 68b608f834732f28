"""Seconds per Letter-landscape 200 dpi page (~2200x1700) on one core: clean render, and render + phone photo.

    .venv/bin/python benchmarks/render_speed.py [--pages 20]

Prints a table and writes benchmarks/results/render_speed.json. Anchor: ECG-Image-Kit ~0.72 s per clean page;
target here <= 0.25 s.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np


def _time(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "render_speed.json"))
    args = parser.parse_args()
    cv2.setNumThreads(1)
    import torch

    torch.set_num_threads(1)
    from vizecg.data import load_source
    from vizecg.photo import photograph
    from vizecg.render import RenderConfig, render_printout

    src = load_source("sample")
    records = [src.get(rid) for rid in src.record_ids[:args.pages]]
    cfg = RenderConfig(layout="3x4+1", paper="letter", dpi=200)
    render_printout(records[0], cfg)  # warm the grid cache, as any batch job would be after its first page
    rows = []
    clean = _time(lambda i: render_printout(records[i % len(records)], cfg, seed=i), args.pages)
    page = render_printout(records[0], cfg)
    rows.append(("render clean 3x4+1", clean))
    photograph(page, "phone", seed=0)
    rows.append(("render + photo phone", _time(
        lambda i: photograph(render_printout(records[i % len(records)], cfg, seed=i), "phone", seed=i),
        args.pages)))
    h, w = page.image.shape[:2]
    print(f"Letter landscape @ 200 dpi: {w}x{h} px, {args.pages} pages, 1 thread")
    print(f"{'case':<24} {'median s':>9} {'p90 s':>7} {'target':>7}")
    results = []
    for name, times in rows:
        med, p90 = float(np.median(times)), float(np.percentile(times, 90))
        print(f"{name:<24} {med:9.3f} {p90:7.3f} {'0.25' if 'clean' in name else '0.6':>7}")
        results.append({"case": name, "median_s": round(med, 4), "p90_s": round(p90, 4), "pages": len(times)})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "benchmark": "render_speed", "width": w, "height": h, "dpi": 200, "threads": 1,
        "anchor_ecg_image_kit_clean_s": 0.72, "anchor_ecg_image_kit_all_distortions_s": 7.75,
        "target_clean_s": 0.25, "target_phone_s": 0.6, "results": results,
        "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
        "command": "python benchmarks/render_speed.py --pages %d" % args.pages}, indent=2) + "\n")


if __name__ == "__main__":
    main()

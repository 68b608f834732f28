"""Seconds per Letter@200dpi page (2200 x 1700) for each photo preset, on one core.

Run: .venv/bin/python benchmarks/photo_speed.py [--repeats N]
Prints a table and writes benchmarks/results/photo_speed.json. Target: render + phone <= 0.6 s.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from vizecg.data import load_source
from vizecg.photo import PRESET_NAMES, photograph
from vizecg.render import RenderConfig, render_printout
from vizecg.runs import write_json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=8, help="seeds per preset (each seed draws other effects)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    record = next(iter(load_source("sample")))
    config = RenderConfig(dpi=200, paper="letter")
    render_printout(record, config)  # warm the grid cache, as a dataset build would be
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        page = render_printout(record, config)
    render_s = (time.perf_counter() - t0) / args.repeats
    rows = []
    for preset in PRESET_NAMES:
        photograph(page, preset, 10_000)  # warm-up
        times = []
        for seed in range(args.repeats):
            t = time.perf_counter()
            photo = photograph(page, preset, seed)
            times.append(time.perf_counter() - t)
        rows.append({"preset": preset, "mean_s": float(np.mean(times)), "median_s": float(np.median(times)),
                     "max_s": float(np.max(times)), "render_plus_mean_s": render_s + float(np.mean(times)),
                     "frame": list(photo.image.shape[:2])})
    print(f"page {page.image.shape[1]}x{page.image.shape[0]}, render {render_s:.3f} s, repeats {args.repeats}, "
          f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print(f"{'preset':8s} {'mean s':>8s} {'median s':>9s} {'max s':>7s} {'render+mean':>12s}")
    for r in rows:
        print(f"{r['preset']:8s} {r['mean_s']:8.3f} {r['median_s']:9.3f} {r['max_s']:7.3f} {r['render_plus_mean_s']:12.3f}")
    out = Path(__file__).parent / "results" / "photo_speed.json"
    write_json(out, {"page": list(page.image.shape[:2]), "render_s": render_s, "repeats": args.repeats,
                     "threads": 1, "load_avg_1m": os.getloadavg()[0], "machine": platform.processor() or platform.machine(),
                     "presets": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

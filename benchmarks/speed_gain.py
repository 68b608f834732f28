"""Printed speed/gain reader (issues 13 and 14): share of pages read right, wrong reads, CPU seconds per page.

On render folders (manifest.csv + labels/*.json): the pages whose truth `texts` print a speed/gain string
("mm/s" or "mm/mV") inside the image, per folder (clean or photographed) and print-style family; and the pages
that print none (a read there is a wrong read). Truth: the page's print_style speed_mm_s / gain_mm_mv.
Engines (--engines):
  strips   vizecg.labels.speed_gain.read_speed_gain as shipped: the text detector on the image's top 30 % and
           bottom 20 % scaled to 4 px/mm, the recogniser on each line found;
  full     rapidocr-onnxruntime's own pipeline on the whole image (its defaults: detector at up to 2000 px,
           the angle classifier on), then the same parser: the library used as it comes;
  digitizer the digitizer with read_speed_gain on (vizecg.digitize.scale.read_printed: the footer strip below
           the bottom trace row of the rectified, upright page, then the header strip above the top row, stopping
           once both are read); a page the digitizer refuses before reading counts as not read; seconds are the
           reading's alone;
  truthbox the recogniser alone on the truth text box (the rendered line, padded): what the recogniser and
           parser can do when the line is found (an upper bound, not a reader).
Seconds: process CPU time per page on one thread (OMP_NUM_THREADS=1, onnxruntime intra/inter 1); wall time
beside it, with the load average (this machine's 2 cores are shared with a training job).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/speed_gain.py \\
        --folders runs/speedgain/clean_s7100 runs/labels/test_left_out_clean runs/speedgain/photo_s7100 \\
                  runs/labels/test_left_out runs/detector_data/fam_leftout3_s1900 --engines strips truthbox
Prints a table; writes benchmarks/results/speed_gain.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def truth_of(label: dict) -> dict:
    """What the page prints (inside the image) and its true settings."""
    w, h = label["width"], label["height"]
    printed = [t for t in label.get("texts", []) if ("mm/s" in t["text"] or "mm/mV" in t["text"])]
    inside = [t for t in printed if t["box"][0] >= 0 and t["box"][1] >= 0 and t["box"][2] <= w and t["box"][3] <= h]
    style = label.get("print_style") or {}
    rp = label.get("render_params") or {}
    return {"speed": float(style.get("speed_mm_s", rp.get("speed_mm_s"))),
            "gain": float(style.get("gain_mm_mv", rp.get("gain_mm_mv"))),
            "prints": bool(printed), "readable": bool(inside), "boxes": [t["box"] for t in inside],
            "texts": [t["text"] for t in inside]}


def pages_of(folder: Path, max_pages: int, max_negatives: int):
    rows = list(csv.DictReader(open(folder / "manifest.csv")))
    pos, neg = [], []
    for r in rows:
        label = json.loads((folder / r["label"]).read_text())
        t = truth_of(label)
        item = (r["id"], folder / r["image"], r.get("family") or label.get("family") or "?", t)
        if t["readable"]:
            pos.append(item)
        elif not t["prints"]:
            neg.append(item)
    return pos[:max_pages], neg[:max_negatives]


_FULL = []


def full_engine():
    """rapidocr-onnxruntime with its own defaults (one thread)."""
    if not _FULL:
        from rapidocr_onnxruntime import RapidOCR

        _FULL.append(RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1))
    return _FULL[0]


_TIMED = {"cpu": 0.0, "wall": 0.0, "result": None}


def _timed_reader():
    """vizecg.labels.speed_gain.read_speed_gain wrapped to time each call (the digitizer imports it per call)."""
    from vizecg.labels import speed_gain as sg

    if getattr(sg.read_speed_gain, "timed", False):
        return
    inner = sg.read_speed_gain

    def timed(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            _TIMED["result"] = inner(*args, **kwargs)
            return _TIMED["result"]
        finally:
            _TIMED["cpu"] += time.process_time() - c0
            _TIMED["wall"] += time.perf_counter() - t0

    timed.timed = True
    sg.read_speed_gain = timed


def read_with(engine_name: str, image: np.ndarray, truth: dict):
    """(SpeedGain, cpu s, wall s) of one engine on one page."""
    from vizecg.labels import speed_gain as sg

    if engine_name == "digitizer":
        from vizecg.digitize import DigitizeConfig, digitize
        from vizecg.errors import DigitizeError

        _timed_reader()
        _TIMED.update(cpu=0.0, wall=0.0, result=None, refused=False)
        try:
            digitize(image, DigitizeConfig(read_speed_gain=True))
        except DigitizeError:
            _TIMED["refused"] = _TIMED["result"] is None  # refused before the text was read
        return _TIMED["result"] or sg.NOTHING, _TIMED["cpu"], _TIMED["wall"]
    eng = sg.ocr_engine(1)
    t0, c0 = time.perf_counter(), time.process_time()
    got = _read_plain(engine_name, image, truth, eng)
    return got, time.process_time() - c0, time.perf_counter() - t0


def _read_plain(engine_name: str, image: np.ndarray, truth: dict, eng):
    from vizecg.labels import speed_gain as sg

    if engine_name == "strips":
        return sg.read_speed_gain(image, engine=eng)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    if engine_name == "full":
        res, _ = full_engine()(bgr)
        lines = [(str(r[1]), float(r[2]), np.asarray(r[0], np.float64)) for r in (res or [])]
        return sg.combine(lines)
    if engine_name == "truthbox":
        quads = []
        for x0, y0, x1, y1 in truth["boxes"]:
            m = 0.15 * (y1 - y0)  # the truth box is the glyphs' extent: a margin like the detector's
            x0, y0, x1, y1 = x0 - m, y0 - m, x1 + m, y1 + m
            quads.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64))
        reads = sg.read_lines(bgr, quads, eng)
        return sg.combine([(t, s, q) for (t, s), q in zip(reads, quads)])
    raise SystemExit(f"unknown engine {engine_name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folders", nargs="+", required=True)
    ap.add_argument("--engines", nargs="+", default=["strips"], choices=("strips", "digitizer", "full", "truthbox"))
    ap.add_argument("--max-pages", type=int, default=60, help="pages printing speed/gain, per folder")
    ap.add_argument("--max-negatives", type=int, default=20, help="pages printing none, per folder")
    ap.add_argument("--full-pages", type=int, default=8, help="pages per folder for the slow 'full' engine")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed_gain.json"))
    args = ap.parse_args()
    from vizecg.images import read_image
    from vizecg.labels.speed_gain import ocr_engine

    t0, c0 = time.perf_counter(), time.process_time()
    ocr_engine(1)
    startup = {"wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3)}
    load_before = os.getloadavg()
    per_page = []
    for folder in map(Path, args.folders):
        pos, neg = pages_of(folder, args.max_pages, args.max_negatives)
        for engine in args.engines:
            n_pos = args.full_pages if engine == "full" else len(pos)
            negatives = neg if engine in ("strips", "digitizer") else []
            items = [(p, True) for p in pos[:n_pos]] + [(p, False) for p in negatives]
            for (pid, path, family, truth), printed in items:
                image = read_image(path)
                got, cpu, wall = read_with(engine, image, truth)
                per_page.append({
                    "folder": folder.name, "page": pid, "family": family, "engine": engine, "prints": printed,
                    "true_speed": truth["speed"], "true_gain": truth["gain"], "truth_text": truth["texts"],
                    "speed": got.speed_mm_s, "gain": got.gain_mm_mv, "text": got.text,
                    "confidence": round(got.confidence, 3), "cpu_s": round(cpu, 4), "wall_s": round(wall, 4),
                    "refused": bool(engine == "digitizer" and _TIMED.get("refused"))})
            print(f"{folder.name} {engine}: {len(items)} pages", file=sys.stderr, flush=True)
    load_after = os.getloadavg()

    def summarise(rows):
        pos = [r for r in rows if r["prints"]]
        neg = [r for r in rows if not r["prints"]]
        s_right = sum(r["speed"] == r["true_speed"] for r in pos)
        g_right = sum(r["gain"] == r["true_gain"] for r in pos)
        both = sum(r["speed"] == r["true_speed"] and r["gain"] == r["true_gain"] for r in pos)
        wrong = sum((r["speed"] is not None and r["speed"] != r["true_speed"]) or
                    (r["gain"] is not None and r["gain"] != r["true_gain"]) for r in pos)
        false = sum(r["speed"] is not None or r["gain"] is not None for r in neg)
        refused = sum(r["refused"] for r in pos)
        read_pos = [r for r in pos if not r["refused"]]
        both_read = sum(r["speed"] == r["true_speed"] and r["gain"] == r["true_gain"] for r in read_pos)
        return {"pages": len(pos), "both_right": both / max(1, len(pos)), "speed_right": s_right / max(1, len(pos)),
                "gain_right": g_right / max(1, len(pos)), "wrong_pages": wrong, "no_text_pages": len(neg),
                "read_on_no_text": false, "refused_before_reading": refused,
                "both_right_of_read": both_read / max(1, len(read_pos)),
                "cpu_s_mean": float(np.mean([r["cpu_s"] for r in rows])) if rows else 0.0,
                "cpu_s_p90": float(np.percentile([r["cpu_s"] for r in rows], 90)) if rows else 0.0,
                "wall_s_mean": float(np.mean([r["wall_s"] for r in rows])) if rows else 0.0}

    groups = defaultdict(list)
    for r in per_page:
        groups[(r["engine"], r["folder"], r["family"])].append(r)
        groups[(r["engine"], r["folder"], "all")].append(r)
        groups[(r["engine"], "all", "all")].append(r)
    table = {" / ".join(k): summarise(v) for k, v in sorted(groups.items())}
    head = f"{'engine / folder / family':58s} {'pages':>5s} {'both':>5s} {'speed':>5s} {'gain':>5s} " \
           f"{'wrong':>5s} {'none:read':>9s} {'refused':>7s} {'cpu s':>6s} {'p90':>5s}"
    print(head)
    for k, s in table.items():
        print(f"{k:58s} {s['pages']:5d} {s['both_right']:5.2f} {s['speed_right']:5.2f} {s['gain_right']:5.2f} "
              f"{s['wrong_pages']:5d} {s['no_text_pages']:4d}:{s['read_on_no_text']:<4d} "
              f"{s['refused_before_reading']:7d} "
              f"{s['cpu_s_mean']:6.3f} "
              f"{s['cpu_s_p90']:5.2f}")
    out = {"command": " ".join(["benchmarks/speed_gain.py"] + sys.argv[1:]), "engines": args.engines,
           "threads": 1, "startup": startup, "load_before": load_before, "load_after": load_after,
           "table": table, "pages": per_page}
    from vizecg.runs import write_json

    write_json(args.out, out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

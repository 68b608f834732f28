"""Digitizer CPU time per page and per stage, on rendered phone photos (issues 14 and 16: <= 2 s a page on 2 cores).

    .venv/bin/python benchmarks/digitize_speed.py [--pages 8] [--seed 5] [--save OUT.pkl] [--compare REF.pkl]

Pages: `vizecg render --source sample --n PAGES+1 --photo phone --style random --seed SEED` (the first is a warm-up,
untimed), made once under --work and reused. Each page is digitized in this process; process CPU time
(time.process_time: every thread, so it holds on a loaded machine where wall time does not) is split into stages,
each stage's time leaving out the stages it calls; "other" is the rest (checks, the final ink mask, panels,
confidence). --save writes every page's outputs (signal, confidences, found, warnings, traces, or the refusal);
--compare checks them against such a file (a speed-up must leave them the same to the bit). To time an older
commit: `git archive REV vizecg | tar -x -C DIR` and run this with PYTHONPATH=DIR. Prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

from predict_speed import make_pages  # the same rendered phone photos (this folder is on sys.path)

REPO = Path(__file__).resolve().parents[1]
# stage -> the digitizer module's names whose calls it counts
STAGES = {
    "page outline": ["_find_page"],
    "views": ["_page_views", "paper_normalised", "ink_mask", "remove_text"],
    "deskew": ["estimate_rotation", "rotate"],
    "grid+dewarp": ["grid_period_2d", "grid_period", "grid_lattice_maps", "lattice_homography", "warp_centred"],
    "orientation": ["find_orientation"],
    "rows+pulses": ["find_rows", "find_pulse", "drop_weak_rows"],
    "trace DP": ["pick_trace", "erase_bars"],
    "pen fit": ["fit_page"],
    "assemble": ["_assemble"],
}


class StageClock:
    """Exclusive process CPU time per stage: a call's time goes to its stage, less the wrapped calls inside it."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self._stack: list[list] = []

    def wrap(self, stage: str, fn):
        def timed(*args, **kwargs):
            now = time.process_time()
            if self._stack:
                parent = self._stack[-1]
                self.cpu[parent[0]] = self.cpu.get(parent[0], 0.0) + now - parent[1]
            self._stack.append([stage, now])
            try:
                return fn(*args, **kwargs)
            finally:
                end = time.process_time()
                name, t0 = self._stack.pop()
                self.cpu[name] = self.cpu.get(name, 0.0) + end - t0
                if self._stack:
                    self._stack[-1][1] = end

        return timed


def outputs(result) -> dict:
    return {"signal": result.record.signal, "leads": result.record.lead_names, "confidence": result.confidence,
            "found": json.dumps(result.found, default=str, sort_keys=True), "warnings": result.warnings,
            "traces": result.traces, "page_confidence": result.page_confidence}


def differences(ref: dict, new: dict) -> list[str]:
    """What differs between two --save files, page by page (empty: the same to the bit)."""
    import numpy as np

    out = []
    for page, a in ref.items():
        b = new.get(page)
        if b is None:
            out.append(f"{page}: not digitized this time")
            continue
        if ("error" in a) or ("error" in b):
            if a.get("error") != b.get("error"):
                out.append(f"{page}: refusal {a.get('error')!r} -> {b.get('error')!r}")
            continue
        for key in ("leads", "confidence", "found", "warnings", "page_confidence"):
            if a[key] != b[key]:
                out.append(f"{page}: {key} differs")
        if a["signal"].shape != b["signal"].shape or not np.array_equal(a["signal"], b["signal"], equal_nan=True):
            out.append(f"{page}: signal differs")
        same = a["traces"].keys() == b["traces"].keys() and all(
            len(a["traces"][k]) == len(b["traces"][k]) and all(np.array_equal(x, y) for x, y in
                                                               zip(a["traces"][k], b["traces"][k]))
            for k in a["traces"])
        if not same:
            out.append(f"{page}: traces differ")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--work", default=str(REPO / "runs" / "digitize_speed"))
    ap.add_argument("--save", default="", help="write every page's outputs here (pickle)")
    ap.add_argument("--compare", default="", help="check the outputs against a --save file")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "digitize_speed.json"))
    args = ap.parse_args()
    pages = make_pages(Path(args.work), args.pages + 1, args.seed, style="random")

    import vizecg.digitize.digitizer as dig
    from vizecg.errors import DigitizeError
    from vizecg.images import read_image

    clock = StageClock()
    for stage, names in STAGES.items():
        for name in names:
            setattr(dig, name, clock.wrap(stage, getattr(dig, name)))
    rows, saved = [], {}
    for i, path in enumerate(pages):
        image = read_image(path)
        clock.cpu = {}
        c0 = time.process_time()
        try:
            saved[path.name] = outputs(dig.digitize(image))
        except DigitizeError as exc:
            saved[path.name] = {"error": str(exc)}
        total = time.process_time() - c0
        if i == 0:
            continue  # warm-up: first-call allocations and caches
        row = {"page": path.name, "refused": "error" in saved[path.name], "cpu_s": round(total, 3),
               **{k: round(v, 4) for k, v in clock.cpu.items()}}
        row["other"] = round(total - sum(clock.cpu.values()), 4)
        rows.append(row)
    stages = list(STAGES) + ["other"]
    result = {
        "command": "python benchmarks/digitize_speed.py " + " ".join(sys.argv[1:]),
        "pages": len(rows), "refused": sum(r["refused"] for r in rows),
        "cpu_s_per_page_median": round(statistics.median(r["cpu_s"] for r in rows), 3),
        "stages_cpu_median_s": {k: round(statistics.median(r.get(k, 0.0) for r in rows), 3) for k in stages},
        "load_avg": [round(x, 2) for x in os.getloadavg()], "cores": len(os.sched_getaffinity(0)), "rows": rows,
    }
    print(f"{'stage':<14} {'median CPU s':>12}")
    for k, v in result["stages_cpu_median_s"].items():
        print(f"{k:<14} {v:>12.3f}")
    print(f"{'page':<14} {result['cpu_s_per_page_median']:>12.3f}  (median over {len(rows)} pages, "
          f"{result['refused']} refused; load {result['load_avg'][0]:.1f} on {result['cores']} cores)")
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump(saved, f)
    if args.compare:
        with open(args.compare, "rb") as f:
            diff = differences(pickle.load(f), saved)
        result["same_as"] = {"file": args.compare, "differences": diff}
        print(f"outputs against {args.compare}: " + ("the same to the bit" if not diff else "; ".join(diff)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {args.out}")
    return 1 if args.compare and result["same_as"]["differences"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Photo -> full report per page, as `vizecg predict` runs it, in one process after start-up.

    .venv/bin/python benchmarks/predict_speed.py [--backend onnx|torch] [--pages 8] [--cores N] [--no-explain]

Pages: `vizecg render --source sample --n PAGES --photo phone --dpi 200 --seed 4242` (real PTB-XL records of the
embedded sample, printed and photographed), made once in a subprocess under --work and reused: the photo simulator
imports torch and the ONNX runtime must not. Then, in this process: start-up (imports and loading the readers,
timed), one warm-up page (untimed), then every page: read_image -> predict_page -> write_page (report.json,
report.html, the signal as WFDB + CSV), wall and process CPU time per page, split into the digitizer, the beat
finder and the classifier (with --backend torch this includes Grad-CAM, which calls the classifier again);
"other" is the rest (image checks, quality gate, the report). The beat finder reads an upright page beside the
digitizer (predict_page), so the stages may sum to more than the wall time: "other" is then the wall time left
after the digitizer and the classifier, less the beat finder's time, and never below 0. --cores N pins the
process to N cores first.
Prints a table and writes benchmarks/results/predict_speed_<backend>.json, with the load average before and after
(the numbers mean little on a loaded machine without it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TORCH_FAMILY = ("torch", "torchvision", "timm", "ultralytics")


def make_pages(work: Path, n: int, seed: int, style: str = "fixed") -> list[Path]:
    """n phone photos of the embedded sample at 200 dpi (rendered once under `work`, then reused)."""
    folder = work / f"phone_{style}_s{seed}_n{n}"
    if not (folder / "summary.json").is_file():
        subprocess.run([sys.executable, "-m", "vizecg.cli", "render", "--source", "sample", "--n", str(n), "--photo",
                        "phone", "--style", style, "--dpi", "200", "--seed", str(seed), "--workers", "1", "--quiet",
                        "--out", str(folder)], check=True, cwd=REPO)
    return sorted((folder / "images").glob("*.jpg"))


class Stages:
    """Wall and process CPU time per stage, summed over a page: wraps the callables predict_page is handed."""

    def __init__(self):
        self.times: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0
                self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c0

        return timed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("onnx", "torch"), default="onnx")
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--cores", type=int, default=0, help="pin to this many cores (0: as started)")
    ap.add_argument("--no-explain", action="store_true", help="torch backend: skip Grad-CAM")
    ap.add_argument("--work", default=str(REPO / "runs" / "predict_speed"))
    ap.add_argument("--out", help="JSON (default benchmarks/results/predict_speed_<backend>.json)")
    args = ap.parse_args()
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cores])
    work = Path(args.work)
    pages = make_pages(work, args.pages + 1, args.seed)  # +1: the warm-up page
    load_before = os.getloadavg()

    t0, c0 = time.perf_counter(), time.process_time()
    from vizecg.commands.predict import build_readers, write_page
    from vizecg.images import read_image
    from vizecg.predict import default_digitizer, predict_page

    finder, model, _ = build_readers(backend=args.backend)
    startup = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}

    stages = Stages()
    finder = stages.wrap("beat_finder", finder)
    digitizer = stages.wrap("digitizer", default_digitizer)
    model.probabilities = stages.wrap("classifier", model.probabilities)
    explain = {"explain": False} if args.no_explain else {}  # predict_page's default: Grad-CAM when it can
    rows = []
    for i, path in enumerate(pages):
        stages.times, stages.cpu = {}, {}
        t0, c0 = time.perf_counter(), time.process_time()
        image = read_image(path)
        pred = predict_page(image, finder, model, digitizer=digitizer, **explain)
        write_page(work / "out" / args.backend / path.stem, path.stem, image, pred)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if i == 0:
            continue  # warm-up: first-call allocations and caches
        row = {"page": path.name, "status": pred.status, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
               **{k: round(v, 3) for k, v in stages.times.items()}}
        row["other"] = round(max(0.0, wall - sum(stages.times.values())), 3)
        # process CPU time is the whole process's, and the beat finder's thread runs beside the digitizer: the
        # stages' CPU times overlap, and "other" is what is left, never below 0
        row["cpu"] = {k: round(v, 3) for k, v in stages.cpu.items()} | \
            {"other": round(max(0.0, cpu - sum(stages.cpu.values())), 3)}
        rows.append(row)
    imported = sorted({m.split(".")[0] for m in sys.modules} & set(TORCH_FAMILY))
    walls = [r["wall_s"] for r in rows]
    result = {
        "command": "python benchmarks/predict_speed.py " + " ".join(sys.argv[1:]),
        "backend": args.backend, "explain": args.backend == "torch" and not args.no_explain,
        "pages": len(rows), "startup": {k: round(v, 2) for k, v in startup.items()},
        "wall_s_per_page": {"median": round(statistics.median(walls), 3), "mean": round(statistics.mean(walls), 3),
                            "max": round(max(walls), 3)},
        "cpu_s_per_page_median": round(statistics.median(r["cpu_s"] for r in rows), 3),
        "stages_median_s": {k: round(statistics.median(r.get(k, 0.0) for r in rows), 3)
                            for k in ("digitizer", "beat_finder", "classifier", "other")},
        "stages_cpu_median_s": {k: round(statistics.median(r["cpu"].get(k, 0.0) for r in rows), 3)
                                for k in ("digitizer", "beat_finder", "classifier", "other")},
        "torch_family_imported": imported,
        "machine": {"cpus": os.cpu_count(), "cores_used": len(os.sched_getaffinity(0)),
                    "platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_before": [round(x, 2) for x in load_before],
                    "load_avg_after": [round(x, 2) for x in os.getloadavg()]},
        "rows": rows,
    }
    print(f"{'page':24s} {'status':8s} {'wall s':>7s} {'cpu s':>7s} {'digitize':>9s} {'beats':>7s} {'classify':>9s} "
          f"{'other':>7s}")
    for r in rows:
        print(f"{r['page']:24s} {r['status']:8s} {r['wall_s']:7.3f} {r['cpu_s']:7.3f} {r.get('digitizer', 0):9.3f} "
              f"{r.get('beat_finder', 0):7.3f} {r.get('classifier', 0):9.3f} {r['other']:7.3f}")
    print("median CPU s per stage: " + ", ".join(f"{k} {v:.3f}" for k, v in result["stages_cpu_median_s"].items()))
    print(f"{args.backend}: median {result['wall_s_per_page']['median']:.3f} s/page (mean "
          f"{result['wall_s_per_page']['mean']:.3f}) over {len(rows)} pages after a {startup['wall_s']:.1f} s start-up "
          f"on {result['machine']['cores_used']} cores, load {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}; "
          f"torch family imported: {imported or 'none'}")
    out = Path(args.out or REPO / "benchmarks" / "results" / f"predict_speed_{args.backend}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

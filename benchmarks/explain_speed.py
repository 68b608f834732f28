"""What the Grad-CAM explanation (vizecg/predict/explain.py) adds to a page's time in `vizecg predict`.

    .venv/bin/python benchmarks/explain_speed.py [--pages 3] [--repeats 3]

Pages: records of the embedded sample printed at 150 dpi and photographed with the `phone` simulator (seeded),
read as `vizecg predict` reads them (shipped detector, the digitizer, the shipped student). Per page: explain()
alone on the beats predict_page found, and report_html with and without the explanation (two figures per class),
each the median of `repeats` timed runs after one warm-up; predict_page's whole time once, for scale (timing
predict_page twice and subtracting drowns the difference in the detector's and digitizer's noise). Wall time and
CPU time summed over threads (steadier on a shared machine). Prints a table, writes
benchmarks/results/explain_speed.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn, repeats: int) -> tuple[float, float, object]:
    out = fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


def main() -> None:
    from vizecg.commands.predict import detector_beat_finder
    from vizecg.data import load_source
    from vizecg.photo import photograph
    from vizecg.predict import predict_page
    from vizecg.predict.classifier import load_classifier
    from vizecg.predict.explain import explain
    from vizecg.predict.html import report_html
    from vizecg.render import RenderConfig, render_printout

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "explain_speed.json"))
    args = ap.parse_args()
    src = load_source("sample")
    finder, model = detector_beat_finder(), load_classifier()
    rows = []
    for k in range(args.pages):
        image = photograph(render_printout(src.get(src.record_ids[k]), RenderConfig(dpi=150), seed=7 + k), "phone",
                           seed=7 + k).image
        wall, cpu, pred = timed(lambda: predict_page(image, finder, model, explain=True), 1)
        beats = finder(pred.upright)
        names = [b.lead for b in pred.beats]
        ewall, ecpu, _ = timed(lambda: explain(model, pred.upright, beats.boxes, beats.order_keys, leads=names),
                               args.repeats)
        plain = dataclasses.replace(pred, explanation=None)
        hp_wall, hp_cpu, _ = timed(lambda: report_html(plain, image, plain.to_json()), args.repeats)
        he_wall, he_cpu, _ = timed(lambda: report_html(pred, image, pred.to_json()), args.repeats)
        rows.append({"record": src.record_ids[k], "image": list(image.shape[:2]), "status": pred.status,
                     "beats": len(pred.beats), "predict_s": round(wall, 3), "predict_cpu_s": round(cpu, 3),
                     "explain_s": round(ewall, 3), "explain_cpu_s": round(ecpu, 3),
                     "html_extra_s": round(he_wall - hp_wall, 3), "html_extra_cpu_s": round(he_cpu - hp_cpu, 3)})
    print(f"{'record':>8} {'size':>11} {'status':>7} {'beats':>5} | predict_page s | Grad-CAM s (cpu s) | "
          "report.html extra s (cpu s)")
    for r in rows:
        print(f"{r['record']:>8} {r['image'][1]:>5}x{r['image'][0]:<5} {r['status']:>7} {r['beats']:>5} | "
              f"{r['predict_s']:14.2f} | {r['explain_s']:.3f} ({r['explain_cpu_s']:.3f}) | "
              f"{r['html_extra_s']:.3f} ({r['html_extra_cpu_s']:.3f})")
    extra = {k: round(statistics.median(r[k] for r in rows), 3)
             for k in ("explain_s", "explain_cpu_s", "html_extra_s", "html_extra_cpu_s", "predict_s")}
    print(f"median per page: Grad-CAM {extra['explain_s']:.3f} s ({extra['explain_cpu_s']:.3f} s cpu), report.html "
          f"+{extra['html_extra_s']:.3f} s ({extra['html_extra_cpu_s']:.3f} s cpu); predict_page in all "
          f"{extra['predict_s']:.2f} s")
    result = {"command": "benchmarks/explain_speed.py " + " ".join(sys.argv[1:]), "pages": rows,
              "median_extra": extra, "threads": torch.get_num_threads(), "cpu": platform.processor() or "?"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

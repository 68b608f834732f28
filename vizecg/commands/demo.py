"""`vizecg demo [--out runs/demo]`: the whole path on the embedded sample (60 real PTB-XL records).

Data summary -> photographed printouts (mixed severities) -> signal model, image baseline, teacher, distilled
student on a patient-wise split -> test metrics with bootstrap intervals and ROC curves -> the beat detector and
the digitizer on one photo (when available) -> OUT/report.md and OUT/report.html. Re-running resumes.
The demo's numbers come from 13 test records: they show that the path works, they are not claims.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vizecg.commands.options import out_dir

if TYPE_CHECKING:  # the CLI imports its heavy modules inside the sub-command
    from vizecg.data import RenderPage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="the whole path on the embedded sample, with an HTML report",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/demo", type=out_dir, help="output folder (default runs/demo)")
    p.add_argument("--config", help="benchmark YAML (default configs/benchmark_demo.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="benchmark config override")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from distill.benchmark import BenchmarkConfig, profile_path, run_benchmark
    from vizecg.config import load_config
    from vizecg.data import load_source
    from vizecg.data.summary import format_summary, summarize_source
    from vizecg.report import write_report
    from vizecg.runs import write_json

    t0 = time.perf_counter()
    out = Path(args.out)
    cfg = load_config(BenchmarkConfig, args.config or profile_path("demo"), list(args.set))
    print(f"demo: data summary of {cfg.source}")
    summary_text = format_summary(summarize_source(load_source(cfg.source)))
    print(summary_text)
    results = run_benchmark(cfg, out / "benchmark", progress=not args.quiet)
    example = example_page(out, results["detector"]["available"])
    blocks = demo_blocks(cfg, results, summary_text, example)
    blocks.append(("p", f"Demo wall time: {time.perf_counter() - t0:.0f} s (this run; stages finished by an "
                        "earlier run are reused)."))
    paths = write_report(out, blocks, title="VizECG demo")
    write_json(out / "demo.json", {"results": "benchmark/results.json", "example": example,
                                   "wall_s": round(time.perf_counter() - t0, 1)})
    print(f"demo: report -> {', '.join(str(p) for p in paths)}")
    return 0


def example_page(out: Path, detector_available: bool) -> dict[str, Any]:
    """One test photo with its ground-truth beat boxes (green) and, if the detector exists, its boxes (blue);
    the digitizer's scores on it when the digitizer can be imported."""
    import json

    from distill.data import truth_boxes
    from vizecg.data import RenderFolder
    from vizecg.images import read_image, write_image
    from vizecg.report import draw_boxes

    render = RenderFolder(out / "benchmark" / "render", require=("record_id",))
    cfg_folds = json.loads((out / "benchmark" / "results.json").read_text())["config"]["test_folds"]
    page = min(render.select(folds=cfg_folds) or render.pages, key=lambda p: p.id)
    label = page.read_label()
    image = read_image(page.image)
    gt, _, _ = truth_boxes(label, page.label)
    shown = draw_boxes(image, gt, color=(0, 170, 0))
    info: dict[str, Any] = {"id": page.id, "record_id": page.record_id, "photo": label.get("photo"),
                            "truth_beats": int(len(gt)), "image": "example_photo.png"}
    if detector_available:
        from detector.infer import BeatDetector

        det = BeatDetector().detect(image)
        shown = draw_boxes(shown, det.beat_boxes, color=(0, 90, 255))
        info["detector"] = {"beats": int(det.is_beat.sum()), "layout": det.layout}
    else:
        info["detector"] = None
    write_image(out / "example_photo.png", shown, max_side=1400)
    info["digitizer"] = digitize_example(page, image)
    return info


def digitize_example(page: RenderPage, image: Any) -> dict[str, Any] | str:
    """The digitizer on a render folder's page, scored against its true signal."""
    from dataclasses import replace

    from vizecg.digitize import DigitizeConfig, digitize
    from vizecg.digitize.evaluate import score_page
    from vizecg.errors import DigitizeError

    record = page.read_signal()
    t0 = time.perf_counter()
    try:
        result = digitize(image, replace(DigitizeConfig(), fs=record.fs))
    except DigitizeError as exc:
        return f"the digitizer refused this photo: {exc.problem}"
    score = score_page(result, record, page.read_truth())
    return {"seconds": round(time.perf_counter() - t0, 2), "leads": len(score["leads"]),
            "snr_db": score["snr_db"], "pearson_r": score["pearson_r"], "rmse_mv": score["rmse_mv"],
            "layout": result.found.get("layout")}


def demo_blocks(cfg: Any, results: dict[str, Any], summary_text: str, example: dict[str, Any]) -> list[tuple]:
    from distill.benchmark import results_blocks
    from vizecg.report import fmt

    blocks: list[tuple] = [
        ("h1", "VizECG demo"),
        ("p", "**These numbers are not claims.** The demo trains tiny models for a few epochs on the embedded "
              "sample (60 real PTB-XL records; 13 test records), so its intervals are wide and its rankings can "
              "flip with the seed. It shows that the whole path runs: real signals -> printouts -> simulated "
              "phone photos -> signal, image, teacher and distilled student models -> metrics. For measured "
              "results see docs/BENCHMARKS.md (`vizecg benchmark --profile cpu`)."),
        ("h2", "Data"),
        ("pre", summary_text),
        ("p", f"Split: patient-wise PTB-XL strat_fold {cfg.train_folds} train, {cfg.val_folds} validation, "
              f"{cfg.test_folds} test. Pages: {cfg.layout} layout at {cfg.render.dpi} dpi, photographed with "
              f"`{cfg.photo}` severities."),
        ("h2", "Results on the test records"),
    ]
    blocks += results_blocks(results, heading="h3")
    blocks.append(("image", "benchmark/roc.png", "ROC curves on the test records, one panel per class"))
    blocks.append(("h2", "One photographed page"))
    det = example["detector"]
    det_text = (f"the beat detector found {det['beats']} beats (blue; layout {det['layout']})" if det else
                "beat detector: skipped (its shipped weights are not present in this install)")
    blocks.append(("image", example["image"], f"{example['id']} (record {example['record_id']}): "
                   f"{example['truth_beats']} ground-truth beat boxes (green); {det_text}"))
    dig = example["digitizer"]
    if isinstance(dig, dict):
        blocks.append(("p", f"Digitizer on this photo: {dig['leads']} leads compared with the true signal, mean "
                            f"SNR {fmt(dig['snr_db'], 1)} dB, Pearson r {fmt(dig['pearson_r'], 2)}, RMSE "
                            f"{fmt(dig['rmse_mv'], 3)} mV ({dig['seconds']} s)."))
    else:
        blocks.append(("p", f"Digitizer: {dig}."))
    t = results.get("timings_s", {})
    blocks.append(("p", "Stage times (s, this run): " + ", ".join(f"{k} {v:.0f}" for k, v in t.items()) + "."))
    return blocks

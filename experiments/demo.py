"""`vizecg demo`: the whole path on the embedded sample (60 real PTB-XL records), into OUT/report.md and .html.

    run_demo(load_benchmark_config(profile_path("demo")), "runs/demo")

Data summary -> photographed printouts (mixed severities) -> signal model, image baseline, teacher, distilled
student on a patient-wise split -> test metrics with bootstrap intervals and ROC curves -> the beat detector and
the digitizer on one photo (when available) -> OUT/report.md and OUT/report.html. Re-running resumes (the
benchmark's resume rule). The demo's numbers come from 13 test records: they show that the path works, they are
not claims.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments.config import BenchmarkConfig

if TYPE_CHECKING:
    from vizecg.data import RenderPage


def run_demo(cfg: BenchmarkConfig, out: str | Path, progress: bool = True) -> list[Path]:
    """The demo into `out` (the benchmark in OUT/benchmark); returns the report's paths."""
    from experiments.benchmark import run_benchmark
    from vizecg.data import load_source
    from vizecg.data.summary import format_summary, summarize_source
    from vizecg.report import write_report
    from vizecg.runs import write_json

    t0 = time.perf_counter()
    out = Path(out)
    print(f"demo: data summary of {cfg.source}")
    summary_text = format_summary(summarize_source(load_source(cfg.source)))
    print(summary_text)
    results = run_benchmark(cfg, out / "benchmark", progress=progress)
    example = example_page(cfg, out, results["detector"]["available"])
    blocks = demo_blocks(cfg, results, summary_text, example)
    blocks.append(("p", f"Demo wall time: {time.perf_counter() - t0:.0f} s (this run; stages finished by an "
                        "earlier run are reused)."))
    paths = write_report(out, blocks, title="VizECG demo")
    write_json(out / "demo.json", {"results": "benchmark/results.json", "example": example,
                                   "wall_s": round(time.perf_counter() - t0, 1)})
    return paths


def example_page(cfg: BenchmarkConfig, out: Path, detector_available: bool) -> dict[str, Any]:
    """One test photo with its ground-truth beat boxes (green) and, if the detector exists, its boxes (blue);
    the digitizer's scores on it when the digitizer can be imported."""
    from distill.data import truth_boxes
    from vizecg.data import RenderFolder
    from vizecg.images import read_image, write_image
    from vizecg.report import draw_boxes

    render = RenderFolder(out / "benchmark" / "render", require=("record_id",))
    page = min(render.select(**cfg.selection("test")) or render.pages, key=lambda p: p.id)
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
    info["digitizer"] = digitize_example(cfg, page, image)
    return info


def digitize_example(cfg: BenchmarkConfig, page: RenderPage, image: Any) -> dict[str, Any] | str:
    """The benchmark's digitizer (cfg.digitize) on a render folder's page, scored against its true signal."""
    from dataclasses import replace

    from vizecg.digitize import digitize
    from vizecg.digitize.evaluate import score_page
    from vizecg.errors import DigitizeError

    record = page.read_signal()
    t0 = time.perf_counter()
    try:
        result = digitize(image, replace(cfg.digitize, fs=record.fs))
    except DigitizeError as exc:
        return f"the digitizer refused this photo: {exc.problem}"
    score = score_page(result, record, page.read_truth())
    return {"seconds": round(time.perf_counter() - t0, 2), "leads": len(score["leads"]),
            "snr_db": score["snr_db"], "pearson_r": score["pearson_r"], "rmse_mv": score["rmse_mv"],
            "layout": result.found.get("layout")}


def demo_blocks(cfg: BenchmarkConfig, results: dict[str, Any], summary_text: str,
                example: dict[str, Any]) -> list[tuple]:
    from experiments.report import results_blocks
    from vizecg.report import fmt

    pages = results.get("split", {}).get("pages", {})
    split = (f"PTB-XL strat_fold {cfg.train_folds} train, {cfg.val_folds} validation, {cfg.test_folds} test"
             if cfg.by_folds else "the one fold rule (PTB-XL strat_fold 1-8 train, 9 validation, 10 test)")
    blocks: list[tuple] = [
        ("h1", "VizECG demo"),
        ("p", "**These numbers are not claims.** The demo trains tiny models for a few epochs on the embedded "
              "sample (60 real PTB-XL records; 13 test records), so its intervals are wide and its rankings can "
              "flip with the seed. It shows that the whole path runs: real signals -> printouts -> simulated "
              "phone photos -> signal, image, teacher and distilled student models -> metrics. For measured "
              "results see docs/BENCHMARKS.md (`vizecg benchmark --profile cpu`)."),
        ("h2", "Data"),
        ("pre", summary_text),
        ("p", f"Split: patient-wise, {split}"
              + (f": {pages.get('train')} / {pages.get('val')} / {pages.get('test')} pages" if pages else "")
              + f". Pages: {cfg.render.layout} layout at {cfg.render.render.dpi} dpi, photographed with "
              f"`{cfg.render.photo}` severities."),
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

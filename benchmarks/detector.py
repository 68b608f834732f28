"""Beat detector benchmark: held-out PTB-XL fold-10 records, render seeds never used in training, one page per
record per photo severity (none/scan/phone/screen, the plain presets at full strength); precision/recall/mAP per
severity and per page group (heart rate > 100/min, 50 mm/s paper) for the shipped weights, the share of pages
whose 3x4+1 layout is recognised (13 panels at the weights' panel bar, so every beat gets its lead name), beats
found on background images that hold no ECG (detector.negatives, a seed never used in training, per kind), and
CPU latency per page for PyTorch and ONNX. Prints a table, writes benchmarks/results/detector.json.

    .venv/bin/python benchmarks/detector.py [--records 66] [--weights W] [--seed 90000]
    # development runs on the validation fold, never on fold 10:
    .venv/bin/python benchmarks/detector.py --fold 9 --records 30 --severities phone --seed 95000 --out F
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEVERITIES = ("none", "scan", "phone", "screen")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ptbxl", default=str(REPO.parent / "shared" / "data" / "ptbxl"))
    p.add_argument("--records", type=int, default=66, help="records of the fold (pages per severity; 66: all of "
                   "fold 10 in records 1-500)")
    p.add_argument("--fold", type=int, default=10, help="PTB-XL fold: 10 (test, never trained on) or 9 (validation)")
    p.add_argument("--severities", nargs="+", choices=SEVERITIES, default=list(SEVERITIES))
    p.add_argument("--weights", default=None)
    p.add_argument("--imgsz", type=int, default=None, help="input size (default: the weights' operating point)")
    p.add_argument("--conf", type=float, default=None, help="beat score (default: the weights' operating point)")
    p.add_argument("--seed", type=int, default=90_000, help="render/photo seeds; training drew its pages from render seeds 1000-7000")
    p.add_argument("--panel-conf", type=float, default=None, help="lead_panel bar (default: the weights' own)")
    p.add_argument("--negatives", type=int, default=70, help="background images (detector.negatives; 0: none)")
    p.add_argument("--negatives-seed", type=int, default=20_000,
                   help="seed of the background images; stage 10 trained on seed 10000")
    p.add_argument("--latency-pages", type=int, default=5)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "detector.json"))
    args = p.parse_args(argv)

    from vizecg.offline import configure_offline

    configure_offline()
    import torch
    from tqdm import tqdm

    from detector import BeatDetector
    from detector.evaluate import eval_page, evaluate
    from detector.export import export_onnx
    from vizecg.commands.detector import format_table
    from vizecg.data import load_source
    from vizecg.photo import photograph
    from vizecg.render import RenderConfig, random_render_config, render_printout
    from vizecg.runs import write_json

    src = load_source(f"ptbxl:{args.ptbxl}")
    meta = src.metadata
    ids = [r for r in src.record_ids if int(meta.loc[r, "strat_fold"]) == args.fold][: args.records]
    pages = []
    for i, rid in enumerate(tqdm(ids, desc=f"render fold {args.fold}", unit="record")):
        record = src.get(rid)
        rng = np.random.default_rng(args.seed + i)
        cfg = random_render_config(rng, RenderConfig())
        clean = render_printout(record, cfg, seed=args.seed + i)
        groups = page_groups(record, cfg)
        for k, sev in enumerate(SEVERITIES):  # a page's seed follows its severity's name, not --severities
            if sev not in args.severities:
                continue
            page = clean if sev == "none" else photograph(clean, sev, seed=args.seed + 1000 * (k + 1) + i)
            pages.append(eval_page(page.image, page.truth, sev, groups))

    det = BeatDetector(args.weights, imgsz=args.imgsz, conf=args.conf, panel_conf=args.panel_conf)
    t0 = time.perf_counter()
    quality = evaluate(det, pages, total=len(pages))
    eval_s = time.perf_counter() - t0

    negatives = negative_images(det, args.negatives, args.negatives_seed)

    onnx_path = export_onnx(det.weights, imgsz=det.imgsz)
    onnx = BeatDetector(onnx_path, backend="onnx", conf=det.conf, panel_conf=det.panel_conf)
    lat = {}
    sample = [pg.image for pg in pages[: args.latency_pages * len(args.severities): len(args.severities)]]
    for name, d in (("torch", det), ("onnx", onnx)):
        d.detect(sample[0])  # warm-up
        ts = []
        for img in sample:
            t = time.perf_counter()
            d.detect(img)
            ts.append(time.perf_counter() - t)
        lat[name] = {"mean_ms": round(1000 * float(np.mean(ts)), 1), "median_ms": round(1000 * float(np.median(ts)), 1)}
    onnx_sev = "phone" if "phone" in args.severities else args.severities[0]
    onnx_quality = evaluate(onnx, [pg for pg in pages if pg.severity == onnx_sev], progress=False)

    result = {
        "weights": str(det.weights), "imgsz": det.imgsz, "conf": det.conf, "panel_conf": det.panel_conf,
        "records": ids, "fold": args.fold, "seed": args.seed, "pages": len(pages), "quality": quality,
        "layout": quality["layout"], "negatives": negatives,
        "onnx": {"severity": onnx_sev, **{k: onnx_quality[k] for k in ("precision", "recall", "mAP50", "mAP50-95")}},
        "latency_per_page": lat, "eval_seconds": round(eval_s, 1),
        "cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
        "command": "python benchmarks/detector.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    write_json(args.out, result)
    print(f"\nbeat detector, fold {args.fold} ({len(ids)} records x {len(args.severities)} severities), "
          f"imgsz {det.imgsz}")
    print(format_table(quality, calibration=False))
    lay = quality["layout"]
    print(f"layout recognised (panel bar {det.panel_conf:g}): {lay['recognised']:.3f} of {lay['pages']} pages; "
          + ", ".join(f"{k} {v:.3f}" for k, v in lay["per_severity"].items()))
    if negatives:
        print(f"background images (seed {args.negatives_seed}): kind, images, with beats, beats, panels, "
              "top beat score")
        for kind, r in negatives["per_kind"].items():
            print(f"  {kind:<8}{r['images']:>4}{r['with_beats']:>6}{r['beats']:>6}{r['panels']:>6}"
                  f"{r['max_beat_score']:>8.3f}")
    print(f"ONNX on {onnx_sev}: P {result['onnx']['precision']:.3f} R {result['onnx']['recall']:.3f}")
    print(f"latency per page (CPU, {torch.get_num_threads()} threads): torch {lat['torch']['mean_ms']} ms, "
          f"onnx {lat['onnx']['mean_ms']} ms")
    print(f"-> {args.out}")
    return 0


def negative_images(det, n: int, seed: int) -> dict | None:
    """Beats and panels `det.detect` finds on n background images of detector.negatives (item k is kind k mod 7)."""
    from detector.negatives import KINDS, make_negative

    if n <= 0:
        return None
    per_kind = {k: {"images": 0, "with_beats": 0, "beats": 0, "panels": 0, "max_beat_score": 0.0} for k in KINDS}
    for k in range(n):
        neg = make_negative(seed, k)
        found = det.detect(neg.image)
        beats = found.scores[found.is_beat]
        r = per_kind[neg.kind]
        r["images"] += 1
        r["with_beats"] += int(len(beats) > 0)
        r["beats"] += int(len(beats))
        r["panels"] += int(len(found.panels))
        r["max_beat_score"] = round(max(r["max_beat_score"], float(beats.max()) if len(beats) else 0.0), 4)
    total = {key: sum(r[key] for r in per_kind.values()) for key in ("images", "with_beats", "beats", "panels")}
    return {"seed": seed, **total, "per_kind": per_kind}


def page_groups(record, cfg) -> tuple[str, ...]:
    """Groups a page belongs to besides its severity: the pages where beats are narrow or wide on paper."""
    from vizecg.render.beats import record_beats

    r = record_beats(record).r_sample
    rate = 60.0 * record.fs / float(np.median(np.diff(r))) if len(r) > 1 else 0.0
    groups = ["rate>100" if rate > 100 else "rate<=100"]
    if cfg.speed_mm_s != 25.0:
        groups.append(f"{cfg.speed_mm_s:g}mm/s")
    return tuple(groups)


if __name__ == "__main__":
    sys.exit(main())

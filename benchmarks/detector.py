"""Beat detector benchmark: held-out PTB-XL fold-10 records, render seeds never used in training, one page per
record per photo severity (none/scan/phone/screen, the plain presets at full strength); precision/recall/mAP per
severity and per page group (heart rate > 100/min, 50 mm/s paper) for the shipped weights, the share of pages
whose 3x4+1 layout is recognised (13 panels at the weights' panel bar, so every beat gets its lead name), beats
found on background images that hold no ECG (detector.negatives, a seed never used in training, per kind), and
CPU latency per page for PyTorch and ONNX. Prints a table, writes benchmarks/results/detector.json.

With --families N, also per print-style family (vizecg/render/style.py): N fold-10 records printed in a style
drawn from each family, clean and photographed (phone), with beat precision/recall, the share of printed panels
whose lead name the PageLayout reads right (a printed panel matched to a detected one at IoU >= 0.5), the share
of pages whose layout rows come back exact, and the share of printed panels found at all; --left-out names the
families the weights never trained on (marked in the table, averaged apart).

    .venv/bin/python benchmarks/detector.py [--records 66] [--weights W] [--seed 90000]
    .venv/bin/python benchmarks/detector.py --records 0 --families 20 --left-out thermal-dots,export-green,cabrera-6x2 \
        --weights W --out benchmarks/results/detector_families.json
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
    p.add_argument("--families", type=int, default=0, help="records per print-style family (0: no family part)")
    p.add_argument("--family-conditions", nargs="+", choices=SEVERITIES, default=["none", "phone"])
    p.add_argument("--family-seed", type=int, default=97_000)
    p.add_argument("--left-out", default="", help="comma-separated families the weights never trained on")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "detector.json"))
    args = p.parse_args(argv)

    from vizecg.offline import configure_offline

    configure_offline()
    import torch

    from detector import BeatDetector
    from vizecg.data import load_source
    from vizecg.runs import write_json

    src = load_source(f"ptbxl:{args.ptbxl}@500")  # records 1-500, the pages every earlier result used
    fold = src.metadata["strat_fold"]
    fold_ids = [r for r in src.record_ids if int(fold[r]) == args.fold]
    det = BeatDetector(args.weights, imgsz=args.imgsz, conf=args.conf, panel_conf=args.panel_conf)
    result = {"weights": str(det.weights), "imgsz": det.imgsz, "conf": det.conf, "panel_conf": det.panel_conf,
              "fold": args.fold, "cpu": platform.processor() or platform.machine(),
              "torch_threads": torch.get_num_threads(),
              "command": "python benchmarks/detector.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.records > 0:
        result.update(default_style_part(args, src, fold_ids[: args.records], det))
    if args.families > 0:
        left_out = [f for f in args.left_out.split(",") if f]
        result["families"] = family_part(src, fold_ids[: args.families], det, args.family_conditions,
                                         args.family_seed, left_out)
    write_json(args.out, result)
    print(f"-> {args.out}")
    return 0


def default_style_part(args, src, ids: list[str], det) -> dict:
    """Today's benchmark: one page per record per severity in the default style space (3x4+1, random looks)."""
    import torch
    from tqdm import tqdm

    from detector import BeatDetector
    from detector.evaluate import eval_page, evaluate
    from detector.export import export_onnx
    from vizecg.commands.detector import format_table
    from vizecg.photo import photograph
    from vizecg.render import RenderConfig, random_render_config, render_printout

    from detector.evaluate import layout_exact, panels_named_right, printed_panels

    pages, printed = [], []
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
            printed.append(printed_panels(page.truth))

    t0 = time.perf_counter()
    quality = evaluate(det, pages, total=len(pages))
    eval_s = time.perf_counter() - t0
    # what `detect()` returns (merged and nested panels, PageLayout from the read names), not the raw panel boxes
    # cut at the bar that `quality["layout"]` scores
    read: dict[str, list[tuple[bool, float]]] = {}
    for pg, pr in zip(tqdm(pages, desc="page layouts", unit="page"), printed):
        found = det.detect(pg.image)
        rows = found.page_layout.rows if found.page_layout is not None else []
        read.setdefault(pg.severity, []).append(
            (layout_exact(pr, rows), float(panels_named_right(pr, found.panels, found.panel_leads).mean())))
    every = [v for vs in read.values() for v in vs]
    layout_read = {"exact": round(float(np.mean([e for e, _ in every])), 4),
                   "names_right": round(float(np.mean([n for _, n in every])), 4),
                   "per_severity": {k: {"exact": round(float(np.mean([e for e, _ in vs])), 4),
                                        "names_right": round(float(np.mean([n for _, n in vs])), 4)}
                                    for k, vs in read.items()}}

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
        "records": ids, "seed": args.seed, "pages": len(pages), "quality": quality,
        "layout": quality["layout"], "layout_read": layout_read, "negatives": negatives,
        "onnx": {"severity": onnx_sev, **{k: onnx_quality[k] for k in ("precision", "recall", "mAP50", "mAP50-95")}},
        "latency_per_page": lat, "eval_seconds": round(eval_s, 1),
    }
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
    print(f"detect(): rows of lead names read exactly on {layout_read['exact']:.3f} of the pages, printed panels "
          f"named right {layout_read['names_right']:.3f}; "
          + ", ".join(f"{k} {v['exact']:.3f}" for k, v in layout_read["per_severity"].items()))
    print(f"ONNX on {onnx_sev}: P {result['onnx']['precision']:.3f} R {result['onnx']['recall']:.3f}")
    print(f"latency per page (CPU, {torch.get_num_threads()} threads): torch {lat['torch']['mean_ms']} ms, "
          f"onnx {lat['onnx']['mean_ms']} ms")
    return result


def family_part(src, ids: list[str], det, conditions: list[str], seed: int, left_out: list[str]) -> dict:
    """Per print-style family: beats (P/R), lead names read right per printed panel, layouts read exactly, printed
    panels found; pages made and scored one family at a time (a family's pages fit in memory, all do not)."""
    from tqdm import tqdm

    from detector.evaluate import eval_page, evaluate, layout_exact, panels_named_right, printed_panels
    from detector.geometry import pairwise_iou
    from vizecg.photo import photograph
    from vizecg.render import draw_print_style, list_families, render_print_style

    unknown = [f for f in left_out if f not in list_families()]
    if unknown:
        raise SystemExit(f"--left-out: unknown families {unknown} (known: {', '.join(list_families())})")
    out: dict[str, dict] = {}
    records = {rid: src.get(rid) for rid in ids}
    for f_index, family in enumerate(list_families()):
        pages, named, exact, found = [], [], [], []
        per_condition: dict[str, list[list[bool]]] = {c: [[], []] for c in conditions}
        for i, rid in enumerate(tqdm(ids, desc=family, unit="record")):
            page_seed = seed + 1000 * f_index + i
            style = draw_print_style(np.random.default_rng(page_seed), family=family)
            clean = render_print_style(records[rid], style, 200, seed=page_seed)
            for k, cond in enumerate(SEVERITIES):
                if cond not in conditions:
                    continue
                page = clean if cond == "none" else photograph(clean, cond, seed=page_seed + 500_000 * (k + 1))
                pages.append(eval_page(page.image, page.truth, cond))
                printed = printed_panels(page.truth)
                read = det.detect(page.image)
                rows = read.page_layout.rows if read.page_layout is not None else []
                right = panels_named_right(printed, read.panels, read.panel_leads)
                named += right.tolist()
                exact.append(layout_exact(printed, rows))
                per_condition[cond][0] += right.tolist()
                per_condition[cond][1].append(exact[-1])
                if len(read.panels) and len(printed.boxes):
                    found += (pairwise_iou(printed.boxes, read.panels.astype(np.float64)).max(1) >= 0.5).tolist()
                else:
                    found += [False] * len(printed.boxes)
        q = evaluate(det, pages, progress=False)
        out[family] = {
            "left_out": family in left_out, "pages": len(pages),
            "beats": {"precision": q["precision"], "recall": q["recall"], "mAP50": q["mAP50"],
                      "per_condition": {c: {"precision": v["precision"], "recall": v["recall"]}
                                        for c, v in q["per_severity"].items()}},
            "panels_named_right": round(float(np.mean(named)), 4) if named else None,
            "layout_exact": round(float(np.mean(exact)), 4) if exact else None,
            "panels_found": round(float(np.mean(found)), 4) if found else None,
            "per_condition": {c: {"panels_named_right": round(float(np.mean(v[0])), 4) if v[0] else None,
                                  "layout_exact": round(float(np.mean(v[1])), 4) if v[1] else None}
                              for c, v in per_condition.items()},
        }
    keys = ("panels_named_right", "layout_exact", "panels_found")
    for name, group in (("left_out_mean", [v for v in out.values() if v["left_out"]]),
                        ("trained_mean", [v for v in out.values() if not v["left_out"]])):
        if group:
            out[name] = {"families": len(group), **{k: round(float(np.mean([g[k] for g in group])), 4) for k in keys},
                         **{f"beat_{k}": round(float(np.mean([g["beats"][k] for g in group])), 4)
                            for k in ("precision", "recall")}}
    print(f"\nper print-style family ({len(ids)} fold-10 records x {', '.join(conditions)}; * = left out of "
          "training)")
    print(f"{'family':<18}{'beat P':>8}{'beat R':>8}{'panels found':>14}{'names right':>13}{'layout exact':>14}")
    for family, v in out.items():
        if "beats" in v:
            print(f"{family + ('*' if v['left_out'] else ''):<18}{v['beats']['precision']:>8.3f}"
                  f"{v['beats']['recall']:>8.3f}{v['panels_found']:>14.3f}{v['panels_named_right']:>13.3f}"
                  f"{v['layout_exact']:>14.3f}")
        else:
            print(f"{family:<18}{v['beat_precision']:>8.3f}{v['beat_recall']:>8.3f}{v['panels_found']:>14.3f}"
                  f"{v['panels_named_right']:>13.3f}{v['layout_exact']:>14.3f}")
    return {"records": ids, "seed": seed, "conditions": conditions, "left_out": left_out, "per_family": out}


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

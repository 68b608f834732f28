"""`vizecg detector`: train, evaluate, run and export the YOLO beat detector (detector/).

    vizecg detector train --data RENDER_DIR [--val-data DIR] [--config configs/detector.yaml] [--set k=v] --out RUN
    vizecg detector eval [--weights W] --data RENDER_DIR [--folds 10] [--json]
    vizecg detector predict IMAGE [--weights W] [--out DIR]
    vizecg detector export [--weights W] --out model.onnx
"""
from __future__ import annotations

import argparse
import json
import sys

from vizecg.commands.options import float_in, input_size, out_dir, out_file, tile_size


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("detector", help="train / evaluate / run / export the beat detector",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="detector_command", required=True, metavar="ACTION")

    t = sub.add_parser("train", help="train YOLO on `vizecg render` folders (folds 1-8 train, 9 val)")
    t.add_argument("--data", action="append", default=[], help="render output folder (repeatable)")
    t.add_argument("--val-data", action="append", default=[], help="folder used only for validation (repeatable)")
    t.add_argument("--config", help="YAML mapping onto DetectorConfig (default: built-in defaults)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. train.epochs=5")
    t.add_argument("--out", default="runs/detector", type=out_dir, help="run folder (config, log, summary, beats_yolo.pt)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=run_train)

    e = sub.add_parser("eval", help="precision/recall/mAP overall and per photo severity")
    e.add_argument("--weights", help=".pt or .onnx (default: the shipped weights)")
    e.add_argument("--data", action="append", required=True,
                   help="render output folder (labels/*.json + manifest.csv; repeatable)")
    e.add_argument("--folds", help="only pages of these PTB-XL folds, e.g. 10 or 9,10")
    e.add_argument("--conf", type=float_in(0, 1), help="operating score for precision/recall (default: the weights' calibrated one)")
    e.add_argument("--imgsz", type=input_size, help="model input px, a multiple of 32")
    e.add_argument("--tile", type=tile_size, default=0, help="tile side in page px (0 = whole page)")
    e.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    e.add_argument("--json", action="store_true", help="print the full JSON instead of a table")
    e.add_argument("--out", type=out_file, help="also write the JSON here")
    e.add_argument("--write-sidecar", action="store_true",
                   help="calibrate: write the operating point these validation pages give (beat score at precision "
                        "0.95, lead-panel bar, input size) to the weights' sidecar <stem>.json; refused with fold 10")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=run_eval)

    pr = sub.add_parser("predict", help="boxes JSON + overlay PNG for one page image")
    pr.add_argument("image")
    pr.add_argument("--weights")
    pr.add_argument("--conf", type=float_in(0, 1), help="default: the weights' calibrated score")
    pr.add_argument("--imgsz", type=input_size, help="model input px, a multiple of 32")
    pr.add_argument("--tile", type=tile_size, default=0, help="tile side in page px (0 = whole page)")
    pr.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    pr.add_argument("--out", default="runs/detector/predict", type=out_dir, help="folder for <stem>.json and <stem>.png")
    pr.set_defaults(func=run_predict)

    x = sub.add_parser("export", help="export weights to ONNX (onnxruntime inference: --backend onnx)")
    x.add_argument("--weights")
    x.add_argument("--imgsz", type=input_size, help="model input px, a multiple of 32")
    x.add_argument("--out", required=True, type=out_file, help="model.onnx")
    x.set_defaults(func=run_export)


def _weights(arg: str | None):
    from pathlib import Path

    from detector.infer import DEFAULT_WEIGHTS

    return Path(arg) if arg else DEFAULT_WEIGHTS


def run_train(args: argparse.Namespace) -> int:
    from detector.config import DetectorConfig
    from detector.train import train_detector
    from vizecg.config import load_config

    overrides = list(args.set)
    if args.data:
        overrides.append(f"data={json.dumps(args.data)}")
    if args.val_data:
        overrides.append(f"val_data={json.dumps(args.val_data)}")
    cfg = load_config(DetectorConfig, args.config, overrides)
    summary = train_detector(cfg, args.out, progress=not args.quiet)
    print(f"weights {summary['weights']} ({summary['size_mb']} MB), {summary['train_seconds']} s; "
          f"last val: {summary['val_metrics_last_epoch']}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from detector.evaluate import evaluate, iter_render_dir, render_dir_items
    from detector.infer import BeatDetector
    from vizecg.errors import ConfigError, DataError
    from vizecg.runs import write_json

    folds = None
    if args.folds:
        try:
            folds = tuple(int(f) for f in args.folds.split(","))
        except ValueError:
            raise ConfigError(f"--folds {args.folds!r}: expected comma-separated integers") from None
        if not all(1 <= f <= 10 for f in folds):
            raise ConfigError(f"--folds {args.folds!r}: PTB-XL folds are 1-10")
    if args.write_sidecar and (folds is None or 10 in folds):
        raise ConfigError("--write-sidecar calibrates on validation pages: give --folds without 10 (fold 10 is the "
                          "test fold; a test benchmark must not choose its score)")
    pairs = [pair for d in args.data for pair in render_dir_items(d, folds)]
    if not pairs:  # precision and recall over no pages would read as perfect
        raise DataError(f"no pages{f' of fold(s) {args.folds}' if folds else ''} in {', '.join(args.data)}")
    det = BeatDetector(_weights(args.weights), imgsz=args.imgsz, conf=args.conf, backend=args.backend, tile=args.tile)
    result = evaluate(det, iter_render_dir(pairs), total=len(pairs), progress=not args.quiet)
    result = {"weights": str(det.weights), "data": [str(d) for d in args.data], "folds": folds, "backend": args.backend,
              "imgsz": det.imgsz, "tile": args.tile, **result}
    if args.out:
        write_json(args.out, result)
    if args.write_sidecar:
        sidecar = det.weights.with_suffix(".json")
        write_json(sidecar, operating_point(result, len(pairs)))
        print(f"operating point -> {sidecar}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


def operating_point(result: dict, pages: int) -> dict:
    """The sidecar BeatDetector reads (detector.infer.operating_conf / _panel_conf / _imgsz) from an evaluation
    on validation pages: the most beat recall at precision 0.95, the lead-panel bar that recognises the most
    layouts, the input size; with where and how it was measured."""
    from vizecg.errors import DataError

    at, panel = result.get("beat_at_target_precision"), result.get("panel_calibration") or {}
    if not at:
        raise DataError("precision never reaches 0.95 on these pages: no operating point to write")
    return {"conf": at["conf"], "imgsz": result["imgsz"], "panel_conf": panel.get("panel_conf"),
            "rule": "conf: the lowest beat score at which precision (IoU 0.5) on the validation pages stays >= 0.95 "
                    "(the most recall at the issue's precision target); panel_conf: the middle of the longest run "
                    "of lead_panel bars that recognise the most validation pages' layouts (13 panels, 3x4+1)",
            "calibrated_on": f"PTB-XL fold(s) {','.join(map(str, result['folds']))}, {pages} pages at "
                             f"{result['imgsz']} px: {', '.join(result['data'])}",
            "at_conf": {"precision": at["precision"], "recall": at["recall"]},
            "max_f1": {"conf": result.get("beat_best_f1_conf"), "f1": result.get("beat_best_f1")},
            "panel": {k: panel.get(k) for k in ("recognised", "plateau")},
            "command": "vizecg " + " ".join(sys.argv[1:])}


def format_table(result: dict, calibration: bool = True) -> str:
    """Beat P/R/mAP overall, per photo severity and per page group; the last two columns leave the beats at a
    panel's ends out (see detector.evaluate.PANEL_END_S). calibration: end with the two operating-score
    candidates these pages would give (validation pages only; a test benchmark must not choose its score)."""
    rows = ([("all", result)] + list(result.get("per_severity", {}).items())
            + list(result.get("per_group", {}).items()))
    lines = [f"beats @ conf {result['conf']}, IoU 0.5 ({result['pages']} pages, {result['seconds_per_page']} s/page)",
             f"{'pages':<10}{'n':>6}{'beats':>7}{'P':>8}{'R':>8}{'mAP50':>8}{'mAP50-95':>10}"
             f"{'away from panel ends: P':>25}{'R':>7}"]
    for name, r in rows:
        b, inner = r["per_class"]["beat"], r.get("away_from_panel_ends", {})
        lines.append(f"{name:<10}{r['pages']:>6}{b['n_true']:>7}{_f(r['precision'])}{_f(r['recall'])}"
                     f"{_f(r['mAP50'])}{_f(r['mAP50-95'], 10)}{_f(inner.get('precision'), 25)}"
                     f"{_f(inner.get('recall'), 7)}")
    if calibration:
        at = result.get("beat_at_target_precision")
        lines.append(f"score for calibration: max F1 {result.get('beat_best_f1')} at {result.get('beat_best_f1_conf')}; "
                     + (f"most recall at P >= {at['target']}: {at['conf']} (P {at['precision']}, R {at['recall']})"
                        if at else "precision never reaches the target"))
    return "\n".join(lines)


def _f(v, width: int = 8) -> str:
    return f"{v:>{width}.3f}" if isinstance(v, (int, float)) else f"{'-':>{width}}"


def run_predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from detector.infer import BeatDetector, check_image
    from detector.overlay import draw_detections
    from vizecg.images import read_image
    from vizecg.runs import atomic_write_bytes, write_json

    image = check_image(read_image(args.image), args.image)
    det = BeatDetector(_weights(args.weights), imgsz=args.imgsz, conf=args.conf, backend=args.backend, tile=args.tile)
    found = det.detect(image)
    out = Path(args.out)
    stem = Path(args.image).stem
    write_json(out / f"{stem}.json", {"image": str(args.image), "weights": str(det.weights), **found.to_json()})
    atomic_write_bytes(out / f"{stem}.png", draw_detections(image, found))
    print(f"{int(found.is_beat.sum())} beats in {len(found.panels)} panels (layout {found.layout}) -> "
          f"{out / (stem + '.json')}, {out / (stem + '.png')}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from detector.export import export_onnx

    path = export_onnx(_weights(args.weights), args.out, imgsz=args.imgsz)
    print(f"exported {path}")
    return 0

"""`vizecg digitize`: a photographed / scanned ECG printout -> WFDB record (+ CSV), a JSON of what was found
and an overlay of the traced signal on the photo; `eval` scores the digitizer on a rendered set.

    vizecg digitize IMAGE [--layout auto] [--fs 500] --out DIR [--json]
    vizecg digitize eval --data DIR [--limit N] [--json]
"""
from __future__ import annotations

import argparse
import sys

from vizecg.commands.options import float_in, int_in, out_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("digitize", help="digitize an ECG image to a signal in mV (or `eval --data DIR`)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", help="image file (PNG/JPEG), or the word `eval` to score on a rendered set")
    p.add_argument("--layout", help="auto | 3x4+1 | 3x5+1 | cabrera-3x4+1 | 3x4 | 3x5 | cabrera-3x4 | 3x1 | 3x4+2 | "
                                    "6x1 | 3x4+3 | 6x2 | cabrera-6x2 | 12x1 | 1x1 (default auto)")
    p.add_argument("--fs", type=float_in(50, 2000), help="output sampling rate, Hz (default 500; eval: the truth's rate)")
    p.add_argument("--config", help="YAML file mapping onto DigitizeConfig (e.g. configs/digitize.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--out", type=out_dir, help="output folder (required for an image; eval: where to write eval.json)")
    p.add_argument("--data", help="eval: a folder written by `vizecg render` (manifest.csv, images, labels, signals)")
    p.add_argument("--limit", type=int_in(1), help="eval: score only the first N pages")
    p.add_argument("--json", action="store_true",
                   help="print digitize.json's summary (eval: the evaluation's summary) as JSON on stdout, nothing else")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace):
    from vizecg.config import load_config
    from vizecg.digitize import DigitizeConfig

    overrides = list(args.set)
    if args.layout:
        overrides.append(f"layout={args.layout}")
    if args.fs:
        overrides.append(f"fs={args.fs}")
    return load_config(DigitizeConfig, args.config, overrides)


UNSURE_BELOW = 0.8  # leads and pages below this confidence are named on stderr


def run(args: argparse.Namespace) -> int:
    if args.image == "eval":
        return _eval(args)
    from pathlib import Path

    from vizecg.digitize import digitize
    from vizecg.digitize.overlay import draw_overlay
    from vizecg.data import write_csv, write_wfdb
    from vizecg.errors import ConfigError, DigitizeError
    from vizecg.images import read_image
    from vizecg.runs import start_run, write_json

    if not args.out:
        raise ConfigError("--out DIR is required")
    cfg = _config(args)
    image = read_image(args.image)
    out = Path(args.out)
    log = start_run(out, cfg, name="vizecg.digitize")
    stem = record_name(Path(args.image).stem)
    try:
        result = digitize(image, cfg)
    except DigitizeError as exc:
        write_json(out / "digitize.json", {"image": str(args.image), "ok": False, "error": exc.problem,
                                           "confidence": 0.0})
        log.error("%s: %s", args.image, exc.problem)
        raise DigitizeError(exc.problem, args.image) from None
    record = result.record.with_signal(result.record.signal, record_id=stem, source=str(args.image))
    hea = write_wfdb(record, out)
    csv = write_csv(record, out / f"{stem}.csv")
    overlay = draw_overlay(image, result, out / f"{stem}_overlay.png")
    summary = {"image": str(args.image), "ok": True, "wfdb": str(hea), "csv": str(csv), "overlay": str(overlay),
               **result.summary()}
    if result.unnamed:  # traces whose lead was not read: kept, in their own file, under no lead's name
        import numpy as np

        path = out / f"{stem}_unnamed.csv"
        cols = np.stack([u["signal"] for u in result.unnamed], axis=1)
        head = ",".join(f"unnamed_row{u['row'] + 1}_col{u['col'] + 1}" for u in result.unnamed)
        np.savetxt(path, np.column_stack([np.arange(len(cols)) / record.fs, cols]), delimiter=",",
                   header="t_s," + head, comments="", fmt="%.5g")
        summary["unnamed_csv"] = str(path)
    write_json(out / "digitize.json", summary)
    for w in result.warnings:
        log.warning(w)
        print(f"warning: {w}", file=sys.stderr)  # doubt is printed, not only written to digitize.json
    unsure = {k: v for k, v in result.confidence.items() if v < UNSURE_BELOW}
    if unsure:  # the confidence is P(SNR >= 10 dB): below 0.8 a lead is more likely wrong than a user assumes
        shown = ", ".join(f"{k} {v:.3f}" for k, v in unsure.items())
        print(f"warning: {len(unsure)} lead(s) below confidence {UNSURE_BELOW:g} (probability of SNR >= 10 dB): "
              f"{shown}", file=sys.stderr)
    if result.page_confidence < UNSURE_BELOW:
        print(f"warning: page confidence {result.page_confidence:.2f} (layout {result.found['layout']}, scale "
              f"{result.found['scale']['source']}): check the layout and scale before using this signal",
              file=sys.stderr)
    log.info("digitized %s: layout %s, scale %s", args.image, result.found["layout"], result.found["scale"])
    if args.json:
        import json

        print(json.dumps(summary, default=str))
        return 0
    conf = ", ".join(f"{k} {v:.2f}" for k, v in result.confidence.items())
    print(f"{args.image}: layout {result.found['layout']}, {result.found['scale']['px_per_mm_x']:.2f} px/mm "
          f"({result.found['scale']['source']}), page confidence {result.page_confidence:.2f}, confidence {conf}"
          + (f", {len(result.unnamed)} unnamed trace(s) in digitize.json" if result.unnamed else "") + f" -> {hea}")
    return 0


def record_name(stem: str) -> str:
    """A WFDB record name from a file stem ("my ECG.png", "scan.2024.01.png"): letters, digits, - and _ only."""
    import re

    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "record"


def _eval(args: argparse.Namespace) -> int:
    import json

    from vizecg.config import to_dict
    from vizecg.digitize.evaluate import evaluate_folder
    from vizecg.errors import ConfigError
    from vizecg.runs import write_json

    if not args.data:
        raise ConfigError("digitize eval needs --data DIR (a folder written by `vizecg render`)")
    cfg = _config(args)
    summary = evaluate_folder(args.data, cfg, limit=args.limit, progress=not args.quiet)
    summary["config"] = to_dict(cfg)
    if args.out:
        write_json(f"{args.out}/eval.json", summary)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "pages_detail"}, indent=2, default=str))
    else:
        print(f"{'photo':<8} {'pages':>5} {'SNR dB':>7} {'r':>6} {'RMSE mV':>8} {'failed':>6} {'s/page':>7}")
        for sev, row in summary["by_photo"].items():
            print(f"{sev:<8} {row['pages']:>5} {row['snr_db']:>7.2f} {row['pearson_r']:>6.3f} {row['rmse_mv']:>8.4f} "
                  f"{row['failed']:>6} {row['s_per_page']:>7.2f}")
        print(f"{'all':<8} {summary['pages']:>5} {summary['snr_db']:>7.2f}")
    return 0

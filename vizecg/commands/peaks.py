"""`vizecg peaks eval --source mitdb:PATH [--records 100,101] [--exclude-vfl] [--json] [--out FILE]`:
score the R-peak detector against MIT-BIH beat annotations (150 ms tolerance, whole records)."""
from __future__ import annotations

import argparse
import json

from vizecg.commands.options import float_in, int_in, out_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("peaks", help="R-peak detection: evaluate against annotated beats")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ev = actions.add_parser("eval", help="sensitivity and positive predictivity on MIT-BIH records")
    ev.add_argument("--source", default="sample:mitdb", help='"mitdb:PATH" or "sample:mitdb"')
    ev.add_argument("--records", default=None, help="comma-separated record ids (default: all)")
    ev.add_argument("--channel", type=int_in(0, 63), default=0, help="signal channel to detect on (default 0)")
    ev.add_argument("--tolerance", type=float_in(0, 1, lo_open=True), default=0.15, help="match tolerance in seconds (default 0.15)")
    ev.add_argument("--exclude-vfl", action="store_true",
                    help="leave ventricular flutter episodes out of the scoring (ANSI/AAMI EC57 practice)")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.add_argument("--out", default=None, type=out_file, help="also write the JSON result to this file")
    ev.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from vizecg.data import MitdbDataset, load_source
    from vizecg.errors import DataError
    from vizecg.runs import _json_default, write_json
    from vizecg.signal.peak_eval import evaluate_mitdb

    source = load_source(args.source)
    if not isinstance(source, MitdbDataset):
        raise DataError(f"peaks eval needs an annotated MIT-BIH source (mitdb:PATH), got {args.source!r}")
    records = [r.strip() for r in args.records.split(",") if r.strip()] if args.records else None
    result = evaluate_mitdb(source, records=records, channel=args.channel, tolerance_s=args.tolerance,
                            exclude_rhythms=("VFL",) if args.exclude_vfl else (), progress=True)
    if args.out:
        write_json(args.out, result)
    print(json.dumps(result, indent=2, default=_json_default) if args.json else format_table(result))
    return 0


def _pct(v: float | None) -> str:
    return f"{'-':>7}" if v is None else f"{100 * v:>7.2f}"  # None: nothing to count (0 of 0)


def format_table(result: dict) -> str:
    lines = [f"{'record':>8} {'TP':>7} {'FP':>6} {'FN':>6} {'Se %':>7} {'PPV %':>7}"]
    for rid, r in result["records"].items():
        lines.append(f"{rid:>8} {r['tp']:>7} {r['fp']:>6} {r['fn']:>6} {_pct(r['sensitivity'])} {_pct(r['ppv'])}")
    lines.append(f"{'total':>8} {result['tp']:>7} {result['fp']:>6} {result['fn']:>6} "
                 f"{_pct(result['sensitivity'])} {_pct(result['ppv'])}")
    return "\n".join(lines)

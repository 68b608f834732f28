"""`vizecg data summary --source SPEC [--json]`: what a data source holds (records, patients, labels, split, rates)."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="inspect real ECG data sources")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    summary = actions.add_parser("summary", help="records, patients, label and fold counts of a source")
    summary.add_argument("--source", default="sample",
                         help='"sample", "sample:mitdb", "ptbxl:PATH[@100|@500]", "mitdb:PATH" or a folder of records')
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    summary.set_defaults(func=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    from vizecg.data import load_source
    from vizecg.data.summary import format_summary, summarize_source
    from vizecg.runs import _json_default

    summary = summarize_source(load_source(args.source))
    print(json.dumps(summary, indent=2, default=_json_default) if args.json else format_summary(summary))
    return 0

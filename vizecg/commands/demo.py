"""`vizecg demo [--out runs/demo]`: the whole path on the embedded sample (60 real PTB-XL records).

Data summary -> photographed printouts (mixed severities) -> signal model, image baseline, teacher, distilled
student on a patient-wise split -> test metrics with bootstrap intervals and ROC curves -> the beat detector and
the digitizer on one photo (when available) -> OUT/report.md and OUT/report.html. Re-running resumes.
The demo's numbers come from 13 test records: they show that the path works, they are not claims.
"""
from __future__ import annotations

import argparse

from vizecg.commands.options import out_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="the whole path on the embedded sample, with an HTML report",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/demo", type=out_dir, help="output folder (default runs/demo)")
    p.add_argument("--config", help="benchmark YAML (default configs/benchmark_demo.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="benchmark config override")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.config import load_benchmark_config, profile_path
    from experiments.demo import run_demo

    cfg = load_benchmark_config(args.config or profile_path("demo"), list(args.set))
    paths = run_demo(cfg, args.out, progress=not args.quiet)
    print(f"demo: report -> {', '.join(str(p) for p in paths)}")
    return 0

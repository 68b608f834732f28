"""`vizecg benchmark`: image-only vs signal-only vs teacher vs distilled student on the same patient-wise split.

    vizecg benchmark --profile smoke --source sample --out runs/benchmark_smoke
    vizecg benchmark --profile cpu --out runs/benchmark_cpu                  # all 1,987 labelled PTB-XL records
    vizecg benchmark --profile cpu500 --out runs/benchmark_cpu500            # records 1-500 (ptbxl:PATH@500)
    vizecg benchmark --profile cpu --source ptbxl:PATH --out DIR --set tasks=[normal] --set bootstrap=2000

Profiles are configs/benchmark_<profile>.yaml (or --config FILE; experiments/benchmark.py). Re-running with the
same --out resumes: a render, trained model or prediction is reused only when the code, settings and inputs that
made it are unchanged (else it is redone; a render folder of other settings or code is refused unless
--overwrite). Writes OUT/results.json, results.md, roc.png, config.yaml and log.txt.
"""
from __future__ import annotations

import argparse

from vizecg.commands.options import out_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("benchmark", help="image vs signal benchmark (signal, image, teacher, student)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="smoke",
                   help="smoke | cpu | cpu500 | full | demo (configs/benchmark_<profile>.yaml)")
    p.add_argument("--config", help="a benchmark YAML instead of a profile")
    p.add_argument("--source", help="data source (overrides the profile's), e.g. ptbxl:PATH or sample")
    p.add_argument("--out", required=True, type=out_dir, help="output folder (re-use it to resume)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set image.schedule.epochs=3 (repeatable)")
    p.add_argument("--overwrite", action="store_true",
                   help="OUT/render holds pages made with other settings or code: render them anew (default: refuse)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from experiments.benchmark import run_benchmark
    from experiments.config import load_benchmark_config, profile_path

    path = args.config or profile_path(args.profile)
    overrides = ([f"source={args.source}"] if args.source else []) + list(args.set)
    cfg = load_benchmark_config(path, overrides)
    run_benchmark(cfg, args.out, progress=not args.quiet, overwrite=args.overwrite)
    print((Path(args.out) / "results.md").read_text())
    print(f"-> {args.out}/results.json, results.md, roc.png")
    return 0

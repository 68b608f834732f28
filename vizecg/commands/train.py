"""`vizecg train KIND --config configs/train_KIND.yaml [--teacher CKPT] [--set k=v ...] [--data DIR] [--out DIR]`.

KIND: signal | image | teacher | student | beats. Under `torchrun --nproc_per_node=N -m vizecg.cli train ...`
it trains data-parallel (gloo on CPU). `--resume` continues from OUT/last.pt.
"""
from __future__ import annotations

import argparse

from vizecg.commands.options import out_dir

KINDS = ("signal", "image", "teacher", "student", "beats")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a model (signal, image, teacher, student, beats)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--config", help="YAML config (configs/train_<kind>.yaml); defaults otherwise")
    p.add_argument("--teacher", help="teacher checkpoint for kind=student (e.g. runs/teacher/best.pt)")
    p.add_argument("--data", help="render folder (overrides data.root)")
    p.add_argument("--out", type=out_dir, help="output folder (overrides out)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set optim.lr=3e-4 --set schedule.epochs=5 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if present")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from distill.train import TrainConfig, train
    from vizecg.config import load_config

    overrides = [f"kind={args.kind}", *args.overrides]
    if args.teacher:
        overrides.append(f"teacher={args.teacher}")
    if args.data:
        overrides.append(f"data.root={args.data}")
    if args.out:
        overrides.append(f"out={args.out}")
    if args.no_progress:
        overrides.append("progress=false")
    cfg = load_config(TrainConfig, args.config, overrides)
    summary = train(cfg, resume=args.resume)
    if summary:  # rank 0 only
        best = summary["best_val"] or {}
        print(json.dumps({"out": cfg.out, "best_epoch": summary["best_epoch"],
                          "val_macro_auroc": best.get("macro_auroc"), "train_time_s": summary["train_time_s"]}))
    return 0

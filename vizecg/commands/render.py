"""`vizecg render`: print records as ECG pages (optionally photographed), with labels, signals and a YOLO view.

    vizecg render --source sample --n 20 --layout 3x4+1 --photo none --dpi 200 --seed 0 --workers 2 --out DIR
    vizecg render --gallery --out docs/gallery.png
    vizecg render --gallery --style families --out docs/print_styles.png   # 24 random print styles + coverage
    vizecg render --style families --set exclude_families=[thermal-dots] --n 100 --out DIR
    vizecg render --photo custom --set photo_config.fingers.p=1 --set photo_config.perspective.p=1 --out DIR
"""
from __future__ import annotations

import argparse
import sys

from vizecg.commands.options import check, int_in, out_dir, out_file, seed


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("render", help="render ECG printouts (and photos) with ground truth",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", help="sample | sample:mitdb | ptbxl:PATH | mitdb:PATH | a folder of records")
    p.add_argument("--n", type=int_in(1, 1_000_000), help="number of pages (item k prints record k mod len)")
    p.add_argument("--records", help="only these records of the source, comma-separated ids (e.g. 00103,00108)")
    p.add_argument("--layout", help="3x4+1 | 3x4 | 6x2 | 12x1 | 1x1 | mixed | auto (1x1 for MIT-BIH, else 3x4+1)")
    p.add_argument("--photo", help="none | scan | phone | screen | mixed | phone-hard | photocopy | lowres | "
                   "screen-moire | mixed-all | custom (photo_config from --config / --set photo_config.x=...; see "
                   "docs/photo_conditions.md)")
    p.add_argument("--dpi", type=int_in(100, 300), help="100-300 (default 200)")
    p.add_argument("--seed", type=seed)
    p.add_argument("--workers", type=int_in(1, 64))
    p.add_argument("--style", choices=("fixed", "random", "families"),
                   help="random: varied paper/grid/gain/line per page; families: a print style per page drawn from "
                        "the named families (--list-families; --set families=[..] / exclude_families=[..])")
    p.add_argument("--list-families", action="store_true", help="print the print-style families and their shares")
    p.add_argument("--config", help="YAML file mapping onto RenderJob (keys: source, n, ..., render: {...})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. render.grid_color=green (repeatable)")
    p.add_argument("--out", help="output folder (or the .png file with --gallery)")
    p.add_argument("--overwrite", action="store_true",
                   help="--out holds pages made with other settings: delete them and render anew (default: refuse)")
    p.add_argument("--gallery", action="store_true", help="write one contact sheet of layouts x severities")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list_families:
        from vizecg.render.style import list_families

        for fam in list_families().values():
            print(f"{fam.name:16s} {fam.share:5.2f}  {fam.description}")
        return 0
    if not args.out:
        from vizecg.errors import ConfigError

        raise ConfigError("--out is required (a folder, or the .png file with --gallery)")
    check(args.out, out_file if args.gallery else out_dir, "--out")
    if args.gallery:
        return _gallery(args)
    from dataclasses import replace

    from vizecg.config import load_config
    from vizecg.builders.render_job import RenderJob, build_dataset

    flags = {"source": args.source, "n": args.n, "layout": args.layout, "photo": args.photo, "seed": args.seed,
             "workers": args.workers, "style": args.style, "render.dpi": args.dpi}
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None] + list(args.set)
    job = load_config(RenderJob, args.config, overrides)
    if args.records:
        job = replace(job, records=tuple(r.strip() for r in args.records.split(",") if r.strip()))
    summary = build_dataset(job, args.out, progress=not args.quiet, overwrite=args.overwrite)
    print(f"rendered {summary['rendered']} new, {summary['skipped_existing']} already there, "
          f"{summary['failed']} failed -> {args.out}")
    for failure in summary["failures"][:10]:  # the reasons, not only a count (all of them in OUT/log.txt)
        print(f"failed {failure['id']}: {failure['error']}", file=sys.stderr)
    return 1 if summary["failed"] else 0


def _gallery(args: argparse.Namespace) -> int:
    from pathlib import Path

    import cv2

    from vizecg.errors import RenderError
    from vizecg.builders.gallery import render_gallery
    from vizecg.runs import atomic_write_bytes

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise RenderError("--gallery writes a PNG: give --out FILE.png", out)
    if args.style == "families":
        from vizecg.builders.gallery import render_style_sheet
        from vizecg.render.style import coverage, coverage_markdown

        sheet, columns = render_style_sheet(seed=args.seed or 0)
        print(coverage_markdown(coverage(seed=args.seed or 0)))
    else:
        sheet, columns = render_gallery(seed=args.seed or 0)
    sheet = (sheet // 4) * 4 + 2  # drop the 2 noise bits of the photos: keeps docs/gallery.png < 1.5 MB
    ok, data = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RenderError("could not encode the gallery", out)
    atomic_write_bytes(out, data.tobytes())
    print(f"gallery {sheet.shape[1]}x{sheet.shape[0]} ({len(data) / 1e6:.2f} MB), columns: {', '.join(columns)} -> {out}")
    return 0

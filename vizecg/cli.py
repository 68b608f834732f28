"""`vizecg` command line: one entry point, one sub-command module per stage (vizecg/commands/<name>.py).

Each module exposes `register(subparsers)` and sets `func` on its parser. Heavy imports (torch, ultralytics,
detector/, distill/) happen inside the sub-command that needs them, so `vizecg --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from vizecg.errors import VizEcgError
from vizecg.offline import configure_offline

# Order = order in `vizecg --help`.
COMMAND_MODULES = ("predict", "serve", "demo", "data", "peaks", "render", "detector", "train", "benchmark", "digitize")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vizecg", description="ECGs that exist only on paper.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"vizecg.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"vizecg.commands.{name}":
                continue  # stage not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_offline()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except VizEcgError as exc:
        print(f"vizecg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk that filled, a folder that vanished: say which file, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"vizecg {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"vizecg {args.command}: error: out of memory (a smaller input, or fewer workers)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vizecg {args.command}: interrupted (finished outputs are kept; re-run to resume)", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

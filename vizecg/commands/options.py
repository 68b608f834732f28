"""Command-line values every sub-command shares: numbers with bounds, output paths checked before any work.

Each is an argparse `type=`: a bad value stops the command at once with argparse's one-line error naming the
option (exit 2), before anything is read, computed or written.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from vizecg.errors import ConfigError

MAX_SEED = 2 ** 32 - 1  # numpy's SeedSequence entropy words


def int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An integer in [lo, hi] (no upper bound when hi is None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must lie in [{lo}, {hi}], got {value}" if hi is not None
                                             else f"must be >= {lo}, got {value}")
        return value
    return parse


def float_in(lo: float, hi: float, lo_open: bool = False) -> Callable[[str], float]:
    """A finite number in [lo, hi] ((lo, hi] with lo_open)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < lo or value > hi or (lo_open and value == lo):
            raise argparse.ArgumentTypeError(f"must lie in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {text}")
        return value
    return parse


def input_size(text: str) -> int:
    """A detector input size: a multiple of 32 (the model's largest stride) in [64, 2048]."""
    value = int_in(64, 2048)(text)
    if value % 32:
        raise argparse.ArgumentTypeError(f"must be a multiple of 32 (the model's stride), got {value}")
    return value


def tile_size(text: str) -> int:
    """0 (the whole page at once) or a tile side in [256, 8192] page px: smaller tiles multiply without end."""
    value = int_in(0, 8192)(text)
    if 0 < value < 256:
        raise argparse.ArgumentTypeError(f"must be 0 (no tiling) or at least 256 px, got {value}")
    return value


seed = int_in(0, MAX_SEED)


def _writable_ancestor(path: Path) -> None:
    """The nearest existing folder above `path` must be a folder this process can create files in."""
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():  # a dangling link: creating under it would follow it somewhere else
            raise argparse.ArgumentTypeError(f"{path}: {probe} is a broken link")
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: {probe} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError:
        raise argparse.ArgumentTypeError(f"{path}: cannot create files in {probe}") from None


def out_dir(text: str) -> str:
    """An output folder: an existing folder we can write in, or a path we can create."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty path")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"{path}: folder is not writable")
        _writable_ancestor(path / "x")
    else:
        _writable_ancestor(path)
    return text


def out_file(text: str) -> str:
    """An output file: not a folder, in a folder we can write in (or create)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file name, got an empty path")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    _writable_ancestor(path)
    return text


def check(value: str, parse: Callable[[str], object], option: str) -> None:
    """Apply one of these checks outside argparse (an option whose kind depends on another): a ConfigError."""
    try:
        parse(value)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{option}: {exc}") from None

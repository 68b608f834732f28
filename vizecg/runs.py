"""What every long job shares: atomic writes, a run folder with resolved config, log file and JSON summary,
and the guards that keep a folder's outputs from one set of settings and one writer.

A resumable job claims its folder before it writes anything (`claim_run`): it refuses a folder made with other
settings (fingerprint.json says which), takes an exclusive lock (.lock) so that a second writer is refused
instead of interleaving, and only then records the fingerprint and starts writing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vizecg.config import dump_config, to_dict
from vizecg.errors import VizEcgError

try:
    import fcntl
except ImportError:  # Windows: no flock; folders are then guarded by the fingerprint only
    fcntl = None  # type: ignore[assignment]

FINGERPRINT = "fingerprint.json"
LOCK = ".lock"

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder + rename, so a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs should get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def start_run(out_dir: str | Path, config: Any | None = None, name: str = "vizecg") -> logging.Logger:
    """Create the run folder, write `config.yaml` (resolved) and attach `log.txt` to a logger."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config is not None:
        atomic_write_text(out / "config.yaml", dump_config(config))
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    log_path = str((out / "log.txt").resolve())
    for h in list(logger.handlers):
        # One run folder per logger at a time: a second job in the same process (tests, a benchmark) must not
        # keep appending to the log of a folder it no longer writes (and may not hold the lock of).
        if getattr(h, "_vizecg_run", False) and h.baseFilename != log_path:
            logger.removeHandler(h)
            h.close()
    if not any(isinstance(h, logging.FileHandler) and h.baseFilename == log_path for h in logger.handlers):
        handler = logging.FileHandler(log_path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._vizecg_run = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return logger


# --- one folder, one set of settings, one writer ----------------------------------------------------------------
class StaleOutputError(VizEcgError):
    """The folder holds outputs made with other settings (or by an older vizecg): resuming would mix them."""


class FolderLockedError(VizEcgError):
    """Another process is writing into the folder."""


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping) and v:
            flat |= _flatten(v, f"{prefix}{k}.")
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _plain_settings(settings: Any) -> dict[str, Any]:
    data = to_dict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
    return json.loads(json.dumps(data, default=_json_default))  # tuples become lists, as when read back


def code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vizecg")
    except PackageNotFoundError:
        return "unknown"


# The folder that holds the packages (vizecg/, detector/, distill/, experiments/): the checkout, or site-packages.
CODE_ROOT = Path(__file__).resolve().parents[1]


def source_hash(patterns: Iterable[str], root: str | Path = CODE_ROOT, libraries: Iterable[str] = ()) -> str:
    """SHA-256 (16 hex) of the source files matching `patterns` (globs relative to `root`, e.g. "distill/*.py",
    "vizecg/models/**/*.py"), each hashed with its relative path, and of the installed versions of `libraries`.

    What decides whether a stage's earlier outputs still stand: unlike the git commit, it changes only when the
    code that made them does (a commit elsewhere in the tree retrains nothing). A pattern that matches nothing is
    hashed as such, so a moved module changes the hash instead of silently dropping out of it."""
    from importlib.metadata import PackageNotFoundError, version

    root = Path(root)
    h = hashlib.sha256()
    for pattern in sorted(set(patterns)):
        files = sorted(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
        h.update(f"{pattern}:{len(files)}\0".encode())
        for f in files:
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for lib in sorted(set(libraries)):
        try:
            h.update(f"{lib}=={version(lib)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{lib} missing\0".encode())
    return h.hexdigest()[:16]


def git_commit(root: str | Path = CODE_ROOT) -> dict[str, Any] | None:
    """{"commit": full SHA of HEAD, "dirty": whether tracked files differ from it} for a git checkout; None for an
    installed package or where git is absent. Recorded beside results; never compared (see source_hash)."""
    import subprocess

    root = Path(root)
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def file_hash(path: str | Path) -> str:
    """SHA-256 (16 hex) of a file's bytes: the identity of a checkpoint or weights file a stage is built on."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def describe_changes(then: Mapping[str, Any], now: Mapping[str, Any], limit: int = 6) -> str:
    """'key: old -> new; ...' over the flattened keys that differ ("" when none do): what a log or an error says
    when a stage is redone or a resume refused."""
    a, b = _flatten(_plain_settings(then)), _flatten(_plain_settings(now))
    keys = sorted(set(a) | set(b), key=lambda k: (k.count("."), k))
    diffs = [f"{k}: {_show(a.get(k, _MISSING))} -> {_show(b.get(k, _MISSING))}"
             for k in keys if a.get(k, _MISSING) != b.get(k, _MISSING)]
    more = f"; and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more


def code_stamp(patterns: Iterable[str], root: str | Path = CODE_ROOT, libraries: Iterable[str] = ()) -> dict[str, Any]:
    """What a checkpoint or results file records about the code that made it: the git commit (None outside a
    checkout), the hash of the relevant sources (source_hash) and the vizecg version."""
    git = git_commit(root) or {}
    return {"commit": git.get("commit"), "dirty": git.get("dirty"),
            "source_hash": source_hash(patterns, root, libraries), "vizecg": code_version()}


def settings_fingerprint(settings: Any) -> dict[str, Any]:
    """What fingerprint.json holds: the settings that determine a folder's outputs (a config dataclass or a
    mapping; the caller leaves out those that do not, such as workers), their hash and the code's version.

    The version is recorded, not compared: a code change that alters the outputs is not detected."""
    plain = _plain_settings(settings)
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]
    return {"settings": plain, "hash": digest, "vizecg": code_version()}


def read_fingerprint(out: str | Path) -> dict[str, Any] | None:
    path = Path(out) / FINGERPRINT
    if not path.is_file():
        return None
    try:
        fp = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StaleOutputError(f"unreadable {FINGERPRINT} ({exc}): use a new --out, or --overwrite to redo it",
                               out) from None
    if not isinstance(fp, dict) or not isinstance(fp.get("settings"), dict):
        raise StaleOutputError(f"{FINGERPRINT} holds no settings: use a new --out, or --overwrite to redo it", out)
    return fp


def write_fingerprint(out: str | Path, settings: Any) -> dict[str, Any]:
    fp = settings_fingerprint(settings)
    write_json(Path(out) / FINGERPRINT, fp)
    return fp


def _show(v: Any) -> str:
    return "(unset)" if v is _MISSING else json.dumps(v)


_MISSING = object()


def check_resume(out: str | Path, settings: Any, overwrite: bool = False, grows: Iterable[str] = ()) -> None:
    """Refuse (StaleOutputError) to resume `out` unless it was made with these `settings`.

    `grows` names settings that may increase on a resume (a job planned per item, such as `n`, extends the
    folder). A folder that holds files but no fingerprint (an older vizecg, another program) is refused too.
    With `overwrite` nothing is refused: the caller redoes the folder."""
    out = Path(out)
    if overwrite or not out.is_dir():
        return
    old = read_fingerprint(out)
    hint = "use a new --out, or --overwrite to redo it"
    if old is None:
        if any(not p.name.startswith(".") for p in out.iterdir()):
            raise StaleOutputError(f"holds files but no {FINGERPRINT} (made by an older vizecg or another "
                                   f"program?), so they cannot be resumed safely: {hint}", out)
        return
    then, now = _flatten(old["settings"]), _flatten(_plain_settings(settings))
    grows = set(grows)
    diffs = []
    for key in sorted(set(then) | set(now), key=lambda k: (k.count("."), k)):
        a, b = then.get(key, _MISSING), now.get(key, _MISSING)
        if a == b:
            continue
        if key in grows and isinstance(a, (int, float)) and isinstance(b, (int, float)) and b >= a:
            continue
        tail = ", may only grow" if key in grows else ""
        diffs.append(f"{key}: {_show(a)} (in {out.name}) vs {_show(b)} (now{tail})")
    if diffs:
        raise StaleOutputError(f"made with other settings: {'; '.join(diffs)}: {hint}", out)


@contextmanager
def writer_lock(out: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on folder `out` (flock on OUT/.lock, non-blocking): a second writer is refused
    with FolderLockedError. The kernel drops the lock when the holder exits or dies, so a crash never leaves
    the folder locked; the lock file itself stays (deleting it would let two writers lock two files)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield out
        return
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)  # not inherited by spawned workers
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise FolderLockedError(f"another process{f' (pid {holder})' if holder.isdigit() else ''} is "
                                    f"writing into this folder: wait for it to finish, or use another --out",
                                    out) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # for the message a second writer gets
        yield out
    finally:
        os.close(fd)  # releases the lock


def clear_outputs(out: str | Path, names: Iterable[str]) -> None:
    """Delete the named files and folders of `out` (only those: --out may hold other things), fingerprint
    first, so that a crash half way leaves a folder that a plain resume refuses."""
    out = Path(out)
    (out / FINGERPRINT).unlink(missing_ok=True)
    for name in names:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


@contextmanager
def claim_run(out: str | Path, settings: Any, overwrite: bool = False, grows: Iterable[str] = (),
              outputs: Iterable[str] = ()) -> Iterator[Path]:
    """Claim folder `out` for a job made with `settings`, before anything is written into it.

    Refuses a stale resume (check_resume) and a second writer (writer_lock); with `overwrite`, deletes the
    previous `outputs` instead. Then records the fingerprint, rewritten only when it changes, so that its
    mtime says when the outputs last changed settings (what a job built on them compares with); the lock is
    held until the block ends."""
    out = Path(out)
    grows = tuple(grows)
    check_resume(out, settings, overwrite, grows)  # before the lock, so a refusal writes nothing, not even .lock
    with writer_lock(out):
        if overwrite:
            clear_outputs(out, outputs)
        else:
            check_resume(out, settings, grows=grows)  # again: another writer may have finished meanwhile
        if read_fingerprint(out) != settings_fingerprint(settings):
            write_fingerprint(out, settings)
        yield out

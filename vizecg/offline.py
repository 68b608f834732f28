"""Nothing may be downloaded at run time: set every library's offline switch before the library is imported.

ultralytics downloads Arial.ttf into its config dir the first time it plots or labels; we point
YOLO_CONFIG_DIR at a project-local folder and put matplotlib's bundled DejaVuSans there under that name.
ultralytics unpickles weights with `weights_only=False` unless its safe-load switch is on, so a planted `.pt`
runs code: `import_ultralytics()` is the one way VizECG imports it, with that switch forced on.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

_REPO_ROOT = Path(__file__).resolve().parent.parent


def default_yolo_config_dir() -> Path:
    # Project-local when running from a checkout (writable), else the user's cache.
    if os.access(_REPO_ROOT, os.W_OK) and (_REPO_ROOT / "pyproject.toml").exists():
        return _REPO_ROOT / ".yolo"
    return Path.home() / ".cache" / "vizecg" / "yolo"


def configure_offline() -> Path:
    """Set the offline variables (without overriding what the user set) and prepare YOLO_CONFIG_DIR."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    cfg_dir = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(default_yolo_config_dir())))
    cfg_dir.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = cfg_dir / name
        if not target.exists():
            import matplotlib

            font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(font, tmp)
            os.replace(tmp, target)
    return cfg_dir


def import_ultralytics() -> ModuleType:
    """ultralytics, offline, with its restricted checkpoint loader on (weights_only=True + a class allow-list).

    The switch is forced, whatever the environment says: a weights file from anyone must never run code. Its
    first-run chatter ("Creating new Ultralytics Settings") and its logger go to stderr, never into `--json` output.
    """
    configure_offline()
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"  # read once, when ultralytics.utils is first imported
    with contextlib.redirect_stdout(sys.stderr):  # its logging handler binds the stream it sees now
        import ultralytics
        from ultralytics.nn import tasks
    # An earlier import (another library, a test) may have read the switch already: set the module's copy too.
    tasks.SAFE_LOAD = True
    import logging

    for handler in logging.getLogger("ultralytics").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stdout__:
            handler.setStream(sys.stderr)
    if not tasks._SafeLoad.SUPPORTED:  # torch < 2.6 would silently fall back to an unrestricted load
        from vizecg.errors import ModelError

        raise ModelError("this torch build cannot load YOLO weights safely (torch >= 2.6 needed)")
    return ultralytics

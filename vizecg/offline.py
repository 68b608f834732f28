"""Nothing may be downloaded at run time: set every library's offline switch before the library is imported.

ultralytics downloads Arial.ttf into its config dir the first time it plots or labels; we point
YOLO_CONFIG_DIR at a project-local folder and put matplotlib's bundled DejaVuSans there under that name.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

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

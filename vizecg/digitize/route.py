"""The digitized route: a page photo -> the digitizer -> the 12-lead array a signal model reads.

    config = load_digitize_config("configs/digitize.yaml")     # as `vizecg digitize --config` reads it
    signal, read = digitized_signal(image, config, fs=100, n_samples=1000, band=(0.5, 40))

The digitizer runs at the config's own rate; the recovered record is then prepared exactly like a recorded one
(vizecg.signal.model_input), so a signal model trained on true signals reads the page as it would read the record.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from vizecg.digitize.config import DigitizeConfig
from vizecg.record import STANDARD_LEADS

log = logging.getLogger("vizecg.digitize")

# What the digitizer's output depends on, beside its config (vizecg.runs.source_hash patterns): the route and the
# digitizer with its trace network, the paper constants, the image reader, the OCR reader, the signal preparation.
DIGITIZER_CODE = ("vizecg/digitize/*.py", "vizecg/digitize/segment/*.py", "vizecg/digitize/weights/*.onnx",
                  "vizecg/render/paper.py", "vizecg/images.py", "vizecg/labels/speed_gain.py", "vizecg/signal/*.py",
                  "vizecg/record.py")


def load_digitize_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> DigitizeConfig:
    """The digitizer's config as the `vizecg digitize` CLI reads it: DigitizeConfig's defaults, the YAML file (if
    any), then `key=value` overrides; unknown keys and values out of bounds are ConfigErrors naming the file."""
    from vizecg.config import load_config

    return load_config(DigitizeConfig, path, overrides)


def digitized_signal(image: np.ndarray, config: DigitizeConfig, fs: float, n_samples: int,
                     band: tuple[float, float] | None, where: str = "") -> tuple[np.ndarray, float]:
    """(signal as vizecg.signal.model_input gives it, fraction of the 12 leads x n_samples / fs seconds the digitizer
    read) from a page photo. A page the digitizer rejects gives an all-zero signal and 0.0: the route's failure,
    scored as such."""
    from vizecg.digitize.digitizer import digitize
    from vizecg.errors import DigitizeError
    from vizecg.signal.preprocess import model_input

    try:
        rec = digitize(image, config).record
    except DigitizeError as exc:
        log.warning("digitizer rejected %s: %s", where, exc.problem)
        return np.zeros((len(STANDARD_LEADS), n_samples), np.float32), 0.0
    window = max(1, int(round(n_samples / fs * rec.fs)))  # the model's seconds, at the digitizer's own rate
    read = np.isfinite(rec.signal[:, :window]).sum() / float(len(STANDARD_LEADS) * window)
    return model_input(rec, fs, n_samples, band), float(read)


def digitizer_version(config: DigitizeConfig) -> str:
    """Hash of the digitizer's code and of its config: what a digitized signal is cached and compared under."""
    import hashlib
    import json

    from vizecg.config import to_dict
    from vizecg.runs import source_hash

    settings: dict[str, Any] = to_dict(config)
    text = json.dumps({"code": source_hash(DIGITIZER_CODE), "config": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

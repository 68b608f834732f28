"""Overlay of the traced signal on the input photo, for a person to check what was read."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vizecg.digitize.digitizer import DigitizedEcg
from vizecg.errors import DigitizeError
from vizecg.runs import atomic_write_bytes


def draw_overlay(image: np.ndarray, result: DigitizedEcg, path: str | Path) -> Path:
    """Traces in colour (green: confident, orange: doubtful) over a faded copy of the photo; writes a PNG."""
    canvas = (0.5 * image.astype(np.float32) + 127).astype(np.uint8)
    canvas = cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)
    thick = max(1, int(round(max(image.shape[:2]) / 1500)))
    for lead, parts in result.traces.items():
        colour = (0, 170, 0) if result.confidence.get(lead, 0) >= 0.6 else (0, 140, 255)
        for xy in parts:
            pts = np.round(xy).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [pts], False, colour, thick, cv2.LINE_AA)
    ok, data = cv2.imencode(".png", canvas)
    if not ok:
        raise DigitizeError("could not encode the overlay", path)
    atomic_write_bytes(path, data.tobytes())
    return Path(path)

"""Overlay of detections on the page (PNG bytes): beats coloured by lead, panels thin, scores small."""
from __future__ import annotations

import cv2
import numpy as np

from detector.config import BEAT, CAL_PULSE, LEAD_LABEL, LEAD_PANEL
from detector.infer import Detections

_COLORS = {LEAD_PANEL: (150, 150, 150), LEAD_LABEL: (0, 140, 255), CAL_PULSE: (200, 0, 200)}  # RGB


def draw_detections(image: np.ndarray, det: Detections) -> bytes:
    canvas = np.ascontiguousarray(image[:, :, :3]).copy()
    thick = max(1, round(max(canvas.shape[:2]) / 1000))
    for box, cls, panel, order in zip(det.boxes, det.classes, det.panel, det.order):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        if cls == BEAT:
            hue = int((panel * 37) % 180) if panel >= 0 else 0
            color = tuple(int(c) for c in cv2.cvtColor(np.uint8([[[hue, 220, 200]]]), cv2.COLOR_HSV2RGB)[0, 0])
            cv2.rectangle(canvas, (x0, y0), (x1, y1), color, thick + 1)
            if panel >= 0:
                cv2.putText(canvas, f"{det.panel_leads[panel]}:{order}", (x0 + 2, max(y0 - 3, 10)),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, color, thick, cv2.LINE_AA)
        else:
            cv2.rectangle(canvas, (x0, y0), (x1, y1), _COLORS[int(cls)], thick)
    ok, enc = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return enc.tobytes()

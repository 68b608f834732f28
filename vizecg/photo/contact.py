"""A contact sheet of the photo conditions: each condition alone on a mild phone photo, then the presets.

    .venv/bin/python -m vizecg.photo.contact --out docs/photo_conditions.png

Occlusions recorded in the truth are outlined in yellow.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import cv2
import numpy as np

from vizecg.photo.config import (DownsampleConfig, FingerConfig, FoldConfig, FramingConfig, GlareConfig, LightingConfig,
                                 PenConfig, PerspectiveConfig, PhotoConfig, RotationConfig, StainConfig)
from vizecg.photo.simulate import photograph

TILE = (360, 270)
BASE = PhotoConfig(framing=FramingConfig(frame_aspect=4 / 3, fill=(0.85, 0.85), offset=0.02, backgrounds=("table",)),
                   perspective=PerspectiveConfig(p=1.0, tilt_deg=(8.0, 8.0)),
                   rotation=RotationConfig(p=1.0, deg=(2, 2)),
                   lighting=LightingConfig(p=1.0, gradient=(0.1, 0.1), vignette=(0.1, 0.1)))
CONDITIONS: list[tuple[str, str | PhotoConfig, int]] = [
    ("keystone 30 deg", replace(BASE, perspective=PerspectiveConfig(p=1.0, tilt_deg=(30.0, 30.0),
                                                                    fov_deg=(78, 78))), 1),
    ("fold 35 deg", replace(BASE, folds=FoldConfig(p=1.0, angle_deg=(35.0, 35.0), facet=(0.12, 0.12),
                                                   ridge=(0.2, 0.2))), 0),
    ("fingers", replace(BASE, fingers=FingerConfig(p=1.0, count=(2, 2), reach_mm=(30.0, 50.0))), 3),
    ("pen marks", replace(BASE, pen=PenConfig(p=1.0, count=(6, 6), over_trace=0.8)), 1),
    ("stains", replace(BASE, stains=StainConfig(p=1.0, count=(2, 2), radius_mm=(15, 30), density=(0.3, 0.3),
                                                ring=(0.3, 0.3))), 0),
    ("glare", replace(BASE, glare=GlareConfig(p=1.0, size=(0.25, 0.25), peak=(0.85, 0.85))), 2),
    ("background: photo", replace(BASE, framing=replace(BASE.framing, fill=(0.65, 0.65), backgrounds=("photo",))), 0),
    ("background: papers", replace(BASE, framing=replace(BASE.framing, fill=(0.65, 0.65), backgrounds=("papers",))), 1),
    ("2 px/mm", replace(BASE, downsample=DownsampleConfig(p=1.0, px_per_mm=(2.0, 2.0))), 0),
    ("preset photocopy", "photocopy", 0),
    ("preset screen-moire", "screen-moire", 1),
    ("preset phone-hard", "phone-hard", 1),
]


def tile(printout, preset, seed: int, title: str) -> np.ndarray:
    photo = photograph(printout, preset, seed)
    img = np.ascontiguousarray(photo.image)
    t = max(1, round(img.shape[1] / TILE[0]))
    for o in photo.truth.photo_params.get("occlusions", []):
        x0, y0, x1, y1 = (int(round(v)) for v in o["box"])
        cv2.rectangle(img, (x0, y0), (x1, y1), (255, 220, 0), 2 * t)
    # a 2 px/mm image is shown at its own size, centred: upscaling it would hide what it lost
    h, w = img.shape[:2]
    s = min(TILE[0] / w, TILE[1] / h)
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.full((TILE[1], TILE[0], 3), 40, np.uint8)
    oy, ox = (TILE[1] - small.shape[0]) // 2, (TILE[0] - small.shape[1]) // 2
    out[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    cv2.rectangle(out, (0, 0), (TILE[0], 26), (0, 0, 0), -1)
    cv2.putText(out, title, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def contact_sheet(cols: int = 4) -> np.ndarray:
    from vizecg.data import load_source
    from vizecg.render import RenderConfig, render_printout

    page = render_printout(next(iter(load_source("sample"))), RenderConfig(dpi=100, grid_color="red"))
    tiles = [tile(page, preset, seed, title) for title, preset, seed in CONDITIONS]
    rows = [np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    return np.vstack(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from PIL import Image

    sheet = contact_sheet()
    # 256 colours: a photo's noise makes a true-colour PNG of 12 tiles weigh ~2 MB; the docs want < 1 MB
    Image.fromarray(sheet).quantize(256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.shape[1]} x {sheet.shape[0]})")


if __name__ == "__main__":
    main()

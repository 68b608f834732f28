"""Contact sheets: every layout x photo severity (docs/gallery.png), and random print styles (docs/print_styles.png).

They print (vizecg.render) and photograph (vizecg.photo) sample records, so they live with the builders, above both.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from vizecg.data import load_source
from vizecg.photo import photograph
from vizecg.render.printout import RenderConfig, render_print_style, render_printout
from vizecg.render.style import draw_print_style

GALLERY_LAYOUTS = ("3x4+1", "6x2", "12x1", "1x1")
GALLERY_SEVERITIES = ("none", "scan", "phone", "screen")


def render_gallery(cell_width: int = 360, seed: int = 0, dpi: int = 100) -> tuple[np.ndarray, list[str]]:
    """RGB contact sheet (layouts x photo severities) and the column titles used."""
    ptbxl = load_source("sample")
    mitdb = load_source("sample:mitdb")
    record12 = ptbxl.get(ptbxl.record_ids[0])
    strip = mitdb.get(mitdb.record_ids[-1])
    columns = [(sev, RenderConfig(dpi=dpi)) for sev in GALLERY_SEVERITIES]
    cells = []
    for r, layout in enumerate(GALLERY_LAYOUTS):
        row = []
        for c, (title, cfg) in enumerate(columns):
            rec = strip if layout == "1x1" else record12
            cfg = replace(cfg, layout=layout, gain_mm_mv=5.0 if layout == "12x1" else cfg.gain_mm_mv,
                          start_s=None if layout == "1x1" else 0.0)
            page = render_printout(rec, cfg, seed=seed + r)
            if title != "none":
                page = photograph(page, title, seed=seed + 10 * r + c)
            row.append(_thumbnail(page.image, cell_width, f"{layout} / {title}"))
        cells.append(row)
    rows = [np.concatenate([_pad(im, max(c.shape[0] for c in row)) for im in row], axis=1) for row in cells]
    return np.concatenate(rows, axis=0), [t for t, _ in columns]


def _thumbnail(image: np.ndarray, width: int, caption: str) -> np.ndarray:
    h = int(round(image.shape[0] * width / image.shape[1]))
    thumb = cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA)
    bar = np.full((22, width, 3), 255, np.uint8)
    cv2.putText(bar, caption, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
    return np.concatenate([bar, thumb], axis=0)


def _pad(image: np.ndarray, height: int) -> np.ndarray:
    out = np.full((height, image.shape[1], 3), 240, np.uint8)
    out[:image.shape[0]] = image
    out[:, -2:] = 200  # thin cell border
    out[-2:, :] = 200
    return out


def render_style_sheet(n: int = 24, columns: int = 4, cell_width: int = 380, seed: int = 0, dpi: int = 100,
                       exclude: tuple[str, ...] = ()) -> tuple[np.ndarray, list[str]]:
    """RGB contact sheet of `n` clean pages in print styles drawn as a `style: families` render draws them
    (page k: style from SeedSequence([seed, k]), record k of the embedded PTB-XL sample); returns the families."""
    src = load_source("sample")
    cells, families = [], []
    for k in range(n):
        style_seed, render_seed = (int(v) for v in np.random.SeedSequence([seed, k]).generate_state(2))
        style = draw_print_style(np.random.default_rng(style_seed), exclude=exclude)
        record = src.get(src.record_ids[k % len(src.record_ids)])
        page = render_print_style(record, style, dpi=dpi, seed=render_seed)
        families.append(style.family)
        cells.append(_thumbnail(page.image, cell_width, f"{style.family} / {style.leads.name}"))
    rows = []
    for r in range(0, n, columns):
        row = cells[r:r + columns]
        height = max(c.shape[0] for c in row)
        padded = [_pad(im, height) for im in row]
        while len(padded) < columns:
            padded.append(np.full((height, cell_width, 3), 240, np.uint8))
        rows.append(np.concatenate(padded, axis=1))
    return np.concatenate(rows, axis=0), families

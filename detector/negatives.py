"""Background (negative) images for the detector: pictures with no ECG in them, written as a folder that
`prepare_dataset` / `vizecg detector train --data` reads like a `vizecg render` folder (manifest.csv, label
JSON, YOLO view with EMPTY label files: ultralytics trains on them as background images).

Kinds (item k is kind k mod len(KINDS), so every kind is present and balanced):
  text       printed pages in matplotlib's shipped TTF fonts: paragraphs, headings, one to three columns
  table      ruled tables of words and numbers, and forms (boxes, underlined fields, checkboxes)
  grid       ECG paper as the renderer prints it (its paper constants), with no trace (several colours, some with the
             printed header text), graph paper and dot grids
  paper      blank and stained paper (shading, coffee rings, folds, pencil marks)
  checker    checkerboards of random cell size, colour and angle
  noise      pixel noise (uniform, Gaussian, salt and pepper) and smooth (low-pass) noise
  photo      real photographs bundled with scikit-image / scikit-learn: random crops, rescales, rotations and
             colour jitter, sometimes tiled into a scene or laid on a desk surface
Page-like kinds (text, table, grid, paper) are photographed with the photo simulator (`vizecg.photo`, a
preset page with no truth in it) half of the time, so they also appear as phone photos, scans and screens.

Item k draws only from SeedSequence([seed, k]): the same seed gives the same bytes, whatever n is.

    python -m detector.negatives --n 300 --seed 10000 --out runs/detector_data/negatives_s10000
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from detector.config import CLASS_NAMES
from vizecg.errors import DataError
from vizecg.images import write_image
from vizecg.runs import atomic_write_text, write_json

KINDS: tuple[str, ...] = ("text", "table", "grid", "paper", "checker", "noise", "photo")
PAGE_KINDS = ("text", "table", "grid", "paper")  # printed paper: photographed half of the time
VAL_EVERY = 10  # item k is a validation image when k % VAL_EVERY == VAL_EVERY - 1 (10% val, the rest train)
PHOTO_SHARE = 0.5
# Fonts matplotlib ships (no download, same on every install): families a printer or a word processor uses.
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
              "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
              "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf",
              "cmtt10.ttf")
WORDS = ("the patient was seen in clinic today and reports no chest pain shortness of breath or palpitations "
         "history of hypertension diabetes medication dose daily twice morning evening blood pressure heart rate "
         "regular rhythm normal sinus report invoice total amount due date account number reference page of "
         "meeting agenda minutes project budget quarter results summary figure table section introduction "
         "method discussion conclusion lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et magna aliqua enim ad minim veniam quis nostrud exercitation ullamco "
         "laboris nisi aliquip ex ea commodo consequat name address phone email signature approved").split()
PAGE_SIZES_MM = {"letter": (279.4, 215.9), "a4": (297.0, 210.0)}


@dataclass(frozen=True)
class Negative:
    """One background image and what drew it."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    kind: str
    params: dict[str, Any]


# --- one image ----------------------------------------------------------------------------------------------
def make_negative(seed: int, index: int, kind: str | None = None) -> Negative:
    """Background image `index` of the set drawn with `seed` (kind: KINDS[index % len(KINDS)] unless given)."""
    kind = kind or KINDS[index % len(KINDS)]
    if kind not in KINDS:
        raise DataError(f"unknown negative kind {kind!r} (known: {', '.join(KINDS)})")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    image, params = DRAW[kind](rng)
    photo = str(rng.choice(["phone", "scan", "screen"], p=[0.6, 0.25, 0.15]))
    if kind in PAGE_KINDS and rng.random() < PHOTO_SHARE:
        image = photograph_page(image, photo, int(rng.integers(2 ** 31)))
        params["photo"] = photo
    return Negative(np.ascontiguousarray(image), kind, params)


def photograph_page(image: np.ndarray, preset: str, seed: int) -> np.ndarray:
    """The photo simulator's view of a printed page that holds no ECG (an empty PageTruth rides along)."""
    from vizecg.photo import photograph
    from vizecg.render.truth import PageTruth, Printout

    h, w = image.shape[:2]
    truth = PageTruth(width=w, height=h, px_per_mm=w / 279.4, leads=[], beats=[], calibration_boxes=[])
    return photograph(Printout(image, truth), preset, seed=seed).image


def _page(rng: np.random.Generator, paper_rgb: tuple[int, int, int] | None = None) -> tuple[np.ndarray, float]:
    """A blank sheet (H, W, 3) at a random print resolution (100-200 dpi, mostly landscape) and its px per mm."""
    w_mm, h_mm = PAGE_SIZES_MM[str(rng.choice(list(PAGE_SIZES_MM)))]
    if rng.random() < 0.3:
        w_mm, h_mm = h_mm, w_mm
    s = float(rng.uniform(100, 200)) / 25.4
    page = np.empty((int(round(h_mm * s)), int(round(w_mm * s)), 3), np.uint8)
    page[:] = paper_rgb or tuple(int(v) for v in rng.integers(238, 256, 3))
    return page, s


@lru_cache(maxsize=32)
def _font(name: str, size: int):
    from PIL import ImageFont
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _sentence(rng: np.random.Generator, n: int) -> str:
    words = [str(w) for w in rng.choice(WORDS, n)]
    for k in range(len(words)):
        if rng.random() < 0.08:
            words[k] = str(rng.integers(1, 10 ** int(rng.integers(1, 5))))
    return " ".join(words).capitalize() + str(rng.choice([".", ".", ",", ":", ";"]))


def _ink(rng: np.random.Generator) -> tuple[int, int, int]:
    if rng.random() < 0.8:
        v = int(rng.integers(0, 70))
        return (v, v, v)
    return tuple(int(v) for v in rng.integers(0, 140, 3))


def draw_text(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    from PIL import Image, ImageDraw

    page, s = _page(rng)
    img = Image.fromarray(page)
    draw = ImageDraw.Draw(img)
    h, w = page.shape[:2]
    font_name = str(rng.choice(FONT_FILES))
    size = int(round(float(rng.uniform(2.0, 4.5)) * s))  # 2-4.5 mm body text
    cols = int(rng.choice([1, 1, 2, 3]))
    margin = int(rng.uniform(10, 25) * s)
    gutter = int(6 * s)
    col_w = (w - 2 * margin - (cols - 1) * gutter) // cols
    ink = _ink(rng)
    font = _font(font_name, max(size, 8))
    line_h = int(size * rng.uniform(1.15, 1.6))
    y = margin
    if rng.random() < 0.7:  # a title across the page
        title = _font(str(rng.choice(FONT_FILES)), max(int(size * rng.uniform(1.5, 2.5)), 10))
        draw.text((margin, y), _sentence(rng, int(rng.integers(2, 7)))[:-1], font=title, fill=ink)
        y += int(size * 3.2)
    for c in range(cols):
        x0, yy = margin + c * (col_w + gutter), y
        while yy < h - margin - line_h:
            if rng.random() < 0.12:  # paragraph break or a heading
                yy += line_h // 2
                if rng.random() < 0.4:
                    draw.text((x0, yy), _sentence(rng, int(rng.integers(2, 5)))[:-1],
                              font=_font(FONT_FILES[1], max(int(size * 1.2), 8)), fill=ink)
                    yy += int(line_h * 1.4)
                    continue
            text = _sentence(rng, 30)
            while text and draw.textlength(text, font=font) > col_w:
                text = text[: int(len(text) * 0.9)]
            if rng.random() < 0.15:  # the last line of a paragraph is short
                text = text[: max(1, int(len(text) * rng.uniform(0.2, 0.8)))]
            draw.text((x0, yy), text, font=font, fill=ink)
            yy += line_h
    return np.asarray(img).copy(), {"font": font_name, "size_px": size, "columns": cols}


def draw_table(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    from PIL import Image, ImageDraw

    page, s = _page(rng)
    img = Image.fromarray(page)
    draw = ImageDraw.Draw(img)
    h, w = page.shape[:2]
    ink = _ink(rng)
    font = _font(str(rng.choice(FONT_FILES)), max(int(rng.uniform(2.0, 3.5) * s), 8))
    lw = max(1, int(round(rng.uniform(0.15, 0.5) * s)))
    margin = int(rng.uniform(10, 20) * s)
    form = bool(rng.random() < 0.4)
    y = margin
    while y < h - margin - 20 * s:
        if form:  # labelled fields, boxes and checkboxes
            x = margin
            for _ in range(int(rng.integers(1, 4))):
                label = _sentence(rng, int(rng.integers(1, 3)))[:-1] + ":"
                draw.text((x, y), label, font=font, fill=ink)
                x1 = x + int(draw.textlength(label, font=font)) + int(2 * s)
                x2 = min(w - margin, x1 + int(rng.uniform(30, 90) * s))
                if rng.random() < 0.5:
                    draw.line([(x1, y + font.size), (x2, y + font.size)], fill=ink, width=lw)
                else:
                    draw.rectangle([x1, y - int(1 * s), x2, y + font.size + int(1 * s)], outline=ink, width=lw)
                x = x2 + int(8 * s)
                if x > w - margin - 40 * s:
                    break
            y += int(font.size * 2.2)
            if rng.random() < 0.3:  # a row of checkboxes
                x = margin
                for _ in range(int(rng.integers(2, 6))):
                    b = int(font.size * 0.9)
                    draw.rectangle([x, y, x + b, y + b], outline=ink, width=lw)
                    if rng.random() < 0.4:
                        draw.line([(x, y), (x + b, y + b)], fill=ink, width=lw)
                        draw.line([(x, y + b), (x + b, y)], fill=ink, width=lw)
                    draw.text((x + b + int(2 * s), y), _sentence(rng, 1)[:-1], font=font, fill=ink)
                    x += int(rng.uniform(30, 55) * s)
                y += int(font.size * 2.2)
        else:  # a ruled table
            n_rows, n_cols = int(rng.integers(4, 20)), int(rng.integers(2, 8))
            row_h = int(font.size * rng.uniform(1.5, 2.4))
            widths = rng.dirichlet(np.ones(n_cols)) * (w - 2 * margin)
            xs = margin + np.concatenate([[0], np.cumsum(widths)]).astype(int)
            y1 = min(h - margin, y + n_rows * row_h)
            vertical = rng.random() < 0.6
            for r in range(n_rows + 1):
                yy = y + r * row_h
                if yy > y1:
                    break
                if r in (0, 1, n_rows) or rng.random() < 0.7:
                    draw.line([(xs[0], yy), (xs[-1], yy)], fill=ink, width=lw)
                for c in range(n_cols):
                    if r < n_rows and yy + row_h <= y1:
                        cell = (_sentence(rng, int(rng.integers(1, 3)))[:-1] if r == 0 or rng.random() < 0.4
                                else f"{rng.uniform(0, 1000):.{int(rng.integers(0, 3))}f}")
                        while cell and draw.textlength(cell, font=font) > widths[c] - 4:
                            cell = cell[:-1]
                        draw.text((xs[c] + 3, yy + (row_h - font.size) // 2), cell, font=font, fill=ink)
            if vertical:
                for x in xs:
                    draw.line([(x, y), (x, y1)], fill=ink, width=lw)
            y = y1 + int(rng.uniform(8, 25) * s)
    return np.asarray(img).copy(), {"form": form, "line_px": lw}


def ecg_grid_page(width: int, height: int, color: str, s: float, box_mm: tuple[int, int, int, int]) -> np.ndarray:
    """Empty ECG paper as the renderer prints it (vizecg.render.paper's colours and 1 mm / 5 mm squares, lines
    0.08 / 0.2 mm, on whole page millimetres inside box_mm), with no trace. Drawn here, not borrowed from the
    renderer's private grid cache, so the negatives stay the same bytes while the renderer's styles grow."""
    from vizecg.render import paper

    page = np.empty((height, width, 3), np.uint8)
    page[:] = paper.PAPER_RGB
    minor_rgb, major_rgb = paper.GRID_COLORS[color]
    x0, y0, x1, y1 = box_mm
    minor_t, major_t = max(1, int(round(0.08 * s))), max(1, int(round(0.2 * s)))
    ys = (int(round(y0 * s)), int(round(y1 * s)) + 1)
    xs = (int(round(x0 * s)), int(round(x1 * s)) + 1)
    for major in (False, True):
        rgb, t = (major_rgb, major_t) if major else (minor_rgb, minor_t)
        for mm in range(x0, x1 + 1):
            if (mm % int(paper.MAJOR_GRID_MM) == 0) == major:
                c = int(round(mm * s)) - t // 2
                page[ys[0]:ys[1], max(c, 0):c + t] = rgb
        for mm in range(y0, y1 + 1):
            if (mm % int(paper.MAJOR_GRID_MM) == 0) == major:
                r = int(round(mm * s)) - t // 2
                page[max(r, 0):r + t, xs[0]:xs[1]] = rgb
    return page


def draw_grid(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    from vizecg.render import paper

    style = str(rng.choice(["ecg", "ecg", "ecg_header", "graph", "dots"]))
    colors = [c for c, v in paper.GRID_COLORS.items() if v is not None]
    if style.startswith("ecg"):  # the paper an ECG is printed on, as the renderer draws it
        color = str(rng.choice(colors))
        w_mm, h_mm = PAGE_SIZES_MM[str(rng.choice(list(PAGE_SIZES_MM)))]
        s = float(rng.uniform(100, 200)) / 25.4
        w, h = int(round(w_mm * s)), int(round(h_mm * s))
        x0 = int(rng.integers(5, 20))
        y0 = int(rng.integers(5, 40))
        box = (x0, y0, min(int(w_mm) - 5, x0 + int(rng.integers(150, 262))),
               min(int(h_mm) - 5, y0 + int(rng.integers(60, 200))))
        page = ecg_grid_page(w, h, color, s, box)
        if style == "ecg_header":  # the printed header block above an empty grid (text, no trace)
            from PIL import Image, ImageDraw

            img = Image.fromarray(page)
            draw = ImageDraw.Draw(img)
            font = _font(str(rng.choice(FONT_FILES)), max(int(2.6 * s * 1.4), 8))
            for k in range(int(rng.integers(2, 5))):
                draw.text((x0 * s, (2 + 5 * k) * s), _sentence(rng, int(rng.integers(3, 9))), font=font,
                          fill=(0, 0, 0))
            page = np.asarray(img).copy()
        return page, {"style": style, "color": color}
    page, s = _page(rng)
    h, w = page.shape[:2]
    rgb = tuple(int(v) for v in rng.integers(60, 220, 3))
    step = float(rng.choice([1.0, 2.0, 2.5, 5.0, 6.35])) * s  # mm, or quarter-inch
    if style == "graph":
        major = int(rng.choice([1, 5, 4, 10]))
        for k, x in enumerate(np.arange(0, w, step)):
            cv2.line(page, (int(x), 0), (int(x), h), rgb, 2 if major > 1 and k % major == 0 else 1)
        for k, y in enumerate(np.arange(0, h, step)):
            cv2.line(page, (0, int(y)), (w, int(y)), rgb, 2 if major > 1 and k % major == 0 else 1)
    else:
        r = max(1, int(round(step * rng.uniform(0.06, 0.15))))
        for y in np.arange(step / 2, h, step):
            for x in np.arange(step / 2, w, step):
                cv2.circle(page, (int(x), int(y)), r, rgb, -1)
    return page, {"style": style, "color": list(rgb), "step_px": round(step, 2)}


def draw_paper(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    from vizecg.photo.light import smooth_noise

    page, _ = _page(rng)
    h, w = page.shape[:2]
    img = page.astype(np.float32)
    tint = rng.uniform(0.9, 1.0, 3).astype(np.float32)
    shade = 1.0 + float(rng.uniform(0.0, 0.08)) * smooth_noise(rng, (max(w // 8, 2), max(h // 8, 2)), 4)
    img *= tint * cv2.resize(shade.astype(np.float32), (w, h))[..., None]
    stains = int(rng.integers(0, 5))
    for _ in range(stains):  # coffee rings and blots: a darker, browner ring or disc
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        r = int(rng.uniform(0.03, 0.15) * min(w, h))
        mask = np.zeros((h, w), np.float32)
        cv2.circle(mask, c, r, 1.0, int(rng.integers(2, 12)) if rng.random() < 0.6 else -1)
        mask = cv2.GaussianBlur(mask, (0, 0), float(rng.uniform(1, 6))) * float(rng.uniform(0.1, 0.35))
        img *= 1.0 - mask[..., None] * np.array([0.3, 0.5, 0.8], np.float32)
    if rng.random() < 0.4:  # a fold line
        x = int(rng.uniform(0.2, 0.8) * w)
        img[:, max(0, x - 2):x + 2] *= 0.93
    for _ in range(int(rng.integers(0, 4))):  # pencil marks
        p = rng.integers(0, [w, h], (int(rng.integers(2, 6)), 2)).astype(np.int32)
        cv2.polylines(img, [p], False, (150, 150, 150), 1, cv2.LINE_AA)
    return np.clip(img, 0, 255).astype(np.uint8), {"stains": stains}


def draw_checker(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    w, h = int(rng.integers(800, 2200)), int(rng.integers(600, 1700))
    cell = int(rng.integers(6, 120))
    a, b = (rng.integers(0, 256, 3) for _ in range(2))
    if rng.random() < 0.5:
        a, b = np.array([0, 0, 0]), np.array([255, 255, 255])
    yy, xx = np.mgrid[0:h, 0:w]
    ang = float(rng.choice([0.0, 0.0, rng.uniform(-45, 45)]))
    c, s_ = np.cos(np.radians(ang)), np.sin(np.radians(ang))
    board = ((np.floor((xx * c + yy * s_) / cell) + np.floor((-xx * s_ + yy * c) / cell)) % 2).astype(bool)
    img = np.where(board[..., None], a, b).astype(np.uint8)
    return img, {"cell_px": cell, "angle_deg": round(ang, 1)}


def draw_noise(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    w, h = int(rng.integers(640, 2200)), int(rng.integers(480, 1700))
    style = str(rng.choice(["uniform", "gauss", "salt_pepper", "smooth", "smooth"]))
    if style == "uniform":
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif style == "gauss":
        img = np.clip(rng.normal(rng.uniform(60, 200), rng.uniform(10, 80), (h, w, 3)), 0, 255).astype(np.uint8)
    elif style == "salt_pepper":
        img = np.full((h, w, 3), int(rng.integers(120, 256)), np.uint8)
        m = rng.random((h, w))
        p = float(rng.uniform(0.01, 0.2))
        img[m < p / 2] = 0
        img[m > 1 - p / 2] = 255
    else:  # low-pass noise: blotches at one scale, not rejected by the pixel-correlation gate
        k = float(rng.uniform(1, 12))
        img = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), k)
        img = (img - img.mean()) / (img.std() + 1e-6)
        img = np.clip(128 + rng.uniform(20, 70) * img, 0, 255).astype(np.uint8)
    return img, {"style": style}


def bundled_photos() -> dict[str, np.ndarray]:
    """Real photographs shipped inside scikit-image and scikit-learn (no download), RGB uint8."""
    return dict(_bundled_photos())


@lru_cache(maxsize=1)
def _bundled_photos() -> tuple[tuple[str, np.ndarray], ...]:
    import skimage.data as sk

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "hubble_deep_field",
                 "brick", "grass", "gravel", "clock", "coins", "moon"):
        try:
            im = np.asarray(getattr(sk, name)())
        except Exception:  # a scikit-image build without that file: the others still serve
            continue
        if im.ndim == 2:
            im = np.repeat(im[..., None], 3, axis=2)
        out.append((name, np.ascontiguousarray(im[..., :3].astype(np.uint8))))
    try:
        from sklearn.datasets import load_sample_images

        sample = load_sample_images()
        out += [(Path(f).stem, np.asarray(im, np.uint8)) for f, im in zip(sample.filenames, sample.images)]
    except Exception:  # scikit-learn missing or without its sample images
        pass
    if not out:
        raise DataError("no bundled photographs found (scikit-image / scikit-learn sample images)")
    return tuple(out)


def _jitter(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 180
    hsv[..., 1] *= rng.uniform(0.6, 1.3)
    hsv[..., 2] = hsv[..., 2] * rng.uniform(0.7, 1.2) + rng.uniform(-20, 20)
    return cv2.cvtColor(np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8), cv2.COLOR_HSV2RGB)


def _photo_crop(rng: np.random.Generator, photos: list[tuple[str, np.ndarray]], size: tuple[int, int]
                ) -> tuple[np.ndarray, str]:
    """A rotated, cropped, rescaled, colour-jittered view of one bundled photo, resized to size (w, h)."""
    name, im = photos[int(rng.integers(len(photos)))]
    h, w = im.shape[:2]
    ang = float(rng.uniform(-20, 20)) if rng.random() < 0.5 else 0.0
    if ang:
        M = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0 + abs(ang) / 45)
        im = cv2.warpAffine(im, M, (w, h), borderMode=cv2.BORDER_REFLECT)
    f = float(rng.uniform(0.4, 1.0))
    cw, ch = max(16, int(w * f)), max(16, int(h * f))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    im = im[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        im = im[:, ::-1]
    return _jitter(rng, cv2.resize(np.ascontiguousarray(im), size, interpolation=cv2.INTER_LINEAR)), name


def draw_photo(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    photos = list(_bundled_photos())
    W, H = int(rng.integers(900, 2000)), 0
    H = int(W * rng.choice([0.75, 0.5625, 1.0, 1.333]))
    style = str(rng.choice(["single", "single", "collage", "desk"]))
    if style == "single":
        img, name = _photo_crop(rng, photos, (W, H))
        names = [name]
    elif style == "collage":  # several photos side by side: a cluttered scene of unrelated objects
        img = np.zeros((H, W, 3), np.uint8)
        names = []
        nx, ny = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        xs, ys = np.linspace(0, W, nx + 1).astype(int), np.linspace(0, H, ny + 1).astype(int)
        for i in range(nx):
            for j in range(ny):
                tile, name = _photo_crop(rng, photos, (xs[i + 1] - xs[i], ys[j + 1] - ys[j]))
                img[ys[j]:ys[j + 1], xs[i]:xs[i + 1]] = tile
                names.append(name)
    else:  # a desk: the photo simulator's table/wood/cloth surface with photos (prints, screens) lying on it
        from vizecg.photo.light import background

        img, bg = background(str(rng.choice(["table", "wood", "cloth", "dark", "white"])), (W, H), rng)
        img = img.copy()
        names = []
        for _ in range(int(rng.integers(1, 4))):
            pw, ph = int(W * rng.uniform(0.2, 0.5)), int(H * rng.uniform(0.2, 0.5))
            tile, name = _photo_crop(rng, photos, (pw, ph))
            x, y = int(rng.integers(0, W - pw)), int(rng.integers(0, H - ph))
            img[y:y + ph, x:x + pw] = tile
            names.append(name)
    if rng.random() < 0.5:  # camera softness and sensor noise
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 1.5)))
        img = np.clip(img + rng.normal(0, rng.uniform(1, 5), img.shape), 0, 255).astype(np.uint8)
    return img, {"style": style, "photos": names}


DRAW: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, dict[str, Any]]]] = {
    "text": draw_text, "table": draw_table, "grid": draw_grid, "paper": draw_paper, "checker": draw_checker,
    "noise": draw_noise, "photo": draw_photo}


# --- the folder ---------------------------------------------------------------------------------------------
def split_of_item(index: int) -> str:
    return "val" if index % VAL_EVERY == VAL_EVERY - 1 else "train"


def build_negatives(n: int, seed: int, out: str | Path, kinds: tuple[str, ...] = KINDS, progress: bool = True
                    ) -> dict[str, Any]:
    """Write n background images into `out` as a render-like folder (resumable: existing label JSONs are kept).

    out/images/<id>.jpg, out/labels/<id>.json (an empty PageTruth + kind, params), out/yolo/images/<split>/<id>.jpg
    (a link), out/yolo/labels/<split>/<id>.txt (empty: no object), out/yolo/data.yaml, out/manifest.csv (no fold,
    so the folder's own split is used: 90% train, 10% val), out/summary.json."""
    import yaml
    from tqdm import tqdm

    from vizecg.render.truth import PageTruth

    if n < 1:
        raise DataError("--n must be at least 1")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise DataError(f"unknown negative kind(s) {bad} (known: {', '.join(KINDS)})")
    root = Path(out).resolve()
    for split in ("train", "val"):
        (root / "yolo" / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "yolo" / "labels" / split).mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "yolo" / "data.yaml", yaml.safe_dump(
        {"path": str(root / "yolo"), "train": "images/train", "val": "images/val",
         "names": {i: c for i, c in enumerate(CLASS_NAMES)}}, sort_keys=False))
    rows = []
    for k in tqdm(range(n), desc="negatives", unit="image", disable=not progress):
        kind = kinds[k % len(kinds)]
        item_id = f"neg_{seed}_{k:05d}"
        split = split_of_item(k)
        label_path = root / "labels" / f"{item_id}.json"
        if not label_path.is_file():
            neg = make_negative(seed, k, kind)
            h, w = neg.image.shape[:2]
            write_image(root / "images" / f"{item_id}.jpg", neg.image, quality=92)
            atomic_write_text(root / "yolo" / "labels" / split / f"{item_id}.txt", "")
            link = root / "yolo" / "images" / split / f"{item_id}.jpg"
            if not link.is_symlink():
                os.symlink(os.path.relpath(root / "images" / f"{item_id}.jpg", link.parent), link)
            truth = PageTruth(width=w, height=h, px_per_mm=w / 279.4, leads=[], beats=[], calibration_boxes=[],
                              layout="none", photo_params={"preset": neg.params.get("photo", "none")})
            label = truth.to_json() | {"id": item_id, "kind": kind, "params": neg.params, "seed": seed, "index": k,
                                       "fold": None, "split": split, "image": f"images/{item_id}.jpg",
                                       "photo": neg.params.get("photo", "none")}
            atomic_write_text(label_path, json.dumps(label, default=_plain))  # written last: the item is done
        rows.append({"id": item_id, "image": f"images/{item_id}.jpg", "label": f"labels/{item_id}.json", "fold": "",
                     "split": split, "layout": "none", "photo": "none", "kind": kind, "seed": seed, "index": k})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(root / "manifest.csv", buf.getvalue())
    summary = {"n": n, "seed": seed, "kinds": {k: sum(r["kind"] == k for r in rows) for k in kinds},
               "train": sum(r["split"] == "train" for r in rows), "val": sum(r["split"] == "val" for r in rows)}
    write_json(root / "summary.json", summary)
    return summary


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m detector.negatives", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, required=True, help="number of images (item k is kind k mod the kinds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (pass it to `vizecg detector train --data`)")
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        summary = build_negatives(args.n, args.seed, args.out, tuple(args.kinds), progress=not args.quiet)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Printed text: OpenCV's Hershey stroke font (the classic look) or a TTF family matplotlib ships (via Pillow).

Text is placed by the top of its capitals, so a label sits where the layout asked whatever the font; every call
returns the box of the ink it printed (the ground truth of labels and header lines).
"""
from __future__ import annotations

import os
from functools import lru_cache

import cv2
import numpy as np

from vizecg.errors import RenderError
from vizecg.render.truth import Box

_HERSHEY = cv2.FONT_HERSHEY_SIMPLEX


@lru_cache(maxsize=1)
def _font_dir() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


@lru_cache(maxsize=64)
def _ttf(font: str, size_px: int):
    from PIL import ImageFont

    path = os.path.join(_font_dir(), font)
    if not os.path.isfile(path):
        raise RenderError(f"font {font} not found in matplotlib's fonts ({_font_dir()})")
    return ImageFont.truetype(path, size_px)


@lru_cache(maxsize=16)
def _cap_ratio(font: str) -> float:
    """Cap height of 'H' per pixel of font size."""
    if font == "hershey":
        return float(cv2.getTextSize("H", _HERSHEY, 1.0, 1)[0][1])
    x0, y0, x1, y1 = _ttf(font, 200).getbbox("H", anchor="ls")
    return (y1 - y0) / 200.0


class TextLayer:
    """Draws text onto an RGB page; TTF text goes through one Pillow image, written back by `finish()`."""

    def __init__(self, image: np.ndarray, px_per_mm: float):
        self.image = image
        self.s = px_per_mm
        self._pil = None
        self._draw = None

    def put(self, text: str, x: float, y_top: float, cap_mm: float, font: str, ink: tuple[int, int, int]) -> Box:
        """Text whose capitals' top-left corner is (x, y_top) px; returns the box of its ink."""
        cap_px = cap_mm * self.s
        if font == "hershey":
            scale = cap_px / _cap_ratio(font)
            thick = max(1, int(round(0.2 * self.s * cap_mm / 2.6)))
            (w, h), base = cv2.getTextSize(text, _HERSHEY, scale, thick)
            org = (int(round(x)), int(round(y_top + h)))
            if self._pil is not None:
                self._flush()
            cv2.putText(self.image, text, org, _HERSHEY, scale, ink, thick, cv2.LINE_AA)
            pad = thick / 2.0
            return Box(org[0] - pad, org[1] - h - pad, org[0] + w + pad, org[1] + base * 0.5 + pad)
        if self._pil is None:
            from PIL import Image, ImageDraw

            self._pil = Image.fromarray(self.image)
            self._draw = ImageDraw.Draw(self._pil)
        f = _ttf(font, max(4, int(round(cap_px / _cap_ratio(font)))))
        org = (float(x), float(y_top + cap_px))
        self._draw.text(org, text, font=f, fill=tuple(ink), anchor="ls")
        x0, y0, x1, y1 = self._draw.textbbox(org, text, font=f, anchor="ls")
        return Box(float(x0), float(y0), float(x1), float(y1))

    def width(self, text: str, cap_mm: float, font: str) -> float:
        """Advance width in px of `text` at this size (to lay columns out before drawing)."""
        cap_px = cap_mm * self.s
        if font == "hershey":
            scale = cap_px / _cap_ratio(font)
            return float(cv2.getTextSize(text, _HERSHEY, scale, 1)[0][0])
        return float(_ttf(font, max(4, int(round(cap_px / _cap_ratio(font))))).getlength(text))

    def _flush(self) -> None:
        self.image[:] = np.asarray(self._pil)
        self._pil = self._draw = None

    def finish(self) -> None:
        if self._pil is not None:
            self._flush()

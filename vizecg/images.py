"""Image files in and out: one reader and one writer for every stage (RGB uint8 in memory, always)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vizecg.errors import DataError
from vizecg.runs import atomic_write_bytes


# Decoding needs ~3 bytes a pixel and every stage several float copies of the page: a small file that claims a
# huge size (a 1 MB PNG of 30000x30000) would exhaust the machine. 60 megapixels holds an A4 page scanned at
# 900 dpi or a 48-megapixel phone photo.
DEFAULT_MAX_PIXELS = 60_000_000
MAX_PIXELS_ENV = "VIZECG_MAX_PIXELS"


def max_pixels() -> int:
    """The pixel budget of one image: VIZECG_MAX_PIXELS if set (a positive integer), else DEFAULT_MAX_PIXELS."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(f"{MAX_PIXELS_ENV}={raw!r} must be a positive number of pixels")
    return value


def image_size(source: str | Path | BinaryIO, name: str | Path | None = None) -> tuple[int, int]:
    """(width, height) read from an image file's (or an open binary stream's) header, without decoding pixels;
    `name` is what an error names (the path by default)."""
    import re
    import warnings

    from PIL import Image, UnidentifiedImageError

    name = source if name is None and isinstance(source, (str, Path)) else name
    try:
        with warnings.catch_warnings():  # the budget below speaks for big images; Pillow's warning is noise
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _pil_open()(source) as im:
                return int(im.width), int(im.height)
    except Image.DecompressionBombError as exc:  # Pillow's own guard (2x its MAX_IMAGE_PIXELS): no size given back
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(claimed.group(1)) / 1e6:.0f} megapixels" if claimed else "over 179 megapixels"
        raise DataError(f"image of {size} exceeds the {max_pixels() / 1e6:g}-megapixel limit (Pillow refuses "
                        f"images this large; shrink it)", name) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DataError("not a readable image (PNG/JPEG/TIFF/WebP...)", name) from None


def _pil_open():
    """Pillow's own Image.open: ultralytics replaces it with one that tries to install a HEIF plugin on any file
    Pillow cannot identify."""
    import sys

    from PIL import Image

    patches = sys.modules.get("ultralytics.utils.patches")
    if patches is not None and Image.open is getattr(patches, "image_open", None):
        return patches._image_open
    return Image.open


def check_pixel_budget(width: int, height: int, path: str | Path | None = None) -> None:
    budget = max_pixels()
    if width * height > budget:
        raise DataError(f"image of {width}x{height} px ({width * height / 1e6:.1f} megapixels) exceeds the "
                        f"{budget / 1e6:g}-megapixel limit (raise it with {MAX_PIXELS_ENV}=N, or shrink the image)",
                        path)


def read_image(path: str | Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB; DataError naming the file if it is missing, not an image, or larger
    than the pixel budget (checked from the header, before any pixel is decoded)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("image file not found", path)
    check_pixel_budget(*image_size(path), path)
    return decode_image(np.fromfile(str(path), np.uint8).tobytes(), path)  # any path encoding, unlike imread


def decode_image(data: bytes, name: str | Path | None = None) -> np.ndarray:
    """Encoded image bytes (a file's, an upload's) as (H, W, 3) uint8 RGB, the pixel budget checked from the header
    before decoding and again after (a header that lied); DataError naming `name`."""
    import io

    import cv2

    if not data:
        raise DataError("empty image file", name)
    check_pixel_budget(*image_size(io.BytesIO(data), name), name)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None:
        raise DataError("not a readable image (PNG/JPEG/TIFF/WebP...)", name)
    check_pixel_budget(bgr.shape[1], bgr.shape[0], name)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_image(path: str | Path, image: np.ndarray, max_side: int | None = None, quality: int = 92) -> None:
    """Write an RGB uint8 image atomically as PNG/JPEG (by suffix), optionally shrunk to max_side pixels."""
    import cv2

    img = np.ascontiguousarray(image)
    if max_side and max(img.shape[:2]) > max_side:
        s = max_side / max(img.shape[:2])
        img = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    ext = Path(path).suffix.lower() or ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise DataError(f"cannot encode an image as {ext}", path)
    atomic_write_bytes(path, data.tobytes())

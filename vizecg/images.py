"""Image files in and out: one reader and one writer for every stage (RGB uint8 in memory, always)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vizecg.errors import DataError
from vizecg.runs import atomic_write_bytes


def read_image(path: str | Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB; DataError naming the file if it is missing or not an image."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DataError("image file not found", path)
    data = np.fromfile(str(path), np.uint8)  # imdecode, unlike imread, copes with any path encoding
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise DataError("not a readable image (PNG/JPEG/TIFF...)", path)
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

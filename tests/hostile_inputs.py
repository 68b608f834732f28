"""Hostile inputs shared by the tests: weights that run code, headers that lie, pages that are not ECGs."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np


class Payload:
    """Pickles to os.system('touch MARKER'): runs if anything unpickles it without weights_only."""

    def __init__(self, marker: str | os.PathLike):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def png_claiming(width: int, height: int) -> bytes:
    """A ~70-byte PNG whose header claims width x height pixels (its data is a few zeros)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def text_page() -> np.ndarray:
    """A 1200x900 RGB page of printed text (Hershey font): no ECG on it."""
    import cv2

    page = np.full((900, 1200, 3), 255, np.uint8)
    for i in range(30):
        cv2.putText(page, "Lorem ipsum dolor sit amet, consectetur adipiscing elit 12345", (20, 30 + 29 * i),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    return page

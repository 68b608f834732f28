"""Image files in and out: one reader and one writer for every stage (RGB uint8 in memory, always). A PDF is read
as its pages (list_pages / read_page / read_pages), each rendered within the same pixel budget as an image."""
from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vizecg.errors import DataError, first_line
from vizecg.runs import atomic_write_bytes


# Decoding needs ~3 bytes a pixel and every stage several float copies of the page: a small file that claims a
# huge size (a 1 MB PNG of 30000x30000) would exhaust the machine. 60 megapixels holds an A4 page scanned at
# 900 dpi or a 48-megapixel phone photo.
DEFAULT_MAX_PIXELS = 60_000_000
MAX_PIXELS_ENV = "VIZECG_MAX_PIXELS"


def max_pixels() -> int:
    """The pixel budget of one image: VIZECG_MAX_PIXELS if set (a positive integer), else DEFAULT_MAX_PIXELS."""
    return _positive_env(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS, "pixels")


def _positive_env(var: str, default: int, unit: str) -> int:
    raw = os.environ.get(var)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(f"{var}={raw!r} must be a positive number of {unit}")
    return value


def image_size(source: str | Path | BinaryIO, name: str | Path | None = None) -> tuple[int, int]:
    """(width, height) read from an image file's (or an open binary stream's) header, without decoding pixels;
    `name` is what an error names (the path by default)."""
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


# --- PDF pages -------------------------------------------------------------------------------------------------
# A scanned or exported ECG often arrives as a PDF, one page an ECG. pdfium (pypdfium2's wheel, built without V8
# or XFA) only rasterizes: no JavaScript runs, no embedded file or form is opened, nothing is fetched.
PDF_DPI = 200  # the renderer's default: an A4 page is then 1654x2339 px (3.9 megapixels)
DEFAULT_MAX_PDF_PAGES = 50
MAX_PDF_PAGES_ENV = "VIZECG_MAX_PDF_PAGES"
PDF_SUFFIX = ".pdf"
_PDFIUM = threading.Lock()  # pdfium is not thread-safe (`vizecg serve` reads uploads from several threads)


def max_pdf_pages() -> int:
    """Pages one PDF may hold: VIZECG_MAX_PDF_PAGES if set (a positive integer), else DEFAULT_MAX_PDF_PAGES."""
    return _positive_env(MAX_PDF_PAGES_ENV, DEFAULT_MAX_PDF_PAGES, "pages")


def is_pdf(head: bytes) -> bool:
    """True for a PDF's first bytes (readers accept the %PDF- marker anywhere in the first 1 KB)."""
    return b"%PDF-" in head[:1024]


def _is_pdf_file(path: Path) -> bool:
    if path.suffix.lower() == PDF_SUFFIX:
        return True
    with open(path, "rb") as f:
        return is_pdf(f.read(1024))


@dataclass(frozen=True)
class PageRef:
    """One page of an input file, not yet decoded: `index` is None for an image file, else the PDF page (0-based).
    `name`: the file's stem, with -p1, -p2... for the pages of a PDF."""

    path: Path
    name: str
    index: int | None = None


def _open_pdf(source: str | Path | bytes, name: str | Path | None) -> Any:
    """pypdfium2's PdfDocument (call under _PDFIUM); DataError for an encrypted, broken or oversized PDF."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(source if isinstance(source, bytes) else str(source))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DataError("encrypted PDF (it needs a password): VizECG does not open encrypted files; save an "
                            "unencrypted copy", name) from None
        why = re.search(r"PDFium: ([^)]*)", str(exc))  # "Failed to load document (PDFium: Data format error)."
        raise DataError(f"not a readable PDF ({why.group(1).lower() if why else first_line(exc)})", name) from None
    n, limit = len(doc), max_pdf_pages()
    if n == 0:
        doc.close()
        raise DataError("PDF has no pages", name)
    if n > limit:
        doc.close()
        raise DataError(f"PDF of {n} pages exceeds the {limit}-page limit (raise it with {MAX_PDF_PAGES_ENV}=N, "
                        f"or split the file)", name)
    return doc


def pdf_page_count(source: str | Path | bytes, name: str | Path | None = None) -> int:
    """Pages in a PDF (a path or its bytes), checked as read_pdf_page checks it."""
    with _PDFIUM:
        doc = _open_pdf(source, name)
        try:
            return len(doc)
        finally:
            doc.close()


def pdf_dpi(width_pt: float, height_pt: float, budget: int | None = None) -> float:
    """PDF_DPI, lowered for a page so large that PDF_DPI would exceed the pixel budget (the page then fills it)."""
    budget = max_pixels() if budget is None else budget
    area_in2 = max(width_pt, 1e-3) * max(height_pt, 1e-3) / 72.0 ** 2
    return min(float(PDF_DPI), math.sqrt(budget / area_in2) * 0.999)


def read_pdf_page(source: str | Path | bytes, index: int, name: str | Path | None = None) -> np.ndarray:
    """Page `index` (0-based) of a PDF (a path or its bytes) as (H, W, 3) uint8 RGB, rendered at pdf_dpi (white
    behind transparent content); DataError naming `name` for an encrypted/broken PDF, a missing page or one whose
    pixels would exceed the budget."""
    with _PDFIUM:
        doc = _open_pdf(source, name)
        try:
            if not 0 <= index < len(doc):
                raise DataError(f"PDF has {len(doc)} page(s), no page {index + 1}", name)
            page = doc[index]
            try:
                w_pt, h_pt = page.get_size()
                scale = pdf_dpi(w_pt, h_pt) / 72.0
                check_pixel_budget(int(w_pt * scale), int(h_pt * scale), name)
                bitmap = page.render(scale=scale, rev_byteorder=True, may_draw_forms=False, fill_color=(255,) * 4)
                rgb = np.array(bitmap.to_numpy()[:, :, :3], dtype=np.uint8)  # a copy: the bitmap is freed below
                bitmap.close()
            finally:
                page.close()
        except DataError:
            raise
        except Exception as exc:  # pdfium's errors on a damaged page: one line, naming the file
            raise DataError(f"cannot render PDF page {index + 1} ({first_line(exc)})", name) from None
        finally:
            doc.close()
    check_pixel_budget(rgb.shape[1], rgb.shape[0], name)
    return rgb


def list_pages(path: str | Path) -> list[PageRef]:
    """The pages of an input file, cheaply (no pixels decoded): one for an image, one per page for a PDF (opened
    to count them: DataError if it is encrypted, broken or over VIZECG_MAX_PDF_PAGES)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("image file not found", path)
    if not _is_pdf_file(path):
        return [PageRef(path, path.stem)]
    return [PageRef(path, f"{path.stem}-p{i + 1}", i) for i in range(pdf_page_count(path, path))]


def read_page(ref: PageRef) -> np.ndarray:
    """A PageRef's pixels as (H, W, 3) uint8 RGB (read_image or read_pdf_page)."""
    return read_image(ref.path) if ref.index is None else read_pdf_page(ref.path, ref.index, ref.path)


def read_pages(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """Every page of an image or PDF file as (page name, RGB uint8 image): one for an image, one per PDF page."""
    return [(ref.name, read_page(ref)) for ref in list_pages(path)]

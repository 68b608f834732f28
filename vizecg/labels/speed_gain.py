"""Printed paper speed and gain ("25mm/s 10mm/mV 100Hz", "Speed: 50 mm/s", "10/5 mm/mV") read off a page.

    sg = read_speed_gain(image)                                  # the image's top and bottom strips
    sg = read_speed_gain(page, regions=[(0, 0, w, y_top)], px_per_mm=7.9)
    sg.speed_mm_s, sg.gain_mm_mv, sg.chest_gain_mm_mv           # None where not read

Text is found and read by rapidocr-onnxruntime (PP-OCRv4 text detector and recogniser, ONNX models shipped in
its wheel, CPU, nothing downloaded): the detector runs on the given regions only, scaled to about
DET_PX_PER_MM, and the recogniser on each line it finds, at the image's own resolution. `parse_speed_gain` then
takes the values from the text: a number before "mm/s" (or "mm/sec") is a speed, before "mm/mV" a gain, each
kept only where it is a setting an ECG machine offers (PRINTED_SPEEDS_MM_S, PRINTED_GAINS_MM_MV). Lines that
print different values for the same setting cancel it: a wrong speed is worse than none.

The engine is imported on first use (`ocr_engine`); where it is missing the reader says how to install it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from vizecg.errors import VizEcgError

# Settings ECG machines offer (and print): wider than the renderer's (paper.SPEEDS_MM_S, paper.GAINS_MM_MV),
# since a real page may print any of them. A number outside these is a misread, not a setting.
PRINTED_SPEEDS_MM_S: tuple[float, ...] = (10.0, 12.5, 25.0, 50.0, 100.0)
PRINTED_GAINS_MM_MV: tuple[float, ...] = (2.5, 5.0, 10.0, 20.0, 40.0)
DET_PX_PER_MM = 4.0  # the detector sees text at this scale: 2.4 mm capitals ~10 px, enough for it, and cheap
DET_MAX_WIDTH = 1600  # px: a cap on the detector's input width, whatever scale is asked
MIN_LINE_SCORE = 0.5  # recogniser score below which a line is not used (its text is a guess)
# A line's crop is padded by this fraction of its height. 0: the detector's boxes already hold a margin (its
# unclip ratio 1.6); more lets grid dots and neighbouring ink in (a thermal page's footer read as
# '25mm10mm/ml40H2' at 0.25, '25mm/s 10mm/mV 40Hz' at 0)
LINE_PAD = 0.0

_NUM = r"(\d{1,3}(?:[.,]\d{1,2})?)"
# "mm" then a slash (OCR reads it as "l" or "|" on small print) then the unit; the unit must end the word
# ("mm/s10mm/mV" from a recogniser that dropped the spaces still parses). "ms", "Hz", "mV" alone never match.
_SLASH = r"\s*[/|l]\s*"
_SPEED = re.compile(rf"(?<![\d.,]){_NUM}\s*mm{_SLASH}s(?:ec)?(?![a-z])", re.IGNORECASE)
_GAIN = re.compile(rf"(?<![\d.,/]){_NUM}(?:\s*/\s*{_NUM})?\s*mm{_SLASH}m\s?v(?![a-z])", re.IGNORECASE)
_CHEST = re.compile(r"(chest|prec\w*|v[\s-]*leads?|v1\s*-\s*v6)\W{0,3}$", re.IGNORECASE)
_LIMB = re.compile(r"(limbs?|extremit\w*|i\s*-\s*avf)\W{0,3}$", re.IGNORECASE)


class OcrMissingError(VizEcgError):
    """The OCR engine (rapidocr-onnxruntime) is not installed."""


@dataclass(frozen=True)
class ParsedSpeedGain:
    """Values found in one text (None: not printed there, or printed as something no machine offers)."""

    speed_mm_s: float | None = None
    gain_mm_mv: float | None = None
    chest_gain_mm_mv: float | None = None  # "10/5 mm/mV", "chest 5 mm/mV": the V leads' gain where it differs

    @property
    def any(self) -> bool:
        return self.speed_mm_s is not None or self.gain_mm_mv is not None


@dataclass(frozen=True)
class SpeedGain:
    """What a page prints of its paper speed and gain (None where nothing was read)."""

    speed_mm_s: float | None
    gain_mm_mv: float | None
    text: str  # the line(s) the values were read from, " | " between lines ("" where none)
    box: tuple[float, float, float, float] | None  # (x0, y0, x1, y1) image px around those lines
    confidence: float  # the lowest recogniser score of those lines (0: nothing read)
    chest_gain_mm_mv: float | None = None
    conflicts: tuple[str, ...] = ()  # settings printed with different values on different lines (then None)

    @property
    def read(self) -> bool:
        return self.speed_mm_s is not None or self.gain_mm_mv is not None

    def to_json(self) -> dict[str, Any]:
        return {"speed_mm_s": self.speed_mm_s, "gain_mm_mv": self.gain_mm_mv,
                "chest_gain_mm_mv": self.chest_gain_mm_mv, "text": self.text,
                "box": None if self.box is None else [round(float(v), 1) for v in self.box],
                "confidence": round(float(self.confidence), 3), "conflicts": list(self.conflicts)}


NOTHING = SpeedGain(None, None, "", None, 0.0)


def _value(s: str | None, offered: tuple[float, ...]) -> float | None:
    if s is None:
        return None
    v = float(s.replace(",", "."))
    return v if v in offered else None


def parse_speed_gain(text: str) -> ParsedSpeedGain:
    """Speed, gain and chest gain printed in one line of text; None for what it does not print (or prints as
    a value outside PRINTED_SPEEDS_MM_S / PRINTED_GAINS_MM_MV). Two different values for one setting in the
    line (two speeds, two unlabelled gains) leave it None."""
    speeds = {_value(m.group(1), PRINTED_SPEEDS_MM_S) for m in _SPEED.finditer(text)}
    limb: set[float | None] = set()
    chest: set[float | None] = set()
    for m in _GAIN.finditer(text):
        before = text[max(0, m.start() - 16):m.start()]
        first, second = _value(m.group(1), PRINTED_GAINS_MM_MV), _value(m.group(2), PRINTED_GAINS_MM_MV)
        if m.group(2) is not None:  # "10/5 mm/mV": limb / chest
            limb.add(first)
            chest.add(second)
        elif _CHEST.search(before):
            chest.add(first)
        else:
            limb.add(first)  # "limb 10 mm/mV" or unlabelled
    one = lambda vals: next(iter(vals)) if len(vals) == 1 else None  # noqa: E731 (a set of one value)
    gain, chest_gain = one(limb), one(chest)
    return ParsedSpeedGain(one(speeds), gain, None if chest_gain == gain else chest_gain)


# --- the OCR engine ------------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def ocr_engine(threads: int = 1) -> Any:
    """rapidocr-onnxruntime's RapidOCR on the CPU with `threads` threads (made once per thread count)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise OcrMissingError(
            f"reading printed speed/gain needs rapidocr-onnxruntime ({exc}); install it without its opencv-python "
            f"dependency, which would shadow opencv-python-headless: pip install --no-deps "
            f"rapidocr-onnxruntime==1.4.4 pyclipper shapely (as `make venv` does), or set "
            f"read_speed_gain: false") from exc
    n = int(threads)
    # CPU execution provider only (its config's use_cuda / use_dml are false). limit_type "max": the detector
    # never enlarges its input (the default "min" scales the short side up to 736 px, 5x the work on a strip);
    # find_lines hands it inputs already at the scale it should see.
    return RapidOCR(intra_op_num_threads=n, inter_op_num_threads=n, det_limit_type="max", det_limit_side_len=2000)


Region = tuple[int, int, int, int]  # (x0, y0, x1, y1) image px


def default_regions(shape: tuple[int, ...]) -> list[Region]:
    """The image's top 30 % and bottom 20 %: where headers and footers are printed on an upright page."""
    h, w = shape[:2]
    return [(0, 0, w, int(0.30 * h)), (0, int(0.80 * h), w, h)]


def find_lines(image: np.ndarray, regions: Sequence[Region], px_per_mm: float, engine: Any) -> list[np.ndarray]:
    """Text-line boxes (4x2 corner points, image px, clockwise from top-left) found by the detector in each
    region, scaled to about DET_PX_PER_MM first."""
    import cv2

    lines = []
    for x0, y0, x1, y1 in regions:
        x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(image.shape[1], int(x1)), min(image.shape[0], int(y1))
        if x1 - x0 < 16 or y1 - y0 < 8:
            continue
        f = min(1.0, DET_PX_PER_MM / px_per_mm, DET_MAX_WIDTH / (x1 - x0))
        crop = image[y0:y1, x0:x1]
        # the detector wants sides in multiples of 32 and at least 32 px: pad, never stretch
        small = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1.0 else crop
        hh, ww = small.shape[:2]
        ph, pw = max(32, -(-hh // 32) * 32), max(32, -(-ww // 32) * 32)
        padded = np.full((ph, pw, 3), 255, np.uint8)
        padded[:hh, :ww] = small
        boxes, _ = engine.text_det(padded)
        for b in [] if boxes is None else boxes:
            lines.append(np.asarray(b, np.float64) / (f if f < 1.0 else 1.0) + [x0, y0])
    return lines


def line_crop(image: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """The line's pixels straightened onto a rectangle (a photographed line is a tilted quad), padded by LINE_PAD."""
    import cv2

    w = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]))
    h = max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))
    if h < 4 or w < 4:
        return None
    pad = LINE_PAD * h
    # move the corners outward along the line's own axes
    ux, uy = (quad[1] - quad[0]) / max(w, 1e-6), (quad[3] - quad[0]) / max(h, 1e-6)
    src = np.array([quad[0] - pad * (ux + uy), quad[1] + pad * (ux - uy), quad[2] + pad * (ux + uy),
                    quad[3] - pad * (ux - uy)], np.float32)
    W, H = int(round(w + 2 * pad)), int(round(h + 2 * pad))
    dst = np.array([[0, 0], [W, 0], [W, H], [0, H]], np.float32)
    return cv2.warpPerspective(image, cv2.getPerspectiveTransform(src, dst), (W, H), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def read_lines(image: np.ndarray, quads: Sequence[np.ndarray], engine: Any) -> list[tuple[str, float]]:
    """(text, recogniser score) of each line box."""
    crops = [line_crop(image, q) for q in quads]
    keep = [i for i, c in enumerate(crops) if c is not None]
    out = [("", 0.0)] * len(quads)
    if keep:
        res, _ = engine.text_rec([crops[i] for i in keep])
        for i, (text, score) in zip(keep, res):
            out[i] = (str(text), float(score))
    return out


def combine(lines: Sequence[tuple[str, float, np.ndarray | None]]) -> SpeedGain:
    """One SpeedGain from the lines of a page (text, score, quad): every value any line prints; a setting that
    lines print differently is dropped (named in `conflicts`)."""
    found: dict[str, set[float]] = {"speed": set(), "gain": set(), "chest gain": set()}
    used = []
    for text, score, quad in lines:
        if score < MIN_LINE_SCORE:
            continue
        p = parse_speed_gain(text)
        if not p.any and p.chest_gain_mm_mv is None:
            continue
        used.append((text, score, quad))
        for key, v in (("speed", p.speed_mm_s), ("gain", p.gain_mm_mv), ("chest gain", p.chest_gain_mm_mv)):
            if v is not None:
                found[key].add(v)
    if not used:
        return NOTHING
    conflicts = tuple(f"{k} printed as {' and '.join(f'{v:g}' for v in sorted(vals))}"
                      for k, vals in found.items() if len(vals) > 1)
    one = {k: (next(iter(v)) if len(v) == 1 else None) for k, v in found.items()}
    quads = [q for _, _, q in used if q is not None]
    box = None
    if quads:
        pts = np.concatenate(quads)
        box = (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))
    result = SpeedGain(speed_mm_s=one["speed"], gain_mm_mv=one["gain"], chest_gain_mm_mv=one["chest gain"],
                       text=" | ".join(t for t, _, _ in used), box=box,
                       confidence=min(s for _, s, _ in used), conflicts=conflicts)
    return result if result.read else SpeedGain(None, None, result.text, box, 0.0, None, conflicts)


def read_speed_gain(image: np.ndarray, regions: Sequence[Region] | None = None, px_per_mm: float | None = None,
                    threads: int = 1, engine: Any = None, stop_when_read: bool = False) -> SpeedGain:
    """The paper speed and gain printed on a page image (RGB or grey uint8, as vizecg.images reads it),
    searched for in `regions` (default: the top 30 % and bottom 20 % of the image; give the rectified page of a
    photo, as the digitizer does). `px_per_mm` (default: the image's width taken as 280 mm, a landscape page)
    sets the detector's scale. stop_when_read: regions after the one where both speed and gain were read are
    not searched (cheaper; a later region that prints other values is then not seen). OcrMissingError where
    rapidocr-onnxruntime is not installed."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    # RGB -> BGR: the models were trained on cv2-loaded images
    img = np.ascontiguousarray(img[:, :, 2::-1].astype(np.uint8, copy=False))
    engine = engine if engine is not None else ocr_engine(threads)
    ppm = float(px_per_mm) if px_per_mm else img.shape[1] / 280.0
    lines: list[tuple[str, float, np.ndarray]] = []
    result = NOTHING
    for region in default_regions(img.shape) if regions is None else regions:
        quads = [q for q in find_lines(img, [region], ppm, engine) if _may_hold_setting(q)]
        lines += [(t, s, q) for (t, s), q in zip(read_lines(img, quads, engine), quads)]
        result = combine(lines)
        if stop_when_read and result.speed_mm_s is not None and result.gain_mm_mv is not None:
            break
    return result


MIN_LINE_ASPECT = 2.5  # "5mm/s", the shortest setting, is 5 characters: ~3 times as wide as tall


def _may_hold_setting(quad: np.ndarray) -> bool:
    """Whether a line box is long enough to print a setting (a lead label, "kg" or "Ht:" is not): the
    recogniser's cost is its lines' width, so what cannot hold one is not read."""
    w = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]))
    h = max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))
    return h >= 4 and w >= MIN_LINE_ASPECT * h

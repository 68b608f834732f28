"""Ink masks from the render truth, and the one fixed scale the network sees pages at.

A rendered page's truth holds each lead's plotted samples in image pixels (`LeadTruth.trace`, moved with every
photo step, `visible` where the point is still inside the image). Drawn as polylines at the width the printer
drew them, they are the exact ink mask of the traces: grid, dots, text, pulses, separators, stamps, pen marks and
fold lines are all left out, which is what the network has to learn.

Why one fixed scale (`px_per_mm`, 4 by default, stored with the weights): a convolution sees a fixed number of
pixels, so a page is resampled until a millimetre is always the same number of pixels; the grid's 1 mm period,
the trace's width and the rows' spacing then look alike on every page and the receptive field covers the same
paper everywhere. 4 px/mm is at or below what phone photos hold (the simulator's photos are 2-6 px/mm, scans
6-12), so resampling to it drops little, and a letter page is about 1.1 megapixels there: a CPU can afford it.
A 256 px training tile is then 64 mm square: 2.5 s of trace at 25 mm/s, more than a row's height, enough to see
the grid's lattice and the neighbouring rows' ink it must tell apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vizecg.render import paper
from vizecg.render.truth import PageTruth

DEFAULT_LINE_MM = 0.3  # a page whose truth does not say how wide the pen drew: a typical ECG printer's line
MIN_LINE_PX = 1.0  # the mask's narrowest line: a thinner pen still darkens the pixel it crosses
_SHIFT = 4  # cv2 fixed-point bits: polylines at 1/16 px, as the renderer draws them
# Occlusions whose box hides the trace itself: there the truth says ink the image cannot show, so the loss and
# the pixel scores leave those pixels out (pens, stains and glare leave the trace visible; pen ink is not trace).
HIDING_OCCLUSIONS = ("finger",)


def image_px_per_mm(truth: PageTruth) -> float:
    """Pixels per paper mm of the image the truth comes with: the render's, times what the photo's camera and
    downsampling did (the simulator records it per step; the mean over the page where perspective varies)."""
    steps = (truth.photo_params or {}).get("steps") or {}
    for key in ("downsample", "camera"):  # downsampling comes after the camera and already includes it
        value = (steps.get(key) or {}).get("px_per_mm")
        if value:
            return float(value)
    return float(truth.px_per_mm)


def printed_line_mm(truth: PageTruth) -> float:
    """The trace's width on paper as printed: the style's (or older render config's) `line_width_mm` at the
    whole pixels the renderer drew it with (max(1, round(mm x px/mm)), see render.printout), else 0.3 mm."""
    params = truth.render_params or {}
    mm = (params.get("print_style") or {}).get("line_width_mm") or params.get("line_width_mm")
    if not mm:
        return DEFAULT_LINE_MM
    s = float(params.get("px_per_mm") or truth.px_per_mm)
    return max(1, int(round(float(mm) * s))) / s


def trace_runs(truth: PageTruth) -> list[np.ndarray]:
    """Each stretch of consecutive visible samples of every lead, (n, 2) float64 image px: NaN gaps and points
    the photo moved out of the image break a lead's polyline."""
    runs = []
    for lead in truth.leads:
        ok = lead.visible & np.isfinite(lead.trace).all(axis=1)
        if ok.sum() < 2:
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.view(np.int8), [0]])))
        runs += [lead.trace[a:b].astype(np.float64) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 2]
    return runs


def scale_runs(runs: list[np.ndarray], sx: float, sy: float, dx: float = 0.0, dy: float = 0.0) -> list[np.ndarray]:
    """Runs in an image resized by (sx, sy) about pixel centres ((p + 0.5) s - 0.5) and then shifted by (dx, dy)."""
    s = np.array([sx, sy])
    d = np.array([dx, dy]) + 0.5 * s - 0.5
    return [r * s + d for r in runs]


def draw_runs(runs: list[np.ndarray], shape: tuple[int, int], line_px: float) -> np.ndarray:
    """(h, w) uint8 0/1 mask of the polylines at `line_px` wide (at least MIN_LINE_PX)."""
    mask = np.zeros(shape, np.uint8)
    if runs:
        thickness = max(1, int(round(max(line_px, MIN_LINE_PX))))
        pts = [np.round(r * (1 << _SHIFT)).astype(np.int32) for r in runs]
        cv2.polylines(mask, pts, False, 1, thickness, cv2.LINE_8, _SHIFT)
    return mask


def trace_mask(truth: PageTruth, scale: float = 1.0, line_mm: float | None = None) -> np.ndarray:
    """(h, w) bool: the trace ink of the truth's image, resized by `scale` (the same resize as `resample`).
    The line is as wide as printed (`printed_line_mm`) unless `line_mm` says otherwise."""
    h, w = resampled_shape((truth.height, truth.width), scale)
    ppm = image_px_per_mm(truth) * scale
    mm = printed_line_mm(truth) if line_mm is None else line_mm
    runs = scale_runs(trace_runs(truth), w / truth.width, h / truth.height)
    return draw_runs(runs, (h, w), mm * ppm).astype(bool)


def hidden_mask(truth: PageTruth, scale: float = 1.0) -> np.ndarray:
    """(h, w) bool: where an occlusion hides the trace (HIDING_OCCLUSIONS' boxes), resized like `trace_mask`."""
    h, w = resampled_shape((truth.height, truth.width), scale)
    out = np.zeros((h, w), bool)
    sx, sy = w / truth.width, h / truth.height
    for occ in (truth.photo_params or {}).get("occlusions") or []:
        if occ.get("kind") in HIDING_OCCLUSIONS:
            x0, y0, x1, y1 = occ["box"]
            out[max(0, int(y0 * sy)):int(np.ceil(y1 * sy)), max(0, int(x0 * sx)):int(np.ceil(x1 * sx))] = True
    return out


def page_region(truth: PageTruth, scale: float = 1.0) -> np.ndarray:
    """(h, w) bool: the paper's bounding box (the whole image without one) less the hidden boxes: where the ink
    mask is scored. Outside the sheet there is no trace, and the digitizer looks only inside the sheet."""
    region = np.zeros(resampled_shape((truth.height, truth.width), scale), bool)
    region[page_window(truth, scale, margin=0)] = True
    return region & ~hidden_mask(truth, scale)


def page_window(truth: PageTruth, scale: float = 1.0, margin: int = 16) -> tuple[slice, slice]:
    """(rows, cols) of the sheet's bounding box with `margin` px around it, in the image resized by `scale`: the
    part worth segmenting (the digitizer reads the sheet it found, not the table around it)."""
    h, w = resampled_shape((truth.height, truth.width), scale)
    box = truth.page_box
    if box is None:
        return slice(0, h), slice(0, w)
    sx, sy = w / truth.width, h / truth.height
    return (slice(max(0, int(box.y0 * sy) - margin), min(h, int(np.ceil(box.y1 * sy)) + margin)),
            slice(max(0, int(box.x0 * sx) - margin), min(w, int(np.ceil(box.x1 * sx)) + margin)))


def resampled_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """(h, w) of an (h, w) image resized by `scale`."""
    return max(1, int(round(shape[0] * scale))), max(1, int(round(shape[1] * scale)))


def resample(image: np.ndarray, scale: float) -> np.ndarray:
    """The image resized by `scale` about pixel centres: area-averaged when shrinking (a thin trace must not
    fall between samples), bilinear when enlarging."""
    h, w = resampled_shape(image.shape[:2], scale)
    if (h, w) == image.shape[:2]:
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def guess_px_per_mm(shape: tuple[int, int]) -> float:
    """A page's scale when nobody measured it: its long side taken as letter paper's width (as the digitizer
    guesses before it has seen the grid). A photo with background around the sheet is under-estimated."""
    return max(shape[:2]) / paper.PAPER_SIZES_MM["letter"][0]


@dataclass(frozen=True)
class PageAtScale:
    """A page resampled to the network's scale with its truth there: what training tiles are cut from."""

    image: np.ndarray  # (h, w, 3) uint8 RGB
    runs: list[np.ndarray]  # trace polylines in this image's px
    line_px: float  # the printed line's width in this image's px
    valid: np.ndarray  # (h, w) uint8: 0 where an occlusion hides the trace (left out of the loss)
    page_box: tuple[float, float, float, float]  # the sheet's bounding box (x0, y0, x1, y1) in this image's px


def page_at_scale(image: np.ndarray, truth: PageTruth, px_per_mm: float) -> PageAtScale:
    """`image` (the truth's) resampled to `px_per_mm`, with its trace polylines and hidden boxes there."""
    if image.shape[:2] != (truth.height, truth.width):
        raise ValueError(f"image is {image.shape[1]}x{image.shape[0]} px but its truth describes "
                         f"{truth.width}x{truth.height}")
    scale = px_per_mm / image_px_per_mm(truth)
    small = resample(image, scale)
    h, w = small.shape[:2]
    runs = scale_runs(trace_runs(truth), w / truth.width, h / truth.height)
    valid = (~hidden_mask(truth, scale)).astype(np.uint8)
    box = truth.page_box.as_list() if truth.page_box is not None else [0.0, 0.0, truth.width, truth.height]
    sx, sy = w / truth.width, h / truth.height
    return PageAtScale(small, runs, printed_line_mm(truth) * px_per_mm, valid,
                       (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy))

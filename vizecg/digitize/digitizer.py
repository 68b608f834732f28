"""`digitize(image, config)`: a photographed or scanned ECG printout -> a 12-lead signal in mV.

page (outline -> perspective, grid -> rotation, traces -> which way up) -> scale (grid periodicity, confirmed by the calibration pulse)
-> layout (trace rows -> known layout -> panels) -> traces (ink runs + DP per panel) -> mV against the pulse's
base, placed in time by the panel's column, resampled to `config.fs`, NaN where the page shows nothing.

Each step is a stage function returning a small frozen dataclass (_page_stage -> PageStage, _upright_stage ->
UprightStage, _scale_stage -> ScaleStage, _layout_stage -> LayoutStage, _leads_stage -> LeadsStage); _digitize
runs them in that order.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vizecg.digitize.config import DigitizeConfig
from vizecg.digitize.ink import channel_range, grid_darkness, ink_mask, norm_window, paper_normalised
from vizecg.digitize.orientation import (ACROSS_MIN, TEXT_MIN_LINES, UP_REFUSE, UP_SURE, Orientation,
                                         find_orientation, text_up_cue, with_text)
from vizecg.digitize.confidence import lead_confidence, page_confidence
from vizecg.digitize.layout import (Panel, Pulse, drop_weak_rows, fill_row_gaps, find_pulse, find_rows,
                                    layout_candidates, layout_panels, n_cols, remove_text, template_rows,
                                    trace_extent)
from vizecg.digitize.printed import NameCheck, PrintedNames, check_names, describe
from vizecg.digitize.page import (estimate_rotation, find_grid_quad, find_neutral_quad, find_page_quad,
                                  grid_lattice_maps, lattice_homography, rectify, rotate, warp_centred)
from vizecg.digitize.scale import (GRID_STRENGTH_MIN, GridScale, ScaleEvidence, grid_period, grid_period_2d,
                                   measure_scale, panel_gains, read_printed)
from vizecg.digitize.segment.infer import DEFAULT_SEGMENTER
from vizecg.digitize.trace import HYSTERESIS, PanelPick, erase_bars, fit_page, line_thickness, pick_trace
from vizecg.errors import DigitizeError
from vizecg.record import STANDARD_LEADS, EcgRecord
from vizecg.render import paper

LEARNED_SEEN = 0.6  # the classical ink is kept (filtered by the network) where it holds this much of its trace
KEEP_WHOLE_AREA = 2.0  # a classical ink run is kept whole when at most this many times its pixels near the trace
TRACE_RUN_MM = 35.0  # ... or when no taller than this: a trace row's swing (3.5 mV at 10 mm/mV)
LEARNED_RESCALE = 0.15  # the network is read again when the measured scale is this far off the one it was told
# (its tiles were cut at up to 20 % off the true scale in training)
GRID_QUAD_MARGIN = 0.05  # the grid's area is rectified with this much around it: its edges' ink stays in
GRID_INSIDE_MIN = 0.97  # the grid is printed on the paper: an outline leaving more of it out is not the paper's
ONE_AXIS_GUESS = 0.5  # a grid period read one way only is used within this share of the page-size guess
TRUST_ONE_AXIS = 0.8  # the scale's trust when the grid was read one way only
PULSE_ALIGN_MM = 2.0  # pulses found on a faint pen's ink stand in one column to within this
NEUTRAL_GROW = 1.2  # the colourless region's outline replaces the bright one's holding it and this much more
DEWARP_MIN_PX = 0.5  # flat scans measure 0.1-0.3 px rms of phase noise; phone sheets 1-10 px
PERSPECTIVE_LEFT_MM = 2.0  # waves and curl move lines < ~1.5 mm rms: more is a perspective the outline left
DEWARP_MAX_MM = 4.0  # a lifted edge on a phone sheet moves them up to ~3.5 mm rms: more is an unwrapping failure
GRID_STRIP_MM = 40.0  # strips this wide see a curled or tilted page's grid lines nearly straight
SEPARATOR_SPAN_MM = 1.5  # separator bars span >= 2 mm either side of the baseline: a run covering this is one
# Einthoven: the six limb leads are combinations of two (I, II); on a page whose limb leads are named right,
# what the traces at one moment leave outside that plane is tracing noise (clean pages 0.003-0.03 of their
# energy; a wrong layout, a spliced or swapped lead: 0.2-1). Physiology, not a constant of any printer.
LIMB_BASIS = {"I": (1.0, 0.0), "II": (0.0, 1.0), "III": (-1.0, 1.0), "aVR": (-0.5, -0.5), "aVL": (1.0, -0.5),
              "aVF": (-0.5, 1.0)}
LIMB_AGREE = 0.12  # residual share at or below which a layout's limb leads agree
STRIP_MATCH_DB = 10.0  # a rhythm strip is the lead of a same-moment panel it matches this well...
STRIP_MATCH_MARGIN_DB = 6.0  # ...and this much better than any other panel (the median over 0.5 s pieces)



@dataclass
class DigitizedEcg:
    """The digitized record (NaN where the page shows nothing or a lead was not trusted) and what was found."""

    record: EcgRecord  # allow_nan=True; leads in standard order, fs = config.fs, t = 0 at the page's left edge
    confidence: dict[str, float]  # per lead, 0..1 (0: not digitized)
    found: dict[str, Any]  # scale, layout, page geometry steps, pulses... (JSON-able)
    warnings: list[str] = field(default_factory=list)
    traces: dict[str, list[np.ndarray]] = field(default_factory=dict)  # lead -> (n, 2) px in the input image
    # traces whose lead is not known (a rhythm strip matching no panel, a 15-lead page's fifth column): each
    # {"row", "col", "t_offset_s", "duration_s", "signal": (n_samples,) mV on the record's time axis}
    unnamed: list[dict[str, Any]] = field(default_factory=list)
    page_confidence: float = 0.0  # 0..1: that layout, scale and most leads are right (confidence.page_confidence)

    def summary(self) -> dict[str, Any]:
        return {"layout": {"name": self.found.get("layout"), "rows": self.found.get("layout_rows")},
                "page_confidence": self.page_confidence, "fs": self.record.fs, "n_samples": self.record.n_samples,
                "leads": list(self.record.lead_names), "confidence": self.confidence,
                "unnamed": [{k: v for k, v in u.items() if k != "signal"} for u in self.unnamed],
                "found": self.found, "warnings": self.warnings}


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise DigitizeError(f"expected an image array, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise DigitizeError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    image = image[:, :, :3]
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating) and image.max() <= 1.0:
            image = image * 255.0
        image = np.clip(image, 0, 255).astype(np.uint8)
    if min(image.shape[:2]) < 64:
        raise DigitizeError(f"image of {image.shape[1]}x{image.shape[0]} px is too small to hold an ECG")
    return np.ascontiguousarray(image)


class _Geometry:
    """Maps points of the upright page back to the input photo (for the overlay and the report)."""

    def __init__(self) -> None:
        self.homography: np.ndarray | None = None  # photo -> rectified
        self.rotation: np.ndarray | None = None  # rectified -> upright (2x3)
        self.dewarp: tuple[np.ndarray, np.ndarray] | None = None  # (map_x, map_y): flat page px -> upright px

    def to_photo(self, pts: np.ndarray) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        if self.dewarp is not None:
            mx, my = self.dewarp
            q = p.astype(np.float32).reshape(-1, 1, 2)
            p = np.concatenate([cv2.remap(m, q[..., 0], q[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                                for m in (mx, my)], axis=1).astype(np.float64)
        if self.rotation is not None:
            inv = cv2.invertAffineTransform(self.rotation)
            p = p @ inv[:, :2].T + inv[:, 2]
        if self.homography is not None:
            p = cv2.perspectiveTransform(p.reshape(-1, 1, 2), np.linalg.inv(self.homography)).reshape(-1, 2)
        return p

    def add_perspective(self, hmat: np.ndarray) -> None:
        """A further perspective (upright page -> new page), folded with the rotation into the homography."""
        total = np.eye(3) if self.homography is None else self.homography
        if self.rotation is not None:
            total = np.vstack([self.rotation, [0.0, 0.0, 1.0]]) @ total
            self.rotation = None
        self.homography = hmat @ total


def digitize(image: np.ndarray, config: DigitizeConfig = DigitizeConfig(),
             printed: PrintedNames | None = None) -> DigitizedEcg:
    """Digitize one page. Raises DigitizeError when the image holds no ECG this digitizer can read.

    A page found lying on its side or upside down is read again from the photo turned upright (page finding,
    deskew and flattening then see the page as they would an upright photo of it), and its traces are mapped
    back onto the photo as given. `printed`: lead names read from the page's labels (rows of the upright
    page): a layout they contradict is not chosen while one they agree with fits the rows, and a lead is never
    returned under a name its read label contradicts (found["printed_names"] says what was compared)."""
    image = _check_image(image)
    first = _digitize(image, config, None, printed)
    if isinstance(first, DigitizedEcg):
        return first
    quarters = -first.degrees // 90
    result = _digitize(np.ascontiguousarray(np.rot90(image, quarters)), config, first, printed)
    assert isinstance(result, DigitizedEcg)
    turn = _turn_matrix(quarters, image.shape[:2])
    back = cv2.invertAffineTransform(turn)
    result.traces = {lead: [(xy.astype(np.float64) @ back[:, :2].T + back[:, 2]).astype(np.float32) for xy in parts]
                     for lead, parts in result.traces.items()}
    result.found["input_size"] = [int(image.shape[1]), int(image.shape[0])]
    if "page_quad" in result.found:
        quad = np.asarray(result.found["page_quad"], np.float64)
        result.found["page_quad"] = np.round(quad @ back[:, :2].T + back[:, 2], 1).tolist()
    return result


def _turn_matrix(quarters: int, shape: tuple[int, int]) -> np.ndarray:
    """2x3: where np.rot90(image, quarters) of an (h, w) image puts each (x, y) of it."""
    total = np.eye(3)
    h, w = shape
    for _ in range(quarters % 4):  # one counter-clockwise quarter: (x, y) -> (y, w - 1 - x)
        total = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w - 1.0], [0.0, 0.0, 1.0]]) @ total
        h, w = w, h
    return total[:2]


def _digitize(image: np.ndarray, config: DigitizeConfig, known: Orientation | None,
              labels: PrintedNames | None = None) -> DigitizedEcg | Orientation:
    """digitize() of a checked image; returns the Orientation instead where the page is not upright, unless
    `known` says how the page lay before it was turned (then it is upright). `labels`: digitize's `printed`."""
    page = _cached_page_stage(image, config)
    upright = _upright_stage(page, config, known)
    if isinstance(upright, Orientation):
        return upright  # read again from the photo turned upright
    scale = _scale_stage(page, config)
    layout = _layout_stage(page, scale, config, labels)
    leads = _leads_stage(page, upright, scale, layout, config)
    stages = (page, upright, scale, layout, leads)
    found = {key: value for stage in stages for key, value in stage.found.items()}
    return DigitizedEcg(record=leads.record, confidence=leads.confidence, found=found,
                        warnings=[w for stage in stages for w in stage.warnings], traces=leads.traces,
                        unnamed=leads.unnamed, page_confidence=leads.page_confidence)


# Each stage returns what the later stages read, with its part of `found` (JSON-able) and the warnings it
# raised; _digitize joins those parts in stage order.
@dataclass(frozen=True)
class PageStage:
    """The page found in the photo, deskewed and flattened onto its grid, with its views and grid scale."""

    page: np.ndarray  # (H, W, 3) uint8: the page as read from here on
    norm: np.ndarray  # (H, W) paper-normalised brightness at ppm_rough's window
    ink: np.ndarray  # (H, W) bool: dark ink, text removed
    ink_thr: float  # the ink threshold, in paper-normalised brightness
    ink_fraction: float  # share of the page's first views that is ink (a feature of every lead)
    learned: _LearnedInk | None  # trace_ink: learned: the network's trace ink, read at ppm_rough
    sx: GridScale  # the grid's period across
    sy: GridScale  # the grid's period down
    has_grid: bool
    ppm_guess: float  # px/mm with the page taken as wide as letter paper (_ppm_guess)
    ppm_rough: float  # the grid's px/mm down, else the page's long side as letter paper's width
    dewarp_conf: float  # 1, lowered where flattening failed or made the grid less regular
    geo: _Geometry  # the page's points -> the input photo
    found: dict[str, Any]
    warnings: tuple[str, ...]


PAGE_CACHE_SIZE = 4  # page stages kept: a page as given and turned upright, for two pages read at once (serve)
_page_cache: OrderedDict[tuple[Any, ...], PageStage] = OrderedDict()
_page_cache_lock = threading.Lock()


def _aligned_pulses(pulses: list[Pulse | None], px_per_mm: float) -> list[Pulse | None]:
    """The pulses whose rising edge lies within PULSE_ALIGN_MM of the rows' median one, where at least half the
    rows show such a pulse; else none (a machine prints every row's pulse in one column)."""
    found = [p for p in pulses if p is not None]
    if not found:
        return pulses
    x = float(np.median([p.x_rise for p in found]))
    kept = [p if p is not None and abs(p.x_rise - x) <= PULSE_ALIGN_MM * px_per_mm else None for p in pulses]
    return kept if 2 * sum(p is not None for p in kept) >= len(pulses) else [None] * len(pulses)


def _cached_page_stage(image: np.ndarray, config: DigitizeConfig) -> PageStage:
    """_page_stage, kept for the last few images (by content, config and segmenter file): a page read again with
    the lead names its labels show (`printed=`) differs from the first reading only from the layout on, so the
    page finding, flattening and trace network (two thirds of a page's time) are not run twice. Nothing later
    writes to a PageStage's arrays: they are made read-only."""
    segmenter: tuple[Any, ...] = ()
    if config.trace_ink == "learned":
        path = Path(config.segmenter) if config.segmenter else DEFAULT_SEGMENTER
        st = path.stat() if path.is_file() else None
        segmenter = (str(path.resolve()), st.st_size, st.st_mtime_ns) if st else (str(path),)
    key = (hashlib.blake2b(image.data, digest_size=16).digest(), image.shape, config, segmenter)
    with _page_cache_lock:
        hit = _page_cache.get(key)
        if hit is not None:
            _page_cache.move_to_end(key)
            return hit
    stage = _page_stage(image, config)
    # shared by later readings of the page: read-only views, so that a stage writing to one fails loudly (views:
    # the page may be the caller's own image, which stays writable)
    learned = stage.learned and replace(stage.learned, ink=_read_only(stage.learned.ink),
                                        norm=_read_only(stage.learned.norm))
    stage = replace(stage, page=_read_only(stage.page), norm=_read_only(stage.norm), ink=_read_only(stage.ink),
                    learned=learned)
    with _page_cache_lock:
        _page_cache[key] = stage
        while len(_page_cache) > PAGE_CACHE_SIZE:
            _page_cache.popitem(last=False)
    return stage


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _page_stage(image: np.ndarray, config: DigitizeConfig) -> PageStage:
    """Page outline and perspective, rotation, the grid's scale, the page flattened onto the grid's lattice,
    and the ink read on it; DigitizeError where the image holds too much ink or none."""
    found: dict[str, Any] = {"input_size": [int(image.shape[1]), int(image.shape[0])]}
    warnings: list[str] = []
    geo = _Geometry()

    # --- page: outline and perspective -----------------------------------------------------------------
    page, margin, views = image, 0.0, None
    if config.find_page:
        page, geo.homography, quad, found["page"], margin, views = _find_page(image, config)
        if quad is not None:
            found["page_quad"] = np.round(quad, 1).tolist()
    ppm_guess = _ppm_guess(page, margin)
    norm, ink, grid = views or _page_views(page, ppm_guess, config)
    views_ppm = ppm_guess  # the scale the page's views were made at (_find_page's are made at this guess too)
    ink_fraction = float(ink.mean())
    if ink_fraction > config.max_ink_fraction:
        raise DigitizeError(f"{ink_fraction:.0%} of the image is dark ink: this does not look like an ECG "
                            f"printout (noise, a dark photo?)")
    if ink_fraction < 1e-4:
        raise DigitizeError("the image holds no dark trace: a blank page?")

    # --- rotation ---------------------------------------------------------------------------------------
    angle = 0.0
    if config.deskew:
        gs = grid_period(grid.mean(axis=0), config.min_px_per_mm, config.max_px_per_mm)
        feature = grid if gs.strength >= GRID_STRENGTH_MIN else ink.astype(np.float32)
        angle = estimate_rotation(feature, config.max_rotation_deg, ppm_guess)
        if abs(angle) >= 0.02:
            h, w = page.shape[:2]
            geo.rotation = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
            page = rotate(page, angle)
            norm, ink, grid = _page_views(page, ppm_guess, config)
    found["rotation_deg"] = round(angle, 3)

    # --- scale from the grid, then flatten the page onto the grid's lattice ---------------------------------
    strip = int(GRID_STRIP_MM * ppm_guess)
    sx = grid_period_2d(grid, 1, config.min_px_per_mm, config.max_px_per_mm, strip)
    sy = grid_period_2d(grid, 0, config.min_px_per_mm, config.max_px_per_mm, strip)
    dewarp_conf = 1.0
    if config.dewarp and sx.strength >= GRID_STRENGTH_MIN and sy.strength >= GRID_STRENGTH_MIN:
        map_x, map_y, moved, seen = grid_lattice_maps(grid, ink, sx.px_per_mm, sy.px_per_mm)
        if moved > PERSPECTIVE_LEFT_MM * sy.px_per_mm:
            # more than curl can do: a perspective the outline left
            hmat = lattice_homography(map_x, map_y, seen, sy.px_per_mm)
            if hmat is not None:
                p_page, hmat = warp_centred(page, hmat)
                p_norm, p_ink, p_grid = _page_views(p_page, sy.px_per_mm, config)
                px = grid_period_2d(p_grid, 1, config.min_px_per_mm, config.max_px_per_mm, strip)
                py = grid_period_2d(p_grid, 0, config.min_px_per_mm, config.max_px_per_mm, strip)
                if px.strength >= sx.strength and py.strength >= sy.strength:
                    views_ppm = sy.px_per_mm
                    page, norm, ink, grid, sx, sy = p_page, p_norm, p_ink, p_grid, px, py
                    geo.add_perspective(hmat)
                    found["perspective_from_grid"] = True
                    map_x, map_y, moved, seen = grid_lattice_maps(grid, ink, sx.px_per_mm, sy.px_per_mm)
        found["dewarp_rms_px"] = round(moved, 2)
        if moved > DEWARP_MAX_MM * sy.px_per_mm:
            # a correction this large is an unwrapping failure (a hole in the grid), not a real sheet
            warnings.append(f"grid flattening failed ({moved / sy.px_per_mm:.1f} mm rms): page left as "
                            f"rectified; curl and waves stay in the traces")
            dewarp_conf = 0.7
        elif moved > DEWARP_MIN_PX:  # below: the page is flat, and resampling would cost more than it gains
            flat = cv2.remap(page, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            f_norm, f_ink, f_grid = _page_views(flat, sy.px_per_mm, config)
            # on a flattened page the lattice is exact, so the whole-page profile must get sharper
            sx2 = grid_period(f_grid.mean(axis=0), config.min_px_per_mm, config.max_px_per_mm)
            sy2 = grid_period(f_grid.mean(axis=1), config.min_px_per_mm, config.max_px_per_mm)
            if sx2.strength >= sx.strength and sy2.strength >= sy.strength:
                page, norm, ink, grid, views_ppm = flat, f_norm, f_ink, f_grid, sy.px_per_mm
                geo.dewarp = (map_x, map_y)
                sx, sy = GridScale(sx.px_per_mm, sx2.strength), GridScale(sy.px_per_mm, sy2.strength)
            else:
                warnings.append("grid flattening made the grid less regular: page left as rectified")
                dewarp_conf = 0.8
    found["dewarp"] = geo.dewarp is not None
    if min(sx.strength, sy.strength) < GRID_STRENGTH_MIN or abs(sx.px_per_mm / sy.px_per_mm - 1) >= 0.3:
        sx, sy = _major_grid(grid, sx, sy, ppm_guess, config, strip)  # no grid read yet: its 5 mm lines?
    has_grid = sx.strength >= GRID_STRENGTH_MIN and sy.strength >= GRID_STRENGTH_MIN and \
        abs(sx.px_per_mm / sy.px_per_mm - 1) < 0.3
    # without a grid: the page's long side taken as letter paper's width (a page on its side is portrait)
    ppm_rough = float(sy.px_per_mm) if has_grid else \
        max(page.shape[:2]) / ((1 + 2 * margin) * paper.PAPER_SIZES_MM["letter"][0])
    if norm_window(ppm_rough) != norm_window(views_ppm):  # else the page's `norm` is this one already
        norm = paper_normalised(page, ppm_rough)
    ink, ink_thr = ink_mask(norm, config.ink_threshold, config.ink_auto)
    ink = remove_text(ink, ppm_rough)
    found["ink_threshold"] = round(ink_thr, 3)
    # trace_ink: learned: the network's trace ink finds the rows, helps tell which way up and is traced on;
    # calibration pulses (not trace to it) are still found on the classical ink
    learned = _learned_views(page, norm, ink, 1.0 - ink_thr, ppm_rough, config) \
        if config.trace_ink == "learned" else None
    return PageStage(page=page, norm=norm, ink=ink, ink_thr=ink_thr, ink_fraction=ink_fraction, learned=learned,
                     sx=sx, sy=sy, has_grid=has_grid, ppm_guess=ppm_guess, ppm_rough=ppm_rough,
                     dewarp_conf=dewarp_conf, geo=geo, found=found, warnings=tuple(warnings))


def _major_grid(grid: np.ndarray, sx: GridScale, sy: GridScale, ppm_guess: float, config: DigitizeConfig,
                strip: int) -> tuple[GridScale, GridScale]:
    """The grid's scale where its 1 mm lines were not seen one way or both (a phone photo at 2-5 px/mm blurs them
    away, or its 5 mm lines were taken for them one way): from the 5 mm lines, the vertical ones first (no trace
    row runs across them), the other way then searched within 30 % of the first (the rows' pitch is a period too).
    A period is used only within ONE_AXIS_GUESS of the page-size guess (5 mm lines read as 1 mm ones are 5 times
    too fine); the scales stay as they were unless both ways are read and agree."""
    def usable(g: GridScale) -> bool:
        return g.strength >= GRID_STRENGTH_MIN and abs(g.px_per_mm / ppm_guess - 1) < ONE_AXIS_GUESS

    def read(axis: int, known: GridScale, around: GridScale) -> GridScale:
        if usable(known):
            return known
        # searched only where a usable period can lie: no 5 mm line then passes for a 1 mm one
        near, reach = (around.px_per_mm, 1.3) if usable(around) else (ppm_guess, 1.0 + ONE_AXIS_GUESS)
        lo, hi = max(config.min_px_per_mm, near / reach), min(config.max_px_per_mm, near * reach)
        return grid_period_2d(grid, axis, lo, hi, strip, major_only=True)

    cx = read(1, sx, sy)
    cy = read(0, sy, cx)
    if not usable(cx):
        cx = read(1, sx, cy)
    if usable(cx) and usable(cy) and abs(cx.px_per_mm / cy.px_per_mm - 1) < 0.3:
        return cx, cy
    return sx, sy


@dataclass(frozen=True)
class UprightStage:
    """The page is upright; how sure that is."""

    orient_sure: float  # 0.6..1 (1: find_orientation off, or sure): a feature of every lead
    found: dict[str, Any]
    warnings: tuple[str, ...]


def _upright_stage(page: PageStage, config: DigitizeConfig, known: Orientation | None) -> UprightStage | Orientation:
    """Which way up: 0 / 90 / 180 / 270 (page finding, deskew and flattening hold for any). The Orientation to
    turn the photo by where the page is not upright, unless `known` says how it lay before it was turned;
    DigitizeError where it cannot be told."""
    found: dict[str, Any] = {}
    warnings: list[str] = []
    if not config.find_orientation:
        return UprightStage(orient_sure=1.0, found=found, warnings=())
    orient = known or find_orientation(page.ink, page.ppm_rough, config.speed_mm_s)
    if known is None and page.learned is not None:  # the surer reading of the two inks
        orient_l = find_orientation(page.learned.ink, page.ppm_rough, config.speed_mm_s)
        if orient_l.sure > orient.sure or (orient_l.sure == orient.sure and orient_l.up > orient.up):
            orient = orient_l
    if known is None and config.read_text_orientation and orient.up < UP_SURE and \
            orient.across >= 0.5 * ACROSS_MIN:  # the ink leaves it unsure: the printed text's glyphs
        orient = _with_text_cue(orient, page.page, page.ink, page.ppm_rough, found, warnings)
    _refuse_unsure(orient)
    if known is None and orient.degrees:
        return orient
    found["orientation_deg"] = orient.degrees
    found["orientation"] = {"across_margin": round(orient.across, 3), "up_margin": round(orient.up, 3),
                            "cues": orient.cues, "beats": orient.beats}
    if orient.degrees:
        warnings.append(f"the page lay turned by {orient.degrees} degrees: turned upright "
                        f"(up margin {orient.up:.2f})")
    if orient.sure < 1.0:
        warnings.append(f"which way up the page lies is not sure (across margin {orient.across:.2f}, up "
                        f"margin {orient.up:.2f}): every lead's confidence lowered")
    return UprightStage(orient_sure=0.6 + 0.4 * orient.sure, found=found, warnings=tuple(warnings))


@dataclass(frozen=True)
class ScaleStage:
    """The page's trace rows, their calibration pulses and the scale measured from grid, pulses and text."""

    rows_y: np.ndarray  # (rows,) y of each trace row kept
    rows_all: np.ndarray  # y of every row found (drop_weak_rows keeps a subset)
    row_strength: np.ndarray  # per row of rows_all
    pitch: float  # px between rows
    candidates: list[str]  # the known layouts of this many rows
    pulses: list[Pulse | None]  # per row kept
    measured: ScaleEvidence  # px/mm across and down, speed and gain
    trace_x0: float  # x where the trace area starts
    row_ref: list[float]  # per row, the y of 0 mV
    found: dict[str, Any]
    warnings: tuple[str, ...]


def _scale_stage(page: PageStage, config: DigitizeConfig) -> ScaleStage:
    """Rows, pulses and the scale (measure_scale); DigitizeError where no row is found, the rows fit no known
    layout or the scale cannot be measured."""
    found: dict[str, Any] = {}
    warnings: list[str] = []
    has_grid, sx, sy = page.has_grid, page.sx, page.sy
    one_axis = None  # the grid's period seen one way only (faint lines, a photo's blur along one axis)
    if not has_grid:
        strong = [(name, g) for name, g in (("across", sx), ("down", sy)) if g.strength >= GRID_STRENGTH_MIN]
        if len(strong) == 1 and abs(strong[0][1].px_per_mm / page.ppm_guess - 1) < ONE_AXIS_GUESS:
            one_axis, grid = strong[0]
            sx = sy = grid
            has_grid = True
            warnings.append(f"the grid's period was read {one_axis} only ({grid.px_per_mm:.2f} px/mm): taken the "
                            f"same the other way (square pixels; confidence lowered)")
    ppm_x = ppm_y = None
    if has_grid:
        ppm_x, ppm_y = float(sx.px_per_mm), float(sy.px_per_mm)
    found["grid"] = {"found": bool(has_grid), "px_per_mm_x": ppm_x, "px_per_mm_y": ppm_y,
                     "strength": [round(page.sx.strength, 1), round(page.sy.strength, 1)],
                     "read": one_axis or ("both ways" if has_grid else None),
                     "lines": ("1 mm" if sx.fine and sy.fine else "5 mm only") if has_grid else None}
    ppm_rough = ppm_y if has_grid else page.ppm_guess

    # --- rows, layout, pulses ---------------------------------------------------------------------------
    row_ink = page.learned.ink if page.learned is not None else page.ink  # what trace rows and ends are read on
    rows_y, row_strength = find_rows(row_ink, ppm_rough)
    if len(rows_y) == 0:
        raise DigitizeError("no ECG trace rows found on the page")
    rows_all = rows_y
    kept = drop_weak_rows(rows_y, row_strength, config.layout)
    if len(kept) < len(rows_y):
        warnings.append(f"{len(rows_y) - len(kept)} weak row candidate(s) between evenly spaced trace rows ignored")
        rows_y = kept
    filled, filled_strength = fill_row_gaps(row_ink, rows_y, row_strength, ppm_rough, config.layout) \
        if len(rows_y) == len(rows_all) else (rows_y, row_strength)
    if len(filled) > len(rows_y):
        warnings.append(f"{len(filled) - len(rows_y)} faint trace row(s) found in a gap of two row pitches")
        rows_y = rows_all = filled
        row_strength = filled_strength
    candidates = layout_candidates(len(rows_y), config.layout)
    found["rows_y"] = np.round(rows_y, 1).tolist()
    pitch = float(np.median(np.diff(rows_y))) if len(rows_y) > 1 else 0.4 * page.page.shape[0]
    bands = [(int(y - 0.6 * pitch), int(y + 0.45 * pitch)) for y in rows_y]
    reach = int(0.25 * page.page.shape[1])
    # pulses on the classical ink, unless it misses most of the trace (a faint grey pen): then on the ink as
    # dark as the trace's edges the network marked (the network marks no pulse: it was not taught to)
    learned = page.learned
    faint = learned is not None and learned.seen < LEARNED_SEEN
    pulse_ink = (1.0 - page.norm) >= learned.level if faint else page.ink
    pulses: list[Pulse | None] = [find_pulse(pulse_ink, b, reach, ppm_rough, ppm_x) for b in bands]
    if not any(pulses):  # some machines print the pulse after the trace, at the row's right end
        pulses = [find_pulse(pulse_ink, b, reach, ppm_rough, ppm_x, side="right") for b in bands]
    if faint:  # that ink also holds shadows and stains: only a column of pulses standing where most rows show one
        pulses = _aligned_pulses(pulses, ppm_rough)
    good = [p for p in pulses if p is not None]
    found["pulses"] = [None if p is None else {"x_rise": round(p.x_rise, 1), "width_px": round(p.width, 2),
                                               "height_px": round(float(p.height), 2),
                                               "y_base": round(float(p.y_base), 1), "clipped": p.clipped,
                                               "bare": p.bare, "side": p.side}
                       for p in pulses]

    # the page's own speed/gain text (footer, then header), in place of the declared settings and checked
    printed = read_printed(page.page, rows_y, pitch, ppm_rough) if config.read_speed_gain else None

    def measured() -> ScaleEvidence:
        return measure_scale(sx, sy, has_grid, pulses, config.speed_mm_s, config.gain_mm_mv, config.trust_pulse,
                             config.min_px_per_mm, config.max_px_per_mm, printed)

    try:
        scale = measured()
        unsure = scale.gain_from != "pulse height"
    except DigitizeError:
        if not (good and config.read_speed_gain_if_unsure and printed is None):
            raise
        scale, unsure = None, True  # the pulse-only scale is out of bounds at the declared gain: the text may say
    if unsure and printed is None and config.read_speed_gain_if_unsure and config.trust_pulse:
        printed = read_printed(page.page, rows_y, pitch, ppm_rough)
        if printed.read or scale is None:
            scale = measured()
    if one_axis:
        scale = replace(scale, trust=min(scale.trust, TRUST_ONE_AXIS))
    warnings.extend(scale.doubts)
    found["scale"] = scale.to_json()

    # where the trace area starts: from the pulse before it (exact geometry), else the ink's left end
    if good and good[0].side == "left":
        x0s = [p.x_fall + ((0.0 if p.bare else paper.CAL_LEAD_IN_MM) + paper.CAL_GAP_MM) * scale.px_per_mm_x
               for p in good]
        trace_x0 = float(np.median(x0s))
    else:
        ext = [trace_extent(row_ink, (int(y - 0.3 * pitch), int(y + 0.3 * pitch)), scale.px_per_mm_y)
               for y in rows_y]
        trace_x0 = float(np.median([e[0] for e in ext if e is not None]))
        where = "the pulse stands at the rows' right end" if good else "no calibration pulse"
        warnings.append(f"trace start placed at the ink's left end ({where}): times may be offset")
    found["trace_x0"] = round(trace_x0, 1)

    # the 0 mV line of each row: the pulse's base; else the row's dominant level
    row_ref = [p.y_base if p is not None else float(y) for p, y in zip(pulses, rows_y)]
    return ScaleStage(rows_y=rows_y, rows_all=rows_all, row_strength=row_strength, pitch=pitch,
                      candidates=candidates, pulses=pulses, measured=scale, trace_x0=trace_x0, row_ref=row_ref,
                      found=found, warnings=tuple(warnings))


@dataclass(frozen=True)
class LayoutStage:
    """The layout chosen and its panels traced, named as the page's read labels allow."""

    layout: str
    traced: list[_PanelTrace]  # in (row, col) order
    ctx: _TraceContext  # what they were traced on
    found: dict[str, Any]
    warnings: tuple[str, ...]


def _layout_stage(page: PageStage, scale: ScaleStage, config: DigitizeConfig,
                  labels: PrintedNames | None) -> LayoutStage:
    """Each candidate layout traced, the first whose limb leads agree is kept (among those the read labels do
    not contradict, where any); its panels then named from the labels (_name_from_labels)."""
    found: dict[str, Any] = {}
    warnings: list[str] = []
    ppm_x, ppm_y = scale.measured.px_per_mm_x, scale.measured.px_per_mm_y
    speed, gain = scale.measured.speed_mm_s, scale.measured.gain_mm_mv
    rows_y, pitch, candidates = scale.rows_y, scale.pitch, scale.candidates
    trace_ink, trace_norm, level = page.ink, page.norm, 1.0 - page.ink_thr
    learned = page.learned
    if learned is not None:
        ppm = float(np.sqrt(ppm_x * ppm_y))
        if abs(ppm / learned.px_per_mm - 1) > LEARNED_RESCALE:  # the network read the page at a wrong scale
            learned = _learned_views(page.page, page.norm, page.ink, 1.0 - page.ink_thr, ppm, config)
        trace_ink, trace_norm, level = learned.ink, learned.norm, learned.level
        found["trace_ink"] = {"source": "learned", "segmenter": Path(config.segmenter or DEFAULT_SEGMENTER).name,
                              "px_per_mm": round(learned.px_per_mm, 3), "level": round(level, 3),
                              "classical_seen": round(learned.seen, 3),
                              "ink_fraction": round(float(trace_ink.mean()), 5)}
    thickness = line_thickness(trace_ink[int(rows_y.min() - 0.3 * pitch):int(rows_y.max() + 0.3 * pitch)])
    found["line_px"] = thickness
    ctx = _TraceContext(ink=trace_ink, norm=trace_norm, ppm_x=ppm_x, ppm_y=ppm_y, speed=speed, gain=gain,
                        thickness=thickness, level=level, fs=config.fs, max_gap_s=config.max_gap_s,
                        jump_weight=config.jump_weight, baseline_weight=config.baseline_weight, geo=page.geo)
    # a layout the page's read labels contradict is tried only when every layout of this row count does
    checks = {name: check_names(labels, template_rows(name)) for name in candidates} if labels is not None else {}
    agreeing = [name for name in candidates if not checks[name].contradict] if labels is not None else candidates
    tried: dict[str, float] = {}
    chosen = None
    for name in agreeing or candidates:
        panels = layout_panels(name, np.asarray(scale.row_ref), scale.trace_x0, ppm_x, ppm_y, speed, scale.row_ref)
        traced = _trace_panels(name, panels, scale.pulses, ctx)
        resid, _ = limb_residual(_panel_signals(traced, ctx.n), config.fs)
        tried[name] = resid
        if chosen is None or _better(resid, tried[chosen[0]]):
            chosen = (name, traced)
        if np.isfinite(resid) and resid <= LIMB_AGREE:
            break
    assert chosen is not None
    layout, traced = chosen
    found["layout"] = layout
    _, groups = panel_gains([tr.panel for tr in traced], scale.pulses, _cols_per_row(layout, scale.pulses), ppm_y,
                            gain)
    if groups:
        found["gains_mm_mv"] = groups
        warnings.append("two gains on the page: " + ", ".join(f"{g} leads at {v:g} mm/mV" for g, v in
                                                              sorted(groups.items()))
                        + " (from the calibration pulses beside them)")
    found["layout_tried"] = {k: (None if not np.isfinite(v) else round(float(v), 3)) for k, v in tried.items()}
    # (every layout tried: a break comes only on an agreeing one; the read labels may have left fewer to try)
    if len(tried) > 1 and not (np.isfinite(tried[layout]) and tried[layout] <= LIMB_AGREE):
        shown = ", ".join(f"{k} {v:.2f}" if np.isfinite(v) else f"{k} -" for k, v in tried.items())
        warnings.append(f"lead names unsure: {len(rows_y)} rows fit {len(tried)} known layouts and none has "
                        f"limb leads obeying Einthoven's law (residual {shown}; agree <= {LIMB_AGREE:g}): read as "
                        f"{layout}")
    if labels is not None:
        found["printed_names"] = {"rows": labels.to_json(), "layout": layout, **checks[layout].to_json(),
                                  "ruled_out": [name for name in candidates if agreeing and name not in agreeing]}
        traced, kept = _name_from_labels(labels, checks[layout], layout, traced, len(rows_y), ctx, warnings)
        found["printed_names"]["einthoven_kept"] = kept
    return LayoutStage(layout=layout, traced=traced, ctx=ctx, found=found, warnings=tuple(warnings))


@dataclass(frozen=True)
class LeadsStage:
    """The record: each lead's traces joined, and the leads trusted enough to keep."""

    record: EcgRecord  # NaN where a lead's confidence is below config.min_confidence
    confidence: dict[str, float]  # per lead
    page_confidence: float
    traces: dict[str, list[np.ndarray]]  # lead -> (n, 2) px in the input photo
    unnamed: list[dict[str, Any]]
    found: dict[str, Any]
    warnings: tuple[str, ...]


def _leads_stage(page: PageStage, upright: UprightStage, scale: ScaleStage, layout: LayoutStage,
                 config: DigitizeConfig) -> LeadsStage:
    """Rhythm strips named and each lead's traces joined (_assemble), each lead's quality features -> its
    confidence, the leads below config.min_confidence left NaN; DigitizeError where no lead is left."""
    found: dict[str, Any] = {}
    warnings: list[str] = []
    rows_y, pulses = scale.rows_y, scale.pulses
    result = _assemble(layout.layout, layout.traced, layout.ctx, config, warnings)
    strength = np.asarray(row_strength_kept(rows_y, scale.rows_all, scale.row_strength), np.float64)
    rel = strength / max(float(np.median(strength)), 1e-9)
    for lead, lf in result.lead_features.items():  # the weakest row the lead was traced on, against the page's rows
        lead_rows = [r for r, row in enumerate(result.rows) for name in row if name and name.lstrip("-") == lead]
        lf["row_strength"] = float(min(rel[r] for r in lead_rows)) if lead_rows else 1.0
        lf["row_pulse"] = float(all(pulses[r] is not None for r in lead_rows)) if lead_rows else 0.0
    found["layout_rows"] = result.rows
    found["limb_residual"] = None if not np.isfinite(result.limb) else round(result.limb, 4)
    found["strip_match_db"] = result.strip_match

    # per-lead quality features -> calibrated probability that the lead's SNR >= 10 dB (confidence.py)
    page_feats = {"has_grid": float(page.has_grid), "pulse_agree": float(scale.measured.source == "grid+pulse"),
                  "scale_trust": scale.measured.trust, "dewarp_conf": page.dewarp_conf,
                  "unnamed_panels": float(sum(not u["rhythm_strip"] for u in result.unnamed)),
                  "orient_sure": upright.orient_sure, "grid_strength": float(min(page.sx.strength, page.sy.strength)),
                  "pulse_rows": sum(p is not None for p in pulses) / max(1, len(rows_y)),
                  "ink_fraction": page.ink_fraction, "n_candidates": float(len(scale.candidates)),
                  "limb_residual": result.limb, "row_count": float(len(rows_y)),
                  "min_row_strength": float(rel.min())}
    found["page_features"] = {k: (None if not np.isfinite(v) else round(float(v), 4)) for k, v in page_feats.items()}
    feats = {lead: {**page_feats, **lf} for lead, lf in result.lead_features.items()}
    found["lead_features"] = {lead: {k: (None if not np.isfinite(v) else round(float(v), 4)) for k, v in f.items()}
                              for lead, f in feats.items()}
    signal = result.signal
    confidence: dict[str, float] = {}
    for i, lead in enumerate(result.leads):
        conf = lead_confidence(feats[lead]) if np.isfinite(signal[i]).any() else 0.0
        confidence[lead] = round(conf, 3)
        if conf < config.min_confidence:
            signal[i] = np.nan
            if conf > 0:
                warnings.append(f"lead {lead}: confidence {conf:.2f} below {config.min_confidence:g}: left NaN")
    found["page_confidence"] = round(page_confidence(page_feats, list(confidence.values())), 3)
    if not result.leads or not np.isfinite(signal).any():
        if result.unnamed and not any(c > 0 for c in confidence.values()):  # nothing named was traced at all
            raise DigitizeError(f"only unnamed trace(s) on the page ({len(result.unnamed)}: rhythm strips or panels "
                                f"of layout {layout.layout} whose lead cannot be known without reading its label); "
                                f"set rhythm_lead=NAME if you know which lead a strip shows")
        traced = sum(1 for c in confidence.values() if c > 0)
        raise DigitizeError("no lead could be traced with enough confidence" + (
            f" ({len(result.unnamed)} unnamed trace(s) beside them: rhythm strips whose lead is not known)"
            if result.unnamed else ""), evidence={
            "layout": layout.layout, "rows": int(len(rows_y)), "traced_leads": traced,
            "best_confidence": max(confidence.values(), default=0.0),
            "limb_residual": found["limb_residual"], "limb_agree": LIMB_AGREE})
    speed, gain = scale.measured.speed_mm_s, scale.measured.gain_mm_mv
    record = EcgRecord(signal=signal, fs=config.fs, lead_names=tuple(result.leads), record_id="digitized",
                       source="digitized", allow_nan=True,
                       meta={"speed_mm_s": speed, "gain_mm_mv": gain, "layout": layout.layout})
    return LeadsStage(record=record, confidence=confidence, page_confidence=found["page_confidence"],
                      traces=result.traces, unnamed=result.unnamed, found=found, warnings=tuple(warnings))


def _name_from_labels(labels: PrintedNames, check: NameCheck, layout: str, traced: list[_PanelTrace], n_rows: int,
                      ctx: _TraceContext, warnings: list[str]) -> tuple[list[_PanelTrace], list[str]]:
    """(the chosen layout's panels named from the page's read labels, the leads Einthoven's law kept against
    them). Where every layout contradicts the read names, a contradicted panel is returned unnamed, never under
    either name, unless it is a limb lead of the layout that obeys Einthoven's law with the others (the law is
    physiology; a label reader confuses I, II and III: on a clean 3x4+1 render the shipped reader read the first
    column as II, III, II). A panel the layout cannot name (a rhythm strip, a 15-lead page's fifth column) takes
    its read name."""
    if not check.compared:
        warnings.append(f"lead names were read on {len(labels.rows)} printed row(s) but {n_rows} trace rows were "
                        f"found: the names read are not compared with the layout")
        return traced, []
    _, per_lead = limb_residual(_panel_signals(traced, ctx.n), ctx.fs) if check.contradict else (0.0, {})
    kept = sorted({name.lstrip("-") for _, _, _, name in check.contradict
                   if name is not None and per_lead.get(name.lstrip("-"), float("inf")) <= LIMB_AGREE})
    wrong = {(r, c) for r, c, _, name in check.contradict if name is not None and name.lstrip("-") not in kept}
    if check.contradict:
        what = [f"{', '.join(kept)} kept: their traces obey Einthoven's law as {layout} names them"] if kept else []
        what += ["the other contradicted panels returned unnamed" if kept else "those panels returned unnamed"] \
            if wrong else []
        warnings.append(f"the lead names read on the page contradict every known layout of {n_rows} rows ("
                        f"{describe(check.contradict, layout)}): read as {layout}; {'; '.join(what) or 'no panel there'}")
    named = {(r, c): read for r, c, read in check.fill}
    out = []
    for tr in traced:
        at = (tr.panel.row, tr.panel.col)
        if at in wrong:
            tr = replace(tr, panel=replace(tr.panel, lead="", inverted=False))
        elif at in named:
            tr = replace(tr, panel=replace(tr.panel, lead=named[at].lstrip("-"), inverted=named[at].startswith("-")))
        out.append(tr)
    return out, kept


def row_strength_kept(rows_y: np.ndarray, rows_all: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """The strength of each kept row (drop_weak_rows keeps a subset of the rows found)."""
    return np.array([strength[int(np.argmin(np.abs(rows_all - y)))] for y in rows_y])


def _with_text_cue(orient: Orientation, page: np.ndarray, ink: np.ndarray, px_per_mm: float,
                   found: dict[str, Any], warnings: list[str]) -> Orientation:
    """`orient` with the text cue read on the page turned upright as it says (orientation.text_up_cue); `ink`:
    the page's ink without its text (remove_text), so that lines of trace are not read as text."""
    from vizecg.labels.speed_gain import OcrMissingError

    turn = -(orient.degrees // 90)
    upright = np.ascontiguousarray(np.rot90(page, turn))
    try:
        text, lines = text_up_cue(upright, px_per_mm, np.ascontiguousarray(np.rot90(ink, turn)))
    except OcrMissingError as exc:
        warnings.append(f"which way up the text reads was not checked: {exc}")
        return orient
    found["orientation_text_lines"] = lines  # the cue itself is found["orientation"]["cues"]["text"]
    return with_text(orient, text) if lines >= TEXT_MIN_LINES else orient


def _refuse_unsure(orient: Orientation) -> None:
    """DigitizeError where the page's orientation cannot be told: read the wrong way up, every lead would be
    confidently wrong (negated and backwards)."""
    hint = "; set find_orientation=false to read the page as it lies"
    if orient.across < 0.5 * ACROSS_MIN:
        raise DigitizeError(f"cannot tell whether the traces run across or down the page (across margin "
                            f"{orient.across:.2f} < {0.5 * ACROSS_MIN:g}){hint}")
    if orient.up < UP_REFUSE and orient.beats == 0 and orient.cues.get("pulse", 0.0) == 0.0:
        raise DigitizeError(f"cannot tell which way up the page lies: no QRS complex and no calibration pulse "
                            f"could be traced (a faint or blurred trace?){hint}")
    if orient.up < UP_REFUSE:
        cues = ", ".join(f"{k} {v:+.2f}" for k, v in orient.cues.items())
        raise DigitizeError(f"cannot tell which way up the page lies (margin {orient.up:.2f} < {UP_REFUSE:g}; "
                            f"{cues}; {orient.beats} beats){hint}")


def _find_page(image: np.ndarray, config: DigitizeConfig) -> tuple[
        np.ndarray, np.ndarray | None, np.ndarray | None, str, float, tuple[np.ndarray, ...] | None]:
    """(page, homography photo -> page, quad, what was found, margin around the quad, the page's views if
    computed) from the paper's outline, or from the printed grid's where the paper's is lost (a white table,
    a side out of the picture) or is not the paper's (it leaves part of the grid out, or its page shows no
    regular grid)."""
    quad, why = find_page_quad(image)
    neutral = find_neutral_quad(image) if quad is not None else None
    if neutral is not None and _covered(quad, neutral) >= GRID_INSIDE_MIN and \
            cv2.contourArea(neutral.astype(np.float32)) >= NEUTRAL_GROW * cv2.contourArea(quad.astype(np.float32)):
        quad, why = neutral, "outline of the colourless paper (its bright part ends at a fold or a shadow)"
    page, hmat = rectify(image, quad) if quad is not None else (image, None)
    if why == "the paper fills the frame":
        return page, hmat, quad, why, 0.0, None
    grid_quad = find_grid_quad(image)
    if grid_quad is None:
        return page, hmat, quad, why, 0.0, None
    views = None
    if quad is not None and _covered(grid_quad, quad) >= GRID_INSIDE_MIN:
        views = _page_views(page, _ppm_guess(page, 0.0), config)
        if _shows_grid(views[2], config):
            return page, hmat, quad, why, 0.0, views
    g_page, g_hmat = rectify(image, grid_quad, GRID_QUAD_MARGIN)
    g_views = _page_views(g_page, _ppm_guess(g_page, GRID_QUAD_MARGIN), config)
    if not _shows_grid(g_views[2], config):  # not a grid's outline after all
        return page, hmat, quad, why, 0.0, views
    return g_page, g_hmat, grid_quad, f"outline of the printed grid (paper: {why})", GRID_QUAD_MARGIN, g_views


def _ppm_guess(page: np.ndarray, margin: float) -> float:
    """px/mm until the grid says better: the page (or the grid's area, about as wide, with its margin) taken
    to be as wide as letter paper."""
    return page.shape[1] / ((1 + 2 * margin) * paper.PAPER_SIZES_MM["letter"][0])


def _page_views(page: np.ndarray, px_per_mm: float, config: DigitizeConfig,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(paper-normalised brightness, ink mask, grid darkness) of a page."""
    channels = channel_range(page)  # one split for the paper level and the grid's colour
    norm = paper_normalised(channels[0], px_per_mm)  # the brightest channel is what it reads of a colour page
    ink, _ = ink_mask(norm, config.ink_threshold, config.ink_auto)
    return norm, ink, grid_darkness(page, norm, ink, channels)


@dataclass(frozen=True)
class _LearnedInk:
    ink: np.ndarray  # (H, W) bool: the trace's pixels
    norm: np.ndarray  # paper-normalised brightness near that trace, paper (1.0) elsewhere
    level: float  # darkness of the trace's edges
    px_per_mm: float  # the scale the network was told
    seen: float  # share of the network's trace that the classical threshold also calls ink


def _learned_views(page: np.ndarray, norm: np.ndarray, ink: np.ndarray, level: float, px_per_mm: float,
                   config: DigitizeConfig) -> _LearnedInk:
    """The page's trace as the segmentation network marks it, with the classical `ink` (and its edge `level`)
    where that threshold sees the trace: the network then only takes grid lines, dots and text away and the
    pixels stay the page's own, which measure the trace's edges more finely than the network's map (made at
    4 px/mm). Where the threshold misses the trace (green or faint pens), the network's ink is used, its edges
    at half the trace's own darkness. The brightness is the page's near the trace and paper elsewhere, so the
    grid and text beside the trace do not pull its sub-pixel edges."""
    from vizecg.digitize.segment.infer import ink_probability, load_ink_model

    prob = ink_probability(page, px_per_mm, load_ink_model(config.segmenter or None))
    net = prob >= config.segmenter_threshold
    r = max(1, int(round(px_per_mm / 4.0)))  # a pixel of the network's map, at the page's scale
    near = cv2.dilate(net.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
    seen = float(ink[net].mean()) if net.any() else 0.0
    if seen >= LEARNED_SEEN:
        trace = _kept_by_network(ink, near, px_per_mm)
    else:
        trace = net | (ink & near)
        core = 1.0 - norm[net]
        level = float(np.clip(0.5 * np.median(core), 0.1, 0.6)) if core.size else level
    # the page's brightness within a pixel of the trace kept (its edges are measured there), paper elsewhere
    around = cv2.dilate(trace.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    trace_norm = np.where(around, norm, np.float32(1.0)).astype(np.float32)
    return _LearnedInk(trace, trace_norm, level, float(px_per_mm), seen)


def _kept_by_network(ink: np.ndarray, near: np.ndarray, px_per_mm: float) -> np.ndarray:
    """The classical ink the network confirms. A connected run of ink that touches the network's trace is kept
    whole where it is mostly near that trace or no taller than a trace row (the network misses bits of a trace,
    tall T waves, whole stretches of a strip, that the ink holds joined to the rest); a taller run mostly elsewhere
    (a dark grid's lattice joined to the trace) keeps only its pixels near the trace; runs that never come near
    it (text, grid dots, stains) go."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    touch = np.bincount(labels[ink & near], minlength=n)
    row_high = stats[:, cv2.CC_STAT_HEIGHT] <= TRACE_RUN_MM * px_per_mm
    whole = (touch > 0) & ((area <= KEEP_WHOLE_AREA * touch) | row_high)
    whole[0] = False
    return whole[labels] | (ink & near)


def _covered(inner: np.ndarray, outer: np.ndarray) -> float:
    """Fraction of convex quad `inner`'s area that lies inside convex quad `outer`."""
    a, b = inner.astype(np.float32), outer.astype(np.float32)
    common, _ = cv2.intersectConvexConvex(a, b)
    return float(common) / max(float(cv2.contourArea(a)), 1.0)


def _shows_grid(grid: np.ndarray, config: DigitizeConfig) -> bool:
    """Whether a page's grid darkness is regular both ways (a wrong outline's page is not), in strips: a page
    left in perspective (an outline missing a side) fans its lines out over the whole page."""
    strip = int(GRID_STRIP_MM * _ppm_guess(grid, 0.0))
    strengths = [grid_period_2d(grid, a, config.min_px_per_mm, config.max_px_per_mm, strip).strength for a in (0, 1)]
    return min(strengths) >= GRID_STRENGTH_MIN


@dataclass(frozen=True)
class _TraceContext:
    """What tracing a layout's panels needs from the page (the same for every candidate layout)."""

    ink: np.ndarray
    norm: np.ndarray
    ppm_x: float
    ppm_y: float
    speed: float
    gain: float
    thickness: float
    level: float  # darkness of the ink threshold
    fs: float
    max_gap_s: float
    jump_weight: float
    baseline_weight: float
    geo: _Geometry

    @property
    def n(self) -> int:
        return int(round(paper.TRACE_WIDTH_MM / self.speed * self.fs))


@dataclass(frozen=True)
class _PanelTrace:
    panel: Panel
    signal: np.ndarray  # (n,) mV on the page's time axis, NaN outside what this panel traced; record sign
    coverage: float  # of the panel's columns with a pick, times the share of the panel inside the image
    continuity: float
    xy: np.ndarray | None  # (m, 2) the path in the input photo


def _trace_panels(layout: str, panels: list[Panel], pulses: list[Pulse | None],
                  ctx: _TraceContext) -> list[_PanelTrace]:
    """Ink runs + DP per panel, the pen fitted on the page, each path placed in mV on the page's time axis."""
    ink, norm, ppm_x, ppm_y = ctx.ink, ctx.norm, ctx.ppm_x, ctx.ppm_y
    px_per_s = ctx.speed * ppm_x
    gains = dict(zip(map(id, panels), panel_gains(panels, pulses, _cols_per_row(layout, pulses), ppm_y,
                                                  ctx.gain)[0]))
    n = ctx.n
    t_grid = np.arange(n) / ctx.fs
    H, W = ink.shape
    # Internal column edges: the neighbour's trace starts there (its ink reaches half a stroke across) and a
    # separator bar may straddle the edge; the bar is erased below, so only that half stroke is left out.
    margin = int(np.ceil(0.5 * ctx.thickness)) + 1
    bar_half = 0.5 * ctx.thickness + 0.25 * ppm_x  # columns where a separator bar's ink can lie
    bar_reach = SEPARATOR_SPAN_MM * ppm_y
    out: list[_PanelTrace] = []
    picked: list[tuple[Panel, Pulse | None, PanelPick, int, int, float]] = []
    for pnl in panels:
        pulse = pulses[pnl.row]
        last = n_cols(layout, pnl.row) - 1
        inner = [x for x, is_inner in ((pnl.x0, pnl.col > 0), (pnl.x1, pnl.col < last)) if is_inner]
        xa = int(np.floor(pnl.x0)) + (margin if pnl.col > 0 else 0)
        xb = int(np.ceil(pnl.x1)) - (margin if pnl.col < last else 0)
        ya, yb = int(pnl.y0 - 0.5 * ppm_y), int(np.ceil(pnl.y1 + 0.5 * ppm_y))
        xa_c, xb_c, ya_c, yb_c = max(xa, 0), min(xb, W), max(ya, 0), min(yb, H)
        if xb_c - xa_c < 4 or yb_c - ya_c < 4:
            out.append(_PanelTrace(pnl, np.full(n, np.nan), 0.0, 0.0, None))
            continue
        band = ink[ya_c:yb_c, xa_c:xb_c].copy()
        dark = np.clip(1.0 - norm[ya_c:yb_c, xa_c:xb_c], 0.0, 1.0)
        for xe in inner:
            cols = np.flatnonzero(np.abs(np.arange(xa_c, xb_c) - xe) <= bar_half)
            erase_bars(band, dark, HYSTERESIS * ctx.level, cols, pnl.baseline_y - ya_c - bar_reach,
                       pnl.baseline_y - ya_c + bar_reach)
        pick = pick_trace(band, pnl.baseline_y - ya_c, ctx.jump_weight, ctx.baseline_weight,
                          darkness=dark, level=ctx.level)
        if len(pick.xc) < 2:
            out.append(_PanelTrace(pnl, np.full(n, np.nan), 0.0, 0.0, None))
            continue
        picked.append((pnl, pulse, pick, xa_c, ya_c, (xb_c - xa_c) / max(1.0, xb - xa)))
    # the pen's shape is fitted on all panels at once (see fit_page), then each panel's path is placed
    _, fits = fit_page([p[2] for p in picked])
    for (pnl, pulse, pick, xa_c, ya_c, visible_frac), (px, py) in zip(picked, fits):
        x = px + xa_c
        y = py + ya_c
        baseline = pnl.baseline_y if pulse is not None else float(np.median(y))
        t = pnl.t_offset_s + (x - pnl.x0) / px_per_s
        mv = (baseline - y) / (gains[id(pnl)] * ppm_y) * (-1.0 if pnl.inverted else 1.0)
        # the panel's window; its ends (hidden by separator bars) are held from the nearest traced column
        sel = (t_grid >= pnl.t_offset_s) & (t_grid < pnl.t_offset_s + pnl.duration_s) & \
            (t_grid >= t[0] - ctx.max_gap_s) & (t_grid <= t[-1] + ctx.max_gap_s)
        vals = np.interp(t_grid[sel], t, mv)
        # gaps longer than max_gap_s between traced columns stay NaN
        gap_idx = np.searchsorted(t, t_grid[sel])
        gap_len = t[np.clip(gap_idx, 0, len(t) - 1)] - t[np.clip(gap_idx - 1, 0, len(t) - 1)]
        vals[gap_len > ctx.max_gap_s] = np.nan
        sig = np.full(n, np.nan)
        sig[np.flatnonzero(sel)] = vals
        out.append(_PanelTrace(pnl, sig, pick.coverage * visible_frac, pick.continuity,
                               ctx.geo.to_photo(np.stack([x, y], axis=1)).astype(np.float32)))
    return sorted(out, key=lambda tr: (tr.panel.row, tr.panel.col))


def _cols_per_row(layout: str, pulses: list[Pulse | None]) -> list[int]:
    return [n_cols(layout, r) for r in range(len(pulses))]


def _panel_signals(traced: list[_PanelTrace], n: int) -> dict[str, np.ndarray]:
    """Per named lead, the mean of its panels' traces (rhythm strips and unnamed panels left out)."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for tr in traced:
        if tr.panel.is_rhythm_strip or not tr.panel.named:
            continue
        ok = np.isfinite(tr.signal)
        s = sums.setdefault(tr.panel.lead, np.zeros(n))
        c = counts.setdefault(tr.panel.lead, np.zeros(n))
        s[ok] += tr.signal[ok]
        c[ok] += 1
    return {lead: np.where(counts[lead] > 0, s / np.maximum(counts[lead], 1), np.nan) for lead, s in sums.items()}


def limb_residual(signals: dict[str, np.ndarray], fs: float) -> tuple[float, dict[str, float]]:
    """(share of the limb traces' energy outside the plane Einthoven's law confines them to, per lead share):
    over each stretch of time where >= 3 named limb leads are traced together (at least 0.2 s), each lead
    less its median. NaN where no three limb leads share a moment (a chest-only or strip page)."""
    leads = [lead for lead in LIMB_BASIS if lead in signals]
    if len(leads) < 3:
        return float("nan"), {}
    X = np.stack([signals[lead] for lead in leads])  # (k, n)
    keys = np.isfinite(X).T.astype(np.int64) @ (1 << np.arange(len(leads)))
    res = np.zeros(len(leads))
    tot = np.zeros(len(leads))
    for key in np.unique(keys):
        rows = [i for i in range(len(leads)) if (int(key) >> i) & 1]
        cols = keys == key
        if len(rows) < 3 or cols.sum() < 0.2 * fs:
            continue
        xs = X[np.ix_(rows, np.flatnonzero(cols))]
        xs = xs - np.median(xs, axis=1, keepdims=True)
        a = np.array([LIMB_BASIS[leads[i]] for i in rows])
        r = xs - a @ np.linalg.pinv(a) @ xs
        res[rows] += (r ** 2).sum(axis=1)
        tot[rows] += (xs ** 2).sum(axis=1)
    if tot.sum() <= 0:
        return float("nan"), {}
    per = {lead: float(res[i] / tot[i]) for i, lead in enumerate(leads) if tot[i] > 0}
    return float(res.sum() / tot.sum()), per


def _better(resid: float, best: float) -> bool:
    """Whether a candidate layout's limb residual beats the best so far (a measured one beats none)."""
    if not np.isfinite(resid):
        return False
    return not np.isfinite(best) or resid < best


def _match_db(a: np.ndarray, b: np.ndarray, fs: float) -> float:
    """How well trace b repeats trace a where both are traced (>= 0.5 s), in dB (a's energy over the
    difference's, each less its mean); -inf where they share too little."""
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < 0.5 * fs:
        return float("-inf")
    # the median over 0.5 s pieces: a printed label or a crossing neighbour spoils a piece, not the match
    idx = np.flatnonzero(both)
    size = max(2, int(0.5 * fs))
    scores = []
    for k in range(0, len(idx) - size // 2, size):
        i = idx[k:k + size]
        x = a[i] - a[i].mean()
        d = x - (b[i] - b[i].mean())
        scores.append(10 * np.log10(max(float((x ** 2).sum()), 1e-12) / max(float((d ** 2).sum()), 1e-12)))
    return float(np.median(scores))


@dataclass(frozen=True)
class _Assembled:
    leads: list[str]  # standard order
    signal: np.ndarray  # (leads, n)
    traces: dict[str, list[np.ndarray]]
    unnamed: list[dict[str, Any]]
    rows: list[list[str | None]]  # the layout as read: names as printed, None where unknown
    limb: float  # page limb residual (NaN: not measurable)
    strip_match: list[dict[str, Any]]
    lead_features: dict[str, dict[str, float]]


def _assemble(layout: str, traced: list[_PanelTrace], ctx: _TraceContext, config: DigitizeConfig,
              warnings: list[str]) -> _Assembled:
    """Name each rhythm strip by the panel it repeats (else leave it unnamed), average each lead's traces and
    measure each lead's quality features."""
    n, fs = ctx.n, config.fs
    panel_sig = _panel_signals(traced, n)
    limb, limb_per = limb_residual(panel_sig, fs)
    names: dict[int, str | None] = {}
    strip_match = []
    unmatched = []
    for k, tr in enumerate(traced):
        if tr.panel.named and not tr.panel.is_rhythm_strip:
            names[k] = tr.panel.lead
            continue
        if not tr.panel.is_rhythm_strip:
            names[k] = None
            continue
        scores = sorted(((_match_db(sig, tr.signal, fs), lead) for lead, sig in panel_sig.items()), reverse=True)
        best, second = (scores + [(float("-inf"), None)] * 2)[:2]
        ok = best[0] >= STRIP_MATCH_DB and best[0] - second[0] >= STRIP_MATCH_MARGIN_DB
        label = tr.panel.lead or None  # a strip's panel is named only by its read label (_name_from_labels)
        names[k] = label or (best[1] if ok else None)
        strip_match.append({"row": tr.panel.row, "lead": names[k], "best": best[1],
                            "best_db": round(best[0], 1) if np.isfinite(best[0]) else None,
                            "second_db": round(second[0], 1) if np.isfinite(second[0]) else None,
                            **({"label": label} if label else {})})
        if label and ok and best[1] != label:
            warnings.append(f"rhythm strip (row {tr.panel.row + 1}) is labelled {label} but its trace repeats "
                            f"{best[1]}'s panel ({best[0]:.1f} dB): kept as {label}, as its label reads")
        if not ok and not label:
            unmatched.append(k)
    if config.rhythm_lead and len(unmatched) == 1:
        names[unmatched[0]] = config.rhythm_lead
        warnings.append(f"rhythm strip (row {traced[unmatched[0]].panel.row + 1}) matches no panel: written as "
                        f"{config.rhythm_lead}, as rhythm_lead says")
    elif unmatched:
        rows_shown = ", ".join(str(traced[k].panel.row + 1) for k in unmatched)
        warnings.append(f"rhythm strip(s) in row(s) {rows_shown} match no panel of the page: lead not read, "
                        f"returned unnamed (not as any lead)")
    n_unnamed_panels = sum(1 for k, v in names.items() if v is None and not traced[k].panel.is_rhythm_strip)
    if n_unnamed_panels:
        warnings.append(f"{n_unnamed_panels} panel(s) of layout {layout} hold leads that cannot be known without "
                        f"reading their labels: returned unnamed")
    # assemble
    by_lead: dict[str, list[_PanelTrace]] = {}
    unnamed = []
    for k, tr in enumerate(traced):
        if names[k] is None:
            unnamed.append({"row": tr.panel.row, "col": tr.panel.col, "t_offset_s": tr.panel.t_offset_s,
                            "duration_s": tr.panel.duration_s, "rhythm_strip": tr.panel.is_rhythm_strip,
                            "signal": tr.signal.astype(np.float32)})
        else:
            by_lead.setdefault(names[k], []).append(tr)
    leads = [lead for lead in STANDARD_LEADS if lead in by_lead]
    signal = np.full((len(leads), n), np.nan, np.float32)
    traces: dict[str, list[np.ndarray]] = {}
    feats: dict[str, dict[str, float]] = {}
    for i, lead in enumerate(leads):
        trs = by_lead[lead]
        stack = np.stack([tr.signal for tr in trs])
        cnt = np.isfinite(stack).sum(axis=0)
        signal[i, cnt > 0] = (np.nansum(stack, axis=0)[cnt > 0] / cnt[cnt > 0])
        traces[lead] = [tr.xy for tr in trs if tr.xy is not None]
        dur = np.array([tr.panel.duration_s for tr in trs])
        window = np.zeros(n, bool)
        for tr in trs:
            window[int(round(tr.panel.t_offset_s * fs)):int(round((tr.panel.t_offset_s + tr.panel.duration_s) * fs))] = True
        x = signal[i].astype(np.float64)
        fin = np.isfinite(x)
        dx = np.abs(np.diff(x))
        dx = dx[np.isfinite(dx)]
        amp = float(np.percentile(x[fin], 99) - np.percentile(x[fin], 1)) if fin.sum() > 10 else 0.0
        overlap = [(_match_db(a.signal, b.signal, fs)) for j, a in enumerate(trs) for b in trs[j + 1:]]
        overlap = [o for o in overlap if np.isfinite(o)]
        feats[lead] = {
            "coverage": float(np.average([tr.coverage for tr in trs], weights=dur)),
            "continuity": float(np.average([tr.continuity for tr in trs], weights=dur)),
            "finite": float(fin[window].mean()) if window.any() else 0.0,
            # steps between two samples faster than 250 mV/s (several times a QRS flank): not a pen's path
            "jump_rate": float(np.mean(dx > 250.0 / fs)) if len(dx) else 1.0,
            "amplitude_mv": amp,
            "limb_lead_residual": float(limb_per.get(lead, limb)) if np.isfinite(limb) else float("nan"),
            "from_strip": float(any(tr.panel.is_rhythm_strip for tr in trs)),
            "strip_repeat_db": float(max(overlap)) if overlap else float("nan"),
        }
    rows: dict[int, list[str | None]] = {}
    for k, tr in enumerate(traced):
        name = names[k]
        shown = None if name is None else (("-" if tr.panel.inverted else "") + name)
        rows.setdefault(tr.panel.row, []).append(shown)
    return _Assembled(leads=leads, signal=signal, traces=traces, unnamed=unnamed,
                      rows=[rows[r] for r in sorted(rows)], limb=limb, strip_match=strip_match, lead_features=feats)

"""Render an EcgRecord as a clean ECG printout (RGB uint8) with exact ground truth in pixel coordinates.

Fast path only: a cached pre-drawn grid, cv2.polylines with sub-pixel anti-aliased points, Hershey text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np

from vizecg.config import to_dict
from vizecg.errors import RenderError
from vizecg.record import EcgRecord
from vizecg.render import paper
from vizecg.render.beats import panel_beats, record_beats
from vizecg.render.layout import LAYOUTS, PageGeometry, check_layout, page_geometry
from vizecg.render.truth import Box, LeadTruth, PageTruth, PixelMapping, Printout

Layout = Literal["3x4+1", "3x4", "6x2", "12x1", "1x1"]
GridColor = Literal["red", "pink", "green", "grey", "none"]

_SHIFT = 4  # cv2 fixed-point bits: trace vertices placed to 1/16 px
_FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_RECORD_S = 1.0  # less than this after start_s and nothing meaningful fits: RenderError


@dataclass(frozen=True)
class RenderConfig:
    layout: Layout = "3x4+1"  # 3x4 + lead-II rhythm strip is the clinical default
    paper: Literal["letter", "a4"] = "letter"  # landscape
    dpi: int = 200  # 100-300
    speed_mm_s: float = 25.0  # 25 or 50
    gain_mm_mv: float = 10.0  # 5, 10 or 20
    grid_color: GridColor = "red"
    line_width_mm: float = 0.25  # trace thickness as printed
    bw: bool = False  # black-and-white printer / photocopy
    header: bool = True  # printed text block above the grid
    separators: bool = True  # short bars where one column's lead ends and the next begins
    rhythm_lead: str = "II"  # lead of the rhythm strip / 1x1 strip; falls back to the record's first lead
    start_s: float | None = 0.0  # record time at the page's left edge; None: a seeded random window
    device_line: str = "VizECG ER-12 electrocardiograph"
    filter_low_hz: float = 0.05  # printed only: the renderer draws the signal as given
    filter_high_hz: float = 150.0
    notch_hz: int = 50  # printed only; 0 = no notch line

    def __post_init__(self) -> None:
        # Checked when the config is built, so a YAML or --set value is refused naming its key before anything
        # renders (paper speed stays a render-time check: callers blank it with replace(speed_mm_s=0) to compare).
        if not paper.DPI_RANGE[0] <= self.dpi <= paper.DPI_RANGE[1]:
            raise BadRenderSetting(f"dpi {self.dpi} outside the supported range "
                                   f"{paper.DPI_RANGE[0]}-{paper.DPI_RANGE[1]}")
        if self.gain_mm_mv not in paper.GAINS_MM_MV:  # never <= 0: a negative gain would print the ECG inverted
            raise BadRenderSetting(f"gain_mm_mv: gain {self.gain_mm_mv} mm/mV not offered "
                                   f"(choose from {paper.GAINS_MM_MV})")
        if not (math.isfinite(self.line_width_mm) and 0 < self.line_width_mm <= 2):
            raise BadRenderSetting(f"line_width_mm {self.line_width_mm} must lie in (0, 2] mm")
        if self.start_s is not None and not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise BadRenderSetting(f"start_s {self.start_s} must be >= 0 s (or null: a seeded random window)")


class BadRenderSetting(RenderError, ValueError):
    """A RenderConfig value out of bounds. A ValueError too, so vizecg.config.from_dict reports it as a
    ConfigError naming the file and the key."""


def random_render_config(rng: np.random.Generator, base: RenderConfig = RenderConfig(),
                         fast_paper_share: float = 0.1) -> RenderConfig:
    """A varied but realistic print style (paper, grid colour, gain, line width...) for dataset diversity.

    The layout, dpi, rhythm lead and window of `base` are kept: those are the caller's choice.
    fast_paper_share: the chance of 50 mm/s paper (else 25 mm/s); the draws do not depend on it.
    """
    grid = str(rng.choice(["red", "pink", "green", "grey", "none"], p=[0.45, 0.2, 0.1, 0.15, 0.1]))
    gain_choices = (5.0, 10.0) if base.layout == "12x1" else paper.GAINS_MM_MV
    gain_p = (0.5, 0.5) if base.layout == "12x1" else (0.1, 0.8, 0.1)
    filters = [(0.05, 150.0), (0.05, 100.0), (0.5, 40.0), (0.15, 150.0), (0.05, 40.0)]
    flo, fhi = filters[int(rng.integers(len(filters)))]
    devices = ["VizECG ER-12 electrocardiograph", "12-lead resting ECG", "CardioPrint 3000",
               "ECG-1200 interpretive", "Bedside monitor print"]
    return replace(
        base,
        paper=str(rng.choice(["letter", "a4"])),
        speed_mm_s=50.0 if rng.random() >= 1.0 - fast_paper_share else 25.0,
        gain_mm_mv=float(rng.choice(gain_choices, p=gain_p)),
        grid_color=grid,
        line_width_mm=float(np.round(rng.uniform(0.15, 0.4), 3)),
        bw=bool(rng.random() < 0.1),
        header=bool(rng.random() < 0.85),
        separators=bool(rng.random() < 0.8),
        device_line=devices[int(rng.integers(len(devices)))],
        filter_low_hz=flo, filter_high_hz=fhi,
        notch_hz=int(rng.choice([0, 50, 60])),
    )


def render_printout(record: EcgRecord, config: RenderConfig = RenderConfig(), seed: int | None = None) -> Printout:
    """Print `record` on paper as `config` says. The seed only matters where the config leaves a choice open
    (start_s=None: a random window); the same inputs always give the same bytes."""
    check_layout(config.layout)
    paper.check_speed_gain(config.speed_mm_s, config.gain_mm_mv)
    s = paper.px_per_mm(config.dpi)
    rid = record.record_id
    warnings: list[str] = []
    rhythm_lead = config.rhythm_lead if config.rhythm_lead in record.lead_names else record.lead_names[0]
    rows, has_strip = LAYOUTS[config.layout]
    if has_strip and rows and rhythm_lead != config.rhythm_lead:  # a 1x1 strip just prints the first channel
        warnings.append(f"rhythm lead {config.rhythm_lead} missing: strip shows {rhythm_lead}")
    geo = page_geometry(config.layout, config.paper, config.speed_mm_s, config.header, rhythm_lead)
    start_s = _start_time(record, config, geo.total_s, seed)
    shown_s = record.duration_s - start_s
    if shown_s < MIN_RECORD_S:
        raise RenderError(f"record {rid}: only {max(shown_s, 0):.2f} s from start {start_s:g} s "
                          f"(needs at least {MIN_RECORD_S:g} s; layout {config.layout} shows {geo.total_s:g} s)",
                          record.source or None)
    if shown_s < geo.total_s - 1e-9:
        warnings.append(f"record is {shown_s:.2f} s from {start_s:g} s but layout {config.layout} shows "
                        f"{geo.total_s:g} s: the last {geo.total_s - shown_s:.2f} s are left blank")
    layout_leads = {slot.lead for slot in geo.slots}
    missing = sorted(layout_leads - set(record.lead_names), key=lambda n: [sl.lead for sl in geo.slots].index(n))
    if missing and len(missing) == len(layout_leads):
        raise RenderError(f"record {rid}: has none of the leads layout {config.layout} prints "
                          f"(record has {', '.join(record.lead_names)})", record.source or None)
    for lead in missing:
        warnings.append(f"lead {lead} missing: panel left empty")

    width, height = int(round(geo.width_mm * s)), int(round(geo.height_mm * s))
    image = _grid_page(width, height, config.grid_color, s, _grid_box_mm(geo, config.speed_mm_s))
    ink = paper.INK_RGB
    thickness = max(1, int(round(config.line_width_mm * s)))
    px_per_mv = config.gain_mm_mv * s
    px_per_s = config.speed_mm_s * s
    text_scale = paper.TEXT_HEIGHT_MM * s / _cap_height_px()
    text_thick = max(1, int(round(0.2 * s)))

    leads: list[LeadTruth] = []
    for slot in geo.slots:
        panel = Box(slot.x0_mm * s, slot.y0_mm * s, slot.x1_mm * s, slot.y1_mm * s)
        t0 = start_s + slot.t_offset_s
        i0 = int(math.ceil(t0 * record.fs - 1e-6))
        i1 = int(math.ceil((t0 + slot.duration_s) * record.fs - 1e-6))  # exclusive: [t0, t0 + duration)
        present = slot.lead in record.lead_names
        values = np.full(i1 - i0, np.nan, np.float64)
        if present:
            row = record.signal[record.lead_names.index(slot.lead)]
            take = row[i0:min(i1, record.n_samples)]
            values[:len(take)] = take
        mapping = PixelMapping(x_t0=panel.x0, t0_s=t0, baseline_y=slot.baseline_mm * s,
                               px_per_s=px_per_s, px_per_mv=px_per_mv)
        xy = mapping.to_pixels(np.arange(i0, i1) / record.fs, values)
        clipped = np.isfinite(xy[:, 1]) & ((xy[:, 1] < panel.y0) | (xy[:, 1] > panel.y1))
        xy[:, 1] = np.clip(xy[:, 1], panel.y0, panel.y1)  # NaN stays NaN
        xy[~np.isfinite(values)] = np.nan  # a gap is a gap in both coordinates
        if present:
            _draw_trace(image, xy, ink, thickness)
        if clipped.any():
            warnings.append(f"lead {slot.lead}{' (rhythm strip)' if slot.is_rhythm_strip else ''}: "
                            f"{int(clipped.sum())} samples beyond the panel, clipped")
        label_box = _draw_text(image, slot.lead, panel.x0 + 1.0 * s, panel.y0 + 1.0 * s, text_scale, text_thick, ink)
        trace = xy.astype(np.float32)
        leads.append(LeadTruth(
            lead=slot.lead, panel_box=panel, label_box=label_box,
            t_start_s=i0 / record.fs, t_end_s=(i1 - 1) / record.fs, sample_start=i0, mapping=mapping,
            trace=trace, visible=np.isfinite(trace).all(axis=1), clipped=clipped,
            is_rhythm_strip=slot.is_rhythm_strip, present=present))

    cal_boxes = _draw_calibration(image, geo, config, s, ink, thickness)
    if config.separators:
        _draw_separators(image, geo, s, ink, thickness)
    rbeats = record_beats(record)
    if config.header:
        _draw_header(image, record, config, s, text_scale, text_thick, ink, rbeats.r_sample)
    beats = [b for i, lt in enumerate(leads) for b in panel_beats(rbeats, lt, i, s)]
    if config.bw:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        image = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)

    params = to_dict(config) | {"start_s": start_s, "seed": seed, "px_per_mm": s, "beat_origin": rbeats.origin,
                                "rhythm_lead": rhythm_lead}
    truth = PageTruth(width=width, height=height, px_per_mm=s, leads=leads, beats=beats,
                      calibration_boxes=cal_boxes, record_id=rid, layout=config.layout, render_params=params,
                      warnings=warnings, page_box=Box(0, 0, width, height))
    return Printout(image=image, truth=truth)


def _start_time(record: EcgRecord, config: RenderConfig, total_s: float, seed: int | None) -> float:
    if config.start_s is not None:
        if config.start_s < 0:
            raise RenderError(f"record {record.record_id}: start_s must be >= 0, got {config.start_s}")
        return float(config.start_s)
    latest = record.duration_s - total_s
    if latest <= 0 or seed is None:
        return 0.0
    # Whole samples, so the page window is the same whatever the float rounding of seconds.
    rng = np.random.default_rng([int(seed), 0x57A27])
    return int(rng.integers(0, int(latest * record.fs) + 1)) / record.fs


def _grid_box_mm(geo: PageGeometry, speed_mm_s: float) -> tuple[int, int, int, int]:
    x0 = int(math.floor(geo.trace_x0_mm - paper.cal_area_mm(speed_mm_s)))
    return (x0, int(geo.rows_y0_mm), int(round(geo.trace_x0_mm + paper.TRACE_WIDTH_MM)),
            int(round(geo.rows_y0_mm + geo.n_rows * geo.row_height_mm)))


def _grid_page(width: int, height: int, color: str, s: float, box_mm: tuple[int, int, int, int]) -> np.ndarray:
    return _cached_grid(width, height, color, round(s, 6), box_mm).copy()


@lru_cache(maxsize=16)
def _cached_grid(width: int, height: int, color: str, s: float, box_mm: tuple[int, int, int, int]) -> np.ndarray:
    """A blank page with its grid; grid lines lie on whole page millimetres (so on every panel baseline)."""
    if color not in paper.GRID_COLORS:
        raise RenderError(f"unknown grid colour {color!r} (known: {', '.join(paper.GRID_COLORS)})")
    page = np.empty((height, width, 3), np.uint8)
    page[:] = paper.PAPER_RGB
    colors = paper.GRID_COLORS[color]
    if colors is not None:
        minor_rgb, major_rgb = colors
        x0, y0, x1, y1 = box_mm
        minor_t = max(1, int(round(0.08 * s)))
        major_t = max(1, int(round(0.2 * s)))
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
    page.setflags(write=False)
    return page


def _draw_trace(image: np.ndarray, xy: np.ndarray, ink: tuple[int, int, int], thickness: int) -> None:
    """Anti-aliased polyline through the finite points; NaN points break it (gaps)."""
    finite = np.isfinite(xy).all(axis=1)
    if not finite.any():
        return
    fixed = np.round(xy * (1 << _SHIFT))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.view(np.int8), [0]])))
    runs = [fixed[a:b].astype(np.int32) for a, b in zip(edges[::2], edges[1::2])]
    cv2.polylines(image, runs, False, ink, thickness, cv2.LINE_AA, _SHIFT)


@lru_cache(maxsize=1)
def _cap_height_px() -> int:
    return cv2.getTextSize("H", _FONT, 1.0, 1)[0][1]


def _draw_text(image: np.ndarray, text: str, x: float, y_top: float, scale: float, thick: int,
               ink: tuple[int, int, int]) -> Box:
    """Text whose top-left corner is (x, y_top); returns its box."""
    (w, h), base = cv2.getTextSize(text, _FONT, scale, thick)
    org = (int(round(x)), int(round(y_top + h)))
    cv2.putText(image, text, org, _FONT, scale, ink, thick, cv2.LINE_AA)
    pad = thick / 2.0
    return Box(org[0] - pad, org[1] - h - pad, org[0] + w + pad, org[1] + base * 0.5 + pad)


def _draw_calibration(image: np.ndarray, geo: PageGeometry, config: RenderConfig, s: float,
                      ink: tuple[int, int, int], thickness: int) -> list[Box]:
    """The 1 mV x 200 ms pulse at the start of each row; returns the pulses' boxes."""
    boxes = []
    pulse_w = paper.CAL_PULSE_S * config.speed_mm_s * s
    pulse_h = paper.CAL_PULSE_MV * config.gain_mm_mv * s
    lead_in = paper.CAL_LEAD_IN_MM * s
    x_start = (geo.trace_x0_mm - paper.cal_area_mm(config.speed_mm_s)) * s
    rows = sorted({(sl.row, sl.baseline_mm, sl.y0_mm) for sl in geo.slots})
    half = thickness / 2.0
    for _, baseline_mm, top_mm in rows:
        base = baseline_mm * s
        top = max(base - pulse_h, top_mm * s)  # a 20 mm/mV pulse in a short row is clipped like the trace
        xa, xb = x_start + lead_in, x_start + lead_in + pulse_w
        pts = np.array([[x_start, base], [xa, base], [xa, top], [xb, top], [xb, base], [xb + lead_in, base]])
        cv2.polylines(image, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], False, ink, thickness,
                      cv2.LINE_AA, _SHIFT)
        boxes.append(Box(xa - half, top - half, xb + half, base + half))
    return boxes


def _draw_separators(image: np.ndarray, geo: PageGeometry, s: float, ink: tuple[int, int, int],
                     thickness: int) -> None:
    half = 2.0 * s
    for sl in geo.slots:
        if sl.col > 0:
            x = sl.x0_mm * s
            pts = np.array([[x, sl.baseline_mm * s - half], [x, sl.baseline_mm * s + half]])
            cv2.polylines(image, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], False, ink, thickness,
                          cv2.LINE_AA, _SHIFT)


def _draw_header(image: np.ndarray, record: EcgRecord, config: RenderConfig, s: float, scale: float, thick: int,
                 ink: tuple[int, int, int], r_samples: np.ndarray) -> None:
    """Printed text: device line, record id, rate, paper settings and filters (like a real printout)."""
    if len(r_samples) > 1:
        rate = f"Vent. rate {60.0 * record.fs / float(np.median(np.diff(r_samples))):.0f} BPM"
    else:
        rate = "Vent. rate --- BPM"
    notch = f"   ~{config.notch_hz} Hz" if config.notch_hz else ""
    left = [f"ID: {record.record_id}" + (f"   Patient: {record.patient_id}" if record.patient_id else ""),
            rate, f"{record.fs:g} Hz   {', '.join(record.lead_names[:12])}"]
    right = [config.device_line,
             f"{config.speed_mm_s:g} mm/s   {config.gain_mm_mv:g} mm/mV",
             f"{config.filter_low_hz:g}-{config.filter_high_hz:g} Hz{notch}"]
    line_h = paper.TEXT_HEIGHT_MM * 2.0 * s
    y = paper.MARGIN_TOP_MM * s
    x_left = (image.shape[1] / s - paper.TRACE_WIDTH_MM) / 2.0 * s
    x_right = image.shape[1] / 2.0 + 20 * s
    for i, (a, b) in enumerate(zip(left, right)):
        _draw_text(image, a, x_left, y + i * line_h, scale, thick, ink)
        _draw_text(image, b, x_right, y + i * line_h, scale, thick, ink)

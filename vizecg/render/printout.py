"""Render an EcgRecord as a clean ECG printout (RGB uint8) with exact ground truth in pixel coordinates.

Fast path only: a cached pre-drawn grid, cv2.polylines with sub-pixel anti-aliased points, Hershey or TTF
text. A RenderConfig (today's knobs) and a PrintStyle (style.py: the print-style space) share one renderer:
`render_printout` maps its config onto a PrintStyle with `style_from_config`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

import cv2
import numpy as np
from scipy.signal import resample_poly

from vizecg.config import to_dict
from vizecg.errors import RenderError
from vizecg.record import EcgRecord
from vizecg.render import paper
from vizecg.render.beats import panel_beats, record_beats
from vizecg.render.header import FOOTER_MM, draw_header
from vizecg.render.layout import LAYOUTS, PageGeometry, check_layout, place_panels
from vizecg.render.style import (EXTRA_LEADS, FIFTH_COLUMN_FALLBACK, GRID_PALETTES, PAPER_COLORS, TRACE_COLORS,
                                 GridStyle, HeaderStyle, LeadGrid, PrintStyle, PulseStyle, TextStyle)
from vizecg.render.text import TextLayer
from vizecg.render.truth import Box, LeadTruth, PageTruth, PixelMapping, Printout, PulseTruth

Layout = Literal["3x4+1", "3x4", "6x2", "12x1", "1x1"]
GridColor = Literal["red", "pink", "green", "grey", "none"]

_SHIFT = 4  # cv2 fixed-point bits: trace vertices placed to 1/16 px
MAX_ROW_MM = 50.0  # a page of few rows leaves paper blank below them rather than print 80 mm rows
MIN_RECORD_S = 1.0  # less than this after start_s and nothing meaningful fits: RenderError
# A record below MIN_DRAW_FS is drawn from a copy resampled to DRAW_FS: at 25 mm/s PTB-XL's 100 Hz records put a
# vertex every 0.25 mm, which prints every QRS as a few straight strokes. 500 Hz (PTB-XL) and 360 Hz (MIT-BIH)
# records are drawn as they are.
MIN_DRAW_FS = 250.0
DRAW_FS = 500.0


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


def style_from_config(config: RenderConfig) -> PrintStyle:
    """The PrintStyle that prints exactly what `config` describes (today's look: the vizecg-classic family)."""
    check_layout(config.layout)
    paper.check_speed_gain(config.speed_mm_s, config.gain_mm_mv)
    rows, has_strip = LAYOUTS[config.layout]
    grid = GridStyle("none" if config.grid_color == "none" else "lines",
                     "red" if config.grid_color == "none" else config.grid_color)
    header = HeaderStyle("classic" if config.header else "none", paper.HEADER_HEIGHT_MM if config.header else 0.0,
                         config.device_line, config.filter_low_hz, config.filter_high_hz, config.notch_hz)
    return PrintStyle(
        family="vizecg-classic", leads=LeadGrid(config.layout, rows, (config.rhythm_lead,) if has_strip else (),
                                                strip_paper=not rows),
        paper_size=config.paper, speed_mm_s=config.speed_mm_s, gain_mm_mv=config.gain_mm_mv,
        pulse=PulseStyle("left", paper.CAL_PULSE_S * config.speed_mm_s, "square"),
        separator="ticks" if config.separators else "none", grid=grid, line_width_mm=config.line_width_mm,
        greyscale=config.bw, header=header)


def render_printout(record: EcgRecord, config: RenderConfig = RenderConfig(), seed: int | None = None) -> Printout:
    """Print `record` on paper as `config` says. The seed only matters where the config leaves a choice open
    (start_s=None: a random window); the same inputs always give the same bytes."""
    style = style_from_config(config)
    return _render(record, style, config.dpi, config.start_s, seed, to_dict(config))


def render_print_style(record: EcgRecord, style: PrintStyle, dpi: int = 200, start_s: float | None = 0.0,
                       seed: int | None = None) -> Printout:
    """Print `record` in `style` at `dpi`. start_s: the record time at the page's left edge (None: a seeded
    window). The seed also draws the plausible header measurements; the same inputs give the same bytes."""
    if not paper.DPI_RANGE[0] <= dpi <= paper.DPI_RANGE[1]:
        raise RenderError(f"dpi {dpi} outside the supported range {paper.DPI_RANGE[0]}-{paper.DPI_RANGE[1]}")
    params = {"family": style.family, "print_style": to_dict(style), "dpi": int(dpi), "layout": style.leads.name,
              "speed_mm_s": style.speed_mm_s, "gain_mm_mv": style.gain_mm_mv,
              "chest_gain_mm_mv": style.chest_gain_mm_mv}
    return _render(record, style, dpi, start_s, seed, params)


def drawing_record(record: EcgRecord) -> tuple[EcgRecord, str | None]:
    """The record as the renderer draws it, and a note when that is not the record as given: below MIN_DRAW_FS,
    resampled to DRAW_FS (scipy resample_poly, its anti-alias FIR; gaps stay gaps). The page's ground truth
    (sample_start, beats) then counts samples of this copy."""
    if record.fs >= MIN_DRAW_FS:
        return record, None
    ratio = Fraction(DRAW_FS / record.fs).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    gaps = np.isnan(record.signal)
    # padtype "line": the edges continue the trace's trend instead of ringing toward 0 mV at the page's edge.
    signal = resample_poly(np.nan_to_num(record.signal), up, down, axis=1, padtype="line")
    if gaps.any():
        source_index = np.minimum(np.arange(signal.shape[1]) * down // up, record.n_samples - 1)
        signal[gaps[:, source_index]] = np.nan
    fs = record.fs * up / down
    meta = record.meta
    if meta.get("beats") is not None and len(meta["beats"].get("sample", ())):
        beats = dict(meta["beats"], sample=np.round(np.asarray(meta["beats"]["sample"]) * up / down).astype(np.int64))
        meta = dict(meta, beats=beats)
    note = f"drawn from a {record.fs:g} Hz record resampled to {fs:g} Hz"
    return record.with_signal(signal.astype(np.float32), fs=fs, meta=meta), note


def _resolve_leads(record: EcgRecord, style: PrintStyle, warnings: list[str]) -> tuple[tuple[tuple[str, ...], ...],
                                                                                        tuple[str, ...]]:
    """The rows and strips as this record can print them: a 15-lead page's extra leads (V4R, V8, V9) the record
    lacks become real leads under their own names; a strip lead it lacks becomes its first lead."""
    have = set(record.lead_names)
    stand_in = dict(zip(EXTRA_LEADS, FIFTH_COLUMN_FALLBACK))
    rows = tuple(tuple(stand_in[lead] if lead in stand_in and lead not in have else lead for lead in row)
                 for row in style.leads.rows)
    rhythm = []
    for lead in style.leads.rhythm:
        if lead.lstrip("-") in have:
            rhythm.append(lead)
        else:
            rhythm.append(record.lead_names[0])
            if style.leads.rows:  # a strip-only page just prints the record's first channel
                warnings.append(f"rhythm lead {lead} missing: strip shows {record.lead_names[0]}")
    return rows, tuple(rhythm)


def _geometry(style: PrintStyle, rows, rhythm) -> PageGeometry:
    header_mm = style.header.height_mm if style.header.kind != "none" else 0.0
    footer_mm = FOOTER_MM if style.header.footer != "none" else 0.0
    width_mm, height_mm = paper.PAPER_SIZES_MM[style.paper_size]
    top = style.margin_top_mm + header_mm
    bottom = style.margin_bottom_mm + footer_mm
    if style.leads.strip_paper:
        height_mm = float(round(top)) + paper.STRIP_ROW_HEIGHT_MM * len(rhythm) + bottom
    return place_panels(rows, rhythm, width_mm, height_mm, top, bottom, style.speed_mm_s,
                        cal_width_mm(style.pulse), style.pulse.side, MAX_ROW_MM)


def cal_width_mm(pulse: PulseStyle) -> float:
    """Width reserved beside the panels for the calibration pulse."""
    lead = 2 * paper.CAL_LEAD_IN_MM if pulse.shape == "square" else 0.0
    return lead + pulse.width_mm + paper.CAL_GAP_MM


def _render(record: EcgRecord, style: PrintStyle, dpi: int, start: float | None, seed: int | None,
            params: dict[str, Any]) -> Printout:
    s = paper.px_per_mm(dpi)
    rid = record.record_id
    name = style.leads.name
    record_fs = record.fs
    record, resampled = drawing_record(record)
    warnings: list[str] = [resampled] if resampled else []
    rows, rhythm = _resolve_leads(record, style, warnings)
    geo = _geometry(style, rows, rhythm)
    start_s = _start_time(record, start, geo.total_s, seed)
    shown_s = record.duration_s - start_s
    if shown_s < MIN_RECORD_S:
        raise RenderError(f"record {rid}: only {max(shown_s, 0):.2f} s from start {start_s:g} s "
                          f"(needs at least {MIN_RECORD_S:g} s; layout {name} shows {geo.total_s:g} s)",
                          record.source or None)
    if shown_s < geo.total_s - 1e-9:
        warnings.append(f"record is {shown_s:.2f} s from {start_s:g} s but layout {name} shows "
                        f"{geo.total_s:g} s: the last {geo.total_s - shown_s:.2f} s are left blank")
    order = [sl.lead for sl in geo.slots]
    layout_leads = set(order)
    missing = sorted(layout_leads - set(record.lead_names), key=order.index)
    if missing and len(missing) == len(layout_leads):
        raise RenderError(f"record {rid}: has none of the leads layout {name} prints "
                          f"(record has {', '.join(record.lead_names)})", record.source or None)
    for lead in missing:
        warnings.append(f"lead {lead} missing: panel left empty")

    width, height = int(round(geo.width_mm * s)), int(round(geo.height_mm * s))
    paper_rgb = PAPER_COLORS[style.paper_color]
    image = _grid_page(width, height, style.grid, paper_rgb, s, _grid_box_mm(geo, style.grid.extent))
    ink = TRACE_COLORS[style.trace_color]
    text_ink = paper.INK_RGB
    thickness = max(1, int(round(style.line_width_mm * s)))
    px_per_s = style.speed_mm_s * s
    layer = TextLayer(image, s)

    leads: list[LeadTruth] = []
    traces = []
    for slot in geo.slots:
        panel = Box(slot.x0_mm * s, slot.y0_mm * s, slot.x1_mm * s, slot.y1_mm * s)
        gain = style.gain_of(slot.lead)
        t0 = start_s + slot.t_offset_s
        i0 = int(math.ceil(t0 * record.fs - 1e-6))
        i1 = int(math.ceil((t0 + slot.duration_s) * record.fs - 1e-6))  # exclusive: [t0, t0 + duration)
        present = slot.lead in record.lead_names
        values = np.full(i1 - i0, np.nan, np.float64)
        if present:
            row = record.signal[record.lead_names.index(slot.lead)]
            take = row[i0:min(i1, record.n_samples)]
            values[:len(take)] = take
        # An inverted lead (-aVR) maps the record's own values with a negative scale: to_signal gives aVR back.
        mapping = PixelMapping(x_t0=panel.x0, t0_s=t0, baseline_y=slot.baseline_mm * s,
                               px_per_s=px_per_s, px_per_mv=slot.polarity * gain * s)
        xy = mapping.to_pixels(np.arange(i0, i1) / record.fs, values)
        clipped = np.isfinite(xy[:, 1]) & ((xy[:, 1] < panel.y0) | (xy[:, 1] > panel.y1))
        xy[:, 1] = np.clip(xy[:, 1], panel.y0, panel.y1)  # NaN stays NaN
        xy[~np.isfinite(values)] = np.nan  # a gap is a gap in both coordinates
        if present:
            traces.append(xy)
        if clipped.any():
            warnings.append(f"lead {slot.lead}{' (rhythm strip)' if slot.is_rhythm_strip else ''}: "
                            f"{int(clipped.sum())} samples beyond the panel, clipped")
        label = slot.label or slot.lead
        x, y = _label_origin(slot, style.text, s)
        # Labels go down before the traces: a label on the trace start is overprinted by it, as printers do.
        label_box = layer.put(label, x, y, style.text.size_mm, style.text.font, text_ink)
        trace = xy.astype(np.float32)
        leads.append(LeadTruth(
            lead=slot.lead, panel_box=panel, label_box=label_box,
            t_start_s=i0 / record.fs, t_end_s=(i1 - 1) / record.fs, sample_start=i0, mapping=mapping,
            trace=trace, visible=np.isfinite(trace).all(axis=1), clipped=clipped,
            is_rhythm_strip=slot.is_rhythm_strip, present=present, label=label, gain_mm_mv=gain,
            page_t_start_s=slot.t_offset_s, page_t_end_s=slot.t_offset_s + slot.duration_s,
            row=slot.row, col=slot.col, inverted=slot.polarity < 0))

    rbeats = record_beats(record)
    texts = draw_header(layer, record, style, geo, s, text_ink, rbeats.r_sample, seed)
    layer.finish()
    for t in texts:
        if t.kind == "redaction":
            b = t.box
            image[int(b.y0):int(math.ceil(b.y1)), int(b.x0):int(math.ceil(b.x1))] = (0, 0, 0)
    for xy in traces:
        _draw_trace(image, xy, ink, thickness)
    pulses = _draw_calibration(image, geo, style, s, ink, thickness)
    _draw_separators(image, geo, style.separator, s, ink, thickness)
    beats = [b for i, lt in enumerate(leads) for b in panel_beats(rbeats, lt, i, s)]
    if style.greyscale:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        image = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)

    params = params | {"start_s": start_s, "seed": seed, "px_per_mm": s, "beat_origin": rbeats.origin,
                       "rhythm_lead": rhythm[0] if rhythm else None, "rhythm_leads": list(rhythm)}
    if resampled:
        params |= {"record_fs": record_fs, "drawn_fs": record.fs}
    truth = PageTruth(width=width, height=height, px_per_mm=s, leads=leads, beats=beats,
                      calibration_boxes=[p.box for p in pulses], record_id=rid, layout=name, render_params=params,
                      warnings=warnings, page_box=Box(0, 0, width, height), pulses=pulses, texts=texts)
    printout = Printout(image=image, truth=truth)
    return _cut_by_frame(printout, style.crop) if any(style.crop) else printout


def _label_origin(slot, text: TextStyle, s: float) -> tuple[float, float]:
    """Top-left corner (px) of a panel's label: at the band's top, above or below the baseline, or on it."""
    cap = text.size_mm
    x = slot.x0_mm + (0.5 if text.label_position == "on_trace" else 1.0)
    y = {"top_left": slot.y0_mm + 1.0, "above_left": slot.baseline_mm - 3.0 - cap,
         "below_left": slot.baseline_mm + 2.5, "on_trace": slot.baseline_mm - cap / 2.0}[text.label_position]
    y = min(max(y, slot.y0_mm + 0.5), slot.y1_mm - cap - 0.8)
    return x * s, y * s


def _cut_by_frame(printout: Printout, crop: tuple[float, float, float, float]) -> Printout:
    """The page as a frame that misses part of it shows it: the truth moves with the cut; beats, pulses and
    text no longer wholly on the page are marked invisible or dropped."""
    t = printout.truth
    x0, y0 = int(round(crop[0] * t.width)), int(round(crop[1] * t.height))
    x1, y1 = t.width - int(round(crop[2] * t.width)), t.height - int(round(crop[3] * t.height))
    w, h = x1 - x0, y1 - y0
    shift = np.array([x0, y0], np.float64)
    moved = t.transformed(lambda p: p - shift, w, h)

    def whole(b: Box) -> bool:
        return x0 <= b.x0 and b.x1 <= x1 and y0 <= b.y0 and b.y1 <= y1

    for new, old in zip(moved.beats, t.beats):
        new.visible = new.visible and whole(old.box)
    keep = [i for i, p in enumerate(moved.pulses) if p.box.width > 1 and p.box.height > 1]
    moved.pulses = [moved.pulses[i] for i in keep]
    moved.calibration_boxes = [moved.calibration_boxes[i] for i in keep]
    moved.texts = [nt for nt, ot in zip(moved.texts, t.texts) if whole(ot.box)]
    for lt in moved.leads:
        if lt.label_box is not None and (lt.label_box.width <= 1 or lt.label_box.height <= 1):
            lt.label_box = None
    moved.render_params = moved.render_params | {"crop_px": [x0, y0, x1, y1]}
    return Printout(np.ascontiguousarray(printout.image[y0:y1, x0:x1]), moved)


def _start_time(record: EcgRecord, start_s: float | None, total_s: float, seed: int | None) -> float:
    if start_s is not None:
        if start_s < 0:
            raise RenderError(f"record {record.record_id}: start_s must be >= 0, got {start_s}")
        return float(start_s)
    latest = record.duration_s - total_s
    if latest <= 0 or seed is None:
        return 0.0
    # Whole samples, so the page window is the same whatever the float rounding of seconds.
    rng = np.random.default_rng([int(seed), 0x57A27])
    return int(rng.integers(0, int(latest * record.fs) + 1)) / record.fs


def _grid_box_mm(geo: PageGeometry, extent: str) -> tuple[int, int, int, int]:
    if extent == "page":
        return (0, 0, int(math.ceil(geo.width_mm)), int(math.ceil(geo.height_mm)))
    x0 = int(math.floor(min(geo.trace_x0_mm, geo.cal_x0_mm if geo.cal_width_mm else geo.trace_x0_mm)))
    x1 = int(round(max(geo.trace_x0_mm + paper.TRACE_WIDTH_MM, geo.cal_x0_mm + geo.cal_width_mm)))
    return (x0, int(geo.rows_y0_mm), x1, int(round(geo.rows_y0_mm + geo.n_rows * geo.row_height_mm)))


def _grid_page(width: int, height: int, grid: GridStyle, paper_rgb: tuple[int, int, int], s: float,
               box_mm: tuple[int, int, int, int]) -> np.ndarray:
    return _cached_grid(width, height, grid, paper_rgb, round(s, 6), box_mm).copy()


@lru_cache(maxsize=16)
def _cached_grid(width: int, height: int, grid: GridStyle, paper_rgb: tuple[int, int, int], s: float,
                 box_mm: tuple[int, int, int, int]) -> np.ndarray:
    """A blank page with its grid; grid lines lie on whole page millimetres (so on every panel baseline).

    lines: minor + major lines; major_only; dotted_minor: major lines, minor lines dashed; dots (thermal paper):
    major lines every 5 mm and a dot at every other 1 mm crossing; none."""
    page = np.empty((height, width, 3), np.uint8)
    page[:] = paper_rgb
    if grid.kind != "none":
        minor_rgb, major_rgb = GRID_PALETTES[grid.palette]
        x0, y0, x1, y1 = box_mm
        minor_t = max(1, int(round(grid.minor_width_mm * s)))
        major_t = max(1, int(round(grid.major_width_mm * s)))
        ys = (int(round(y0 * s)), min(int(round(y1 * s)) + 1, height))
        xs = (int(round(x0 * s)), min(int(round(x1 * s)) + 1, width))
        major_mm = int(paper.MAJOR_GRID_MM)
        if grid.kind == "dots":
            px = np.array([int(round(mm * s)) for mm in range(x0, x1 + 1) if mm % major_mm], int)
            py = np.array([int(round(mm * s)) for mm in range(y0, y1 + 1) if mm % major_mm], int)
            for dy in range(minor_t):
                for dx in range(minor_t):
                    yy, xx = py - minor_t // 2 + dy, px - minor_t // 2 + dx
                    yy, xx = yy[(yy >= 0) & (yy < height)], xx[(xx >= 0) & (xx < width)]
                    page[np.ix_(yy, xx)] = major_rgb
        for major in (False, True):
            if not major and grid.kind in ("dots", "major_only"):
                continue
            rgb, t = (major_rgb, major_t) if major else (minor_rgb, minor_t)
            # Dashed minor lines: 0.4 mm on, 0.4 mm off along the line.
            dash_y = dash_x = slice(None)
            if not major and grid.kind == "dotted_minor":
                dash_y = (np.arange(*ys) / (0.4 * s)).astype(int) % 2 == 0
                dash_x = (np.arange(*xs) / (0.4 * s)).astype(int) % 2 == 0
            for mm in range(x0, x1 + 1):
                if (mm % major_mm == 0) == major:
                    c = int(round(mm * s)) - t // 2
                    band = page[ys[0]:ys[1], max(c, 0):c + t]
                    band[dash_y] = rgb
            for mm in range(y0, y1 + 1):
                if (mm % major_mm == 0) == major:
                    r = int(round(mm * s)) - t // 2
                    band = page[max(r, 0):r + t, xs[0]:xs[1]]
                    band[:, dash_x] = rgb
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


def _polyline(image: np.ndarray, pts: np.ndarray, ink: tuple[int, int, int], thickness: int) -> None:
    cv2.polylines(image, [np.round(np.asarray(pts) * (1 << _SHIFT)).astype(np.int32)], False, ink, thickness,
                  cv2.LINE_AA, _SHIFT)


def _draw_calibration(image: np.ndarray, geo: PageGeometry, style: PrintStyle, s: float,
                      ink: tuple[int, int, int], thickness: int) -> list[PulseTruth]:
    """The 1 mV pulse at one end of each row, at the gain of the panel beside it; returns each pulse's truth."""
    pulse = style.pulse
    if pulse.side == "none" or not geo.cal_width_mm:
        return []
    out = []
    lead_in = paper.CAL_LEAD_IN_MM * s if pulse.shape == "square" else 0.0
    pulse_w = pulse.width_mm * s
    # The pulse's lead-in starts at the area's left end (left side), or after the gap (right side).
    x_start = geo.cal_x0_mm * s + (paper.CAL_GAP_MM * s if pulse.side == "right" else 0.0)
    half = thickness / 2.0
    rows: dict[int, list] = {}
    for sl in geo.slots:
        rows.setdefault(sl.row, []).append(sl)
    for r in sorted(rows):
        beside = min(rows[r], key=lambda sl: sl.col) if pulse.side == "left" else max(rows[r], key=lambda sl: sl.col)
        gain = style.gain_of(beside.lead)
        base = beside.baseline_mm * s
        top = max(base - pulse.height_mv * gain * s, beside.y0_mm * s)  # a tall pulse in a short row is clipped
        xa, xb = x_start + lead_in, x_start + lead_in + pulse_w
        if pulse.shape == "square":
            pts = [[x_start, base], [xa, base], [xa, top], [xb, top], [xb, base], [xb + lead_in, base]]
        else:
            pts = [[xa, base], [xa, top], [xb, top], [xb, base]]
        _polyline(image, np.array(pts, np.float64), ink, thickness)
        out.append(PulseTruth(Box(xa - half, top - half, xb + half, base + half), r, pulse.side, pulse.width_mm,
                              (base - top) / s, pulse.height_mv, gain, pulse.shape))
    return out


def _draw_separators(image: np.ndarray, geo: PageGeometry, kind: str, s: float, ink: tuple[int, int, int],
                     thickness: int) -> None:
    """Marks where one column's lead ends and the next begins: short ticks, a dotted line, or a bar."""
    if kind == "none":
        return
    for sl in geo.slots:
        if sl.col == 0:
            continue
        x, base = sl.x0_mm * s, sl.baseline_mm * s
        if kind == "ticks":
            _polyline(image, [[x, base - 2.0 * s], [x, base + 2.0 * s]], ink, thickness)
        elif kind == "bars":
            _polyline(image, [[x, base - 5.0 * s], [x, base + 5.0 * s]], ink, max(1, thickness))
        else:  # dotted, across the row band
            for y in np.arange(sl.y0_mm + 1.0, sl.y1_mm - 1.0, 1.0):
                _polyline(image, [[x, y * s], [x, (y + 0.35) * s]], ink, 1)

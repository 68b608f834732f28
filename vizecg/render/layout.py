"""Page layouts: which lead is printed where, and for which time window.

A layout is a grid of rows x columns of leads plus an optional full-width rhythm strip. Columns split the trace
area's time span into consecutive windows (the 3x4 columns show 2.5 s each at 25 mm/s), so every panel of one
column shows the same moment of the record — the leads are simultaneous.
"""
from __future__ import annotations

from dataclasses import dataclass

from vizecg.errors import RenderError
from vizecg.render import paper

_ROWS_3X4 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))

# name -> (rows of leads, has a rhythm strip under them)
LAYOUTS: dict[str, tuple[tuple[tuple[str, ...], ...], bool]] = {
    "3x4+1": (_ROWS_3X4, True),  # the clinical default
    "3x4": (_ROWS_3X4, False),
    "6x2": ((("I", "V1"), ("II", "V2"), ("III", "V3"), ("aVR", "V4"), ("aVL", "V5"), ("aVF", "V6")), False),
    "12x1": (tuple((lead,) for lead in ("I", "II", "III", "aVR", "aVL", "aVF",
                                         "V1", "V2", "V3", "V4", "V5", "V6")), False),
    "1x1": ((), True),  # a single-lead rhythm strip (MIT-BIH, monitors)
}


@dataclass(frozen=True)
class PanelSlot:
    """One panel of a layout, in page millimetres (x right, y down) and record seconds from the page start."""

    lead: str
    row: int
    col: int
    x0_mm: float
    x1_mm: float
    y0_mm: float  # top of the row band
    y1_mm: float  # bottom of the row band
    baseline_mm: float
    t_offset_s: float  # time of the panel's left edge, relative to the page's start time
    duration_s: float
    is_rhythm_strip: bool = False


@dataclass(frozen=True)
class PageGeometry:
    width_mm: float
    height_mm: float
    trace_x0_mm: float  # left edge of the first column (the calibration pulse sits left of it)
    rows_y0_mm: float  # top of the first row band (below the header)
    row_height_mm: float
    n_rows: int
    total_s: float  # seconds of record the page shows
    slots: tuple[PanelSlot, ...]


def check_layout(name: str) -> None:
    if name not in LAYOUTS:
        raise RenderError(f"unknown layout {name!r} (known: {', '.join(LAYOUTS)})")


def page_geometry(layout: str, paper_name: str, speed_mm_s: float, header: bool,
                  rhythm_lead: str) -> PageGeometry:
    """Place every panel of `layout` on the page, in millimetres."""
    check_layout(layout)
    rows, has_strip = LAYOUTS[layout]
    strip_page = not rows
    width_mm, height_mm = paper.page_size_mm(paper_name, strip=strip_page, header=header)
    cal_mm = paper.cal_area_mm(speed_mm_s)
    # Centre the calibration area + trace area horizontally.
    trace_x0 = (width_mm - paper.TRACE_WIDTH_MM - cal_mm) / 2.0 + cal_mm
    # Snap to whole millimetres so the grid lines fall on the panel edges and the 0 mV baselines.
    trace_x0 = float(round(trace_x0))
    top = paper.MARGIN_TOP_MM + (paper.HEADER_HEIGHT_MM if header else 0.0)
    top = float(round(top))
    n_rows = len(rows) + (1 if has_strip else 0)
    row_h = (height_mm - paper.MARGIN_BOTTOM_MM - top) / n_rows
    row_h = float(int(row_h))  # whole mm: baselines on grid lines
    total_s = paper.TRACE_WIDTH_MM / speed_mm_s
    slots = []
    for r, leads in enumerate(rows):
        n_cols = len(leads)
        col_w = paper.TRACE_WIDTH_MM / n_cols
        for c, lead in enumerate(leads):
            slots.append(_slot(lead, r, c, trace_x0 + c * col_w, trace_x0 + (c + 1) * col_w, top + r * row_h,
                               row_h, c * total_s / n_cols, total_s / n_cols, False))
    if has_strip:
        r = len(rows)
        slots.append(_slot(rhythm_lead, r, 0, trace_x0, trace_x0 + paper.TRACE_WIDTH_MM, top + r * row_h, row_h,
                           0.0, total_s, True))
    return PageGeometry(width_mm, height_mm, trace_x0, top, row_h, n_rows, total_s, tuple(slots))


def _slot(lead: str, row: int, col: int, x0: float, x1: float, y0: float, row_h: float, t_off: float,
          dur: float, strip: bool) -> PanelSlot:
    baseline = y0 + float(round(row_h * paper.BASELINE_FRACTION))
    return PanelSlot(lead, row, col, x0, x1, y0, y0 + row_h, baseline, t_off, dur, strip)

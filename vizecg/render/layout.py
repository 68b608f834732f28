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
    label: str = ""  # the name as printed ("-aVR"); "" = lead
    polarity: int = 1  # -1: printed inverted (-aVR)


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
    cal_x0_mm: float = 0.0  # left edge of the calibration pulse area (left or right of the trace area)
    cal_width_mm: float = 0.0  # 0: no pulse printed


def check_layout(name: str) -> None:
    if name not in LAYOUTS:
        raise RenderError(f"unknown layout {name!r} (known: {', '.join(LAYOUTS)})")


def page_geometry(layout: str, paper_name: str, speed_mm_s: float, header: bool,
                  rhythm_lead: str) -> PageGeometry:
    """Place every panel of the named `layout` on the page, in millimetres (the RenderConfig layouts)."""
    check_layout(layout)
    rows, has_strip = LAYOUTS[layout]
    width_mm, height_mm = paper.page_size_mm(paper_name, strip=not rows, header=header)
    top = paper.MARGIN_TOP_MM + (paper.HEADER_HEIGHT_MM if header else 0.0)
    return place_panels(rows, (rhythm_lead,) if has_strip else (), width_mm, height_mm, top, paper.MARGIN_BOTTOM_MM,
                        speed_mm_s, paper.cal_area_mm(speed_mm_s), "left")


def place_panels(rows: tuple[tuple[str, ...], ...], rhythm: tuple[str, ...], width_mm: float, height_mm: float,
                 top_mm: float, bottom_mm: float, speed_mm_s: float, cal_mm: float, pulse_side: str,
                 max_row_mm: float | None = None) -> PageGeometry:
    """Rows of panels (columns split the page's time span) and full-width rhythm strips under them.

    Lead names may carry a leading '-' (printed inverted, Cabrera's -aVR): the slot's lead is the record's lead,
    its label the printed name. The pulse area (cal_mm wide) sits at the rows' left or right end."""
    if pulse_side == "none":
        cal_mm = 0.0
    # Centre the pulse area + trace area horizontally; whole millimetres so grid lines fall on panel edges and
    # on the 0 mV baselines.
    left = (width_mm - paper.TRACE_WIDTH_MM - cal_mm) / 2.0
    trace_x0 = float(round(left + cal_mm)) if pulse_side == "left" else float(round(left))
    cal_x0 = trace_x0 - cal_mm if pulse_side == "left" else trace_x0 + paper.TRACE_WIDTH_MM
    top = float(round(top_mm))
    n_rows = len(rows) + len(rhythm)
    row_h = float(int((height_mm - bottom_mm - top) / n_rows))
    if max_row_mm is not None:
        row_h = min(row_h, float(max_row_mm))
    total_s = paper.TRACE_WIDTH_MM / speed_mm_s
    slots = []
    for r, leads in enumerate(rows):
        n_cols = len(leads)
        col_w = paper.TRACE_WIDTH_MM / n_cols
        for c, lead in enumerate(leads):
            slots.append(_slot(lead, r, c, trace_x0 + c * col_w, trace_x0 + (c + 1) * col_w, top + r * row_h,
                               row_h, c * total_s / n_cols, total_s / n_cols, False))
    for i, lead in enumerate(rhythm):
        r = len(rows) + i
        slots.append(_slot(lead, r, 0, trace_x0, trace_x0 + paper.TRACE_WIDTH_MM, top + r * row_h, row_h,
                           0.0, total_s, True))
    return PageGeometry(width_mm, height_mm, trace_x0, top, row_h, n_rows, total_s, tuple(slots), cal_x0, cal_mm)


def _slot(name: str, row: int, col: int, x0: float, x1: float, y0: float, row_h: float, t_off: float,
          dur: float, strip: bool) -> PanelSlot:
    baseline = y0 + float(round(row_h * paper.BASELINE_FRACTION))
    inverted = name.startswith("-")
    return PanelSlot(name.lstrip("-"), row, col, x0, x1, y0, y0 + row_h, baseline, t_off, dur, strip, name,
                     -1 if inverted else 1)

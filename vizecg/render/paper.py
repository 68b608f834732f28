"""Paper geometry: the one home for ECG paper constants (speed, gain, grid, page sizes, margins, colours).

Everything the renderer places on a page is derived from these numbers in millimetres and converted to pixels
once, with px_per_mm = dpi / 25.4. Nothing else in VizECG hard-codes a paper constant.
"""
from __future__ import annotations

from vizecg.errors import RenderError

MM_PER_INCH = 25.4

# Chart speeds and gains an electrocardiograph offers; 25 mm/s and 10 mm/mV are the clinical standard.
SPEEDS_MM_S: tuple[float, ...] = (25.0, 50.0)
GAINS_MM_MV: tuple[float, ...] = (5.0, 10.0, 20.0)
MINOR_GRID_MM = 1.0  # small square: 40 ms x 0.1 mV at the standard settings
MAJOR_GRID_MM = 5.0  # large square: 200 ms x 0.5 mV
DPI_RANGE: tuple[int, int] = (100, 300)

# Landscape (width, height) in mm.
PAPER_SIZES_MM: dict[str, tuple[float, float]] = {"letter": (279.4, 215.9), "a4": (297.0, 210.0)}

# The trace area is 250 mm wide whatever the paper: 10 s at 25 mm/s, so the 3x4 columns are exactly 2.5 s.
TRACE_WIDTH_MM = 250.0
MARGIN_TOP_MM = 6.0
MARGIN_BOTTOM_MM = 8.0
HEADER_HEIGHT_MM = 24.0  # printed text block above the grid (device line, patient/record, settings)
CAL_GAP_MM = 2.0  # space between the calibration pulse and the first panel
STRIP_ROW_HEIGHT_MM = 45.0  # the 1x1 rhythm strip is printed on strip paper: one row of this height

# Calibration pulse: 1 mV for 200 ms, drawn at the start of each row after a 1 mm lead-in of baseline.
CAL_PULSE_MV = 1.0
CAL_PULSE_S = 0.2
CAL_LEAD_IN_MM = 1.0

TEXT_HEIGHT_MM = 2.6  # cap height of printed text (lead labels, header)
BASELINE_FRACTION = 0.58  # baseline sits a little below the row centre: QRS complexes point mostly up

# Grid palettes, RGB (minor line or dot, major line): the colours real printouts show (issue 13).
GRID_PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "red": ((246, 190, 190), (226, 110, 110)),
    "pink": ((252, 218, 224), (240, 160, 176)),
    "magenta": ((248, 204, 236), (222, 110, 196)),
    "mauve": ((232, 214, 232), (188, 148, 190)),
    "orange": ((252, 222, 194), (238, 158, 92)),
    "brown": ((232, 214, 200), (176, 128, 98)),
    "grey": ((215, 215, 215), (160, 160, 160)),
    "green": ((196, 232, 200), (120, 190, 130)),
}
# RenderConfig's grid colours. "none" prints no grid (plain paper, or a monitor capture).
GRID_COLORS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]] | None] = {
    **{name: GRID_PALETTES[name] for name in ("red", "pink", "green", "grey")}, "none": None}
TRACE_COLORS: dict[str, tuple[int, int, int]] = {"black": (0, 0, 0), "blue": (20, 40, 150), "green": (0, 110, 40)}
PAPER_COLORS: dict[str, tuple[int, int, int]] = {"white": (255, 255, 255), "cream": (252, 249, 238),
                                                 "thermal": (246, 246, 242)}
PAPER_RGB = (255, 255, 255)
INK_RGB = (0, 0, 0)


def px_per_mm(dpi: float) -> float:
    if not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise RenderError(f"dpi {dpi} outside the supported range {DPI_RANGE[0]}-{DPI_RANGE[1]}")
    return float(dpi) / MM_PER_INCH


def page_size_mm(paper: str, strip: bool = False, header: bool = True) -> tuple[float, float]:
    """(width, height) in mm of the landscape page; a strip is as wide as the paper but one row high."""
    if paper not in PAPER_SIZES_MM:
        raise RenderError(f"unknown paper {paper!r} (known: {', '.join(PAPER_SIZES_MM)})")
    width, height = PAPER_SIZES_MM[paper]
    if strip:
        height = MARGIN_TOP_MM + (HEADER_HEIGHT_MM if header else 0.0) + STRIP_ROW_HEIGHT_MM + MARGIN_BOTTOM_MM
    return width, height


def page_size_px(paper: str, dpi: float, strip: bool = False, header: bool = True) -> tuple[int, int]:
    w_mm, h_mm = page_size_mm(paper, strip, header)
    scale = px_per_mm(dpi)
    return int(round(w_mm * scale)), int(round(h_mm * scale))


def cal_area_mm(speed_mm_s: float) -> float:
    """Width reserved left of the panels for the calibration pulse (its width grows with the chart speed)."""
    return CAL_LEAD_IN_MM + CAL_PULSE_S * speed_mm_s + CAL_LEAD_IN_MM + CAL_GAP_MM


def check_speed_gain(speed_mm_s: float, gain_mm_mv: float) -> None:
    if speed_mm_s not in SPEEDS_MM_S:
        raise RenderError(f"speed {speed_mm_s} mm/s not offered (choose from {SPEEDS_MM_S})")
    if gain_mm_mv not in GAINS_MM_MV:
        raise RenderError(f"gain {gain_mm_mv} mm/mV not offered (choose from {GAINS_MM_MV})")

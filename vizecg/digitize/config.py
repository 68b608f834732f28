"""DigitizeConfig: every knob of the digitizer, with why it has its default (configs/digitize.yaml mirrors it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DigitizeLayout = Literal["auto", "3x4+1", "3x4", "6x2", "12x1", "1x1"]


@dataclass(frozen=True)
class DigitizeConfig:
    layout: DigitizeLayout = "auto"  # "auto": the known layout whose row count matches the trace rows found
    fs: float = 500.0  # output sampling rate, Hz
    # Declared paper settings: used to read the calibration pulse / snap what it measures, and as the last
    # fallback when neither grid nor pulse can be measured.
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    trust_pulse: bool = True  # let the calibration pulse override the declared speed/gain (snapped to offered values)
    find_page: bool = True  # look for the paper's outline in a photo and undo the perspective
    deskew: bool = True  # undo small rotations (grid/trace orientation), up to max_rotation_deg
    max_rotation_deg: float = 10.0
    dewarp: bool = True  # flatten curl / waves / wrinkles by moving the grid lines onto a perfect lattice
    ink_threshold: float = 0.5  # ink = pixels darker than this fraction of the local paper brightness
    ink_auto: bool = True  # lower the threshold when the grid itself is dark (photocopies): Otsu between grid and ink
    min_px_per_mm: float = 2.0  # scale search range (about 50-750 dpi on the page)
    max_px_per_mm: float = 30.0
    jump_weight: float = 1.0  # DP cost per pixel of vertical jump between consecutive columns
    baseline_weight: float = 0.02  # DP cost per pixel away from the row baseline (keeps to its own row)
    max_gap_s: float = 0.06  # fill gaps in a trace up to this long by interpolation; longer ones stay NaN
    min_confidence: float = 0.2  # leads below this are returned as NaN (never a made-up trace)
    max_ink_fraction: float = 0.25  # more ink than this: not a printout (noise, a dark photo)

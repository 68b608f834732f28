"""DigitizeConfig: every knob of the digitizer, with why it has its default (configs/digitize.yaml mirrors it).

Every number has bounds, checked on construction (ValueError naming the key and its range; the config loader
turns it into a ConfigError): an output rate of 1e7 Hz would allocate gigabytes before anything was read."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

DigitizeLayout = Literal["auto", "3x4+1", "3x5+1", "cabrera-3x4+1", "3x4", "3x5", "cabrera-3x4", "3x1", "3x4+2",
                         "6x1", "3x4+3", "6x2", "cabrera-6x2", "12x1", "1x1"]

# key: (low, high, low inclusive, high inclusive). Wider than any sane use; narrower than what breaks.
BOUNDS: dict[str, tuple[float, float, bool, bool]] = {
    "fs": (50.0, 2000.0, True, True),  # Hz: 2000 is 4x the densest PTB-XL rate; a 10 s lead stays 20k samples
    "speed_mm_s": (0.0, 200.0, False, True),
    "gain_mm_mv": (0.0, 100.0, False, True),
    "max_rotation_deg": (0.0, 45.0, True, True),  # more is a quarter turn, the orientation step's job
    "ink_threshold": (0.0, 1.0, False, False),  # a fraction of the paper's brightness
    "min_px_per_mm": (0.0, 60.0, False, False),
    "max_px_per_mm": (0.0, 60.0, False, True),  # 60 px/mm is a 1500 dpi scan
    "jump_weight": (0.0, 100.0, True, True),
    "baseline_weight": (0.0, 10.0, True, True),
    "max_gap_s": (0.0, 1.0, True, True),
    "min_confidence": (0.0, 1.0, True, True),
    "max_ink_fraction": (0.0, 1.0, False, True),
    "segmenter_threshold": (0.0, 1.0, False, False),
}


@dataclass(frozen=True)
class DigitizeConfig:
    layout: DigitizeLayout = "auto"  # "auto": the known layouts whose row count matches the trace rows found are
    # tried in turn (layout.TEMPLATES); the first whose limb leads obey Einthoven's law is kept
    # The lead a rhythm strip shows where its trace matches no panel of the page ("" : not assumed; the strip is
    # then returned unnamed). Set it only when you know it (e.g. a monitor's lead II strip).
    rhythm_lead: str = ""
    fs: float = 500.0  # output sampling rate, Hz
    # Declared paper settings: kept where the page does not say otherwise (the pulse's height by the grid says
    # the gain, its width in 0.2 s steps the speed); without a grid the pulse is taken as 1 mV at this gain.
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    trust_pulse: bool = True  # let the calibration pulse override the declared speed/gain (snapped to offered values)
    # Read the page's printed speed/gain text ("25mm/s 10mm/mV") with the OCR engine (rapidocr-onnxruntime):
    # it replaces the declared values where the page measures neither, and a contradiction with the pulse is a
    # doubt. Off by default: it costs 0.48 s CPU a page on one thread (p90 0.96 s; docs/speed_gain.md), over
    # the 0.3 s that would let it run on every page; pages without the text are read the same either way.
    read_speed_gain: bool = False
    # ... and where the calibration pulses leave the gain unconfirmed (no pulse, clipped ones, or heights that
    # snap to no offered gain by the grid; a page without grid takes its scale from that gain), read it on those
    # pages only: a 12x1 page printed at 5 mm/mV with narrow pulses was read at the declared 10 mm/mV
    read_speed_gain_if_unsure: bool = True
    find_page: bool = True  # look for the paper's outline in a photo and undo the perspective
    # Find which way up the page lies (0/90/180/270) and turn it upright; refuse when that cannot be told.
    # false: take the page as it lies (for a page refused as undecidable that is known to be upright).
    find_orientation: bool = True
    # Where the trace's own cues leave which way up unsure, read the printed text both ways round with the OCR
    # recogniser (rapidocr-onnxruntime, about 1 s CPU, on those pages only; orientation.text_up_cue)
    read_text_orientation: bool = True
    deskew: bool = True  # undo small rotations (grid/trace orientation), up to max_rotation_deg
    max_rotation_deg: float = 10.0
    dewarp: bool = True  # flatten curl / waves / wrinkles by moving the grid lines onto a perfect lattice
    ink_threshold: float = 0.5  # ink = pixels darker than this fraction of the local paper brightness
    ink_auto: bool = True  # lower the threshold when the grid itself is dark (photocopies): Otsu between grid and ink
    min_px_per_mm: float = 2.0  # scale search range (about 50-750 dpi on the page); a scale outside is refused
    max_px_per_mm: float = 30.0
    jump_weight: float = 1.0  # DP cost per pixel of vertical jump between consecutive columns
    baseline_weight: float = 0.02  # DP cost per pixel away from the row baseline (keeps to its own row)
    max_gap_s: float = 0.06  # fill gaps in a trace up to this long by interpolation; longer ones stay NaN
    min_confidence: float = 0.2  # leads below this are returned as NaN (never a made-up trace)
    max_ink_fraction: float = 0.25  # more ink than this: not a printout (noise, a dark photo)
    # Which ink rows, orientation and traces are read on: "learned" (the classical ink that the trace segmentation
    # network confirms, and the network's own where the threshold misses a green or faint trace; grid, dots, text
    # and fold lines are not trace to it) or "classical" (darkness against the local paper level, text removed).
    # Calibration pulses are found on the classical ink either way (the network is taught to leave them out).
    # docs/segmentation.md "In the digitizer": measured better on print-style families it never saw.
    trace_ink: Literal["classical", "learned"] = "learned"
    # the network: "" = the shipped one (segment.infer.DEFAULT_SEGMENTER, an ONNX graph); else a .pt or .onnx
    segmenter: str = ""
    segmenter_threshold: float = 0.5  # ink probability at and above which a pixel is trace

    def __post_init__(self) -> None:
        for key, (lo, hi, lo_in, hi_in) in BOUNDS.items():
            value = getattr(self, key)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and \
                (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
            if not ok:
                span = f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
                raise ValueError(f"{key}={value!r} is outside its allowed range {span}")
        if self.rhythm_lead:
            from vizecg.record import STANDARD_LEADS

            if self.rhythm_lead not in STANDARD_LEADS:
                raise ValueError(f"rhythm_lead={self.rhythm_lead!r} is not one of {', '.join(STANDARD_LEADS)}")
        if self.trace_ink not in ("classical", "learned"):
            raise ValueError(f"trace_ink={self.trace_ink!r} must be 'classical' or 'learned'")
        if self.min_px_per_mm >= self.max_px_per_mm:
            raise ValueError(f"min_px_per_mm={self.min_px_per_mm:g} must be below max_px_per_mm="
                             f"{self.max_px_per_mm:g}")

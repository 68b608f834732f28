"""The quality gate: is this an ECG page, which way up, is it readable, and which leads can be read.

Two steps, both before any answer:
1. `image_checks(image)`: what the pixels alone say, cheaply: too small, blank, pixel noise, too dark. A page
   that fails is refused at once (nothing else is run on it). It also measures blur, exposure and glare.
2. `assess_quality(checks, beats, digitized, digitize_error)`: the ECG evidence. A page is an ECG page when the
   digitizer traced ECG leads on it (it finds the paper, the grid or pulse, the trace rows of a known layout and
   which way up they lie) or the beat detector found beats in the panels of a recognised lead layout. Neither
   alone is trusted on every non-ECG picture, so a page needs `ECG_MIN_LEADS` traced leads or
   `ECG_MIN_LEAD_BEATS` beats in `ECG_MIN_PANELS` named panels (or ECG_MIN_BEATS confident beats), or, where the
   digitizer trusted no lead enough to call it readable (or to return it), `ECG_MIN_TRACED` traced leads whose
   limb leads obey Einthoven's law. Resolution (px/mm) comes from the digitizer's scale when it read one; readable leads are those the
   digitizer traced with confidence >= READABLE_CONFIDENCE.

A refused page gets its reason; a doubtful one its warnings (blur, exposure, glare, resolution, orientation
doubt, unreadable leads), which the report puts at the top. The thresholds were set on a tuning set (rendered
photos of the embedded sample and detector.negatives seed 31000) and measured on sets never used for that
(benchmarks/quality_gate.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vizecg.record import STANDARD_LEADS

MIN_SIDE_PX = 200  # below this no lead of a 12-lead page spans more than a few pixels
FLAT_STD = 4.0  # grey-level spread below this: a blank or uniform image
# Correlation of horizontally neighbouring grey pixels (image scaled to 400 px): photographed and scanned pages
# measure 0.48-0.99, independent pixel noise ~0 (the detector's own bar, detector/infer.py, is 0.2).
MIN_PIXEL_CORRELATION = 0.2
DARK_P95 = 50  # the brightest 5% of the image darker than this: no paper visible
# Doubts (warnings, not refusals)
BLUR_WARN_MM = 0.25  # edge spread (Gaussian sigma) of the sharpest edges, in mm of paper
DARK_PAPER = 110  # paper (90th percentile of brightness) darker than this: underexposed
WASHED_CONTRAST = 70  # 1st-99th percentile brightness spread below this: washed out (overexposed or faded)
GLARE_WARN = 0.02  # share of the image that is saturated, colourless, brighter than its surroundings
MIN_PX_PER_MM = 3.0  # ~75 dpi on the paper: narrower waves (a 1 mm Q wave) are 3 px
# Refusals after the page was read: below this scale (38 dpi on the paper) a 1 mm wave is under 1.5 px, and a
# traced "lead" is more likely a texture than a trace; edges blurred over more than MAX_BLUR_MM of paper merge
# the 1 mm grid and every wave shorter than the blur (found on the first evaluation run: a photograph of a
# scene traced as 5 "leads" at 0.5 px/mm with edges spread over 6.5 mm; the set was then drawn anew). Where the
# beat detector confirms the page (confident beats), the scale is the digitizer's error: a warning, not a refusal
# (the second evaluation run refused 4 of 180 ECG photos on a mis-measured scale).
MIN_READABLE_PX_PER_MM = 1.5
MAX_BLUR_MM = 1.0
# ECG evidence
ECG_MIN_LEADS = 3  # leads the digitizer traced with confidence >= READABLE_CONFIDENCE
ECG_MIN_LEAD_BEATS = 12  # or: detector beats assigned to named leads ...
ECG_MIN_PANELS = 6  # ... in at least this many distinct leads
# or (layout not recognised: a style the detector's lead assignment does not know) this many beats whose median
# score reaches ECG_MIN_BEAT_SCORE: beats on ECG pages score 0.7-0.9 (single strips and 12x1 pages 0.6-0.8 with
# 8-40 beats), boxes on textures and text <= 0.54 with the stage-10e detector (trained with such images as
# negatives; 210 of them, benchmarks/quality_gate.py seed 40000: never 5 or more beats at a median above 0.54); with
# the stage-14 detector the gate still refuses all 210 of seed 50000 (benchmarks/results/quality_gate_families.json)
ECG_MIN_BEATS = 8
ECG_MIN_TRACED = 6  # or: leads the digitizer traced (below its floor) whose limb leads obey Einthoven's law
ECG_MIN_BEAT_SCORE = 0.6
FEW_BEATS = 15  # fewer: a warning that the classifier reads few beat crops
READABLE_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ImageChecks:
    """What the pixels alone say (step 1). `refusal` is set when the page cannot hold a readable ECG."""

    width: int
    height: int
    scores: dict[str, float]  # pixel_correlation, blur_mm_px (edge spread in px), exposure_p90, contrast, glare
    refusal: str | None = None


@dataclass(frozen=True)
class Quality:
    is_ecg: bool
    reason: str | None  # why the page was refused (None when it passed)
    scores: dict[str, float | None]
    orientation_deg: int | None  # how the page lay (0/90/180/270 counter-clockwise); None when not known
    readable_leads: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()  # every measurement in words
    warnings: tuple[str, ...] = ()  # the doubts among them

    def to_json(self) -> dict[str, Any]:
        return {"is_ecg": self.is_ecg, "reason": self.reason,
                "scores": {k: None if v is None or not np.isfinite(v) else round(float(v), 4)
                           for k, v in self.scores.items()},
                "orientation_deg": self.orientation_deg, "readable_leads": list(self.readable_leads),
                "findings": list(self.findings), "warnings": list(self.warnings)}


def _grey_small(image: np.ndarray, side: int) -> np.ndarray:
    grey = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)
    scale = side / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


def percentiles_u8(grey: np.ndarray, qs: list[float]) -> np.ndarray:
    """np.percentile(grey, qs) (its default linear interpolation) of a uint8 image from its histogram: the same
    values, without sorting two million pixels (0.04 s of a page's 0.23 s of image checks)."""
    cum = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    n = int(cum[-1])
    out = []
    for q in qs:
        pos = q / 100.0 * (n - 1)
        lo = int(np.floor(pos))
        v_lo, v_hi = (float(np.searchsorted(cum, k, side="right")) for k in (lo, min(lo + 1, n - 1)))
        out.append(v_lo + (v_hi - v_lo) * (pos - lo))
    return np.asarray(out)


def pixel_correlation(image: np.ndarray) -> float:
    """Correlation of horizontally neighbouring grey pixels on the image scaled to 400 px (1.0 when flat)."""
    grey = _grey_small(image, 400)
    a, b = grey[:, :-1].ravel().astype(np.float64), grey[:, 1:].ravel().astype(np.float64)
    if a.std() < 1e-6 or b.std() < 1e-6:
        return 1.0
    return float(np.corrcoef(a, b)[0, 1])


def edge_spread_px(grey: np.ndarray) -> float:
    """Blur as the Gaussian sigma (px) of the sharpest edges: an edge of contrast C blurred by sigma has a
    steepest gradient C / (sigma sqrt(2 pi)); C from the brightness spread, the gradient from its top 0.2%."""
    g = grey.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    mag = np.sqrt(gx * gx + gy * gy)
    steep = float(np.percentile(mag, 99.8))
    p1, p99 = percentiles_u8(grey, [1, 99]) if grey.dtype == np.uint8 else np.percentile(g, [1, 99])
    contrast = float(p99 - p1)
    if steep <= 1e-6:
        return float("inf")
    return max(contrast / (steep * np.sqrt(2 * np.pi)), 0.3)


def glare_fraction(image: np.ndarray) -> float:
    """Share of the image that is saturated, colourless and brighter than the paper around it (a specular spot
    washes out grid and trace). A white scan's paper is at its own level, so it does not count."""
    small = image[:, :, :3]
    scale = 600 / max(small.shape[:2])
    if scale < 1:
        small = cv2.resize(small, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV)
    v, s = hsv[:, :, 2].astype(np.float32), hsv[:, :, 1]
    k = int(max(31, round(0.15 * max(v.shape)))) | 1
    around = cv2.medianBlur(hsv[:, :, 2], min(k, 255) if min(k, 255) % 2 else min(k, 255) - 1).astype(np.float32)
    glare = (v >= 248) & (s <= 25) & (v - around >= 25)
    return float(glare.mean())


def image_checks(image: np.ndarray) -> ImageChecks:
    """Step 1 of the gate: the pixels alone (RGB uint8 (H, W, 3))."""
    h, w = image.shape[:2]
    grey = _grey_small(image, 1600)
    corr = pixel_correlation(image)
    p = percentiles_u8(grey, [1, 10, 50, 90, 95, 99])
    scores = {"pixel_correlation": corr, "exposure_p90": float(p[3]), "contrast": float(p[5] - p[0]),
              "edge_spread_px": edge_spread_px(grey) * max(h, w) / max(grey.shape), "glare": glare_fraction(image)}
    refusal = None
    if min(h, w) < MIN_SIDE_PX:
        refusal = f"the image is {w}x{h} px: too small to hold a readable ECG page (at least {MIN_SIDE_PX} px a side)"
    elif float(grey.std()) < FLAT_STD:
        refusal = "the image is blank (almost uniform): no ECG trace on it"
    elif corr < MIN_PIXEL_CORRELATION:
        refusal = (f"the image is pixel noise, not a photograph of a page (neighbouring pixels correlate "
                   f"{corr:.2f} < {MIN_PIXEL_CORRELATION:g})")
    elif p[4] < DARK_P95:
        refusal = "the image is too dark to show any paper (underexposed or a dark picture)"
    return ImageChecks(width=int(w), height=int(h), scores=scores, refusal=refusal)


@dataclass(frozen=True)
class Evidence:
    """What the page readers found, handed to the gate (no model objects, only their findings)."""

    lead_beats: int = 0  # detector beats assigned to named leads (layout recognised)
    beat_leads: tuple[str, ...] = ()  # distinct named leads holding them
    beats: int = 0  # all detector beats
    beat_score: float = 0.0  # their median score
    layout: str = "unknown"  # the detector's layout
    digitized: bool = False
    digitize_error: str | None = None
    confidence: dict[str, float] = field(default_factory=dict)  # digitizer, per lead
    px_per_mm: float | None = None  # digitizer's scale
    orientation_deg: int | None = None
    orientation_sure: bool = True
    digitizer_layout: str | None = None
    # the digitizer's traced rows' limb leads' share outside Einthoven's plane, the bound it holds them to, and
    # how many leads it traced (also where it refused with no lead above its floor: DigitizeError.evidence)
    limb_residual: float | None = None
    limb_agree: float | None = None
    traced_leads: int = 0


def assess_quality(checks: ImageChecks, evidence: Evidence | None = None) -> Quality:
    """Step 2: the whole gate, from the image checks and the page readers' findings (None: step 1 refused)."""
    scores: dict[str, float | None] = dict(checks.scores)
    findings = [f"image {checks.width}x{checks.height} px",
                f"neighbouring-pixel correlation {checks.scores['pixel_correlation']:.2f}"]
    if checks.refusal or evidence is None:
        return Quality(is_ecg=False, reason=checks.refusal or "not examined", scores=scores, orientation_deg=None,
                       findings=tuple(findings))
    ev = evidence
    readable = tuple(l for l in STANDARD_LEADS if ev.confidence.get(l, 0.0) >= READABLE_CONFIDENCE)
    scores.update(px_per_mm=ev.px_per_mm, digitized_leads=float(len(readable)), lead_beats=float(ev.lead_beats),
                  beat_leads=float(len(ev.beat_leads)), beats=float(ev.beats), beat_score=ev.beat_score)
    warnings: list[str] = []
    by_digitizer = len(readable) >= ECG_MIN_LEADS
    # Einthoven's law is physiology: six limb traces that obey it are an ECG's, even where no lead is sure
    # enough to return (a 12x1 page at an unconfirmed gain); noise, text and grids leave ~2/3 outside the plane
    by_einthoven = (ev.limb_residual is not None and ev.limb_agree is not None and
                    ev.traced_leads >= ECG_MIN_TRACED and ev.limb_residual <= ev.limb_agree)
    by_detector = (ev.lead_beats >= ECG_MIN_LEAD_BEATS and len(ev.beat_leads) >= ECG_MIN_PANELS) or \
        (ev.beats >= ECG_MIN_BEATS and ev.beat_score >= ECG_MIN_BEAT_SCORE)
    findings.append(f"digitizer: {len(readable)} lead(s) traced with confidence >= {READABLE_CONFIDENCE:g}"
                    + (f" (layout {ev.digitizer_layout})" if ev.digitized else f"; it refused the page: "
                       f"{ev.digitize_error}"))
    if by_einthoven and not by_digitizer:
        findings.append(f"digitizer: {ev.traced_leads} lead(s) traced, none readable, whose limb leads obey "
                        f"Einthoven's law ({ev.limb_residual:.3f} of their energy outside its plane, "
                        f"<= {ev.limb_agree:g}): an ECG")
    findings.append(f"beat detector: {ev.beats} beat(s) (median score {ev.beat_score:.2f}), {ev.lead_beats} in "
                    f"{len(ev.beat_leads)} named lead(s) (layout {ev.layout})")
    ppm = ev.px_per_mm
    spread_mm = checks.scores["edge_spread_px"] / ppm if ppm else None
    scores["blur_mm"] = spread_mm
    unreadable = None
    if ppm is not None and ppm < MIN_READABLE_PX_PER_MM:
        unreadable = (f"the page's resolution is too low to read an ECG: {ppm:.2f} px/mm on the paper "
                      f"(< {MIN_READABLE_PX_PER_MM:g}); photograph the page closer or scan it at 100 dpi or more")
    elif spread_mm is not None and spread_mm > MAX_BLUR_MM:
        unreadable = (f"the photo is too blurred to read an ECG: edges spread over {spread_mm:.1f} mm of paper "
                      f"(> {MAX_BLUR_MM:g} mm)")
    if unreadable and not (by_detector or by_einthoven):
        return Quality(is_ecg=False, reason=unreadable, scores=scores, orientation_deg=ev.orientation_deg,
                       findings=tuple(findings))
    if unreadable and ppm is not None and ppm < MIN_READABLE_PX_PER_MM:
        # the detector confirms ECG beats: the digitizer's scale is what is wrong, not the page
        warnings.append(f"the digitizer measured an implausible scale ({ppm:.2f} px/mm): the digitized signal's "
                        "time and amplitude scales are doubtful")
        ppm = spread_mm = scores["blur_mm"] = None
    if not (by_digitizer or by_detector or by_einthoven):
        why = ev.digitize_error or f"only {len(readable)} lead(s) could be traced"
        # also said of ECG pages the pipeline cannot read (a layout or style it does not know): say what was
        # not found, not that the page is no ECG
        reason = (f"no ECG could be read on this image: no ECG leads could be traced ({why}) and the beat "
                  f"detector found {ev.beats} beat(s) of median score {ev.beat_score:.2f}, {ev.lead_beats} in "
                  f"recognised lead panels")
        return Quality(is_ecg=False, reason=reason, scores=scores, orientation_deg=ev.orientation_deg,
                       findings=tuple(findings))
    # --- doubts ---------------------------------------------------------------------------------------------
    if ev.orientation_deg is None:
        warnings.append("which way up the page lies could not be measured (the digitizer did not read it): "
                        "it was taken as upright")
    elif ev.orientation_deg:
        findings.append(f"the page lay turned by {ev.orientation_deg} degrees: turned upright")
    if not ev.orientation_sure:
        warnings.append("which way up the page lies is not sure: check the re-plotted leads against the photo")
    if ppm is not None:
        findings.append(f"resolution {ppm:.1f} px/mm ({ppm * 25.4:.0f} dpi on the paper)")
        if ppm < MIN_PX_PER_MM:
            warnings.append(f"low resolution: {ppm:.1f} px/mm on the paper (< {MIN_PX_PER_MM:g}); small waves may "
                            "be lost: photograph closer or scan at 150 dpi or more")
    if spread_mm is not None:
        findings.append(f"edge sharpness: edges spread over {spread_mm:.2f} mm (blur)")
        if spread_mm > BLUR_WARN_MM:
            warnings.append(f"the photo is blurred (edges spread over {spread_mm:.2f} mm > {BLUR_WARN_MM:g} mm): "
                            "hold the camera still and focus on the trace")
    p90, contrast, glare = checks.scores["exposure_p90"], checks.scores["contrast"], checks.scores["glare"]
    findings.append(f"exposure: paper brightness {p90:.0f}/255, contrast {contrast:.0f}; glare {glare:.1%} of the image")
    if p90 < DARK_PAPER:
        warnings.append(f"the photo is underexposed (paper brightness {p90:.0f}/255): use more light")
    if contrast < WASHED_CONTRAST:
        warnings.append(f"the photo is washed out (contrast {contrast:.0f}/255): avoid direct light or a faded copy")
    if glare > GLARE_WARN:
        warnings.append(f"glare covers {glare:.1%} of the image: traces under it may be lost; tilt the page away "
                        "from the light")
    missing = [l for l in STANDARD_LEADS if l not in readable]
    if ev.digitized and missing:
        warnings.append(f"leads not readable from the page: {', '.join(missing)}")
    if not by_digitizer:
        warnings.append("no lead could be traced on this page: the signal is missing and the classifier reads "
                        "the page and the detected beats only")
    if ev.beats < FEW_BEATS:
        warnings.append(f"the beat detector found only {ev.beats} beat(s): the classifier reads few beat crops")
    if ev.layout == "unknown":
        warnings.append("the beat detector did not recognise the lead layout: beats carry no lead names")
    return Quality(is_ecg=True, reason=None, scores=scores, orientation_deg=ev.orientation_deg,
                   readable_leads=readable, findings=tuple(findings), warnings=tuple(warnings))

"""Pixels per millimetre from the grid's periodicity, each axis apart, confirmed by the calibration pulse's height.

The grid is a comb of lines every 1 mm with darker ones every 5 mm, so the spectrum of its column (or row)
profile holds peaks at every multiple of 1/(5 mm). We pick the 5 mm period whose harmonic comb collects the most
spectral energy, then refine the 1 mm peak (the 5th harmonic) with a zero-padded FFT and parabolic interpolation.
Fine lines, major lines alone and thermal paper's dot grid (major lines, a dot every 1 mm) all hold that comb.
A phone photo at 2-5 px/mm blurs the 1 mm lines (and the 5 mm lines' higher harmonics) away and leaves only the
5 mm lines' fundamental: `major_only` reads the scale from it (the digitizer asks for that only where no grid
was read, and only within reach of the page-size guess: 5 mm lines taken for 1 mm ones are 5 times off).
Columns give px/mm across, rows px/mm down: a stretched scan or photo has two scales.

`measure_scale` then weighs the evidence: the pulse is 1 mV tall, so by the grid it measures 5, 10 or 20 mm
(the offered gains); any other height is a disagreement (the grid or the pulse is misread) that lowers the
confidence. The pulse's width is no scale cue (real pulses are 2-5 mm wide whatever the scale); where it snaps to
0.2 s at an offered speed it only says the paper speed. No grid: the pulse's height alone (at the declared
gain); neither: refused.

Printed speed/gain text, where read (vizecg.labels.speed_gain, from the strips above and below the trace rows:
`read_printed`), takes the place of the declared settings: it decides what the page did not measure (the gain
without a pulse, or at a pulse that disagrees with the grid; the speed without a pulse width at 0.2 s), and it
confirms or contradicts what the page did measure; a contradiction keeps the measured value, lowers the
confidence (TRUST_PRINTED_DISAGREE) and is a doubt. Nothing read: the scale is what it was without the text.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.ndimage import median_filter

from vizecg.digitize.layout import Pulse
from vizecg.errors import DigitizeError
from vizecg.render import paper

if TYPE_CHECKING:
    from vizecg.labels.speed_gain import SpeedGain

N_HARMONICS = 10
GRID_STRENGTH_MIN = 6.0  # 1 mm peak / spectral background: printed grids score > 30, plain paper ~ 2
# What the confidences are multiplied by when the scale is in doubt (confidence.scale_trust): the calibration
# never saw such pages (every render's pulse agrees with its grid), so the doubt is folded in as a cap.
TRUST_DISAGREE = 0.5  # grid and pulse height disagree: one of them is misread, and nothing says which
TRUST_PULSE_ONLY = 0.6  # no grid: the pulse's height at the declared gain sets both axes
TRUST_PRINTED_DISAGREE = 0.7  # the printed speed or gain is not what the grid and pulse measure
# The strips searched for printed speed/gain: above the top trace row and below the bottom one, from this many
# row pitches off the row's level (a row's grid reaches ~half a pitch; text starts a few mm beyond it)
TEXT_STRIP_PITCH = 0.35


@dataclass(frozen=True)
class GridScale:
    px_per_mm: float  # NaN when no grid periodicity was found
    strength: float  # peak-to-background ratio of the 1 mm line (>~ 4: a real grid), or of the 5 mm one
    fine: bool = True  # False: read from the 5 mm lines alone (the 1 mm lines blurred away or not printed)


def _spectrum(profile: np.ndarray, pad: int = 8) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(profile, np.float64)
    p = p - p.mean()
    n = len(p)
    spec = np.abs(np.fft.rfft(p * np.hanning(n), n * pad))
    freqs = np.fft.rfftfreq(n * pad)  # cycles per pixel
    return freqs, spec


def grid_period(profile: np.ndarray, min_px_per_mm: float, max_px_per_mm: float,
                major_only: bool = False) -> GridScale:
    """Scale (px/mm) along one axis from a grid-darkness profile along that axis. `major_only`: where the 1 mm
    lines are not seen, the 5 mm lines alone (`_major_lines`), if they are."""
    profile = np.asarray(profile, np.float64)
    if len(profile) < 64 or not np.isfinite(profile).all() or profile.std() == 0:
        return GridScale(float("nan"), 0.0)
    freqs, spec = _spectrum(profile)
    df = freqs[1]
    # Flatten the background (slow shading, the trace) so the comb score sees peaks, not a 1/f slope.
    background = median_filter(spec, size=max(3, int(round(0.01 / df))) | 1)
    peaks = np.maximum(spec - background, 0.0)
    # Candidate 5 mm periods (px), log-spaced finely enough that every harmonic lands within one pad bin.
    p_lo, p_hi = paper.MAJOR_GRID_MM * min_px_per_mm, paper.MAJOR_GRID_MM * max_px_per_mm
    periods = np.exp(np.arange(np.log(p_lo), np.log(p_hi), 0.0005))
    k = np.arange(1, N_HARMONICS + 1)
    f = k[None, :] / periods[:, None]
    inside = f < 0.5
    idx = np.clip(np.round(f / df).astype(int), 0, len(peaks) - 1)
    # max over +-1 bin so a comb slightly off a bin still collects its peak
    local = np.maximum(np.maximum(peaks[idx], peaks[np.clip(idx - 1, 0, None)]),
                       peaks[np.clip(idx + 1, None, len(peaks) - 1)])
    score = (local * inside).sum(axis=1)
    major = periods[int(np.argmax(score))]
    # Refine on the 1 mm line: the strongest and sharpest peak of the comb.
    f1 = paper.MAJOR_GRID_MM / major
    if f1 >= 0.5:
        return GridScale(float("nan"), 0.0)
    i = int(round(f1 / df))
    w = max(2, int(round(0.04 * f1 / df)))
    lo, hi = max(1, i - w), min(len(spec) - 2, i + w)
    j = lo + int(np.argmax(spec[lo:hi + 1]))
    a, b, c = np.log(spec[j - 1: j + 2] + 1e-12)
    delta = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    f_minor = (j + float(np.clip(delta, -0.5, 0.5))) * df
    strength = float(_peak_ratio(spec, j, w))
    if major_only and strength < GRID_STRENGTH_MIN:
        coarse = _major_lines(freqs, spec, background, min_px_per_mm, max_px_per_mm)
        if coarse.strength > strength:
            return coarse
    return GridScale(1.0 / f_minor / paper.MINOR_GRID_MM, strength)


def _peak_ratio(spec: np.ndarray, j: int, w: int) -> float:
    """Bin j's height over the median of the spectrum about it (+-20 w bins)."""
    return float(spec[j] / (np.median(spec[max(1, j - 20 * w): j + 20 * w]) + 1e-12))


def _major_lines(freqs: np.ndarray, spec: np.ndarray, background: np.ndarray, min_px_per_mm: float,
                 max_px_per_mm: float) -> GridScale:
    """Scale from the 5 mm lines alone, where the 1 mm comb is missing: a phone photo at 2-5 px/mm blurs the fine
    lines away (and their harmonics with them), so the comb search, which then finds the 5 mm lines' own
    fundamental as a harmonic of a longer period, has no 1 mm peak to refine. The sharpest peak in the 5 mm band
    is taken, moved down an octave while a peak stands at half its frequency (5 mm lines have none there)."""
    df = freqs[1]
    lo = int(np.ceil(1.0 / (paper.MAJOR_GRID_MM * max_px_per_mm) / df))
    hi = min(len(spec) - 2, int(1.0 / (paper.MAJOR_GRID_MM * min_px_per_mm) / df))
    if hi - lo < 4:
        return GridScale(float("nan"), 0.0, fine=False)
    j = lo + int(np.argmax(spec[lo:hi + 1] / (background[lo:hi + 1] + 1e-12)))

    def sharpest(centre: float) -> tuple[int, int]:  # the highest bin within 4 % of a frequency, and that width
        w = max(2, int(round(0.04 * centre)))
        a, b = max(1, int(round(centre)) - w), min(len(spec) - 2, int(round(centre)) + w)
        return a + int(np.argmax(spec[a:b + 1])), w

    j, w = sharpest(j)
    while j / 2 >= lo:
        j2, w2 = sharpest(j / 2)
        if _peak_ratio(spec, j2, w2) < GRID_STRENGTH_MIN:
            break
        j, w = j2, w2
    a, b, c = np.log(spec[j - 1: j + 2] + 1e-12)
    delta = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    f_major = (j + float(np.clip(delta, -0.5, 0.5))) * df
    return GridScale(1.0 / f_major / paper.MAJOR_GRID_MM, _peak_ratio(spec, j, w), fine=False)


def grid_period_2d(grid: np.ndarray, axis: int, min_px_per_mm: float, max_px_per_mm: float,
                   strip_px: int, major_only: bool = False) -> GridScale:
    """Scale along `axis` (1: x, from column profiles; 0: y) of a 2-D grid-darkness image: the whole page's
    profile, else the median over strips `strip_px` wide across the other axis. A curled or waved page bends
    its lines by more than a millimetre over the width, which blurs the whole-page profile; a strip's lines
    stay nearly straight. `major_only`: as grid_period's."""
    g = grid if axis == 1 else grid.T
    whole = grid_period(g.mean(axis=0), min_px_per_mm, max_px_per_mm, major_only)
    if whole.strength >= GRID_STRENGTH_MIN:
        return whole
    strips = [grid_period(g[a:a + strip_px].mean(axis=0), min_px_per_mm, max_px_per_mm, major_only)
              for a in range(0, g.shape[0] - strip_px + 1, strip_px)]
    strong = [s for s in strips if s.strength >= GRID_STRENGTH_MIN]
    if len(strong) < max(2, len(strips) // 3):
        return whole
    return GridScale(float(np.median([s.px_per_mm for s in strong])), float(np.median([s.strength for s in strong])),
                     fine=sum(s.fine for s in strong) * 2 > len(strong))


def snap(value: float, offered: tuple[float, ...], tolerance: float = 0.15) -> float | None:
    """The offered setting within `tolerance` (relative) of a measured value, else None."""
    best = min(offered, key=lambda o: abs(value / o - 1.0))
    return float(best) if abs(value / best - 1.0) <= tolerance else None


def snap_agreed(values: list[float], offered: tuple[float, ...], tolerance: float = 0.15) -> float | None:
    """The offered setting that more than half of several measurements snap to, else None: a calibration pulse
    bent by a crease or a failed flattening measures any size, the true ones agree."""
    snapped = [snap(v, offered, tolerance) for v in values]
    best = max(offered, key=snapped.count)
    return float(best) if 2 * snapped.count(best) > len(values) else None


@dataclass(frozen=True)
class ScaleEvidence:
    """The page's scale and what it rests on (digitize.json `found["scale"]`)."""

    px_per_mm_x: float
    px_per_mm_y: float
    source: str  # "grid+pulse": grid confirmed by the pulse height; "grid"; "pulse": no grid, pulse height alone
    speed_mm_s: float
    gain_mm_mv: float
    speed_from: str  # "pulse width" (snapped to 0.2 s at an offered speed), "printed" or "declared"
    gain_from: str  # "pulse height", "printed" or "declared"
    pulse_height_mm: float | None  # median unclipped pulse height by the grid (None: no grid or no pulse)
    agreement: float | None  # pulse height / (1 mV at the gain used): ~1 where the pulse confirms the grid
    trust: float  # 1, or TRUST_DISAGREE / TRUST_PULSE_ONLY: folded into every confidence
    doubts: tuple[str, ...] = ()
    # the speed/gain text read on the page and whether it agrees ({} where none was read: then no key in JSON)
    printed: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        def r(v: float | None, n: int) -> float | None:
            return None if v is None else round(float(v), n)

        return {"px_per_mm_x": r(self.px_per_mm_x, 4), "px_per_mm_y": r(self.px_per_mm_y, 4), "source": self.source,
                "speed_mm_s": self.speed_mm_s, "gain_mm_mv": self.gain_mm_mv, "speed_from": self.speed_from,
                "gain_from": self.gain_from, "pulse_height_mm": r(self.pulse_height_mm, 2),
                "agreement": r(self.agreement, 3), "trust": self.trust, "doubts": list(self.doubts),
                **({"printed": self.printed} if self.printed else {})}


def measure_scale(grid_x: GridScale, grid_y: GridScale, has_grid: bool, pulses: list[Pulse | None],
                  speed_mm_s: float, gain_mm_mv: float, trust_pulse: bool, min_px_per_mm: float,
                  max_px_per_mm: float, printed: SpeedGain | None = None) -> ScaleEvidence:
    """The page's px/mm across and down, speed and gain, from the grid (each axis its own) confirmed by the
    pulses' height; else from the pulses' height at the declared gain; DigitizeError where neither is seen or
    the scale falls outside [min_px_per_mm, max_px_per_mm]. `printed` (read_printed's answer): the page's own
    speed/gain text, in place of the declared settings and checked against what the page measures."""
    p_speed = None if printed is None else printed.speed_mm_s
    p_gain = None if printed is None else printed.gain_mm_mv
    if p_speed is not None:
        speed_mm_s = p_speed
    if p_gain is not None:
        gain_mm_mv = p_gain
    said = "printed" if p_gain is not None else "declared"  # where the gain comes from until the pulse speaks
    good = [p for p in pulses if p is not None]
    heights = [p.height for p in good if not p.clipped]
    speed, gain = float(speed_mm_s), float(gain_mm_mv)
    gain_from, height_mm, agreement, trust = said, None, None, 1.0
    doubts: list[str] = []
    if has_grid:
        ppm_x, ppm_y = float(grid_x.px_per_mm), float(grid_y.px_per_mm)
        if not heights:
            source = "grid"
            what = "every calibration pulse is clipped" if good else "no calibration pulse found"
            doubts.append(f"{what}: the gain is the {said} {gain:g} mm/mV, unconfirmed")
        else:
            mm = [h / ppm_y for h in heights]
            height_mm = float(np.median(mm))
            snapped = [snap(v, paper.GAINS_MM_MV) for v in mm]
            known = [g for g in snapped if g is not None]
            if 2 * len(known) > len(mm):
                # most pulses stand 1 mV tall at an offered gain: the grid is confirmed (a page with half
                # gain on its chest rows shows two gains; the page's is the one most rows show)
                agreed = snap_agreed(mm, paper.GAINS_MM_MV)
                counts = Counter(known).most_common()
                page_gain = agreed if agreed is not None else (gain if gain in known else float(counts[0][0]))
                if trust_pulse:
                    gain, gain_from = page_gain, "pulse height"
                agreement = float(np.median([v / g for v, g in zip(mm, snapped) if g is not None]))
                source = "grid+pulse"
            else:
                source = "grid"
                agreement = height_mm / (paper.CAL_PULSE_MV * gain)
                trust = TRUST_DISAGREE
                offered = ", ".join(f"{g * paper.CAL_PULSE_MV:g}" for g in paper.GAINS_MM_MV)
                doubts.append(f"scale doubt: the grid ({ppm_x:.2f} x {ppm_y:.2f} px/mm) and the calibration pulse "
                              f"disagree: the pulse measures {height_mm:.1f} mm tall by the grid, not {offered} mm "
                              f"(1 mV at an offered gain); amplitudes use the {said} {gain:g} mm/mV (confidence "
                              f"lowered: check the page's scale)")
    elif heights:
        # No grid: the pulse is taken to stand 1 mV at the declared gain, and the pixels to be square.
        ppm_y = float(np.median(heights)) / (paper.CAL_PULSE_MV * gain)
        ppm_x = ppm_y
        source, trust = "pulse", TRUST_PULSE_ONLY
        doubts.append(f"no grid found: scale ({ppm_y:.2f} px/mm) from the calibration pulse's height alone, taken as "
                      f"1 mV at the {said} {gain:g} mm/mV and the same across; times and amplitudes are only as "
                      f"right as that gain (confidence lowered)")
    else:
        why = "its calibration pulses are clipped" if good else "no calibration pulse"
        raise DigitizeError(f"no grid and {why}: the page's scale (px/mm) cannot be measured (a grid, or a 1 mV "
                            f"calibration pulse at the start of a row, is needed)")
    for axis, v in (("across", ppm_x), ("down", ppm_y)):
        if not (np.isfinite(v) and min_px_per_mm <= v <= max_px_per_mm):
            raise DigitizeError(f"scale {v:.2f} px/mm {axis} (from the {source.replace('+', ' and ')}) is outside "
                                f"the allowed {min_px_per_mm:g}-{max_px_per_mm:g} px/mm (min_px_per_mm, "
                                f"max_px_per_mm): too small a page to read, or a misread scale")
    speed_from = "printed" if p_speed is not None else "declared"
    if good and trust_pulse:
        s = snap_agreed([p.width / ppm_x / paper.CAL_PULSE_S for p in good], paper.SPEEDS_MM_S)
        if s is not None:  # a paper-speed cue only: the width never sets px/mm
            speed, speed_from = s, "pulse width"
    checked = None
    if printed is not None and printed.read:
        checked, trust = _check_printed(printed, speed, speed_from, gain, gain_from, trust, doubts)
    return ScaleEvidence(px_per_mm_x=ppm_x, px_per_mm_y=ppm_y, source=source, speed_mm_s=speed, gain_mm_mv=gain,
                         speed_from=speed_from, gain_from=gain_from, pulse_height_mm=height_mm, agreement=agreement,
                         trust=trust, doubts=tuple(doubts), printed=checked)


def _check_printed(printed: SpeedGain, speed: float, speed_from: str, gain: float, gain_from: str, trust: float,
                   doubts: list[str]) -> tuple[dict[str, Any], float]:
    """(what was read and whether it agrees, the trust): a printed setting the page measured otherwise (the
    pulse's width or height) is a doubt; the measured value is kept."""
    gains = {g for g in (printed.gain_mm_mv, printed.chest_gain_mm_mv) if g is not None}  # "10/5": both shown
    speed_agrees = None if printed.speed_mm_s is None or speed_from != "pulse width" else speed == printed.speed_mm_s
    gain_agrees = None if printed.gain_mm_mv is None or gain_from != "pulse height" else gain in gains
    if speed_agrees is False:
        doubts.append(f"the page prints {printed.speed_mm_s:g} mm/s ('{printed.text}') but its calibration pulse is "
                      f"0.2 s wide at {speed:g} mm/s: times use {speed:g} mm/s (confidence lowered: check the "
                      f"page's speed)")
    if gain_agrees is False:
        shown = "/".join(f"{g:g}" for g in (printed.gain_mm_mv, printed.chest_gain_mm_mv) if g is not None)
        doubts.append(f"the page prints {shown} mm/mV ('{printed.text}') but its calibration pulse stands 1 mV at "
                      f"{gain:g} mm/mV by the grid: amplitudes use {gain:g} mm/mV (confidence lowered: check the "
                      f"page's gain)")
    if speed_agrees is False or gain_agrees is False:
        trust = min(trust, TRUST_PRINTED_DISAGREE)
    return {**printed.to_json(), "speed_agrees": speed_agrees, "gain_agrees": gain_agrees}, trust


def read_printed(page: np.ndarray, rows_y: np.ndarray, pitch: float, px_per_mm: float) -> SpeedGain:
    """The speed/gain printed on an upright page: read below the bottom trace row first (the footer), then above
    the top row (the header) unless the footer said both."""
    from vizecg.labels.speed_gain import read_speed_gain

    h, w = page.shape[:2]
    below = (0, int(rows_y.max() + TEXT_STRIP_PITCH * pitch), w, h)
    above = (0, 0, w, int(rows_y.min() - TEXT_STRIP_PITCH * pitch))
    return read_speed_gain(page, regions=[below, above], px_per_mm=px_per_mm, stop_when_read=True)


def lead_group(lead: str) -> str:
    """"chest" for the precordial leads (V1-V6, V4R, V8, ...), "limb" for the others: the groups a machine may
    print at different gains (half gain on the chest leads)."""
    return "chest" if lead.lstrip("-").upper().startswith("V") else "limb"


def panel_gains(panels: list[Any], pulses: list[Pulse | None], cols_per_row: list[int], ppm_y: float,
                page_gain: float) -> tuple[list[float], dict[str, float]]:
    """(per panel the gain in mm/mV its trace is read at, the gain found per lead group). Every panel takes the
    page's gain unless the calibration pulses show half gain on the chest leads: a machine prints the pulse
    beside the panel it calibrates (at the rows' left end a limb lead's, at the right end a chest lead's, a 12x1
    row's its own lead's), so the pulses beside each group's panels give that group's gain (most of them); a
    group no pulse stands beside takes the other gain shown, where all the pulses beside the first group agree
    and the other stands beside no panel of it (a rhythm strip's); and the chest leads' must be the lower (a
    pulse misread at another offered height shows a second gain too, in no such pattern). Then the named panels take
    their group's gain and a strip whose lead is not known its own pulse's. `panels`: layout.Panel."""
    shown = {r: snap(p.height / ppm_y / paper.CAL_PULSE_MV, paper.GAINS_MM_MV)
             for r, p in enumerate(pulses) if p is not None and not p.clipped}
    distinct = sorted({g for g in shown.values() if g is not None})
    if len(distinct) < 2:
        return [page_gain] * len(panels), {}

    def beside(pnl: Any) -> float | None:
        pulse, gain = pulses[pnl.row], shown.get(pnl.row)
        if pulse is None or gain is None:
            return None
        at = 0 if pulse.side == "left" else cols_per_row[pnl.row] - 1
        return gain if pnl.col == at else None

    votes: dict[str, list[float]] = {}
    for pnl in panels:
        if pnl.named and beside(pnl) is not None:
            votes.setdefault(lead_group(pnl.lead), []).append(beside(pnl))
    groups = {g: v for g, v in ((g, snap_agreed(v, paper.GAINS_MM_MV)) for g, v in votes.items()) if v is not None}
    if len(groups) == 1 and len(distinct) == 2:
        # the other gain is the other group's only where every pulse beside the known group shows that group's
        # gain and the other is shown beside something else (a rhythm strip)
        (known, gain), = groups.items()
        other = next(g for g in distinct if g != gain)
        elsewhere = [shown[r] for r in shown if not any(pnl.row == r and pnl.named and lead_group(pnl.lead) == known
                                                        and beside(pnl) is not None for pnl in panels)]
        if set(votes[known]) == {gain} and other in elsewhere:
            groups["limb" if known == "chest" else "chest"] = other
    if not ("chest" in groups and "limb" in groups and groups["chest"] < groups["limb"]):
        return [page_gain] * len(panels), {}
    out = []
    for pnl in panels:
        own = beside(pnl) if not pnl.named and cols_per_row[pnl.row] == 1 else None
        out.append(groups[lead_group(pnl.lead)] if pnl.named else own if own is not None else page_gain)
    return out, groups

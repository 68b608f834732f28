"""Which way up a page lies (0, 90, 180 or 270 degrees), from cues that hold on any printout, not only ours.

Across (0/180 against 90/270): the traces run along the page: each is a function of time (one crossing per
column), and the ink's profile down the page shows rows (peaks at each trace's level, little ink between).

Up (0 against 180): a half turn negates the signal and runs time backwards. Three independent cues, each
negated exactly by a half turn (each is measured on the page and on its half turn, and halved difference
taken, so the margin is exactly antisymmetric):
- time: the T wave (and the ST segment) follows the QRS, while before it lie only the small P wave and the flat
  PR segment: more deviation from the baseline after a QRS than before it. Does not look at the sign.
- polarity: in most of the 12 leads the QRS's dominant deflection points up (R waves); in aVR, often V1, it
  points down, so this is a majority, weighed less than time.
- pulse: a calibration pulse rises from its base line (a step up, at either end of a row); upside down it
  hangs. Absent on many printouts: then it says nothing.
Printed text's place on the page (header above or below) differs between devices and is not used. Its glyphs are
the same on every device, though: where the ink's cues leave the page unsure, `text_up_cue` reads the page's text
lines with the OCR recogniser as they lie and turned by a half turn; upright text reads with higher scores
(docs/digitizer_confidence.md "Which way up: the printed text"). `with_text` adds it as a fourth cue.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter
from scipy.signal import find_peaks

from vizecg.digitize.layout import find_pulse, find_rows
from vizecg.digitize.trace import pick_trace

WORK_PX_PER_MM = 4.0  # cues are read on an ink mask pooled down to about this (a 1 mm wave is still 4 px)
ACROSS_MIN = 0.5  # log-ratio margin (runs per line + row structure) for a sure 0/180 vs 90/270 call
# Up margin: weighted mean of the cues (each in -1..1): below UP_REFUSE the page is refused, below UP_SURE every
# lead's confidence is lowered. Upright renders of PTB-XL and the sample (benchmarks/digitize.py --rotate, seeds
# 500000 --random-style --sample 4) measure 0.15-0.76 (-0.10-0.51 without the pulse cue: the time cue is wrong
# on a few badly read pages); a page that reads the same both ways, 0. The thresholds are set by judgement.
UP_REFUSE = 0.08
UP_SURE = 0.3
CUE_WEIGHTS = {"time": 1.0, "polarity": 0.5, "pulse": 0.5, "text": 1.0}  # text: only where it was read
TEXT_LINES = 12  # the widest text lines read for the text cue (the recogniser costs ~0.05 s CPU a line, twice)
TEXT_MIN_LINES = 3  # fewer lines than this say nothing
TEXT_MIN_SCORE = 0.6  # a line the recogniser reads below this either way round is not text to it
TEXT_MAX_TRACE = 0.02  # share of a line's box that may be trace ink (a label the trace crosses is left out too)
QRS_EDGE = 0.25  # a QRS extends while the trace is this steep, of its steepest
WINDOW_RR = 0.4  # the windows before / after a QRS are this long, of the beat interval (the T wave fits in)


@dataclass(frozen=True)
class Orientation:
    """How the page lies: np.rot90(upright, degrees // 90) is the page as given."""

    degrees: int  # 0, 90, 180 or 270 (counter-clockwise, as np.rot90)
    across: float  # log margin for traces running along x of the turned page (> 0: they do)
    up: float  # margin of the upright reading over the upside-down one (> 0; after the turn)
    cues: dict[str, float] = field(default_factory=dict)  # each up cue, -1..1, for the upright reading
    beats: int = 0  # QRS complexes the time and polarity cues were read on

    @property
    def sure(self) -> float:
        """0..1: how far the weaker of the two margins is from a refusal, as a factor on the leads' confidence."""
        a = np.clip((self.across - 0.5 * ACROSS_MIN) / (0.5 * ACROSS_MIN), 0.0, 1.0)
        u = np.clip((self.up - UP_REFUSE) / (UP_SURE - UP_REFUSE), 0.0, 1.0)
        return float(min(a, u))


def pooled(ink: np.ndarray, px_per_mm: float) -> tuple[np.ndarray, float]:
    """(ink mask max-pooled down to about WORK_PX_PER_MM, its px/mm): any ink in a block keeps the block."""
    f = max(1, int(round(px_per_mm / WORK_PX_PER_MM)))
    if f == 1:
        return ink, px_per_mm
    h, w = ink.shape[0] // f, ink.shape[1] // f
    # area resampling of whole f x f blocks: a block's mean is > 0 where any of its pixels is ink
    small = cv2.resize(ink[:h * f, :w * f].astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_AREA)
    return small > 0, px_per_mm / f


def across_score(ink: np.ndarray, px_per_mm: float) -> float:
    """Log margin (> 0) for traces running along x, the sum of two:
    - a trace is a function of time: a column crosses each row's trace once, while a line along the page
      crosses it at every wiggle and twice at every QRS: the ink's runs per column against those per line;
    - the row structure (relative spread) of the ink's profile down the page against that of its profile along
      it. (Baseline wander blurs the rows, and at 20 mm/mV the QRS spikes give the profile along the page a
      structure of its own: then the runs decide.)"""
    def runs(m: np.ndarray) -> float:  # mean runs per column, over the columns holding ink
        n = (np.diff(m.astype(np.int8), axis=0, prepend=0) == 1).sum(axis=0)
        return float(n[n > 0].mean()) if (n > 0).any() else 1.0

    def structure(profile: np.ndarray) -> float:
        p = gaussian_filter1d(profile.astype(np.float64), px_per_mm)
        inner = p[len(p) // 20: len(p) - len(p) // 20]  # the sheet's rim and margins carry no rows
        return float(inner.std() / (inner.mean() + 1e-9))

    return float(np.log(runs(ink.T) / runs(ink)) +
                 np.log((structure(ink.sum(axis=1)) + 1e-3) / (structure(ink.sum(axis=0)) + 1e-3)))


def _row_traces(ink: np.ndarray, px_per_mm: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per trace row: (columns, top, bottom) of the run the continuity DP picks in each inked column."""
    rows_y, _ = find_rows(ink, px_per_mm)
    if len(rows_y) == 0:
        return []
    pitch = float(np.median(np.diff(rows_y))) if len(rows_y) > 1 else 0.4 * ink.shape[0]
    out = []
    for y in rows_y:
        a, b = max(0, int(y - 0.5 * pitch)), min(ink.shape[0], int(y + 0.5 * pitch))
        pick = pick_trace(ink[a:b], y - a)
        if len(pick.xc) > 10:
            out.append((pick.xc, pick.top_e + a, pick.bot_e + a))
    return out


def _beat_cues(traces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], px_per_s: float,
               ) -> tuple[list[float], list[float]]:
    """Per QRS found: (log ratio of the deviation after it to that before it, (up - down) / (up + down) of its
    largest deflections). Image y grows downwards: up is -y."""
    times, polar = [], []
    for xc, top, bot in traces:
        x = np.arange(int(xc[0]), int(xc[-1]) + 1)
        if len(x) < 2 * px_per_s:
            continue
        centre = np.interp(x, xc, 0.5 * (top + bot))
        tops, bots = np.interp(x, xc, top), np.interp(x, xc, bot)
        # a QRS: the trace's steepest stretch (the picked run is tall where the pen moves fast)
        energy = gaussian_filter1d(bots - tops, max(1.0, 0.02 * px_per_s))
        floor = max(3.0 * float(np.median(energy)), 0.35 * float(np.percentile(energy, 99)))
        peaks, _ = find_peaks(energy, height=floor, distance=max(1, int(0.25 * px_per_s)))
        if len(peaks) < 2:
            continue
        # the isoelectric level: the median over a beat (QRS, T and P take up less than half of it)
        base = median_filter(centre, size=max(3, int(np.median(np.diff(peaks)))) | 1, mode="nearest")
        rr = float(np.median(np.diff(peaks)))
        dev = np.abs(centre - base)
        for q in peaks:
            # the QRS's extent: where the trace stays steep; the windows are placed from it and from the beat
            # interval, not from the paper speed (25 or 50 mm/s: not known before the pulse is read)
            lim = float(energy[q]) * QRS_EDGE
            qa, qb = q, q
            while qa > 0 and q - qa < 0.3 * rr and energy[qa - 1] > lim:
                qa -= 1
            while qb < len(x) - 1 and qb - q < 0.3 * rr and energy[qb + 1] > lim:
                qb += 1
            gap, reach = max(1, (qb - qa) // 4), int(WINDOW_RR * rr)
            if qa - gap - reach < 0 or qb + gap + reach >= len(x) or reach < 3:
                continue
            after, before = dev[qb + gap:qb + gap + reach].sum(), dev[qa - gap - reach:qa - gap].sum()
            times.append(float(np.log((after + 1.0) / (before + 1.0))))
            up = float(np.max(base[qa:qb + 1] - tops[qa:qb + 1]))
            down = float(np.max(bots[qa:qb + 1] - base[qa:qb + 1]))
            polar.append((up - down) / max(up + down, 1e-6))
    return times, polar


def _flipped(traces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], shape: tuple[int, int],
             ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The same traces on the page turned by half (x and y mirrored, top and bottom swapped)."""
    h, w = shape
    return [((w - 1 - xc)[::-1], (h - 1 - bot)[::-1], (h - 1 - top)[::-1]) for xc, top, bot in traces][::-1]


def _pulses_up(ink: np.ndarray, px_per_mm: float) -> int:
    """Calibration pulses standing up from their base line at either end of the rows."""
    rows_y, _ = find_rows(ink, px_per_mm)
    if len(rows_y) == 0:
        return 0
    pitch = float(np.median(np.diff(rows_y))) if len(rows_y) > 1 else 0.4 * ink.shape[0]
    w = ink.shape[1]
    n = 0
    for y in rows_y:
        band = (int(y - 0.55 * pitch), int(y + 0.55 * pitch))
        for side in (ink, ink[:, ::-1]):  # mirrored: a pulse at the right end, same way up
            if find_pulse(side, band, int(0.25 * w), px_per_mm) is not None:
                n += 1
                break
    return n


def up_cues(ink: np.ndarray, px_per_mm: float, speed_mm_s: float) -> tuple[dict[str, float], int]:
    """The up cues (each -1..1, > 0: the page is upright rather than upside down) and the beats they saw.
    `ink` holds no text (remove_text) and is pooled (see `pooled`)."""
    traces = _row_traces(ink, px_per_mm)
    px_per_s = speed_mm_s * px_per_mm
    t0, p0 = _beat_cues(traces, px_per_s)
    t1, p1 = _beat_cues(_flipped(traces, ink.shape), px_per_s)

    def mean(v: list[float]) -> float:
        return float(np.mean(v)) if v else 0.0

    # time: a log ratio per beat, ~0.5-1.5 on an upright page; tanh keeps one odd record from deciding alone
    time_cue = float(np.tanh(0.5 * (mean(t0) - mean(t1))))
    polarity = 0.5 * (mean(p0) - mean(p1))
    up0, up1 = _pulses_up(ink, px_per_mm), _pulses_up(ink[::-1, ::-1], px_per_mm)
    pulse = (up0 - up1) / max(up0 + up1, 1)
    cues = {"time": round(time_cue, 4), "polarity": round(polarity, 4), "pulse": round(float(pulse), 4)}
    return cues, min(len(t0), len(t1))


def up_margin(cues: dict[str, float]) -> float:
    """Weighted mean of the cues, over the ink's three and the text cue where it was read."""
    weights = {k: w for k, w in CUE_WEIGHTS.items() if k != "text" or k in cues}
    return float(sum(weights[k] * cues.get(k, 0.0) for k in weights) / sum(weights.values()))


def text_up_cue(image: np.ndarray, px_per_mm: float, trace: np.ndarray | None = None) -> tuple[float, int]:
    """(cue -1..1, > 0: the image's text is upright rather than upside down; text lines read). Each of the widest
    TEXT_LINES lines the OCR detector finds is read by the recogniser as it lies and turned by a half turn;
    the cue is the width-weighted mean of tanh(4 x score difference) over the lines it reads as text one way
    round (score >= TEXT_MIN_SCORE). `trace`: the image's trace ink (text removed): the detector also boxes
    stretches of trace, whose scores either way round mean nothing, and a box holding trace is left out.
    Fewer than TEXT_MIN_LINES lines: 0."""
    from vizecg.labels.speed_gain import find_lines, line_crop, ocr_engine

    engine = ocr_engine()
    h, w = image.shape[:2]
    crops = []
    for quad in find_lines(image, [(0, 0, w, h)], px_per_mm, engine):
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
        box = trace[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] if trace is not None else None
        if box is not None and box.size and box.mean() > TEXT_MAX_TRACE:
            continue
        crop = line_crop(image, quad)
        if crop is not None and crop.shape[1] >= 2 * crop.shape[0]:  # a line, not a lone glyph or a blob
            crops.append(crop)
    crops = sorted(crops, key=lambda c: -c.shape[1])[:TEXT_LINES]
    if len(crops) < TEXT_MIN_LINES:
        return 0.0, len(crops)
    as_lies, _ = engine.text_rec([np.ascontiguousarray(c) for c in crops])
    turned, _ = engine.text_rec([np.ascontiguousarray(c[::-1, ::-1]) for c in crops])
    s0 = np.array([a[1] for a in as_lies], np.float64)
    s1 = np.array([t[1] for t in turned], np.float64)
    text = np.maximum(s0, s1) >= TEXT_MIN_SCORE
    if text.sum() < TEXT_MIN_LINES:
        return 0.0, int(text.sum())
    widths = np.array([c.shape[1] for c in crops], np.float64)[text]
    return float(np.sum(widths * np.tanh(4.0 * (s0 - s1)[text])) / widths.sum()), int(text.sum())


def with_text(orient: Orientation, text: float) -> Orientation:
    """The orientation with the text cue (read on the page turned upright as `orient` says) added; where the
    text outweighs the ink's cues the reading is turned by a half turn."""
    cues = {**orient.cues, "text": round(float(text), 4)}
    up = up_margin(cues)
    if up >= 0:
        return Orientation(orient.degrees, orient.across, up, cues, orient.beats)
    return Orientation((orient.degrees + 180) % 360, orient.across, -up, {k: -v for k, v in cues.items()},
                       orient.beats)


def find_orientation(ink: np.ndarray, px_per_mm: float, speed_mm_s: float) -> Orientation:
    """How the page whose ink mask is `ink` (without text: remove_text) lies. `px_per_mm`: the page's scale,
    roughly (the grid's, or a guess from the page's size); `speed_mm_s`: the declared paper speed (only the
    shortest beat interval and the smoothing hang on it: the windows around a QRS come from the beats)."""
    small, ppm = pooled(ink, px_per_mm)
    across = across_score(small, ppm)
    if across < 0:  # the traces run down the page: a quarter turn brings them across
        small = np.rot90(small, 1)
    cues, beats = up_cues(np.ascontiguousarray(small), ppm, speed_mm_s)
    up = up_margin(cues)
    turns = (1 if across < 0 else 0) + (2 if up < 0 else 0)
    # np.rot90(page, turns) is upright, so the page lies turned by -turns quarters
    return Orientation(degrees=(-90 * turns) % 360, across=abs(across), up=abs(up),
                       cues={k: (v if up >= 0 else -v) for k, v in cues.items()}, beats=beats)

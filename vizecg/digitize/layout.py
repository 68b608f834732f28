"""Find the trace rows (baselines), the calibration pulses and the panels of a known layout on an upright page."""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from vizecg.errors import DigitizeError
from vizecg.render import paper
from vizecg.render.style import (ROWS_3X4, ROWS_3X4_CABRERA, ROWS_6X2, ROWS_6X2_CABRERA, ROWS_12X1,
                                 ROWS_LIMB)

SHEET_EDGE_SPAN = 0.8  # one piece of ink spanning this much of the page's height and width frames it
# The clinical layouts the digitizer knows: rows of printed names ('-aVR': printed inverted; None: a panel whose
# lead cannot be known without reading its label, as the fifth column of a 15-lead page) and how many
# full-width rhythm strips follow. A strip's lead is never assumed: it is named only where its trace matches
# a named panel of the same moment (leads are printed simultaneously), else it stays an unnamed rhythm strip.
# Several layouts print the same number of rows; the digitizer tries them in this order and keeps the first
# whose limb leads obey Einthoven's law (see digitizer.limb_residual).
TEMPLATES: dict[str, tuple[tuple[tuple[str | None, ...], ...], int]] = {
    "3x4+1": (ROWS_3X4, 1), "3x5+1": (tuple(r + (None,) for r in ROWS_3X4), 1), "cabrera-3x4+1": (ROWS_3X4_CABRERA, 1),
    "3x4": (ROWS_3X4, 0), "3x5": (tuple(r + (None,) for r in ROWS_3X4), 0), "cabrera-3x4": (ROWS_3X4_CABRERA, 0),
    "3x1": ((), 3),
    "3x4+2": (ROWS_3X4, 2),
    "6x1": (ROWS_LIMB, 0), "3x4+3": (ROWS_3X4, 3), "6x2": (ROWS_6X2, 0), "cabrera-6x2": (ROWS_6X2_CABRERA, 0),
    "12x1": (ROWS_12X1, 0),
    "1x1": ((), 1),
}
# Rows of ink a layout prints (its lead rows + the rhythm strips): how `--layout auto` recognises it.
ROWS_OF_LAYOUT = {name: len(rows) + strips for name, (rows, strips) in TEMPLATES.items()}


@dataclass(frozen=True)
class Pulse:
    x_rise: float  # x of the rising edge (stroke centre)
    x_fall: float
    y_base: float  # y of the 0 mV line (stroke centre)
    y_top: float  # y of the 1 mV line
    clipped: bool  # the top touched the row band (a 20 mm/mV pulse in a short row): height not usable
    bare: bool = False  # drawn without baseline lead-in/out (the box alone): its base is the strokes' foot
    side: str = "left"  # the row's end it stands at ("right": printed after the trace, as some machines do)

    @property
    def width(self) -> float:
        return self.x_fall - self.x_rise

    @property
    def height(self) -> float:
        return self.y_base - self.y_top


@dataclass(frozen=True)
class Panel:
    lead: str
    row: int
    col: int
    x0: float  # px on the upright page
    x1: float
    y0: float  # band searched for the trace
    y1: float
    baseline_y: float  # 0 mV
    t_offset_s: float  # page time of x0
    duration_s: float
    is_rhythm_strip: bool
    inverted: bool = False  # printed upside down (Cabrera's -aVR): the record's lead is minus the trace

    @property
    def named(self) -> bool:
        """Whether the layout says which lead this panel holds ("" : not known without reading its label)."""
        return bool(self.lead)


def remove_text(ink: np.ndarray, px_per_mm: float) -> np.ndarray:
    """The ink mask without printed characters (connected pieces no bigger than a letter) and without the
    sheet's edge: where the page shows background around the sheet, its rim is dark next to the paper and
    reads as ink, a frame around the page that no trace row is (rows span a fraction of the height)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    limit = 1.5 * paper.TEXT_HEIGHT_MM * px_per_mm
    small = (stats[:, cv2.CC_STAT_HEIGHT] < limit) & (stats[:, cv2.CC_STAT_WIDTH] < limit)
    h, w = ink.shape
    frame = (stats[:, cv2.CC_STAT_HEIGHT] > SHEET_EDGE_SPAN * h) & (stats[:, cv2.CC_STAT_WIDTH] > SHEET_EDGE_SPAN * w)
    drop = small | frame
    drop[0] = False
    return ink & ~drop[labels]


def find_rows(ink: np.ndarray, px_per_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(y px, strength) of each trace row's dominant level, top to bottom: the strong peaks of the horizontal
    ink profile. Strength is the smoothed ink count at the peak."""
    h, w = ink.shape
    prof = ink[:, int(0.1 * w): int(0.9 * w)].sum(axis=1).astype(np.float64)
    prof = gaussian_filter1d(prof, 0.7 * px_per_mm)
    if prof.max() <= 0:
        return np.zeros(0), np.zeros(0)
    # rows are >= ~12 mm apart in every layout (12x1 on a letter page: 14 mm)
    peaks, props = find_peaks(prof, distance=max(1, int(9 * px_per_mm)), prominence=0.05 * prof.max())
    if len(peaks) == 0:
        return np.zeros(0), np.zeros(0)
    heights = prof[peaks]
    # A trace row spans the page width; a line of header text or a stray mark is far weaker.
    ref = np.sort(heights)[::-1][: min(3, len(heights))].mean()
    keep = heights >= 0.25 * ref
    rows, strength = peaks[keep].astype(np.float64), heights[keep]
    # A line of header or footer text can be as inky as a trace row, but is words, not one pen line: the
    # outermost candidates must hold a stretch of ink as long as a panel's trace (>= 2 s at 25 mm/s = 50 mm;
    # a word or a "Name: ____" field is far shorter), or a chain of beats as long. Inner rows are left to the
    # layout check.
    while len(rows) > 1 and not _outer_row_holds_trace(ink, rows, 0, px_per_mm):
        rows, strength = rows[1:], strength[1:]
    while len(rows) > 1 and not _outer_row_holds_trace(ink, rows, len(rows) - 1, px_per_mm):
        rows, strength = rows[:-1], strength[:-1]
    return rows, strength


def _outer_row_holds_trace(ink: np.ndarray, rows: np.ndarray, i: int, px_per_mm: float) -> bool:
    """Whether the outermost candidate rows[i] is a trace row: a long pen line or a chain of beats (holds_trace),
    or, for a noisy pen whose line breaks every few mm and whose beats are low, ink across most of the page's
    width (ROW_COVERAGE; a line of words covers a fraction of it) one row pitch from its neighbour."""
    if holds_trace(ink, rows[i], px_per_mm, TRACE_RUN_MM):
        return True
    if len(rows) < 3:
        return False
    inner = np.delete(rows, i)
    gap = abs(rows[i] - (rows[1] if i == 0 else rows[-2]))
    if abs(gap / float(np.median(np.diff(inner))) - 1.0) > PITCH_TOLERANCE:
        return False
    r = int(round(3.0 * px_per_mm))
    w = ink.shape[1]
    band = ink[max(0, int(rows[i]) - r): int(rows[i]) + r + 1, int(0.1 * w): int(0.9 * w)]
    return float(band.any(axis=0).mean()) >= ROW_COVERAGE


TRACE_RUN_MM = 40.0  # the shortest stretch of thinly inked columns (gaps <= 1.5 mm bridged) a trace row holds
STROKE_TALL_MM = 5.0  # an unbroken vertical run of ink this tall near a row's level: a QRS stroke, not a letter
STROKE_WIDE_MM = 3.0  # ... and at most this wide
GAP_ROW_RUN_MM = 15.0  # ... a faint row between two rows a pitch either side of it (no header text lies there)
ROW_COVERAGE = 0.6  # ... or ink in this share of the page's middle 80% of columns, within 3 mm of the level,
PITCH_TOLERANCE = 0.15  # ... at a row pitch (within this, relative) from the next row
QRS_CHAIN_MIN = 3  # a chain of at least this many QRS strokes through a level is a trace row's beats
QRS_CHAIN_GAP_MM = 60.0  # ... each within this of the next (2.4 s at 25 mm/s: a rate >= 25 per minute)


def _band_columns(ink: np.ndarray, y: float, px_per_mm: float, reach_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(thin, stroke) column masks of the band within `reach_mm` of level y: thin ink (a pen line crossing), and
    the columns of QRS strokes (an unbroken vertical run of ink taller than STROKE_TALL_MM, at most STROKE_WIDE_MM
    wide)."""
    r = int(round(reach_mm * px_per_mm))
    count = ink[max(0, int(y) - r): int(y) + r + 1].sum(axis=0)
    # A solid mark (a redaction bar, a filled box) fills the band over many mm. A QRS fills it too, for 1-3 mm
    # at a thick pen or a blurred photo, but as one unbroken stroke reaching far above or below it, which no
    # printed character (nor a block of text lines, with paper between them) is.
    thin = (count > 0) & (count <= 2.0 * px_per_mm)
    stroke = ~thin & (count > 0)
    if stroke.any():
        wide = ink[max(0, int(y) - 4 * r): int(y) + 4 * r + 1][:, stroke]
        run = np.zeros(wide.shape[1], np.int32)
        longest = np.zeros(wide.shape[1], np.int32)
        for row in wide:  # the longest vertical run of ink in each of those columns
            run = (run + 1) * row
            np.maximum(longest, run, out=longest)
        stroke[stroke] = longest > STROKE_TALL_MM * px_per_mm
    if stroke.any():  # a stretch of strokes wider than a QRS is a solid mark
        edges = np.flatnonzero(np.diff(np.r_[0, stroke.astype(np.int8), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a > STROKE_WIDE_MM * px_per_mm:
                stroke[a:b] = False
    return thin, stroke


def longest_ink_run(ink: np.ndarray, y: float, px_per_mm: float, reach_mm: float = 3.0) -> float:
    """Longest run (px) of columns with thin ink or a QRS stroke within `reach_mm` of level y, gaps up to 1.5 mm
    bridged: a pen line crosses its row's level band in every column (a QRS passes through it), words leave
    spaces."""
    thin, stroke = _band_columns(ink, y, px_per_mm, reach_mm)
    cols = np.flatnonzero(thin | stroke)
    if len(cols) == 0:
        return 0.0
    breaks = np.flatnonzero(np.diff(cols) > max(1.0, 1.5 * px_per_mm))
    starts = np.r_[cols[0], cols[breaks + 1]]
    ends = np.r_[cols[breaks], cols[-1]]
    return float((ends - starts).max())


def qrs_chain_span(ink: np.ndarray, y: float, px_per_mm: float, reach_mm: float = 3.0) -> float:
    """Span (px) of the longest chain of at least QRS_CHAIN_MIN QRS strokes through level y, each within
    QRS_CHAIN_GAP_MM of the next: a trace row whose baseline the ink lost between beats (a thin line washed out
    by blur or JPEG) still shows its beats; printed text has no strokes that tall."""
    _, stroke = _band_columns(ink, y, px_per_mm, reach_mm)
    edges = np.flatnonzero(np.diff(np.r_[0, stroke.astype(np.int8), 0]))
    centres = (edges[::2] + edges[1::2]) / 2.0
    if len(centres) < QRS_CHAIN_MIN:
        return 0.0
    breaks = np.flatnonzero(np.diff(centres) > QRS_CHAIN_GAP_MM * px_per_mm)
    best = 0.0
    for a, b in zip(np.r_[0, breaks + 1], np.r_[breaks, len(centres) - 1]):
        if b - a + 1 >= QRS_CHAIN_MIN:
            best = max(best, float(centres[b] - centres[a]))
    return best


def holds_trace(ink: np.ndarray, y: float, px_per_mm: float, run_mm: float) -> bool:
    """Whether level y holds a trace row at least run_mm long: an unbroken pen line, or a chain of beats."""
    return longest_ink_run(ink, y, px_per_mm) >= run_mm * px_per_mm or \
        qrs_chain_span(ink, y, px_per_mm) >= run_mm * px_per_mm


def drop_weak_rows(rows_y: np.ndarray, strength: np.ndarray, requested: str,
                   weak: float = 0.5, even: float = 0.25) -> np.ndarray:
    """When the rows found fit no layout (or not the requested one), or fit one but are unevenly spaced (a row of
    deep S waves between two rows makes 4 rows look like 6), drop the weakest candidates, if they are
    clearly weaker than the rest (< `weak` x the median strength of the others: e.g. a row of deep S waves
    seen as a level of its own) and what is left is evenly spaced, as every layout's rows are. Otherwise the
    rows are returned as found, for choose_layout to refuse."""
    counts = sorted({ROWS_OF_LAYOUT[requested]} if requested != "auto" else set(ROWS_OF_LAYOUT.values()),
                    reverse=True)
    def is_even(ys: np.ndarray) -> bool:  # every layout's rows are evenly spaced
        gaps = np.diff(ys)
        return len(gaps) < 2 or bool(np.max(np.abs(gaps - np.median(gaps))) <= even * np.median(gaps))

    if len(rows_y) in counts and is_even(np.sort(rows_y)):
        return rows_y
    # two levels closer than 0.3 of the pitch are one row (a trace at two levels: a tall T wave, a baseline
    # step): keep the stronger, when what is left is an evenly spaced layout
    ys, st = rows_y.copy(), strength.copy()
    while len(ys) > 2:
        gaps = np.diff(ys)
        k = int(np.argmin(gaps))
        if gaps[k] >= 0.3 * np.median(gaps):
            break
        drop = k if st[k] < st[k + 1] else k + 1
        ys, st = np.delete(ys, drop), np.delete(st, drop)
    if len(ys) < len(rows_y) and len(ys) in counts and is_even(ys):
        return ys
    order = np.argsort(strength)  # weakest first
    for n in counts:
        k = len(rows_y) - n
        if k <= 0 or n < 2:
            continue
        drop, rest = order[:k], order[k:]
        if strength[drop].max() >= weak * np.median(strength[rest]):
            continue
        kept = np.sort(rows_y[rest])
        if is_even(kept):
            return kept
    return rows_y


def fill_row_gaps(ink: np.ndarray, rows_y: np.ndarray, strength: np.ndarray, px_per_mm: float, requested: str,
                  faint: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(rows, strength) with a faint row found where the rows fit no layout but leave a gap of two pitches: a
    flat lead drawn with a thin pen (V1 of a 12x1 page) can fall under find_rows's bar while its neighbours
    clear it. The missed row is the strongest level of the ink profile within a quarter pitch of the gap's
    middle that holds a stretch of ink (longest_ink_run, GAP_ROW_RUN_MM: such a pen is often seen in pieces)
    and at least `faint` of the rows' median strength; filled only where every gap is then one pitch and the
    count fits a layout."""
    counts = {ROWS_OF_LAYOUT[requested]} if requested != "auto" else set(ROWS_OF_LAYOUT.values())
    if len(rows_y) < 3 or len(rows_y) in counts:
        return rows_y, strength
    gaps = np.diff(rows_y)
    pitch = float(np.median(gaps))
    wide = np.flatnonzero(np.abs(gaps - 2 * pitch) <= 0.25 * pitch)
    rest = np.delete(gaps, wide)
    if len(wide) == 0 or len(rows_y) + len(wide) not in counts or np.any(np.abs(rest - pitch) > 0.25 * pitch):
        return rows_y, strength
    h, w = ink.shape
    prof = gaussian_filter1d(ink[:, int(0.1 * w): int(0.9 * w)].sum(axis=1).astype(np.float64), 0.7 * px_per_mm)
    ys, st = list(rows_y), list(strength)
    for k in wide:
        mid = 0.5 * (rows_y[k] + rows_y[k + 1])
        lo, hi = int(mid - 0.25 * pitch), int(mid + 0.25 * pitch) + 1
        y = lo + int(np.argmax(prof[lo:hi]))
        if prof[y] < faint * float(np.median(strength)) or \
                longest_ink_run(ink, y, px_per_mm) < GAP_ROW_RUN_MM * px_per_mm:
            return rows_y, strength
        ys.append(float(y))
        st.append(float(prof[y]))
    order = np.argsort(ys)
    return np.asarray(ys)[order], np.asarray(st)[order]


def choose_layout(n_rows: int, requested: str) -> str:
    """The first candidate of `layout_candidates` (kept for callers that want one name)."""
    return layout_candidates(n_rows, requested)[0]


def layout_candidates(n_rows: int, requested: str) -> list[str]:
    """The known layouts printing `n_rows` rows, in the order they are tried; DigitizeError when none does
    (a page is never forced into a layout whose row count it does not have)."""
    if requested != "auto":
        if ROWS_OF_LAYOUT[requested] != n_rows:
            raise DigitizeError(f"layout {requested} prints {ROWS_OF_LAYOUT[requested]} trace rows but "
                                f"{n_rows} were found")
        return [requested]
    matches = [name for name, n in ROWS_OF_LAYOUT.items() if n == n_rows]
    if not matches:
        known = ", ".join(sorted({f"{v} rows" for v in ROWS_OF_LAYOUT.values()}, key=lambda t: int(t.split()[0])))
        raise DigitizeError(f"found {n_rows} trace rows, which fits no known layout (known: {known}); "
                            f"is the page cut, or is it another layout?")
    return matches


def template_rows(layout: str) -> list[list[str | None]]:
    """The names `layout` prints per row, its rhythm strips as [None] (a strip's lead is never assumed)."""
    lead_rows, strips = TEMPLATES[layout]
    return [list(r) for r in lead_rows] + [[None]] * strips


def n_cols(layout: str, row: int) -> int:
    rows, _ = TEMPLATES[layout]
    return len(rows[row]) if row < len(rows) else 1


# A pulse's body (rise to fall) is 1-12 mm wide: 0.2 s at 25 mm/s is 5 mm, real machines also print 2-3.5 mm,
# 10 mm at 50 mm/s. Its width says nothing about the scale; only its height (1 mV) does.
PULSE_BODY_MM = (1.2, 12.5)
PULSE_TOP_FLAT_MM = 1.0  # most of a bare pulse's top lies within this of its level (a spike's tip does not)
PULSE_TOP_FLAT_SHARE = 0.8


def find_pulse(ink: np.ndarray, band: tuple[int, int], x_max: int, px_per_mm: float,
               px_per_mm_x: float | None = None, side: str = "left") -> Pulse | None:
    """The calibration pulse at the left end of one row band (within `x_max` px of it): a box-shaped piece of
    ink, 3-25 mm tall, with or without baseline lead-in/out (`px_per_mm` vertical; `px_per_mm_x` across, where
    a stretched scan differs). side="right": the one nearest the right end, searched on the mirrored band."""
    if side == "right":
        p = find_pulse(ink[:, ::-1], band, x_max, px_per_mm, px_per_mm_x)
        if p is None:
            return None
        w = ink.shape[1] - 1  # mirrored back: the falling edge was the mirror's rising one
        return replace(p, x_rise=w - p.x_fall, x_fall=w - p.x_rise, side="right")
    if side != "left":
        raise ValueError(f"side={side!r} must be 'left' or 'right'")
    ppm_x = px_per_mm_x or px_per_mm
    y0, y1 = max(0, band[0]), min(ink.shape[0], band[1])
    sub = ink[y0:y1, :x_max].astype(np.uint8)
    if sub.size == 0:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(sub, connectivity=8)
    best = None
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        w_mm, h_mm = w / ppm_x, h / px_per_mm
        if not (3.0 <= h_mm <= 25.0 and PULSE_BODY_MM[0] <= w_mm <= PULSE_BODY_MM[1] + 4.0):
            continue
        comp = labels[y:y + h, x:x + w] == i
        cols = comp.sum(axis=0)
        strokes = np.flatnonzero(cols >= 0.6 * h)
        if len(strokes) < 2:
            continue
        split = np.flatnonzero(np.diff(strokes) > 1)
        if len(split) != 1:
            continue
        left, right = strokes[: split[0] + 1], strokes[split[0] + 1:]
        xr, xf = x + left.mean(), x + right.mean()
        if not PULSE_BODY_MM[0] <= (xf - xr) / ppm_x <= PULSE_BODY_MM[1]:
            continue
        # base: the lead-in left of the rising edge and the lead-out right of the falling one; top: between
        ends = np.hstack([comp[:, : int(left.min())], comp[:, int(right.max()) + 1:]])
        between = comp[:, int(left.max()) + 1: int(right.min())]
        if between.size == 0 or between.sum() == 0:
            continue
        counts = between.sum(axis=1)
        yt = y + _stroke_level(counts, px_per_mm)
        bare = ends.sum() == 0
        if bare:
            # no lead-in: the base is where the edge strokes end, half a stroke above their foot; the box must
            # be closed by a flat top (a lone spike of ink is not a pulse)
            near = np.abs(np.arange(len(counts)) + y - yt) <= PULSE_TOP_FLAT_MM * px_per_mm
            if counts[near].sum() < PULSE_TOP_FLAT_SHARE * counts.sum():
                continue
            stroke = max(1.0, float(np.sum(counts >= 0.5 * counts.max())))
            foot = max(np.flatnonzero(comp[:, left].any(axis=1)).max(), np.flatnonzero(comp[:, right].any(axis=1)).max())
            yb = y + foot - 0.5 * (stroke - 1.0)
        else:
            yb = y + _stroke_level(ends.sum(axis=1), px_per_mm)
        if yb - yt < 2.0 * px_per_mm:
            continue
        cand = Pulse(x_rise=float(xr), x_fall=float(xf), y_base=yb + y0, y_top=yt + y0, clipped=bool(y <= 1),
                     bare=bool(bare))
        if best is None or cand.x_rise < best.x_rise:
            best = cand
    return best


def _stroke_level(row_counts: np.ndarray, px_per_mm: float) -> float:
    """y of a horizontal stroke from the ink count of each row: the centre of the fullest rows. A plain mean
    would also count the foot of a slanted or blurred edge stroke that reaches into the columns summed, and
    pull the level towards the pulse's middle."""
    peak = int(np.argmax(row_counts))
    r = max(1, int(round(0.5 * px_per_mm)))
    lo, hi = max(0, peak - r), min(len(row_counts), peak + r + 1)
    return lo + float(np.average(np.arange(hi - lo), weights=row_counts[lo:hi]))


RUN_GAP_MM = 3.0  # trace_extent: inked columns closer than this are one run
STRETCH_GAP_MM = 25.0  # ... runs closer than this (1 s at 25 mm/s) one stretch of trace
MIN_START_RUN_MM = 5.0  # ... the trace starts at the stretch's first run at least this long


def trace_extent(ink: np.ndarray, band: tuple[int, int], px_per_mm: float) -> tuple[float, float] | None:
    """(first, last) x of a row's trace in a band. Inked columns are joined into runs across gaps under
    RUN_GAP_MM, runs into stretches across gaps under STRETCH_GAP_MM (a faint stretch the ink missed, a lead
    switch: the longest run alone put the start of a trace broken in three at its second piece); the stretch with
    the most inked columns is the trace, starting at its first run of at least MIN_START_RUN_MM (a speck before it
    is not the trace's start)."""
    cols = ink[max(0, band[0]):band[1]].any(axis=0)
    xs = np.flatnonzero(cols)
    if len(xs) == 0:
        return None
    breaks = np.flatnonzero(np.diff(xs) > RUN_GAP_MM * px_per_mm)
    runs = list(zip(xs[np.concatenate([[0], breaks + 1])], xs[np.concatenate([breaks, [len(xs) - 1]])]))
    stretches: list[list[tuple[int, int]]] = [[runs[0]]]
    for run in runs[1:]:
        if run[0] - stretches[-1][-1][1] <= STRETCH_GAP_MM * px_per_mm:
            stretches[-1].append(run)
        else:
            stretches.append([run])
    inked = np.concatenate([[0], np.cumsum(cols)])
    best = max(stretches, key=lambda st: sum(int(inked[b + 1] - inked[a]) for a, b in st))
    start = next((a for a, b in best if b - a >= MIN_START_RUN_MM * px_per_mm), best[0][0])
    return float(start), float(best[-1][1])


def layout_panels(layout: str, rows_y: np.ndarray, trace_x0: float, px_per_mm_x: float, px_per_mm_y: float,
                  speed_mm_s: float, row_baselines: list[float]) -> list[Panel]:
    """Panels of `layout` given the rows found (top to bottom) and where the trace area starts."""
    lead_rows, _ = TEMPLATES[layout]
    pitch = float(np.median(np.diff(rows_y))) if len(rows_y) > 1 else 40.0 * px_per_mm_y
    total_s = paper.TRACE_WIDTH_MM / speed_mm_s
    width = paper.TRACE_WIDTH_MM * px_per_mm_x
    above, below = paper.BASELINE_FRACTION * pitch, (1 - paper.BASELINE_FRACTION) * pitch
    rows = template_rows(layout)
    panels = []
    for r, leads in enumerate(rows):
        y = float(rows_y[r])
        n = len(leads)
        for c, name in enumerate(leads):
            inverted = name is not None and name.startswith("-")
            panels.append(Panel(lead=(name or "").lstrip("-"), row=r, col=c, x0=trace_x0 + c * width / n,
                                x1=trace_x0 + (c + 1) * width / n, y0=y - above, y1=y + below,
                                baseline_y=row_baselines[r], t_offset_s=c * total_s / n, duration_s=total_s / n,
                                is_rhythm_strip=r >= len(lead_rows), inverted=inverted))
    return panels

"""Follow one trace through a panel: per-column ink runs, dynamic programming with a continuity cost.

Each pixel column of the panel's band holds zero or more vertical runs of ink (the trace, a neighbour's tall
QRS, a grid line that survived, a stray mark). The path picks one run per inked column minimising the vertical
jumps between consecutive picks (a pen line is continuous) plus a small pull towards the row's baseline (so it
stays on its own row where two rows' traces cross). The picked runs' sub-pixel edges then give the pen's path
(`centreline`): on steep QRS flanks the two edges of a column are two points of the path, not one blurred value.
Where a flank sits in x then hangs on how far the pen reaches sideways, fitted once per page (`fit_page`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


HYSTERESIS = 0.7
PEN_ASPECTS = np.round(np.arange(0.80, 1.041, 0.03), 2)  # across/along pen ratios tried per page
PER_PX = 8  # centreline points per pixel column: a QRS flank moves ~40 px per column, so its x must be fine


@dataclass(frozen=True)
class PanelPick:
    """The runs the DP picked in one panel, as sub-pixel stroke edges, and the pen measured on them."""

    xc: np.ndarray  # (n,) band column of each pick
    top_e: np.ndarray  # (n,) sub-pixel top and bottom edge of the picked run (band rows)
    bot_e: np.ndarray
    coverage: float  # fraction of the panel's columns with a pick
    continuity: float  # fraction of consecutive picks that touch (no jump across blank paper)
    radius: float  # pen half width, vertical (measured on flat stretches)


def column_runs(band: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertical runs of True in each column: (column, top, bottom) arrays, bottom inclusive, sorted by column."""
    padded = np.zeros((band.shape[0] + 2, band.shape[1]), np.int8)
    padded[1:-1] = band
    d = np.diff(padded, axis=0)
    sc, sr = np.nonzero(d.T == 1)  # transposed: sorted by column, then row
    ec, er = np.nonzero(d.T == -1)
    return sc, sr, er - 1


def pick_trace(band: np.ndarray, baseline_row: float, jump_weight: float = 1.0, baseline_weight: float = 0.02,
               darkness: np.ndarray | None = None, level: float = 0.5) -> PanelPick:
    """The DP's run per inked column of one panel's ink band (rows, cols; rows relative to the band), with its
    sub-pixel edges: `darkness` (same shape; `band` is darkness >= `level`) places them between pixels.
    `fit_page` turns the picks into the pen's path."""
    if darkness is not None:
        # Hysteresis: a steep anti-aliased stroke fades to ~0.5 darkness along its flank and breaks into pieces
        # at the ink threshold; runs of the fainter mask that hold real ink keep the stroke whole.
        level = HYSTERESIS * level
        cols, tops, bots = column_runs(darkness >= level)
        strict = np.vstack([np.zeros((1, band.shape[1]), np.int32), np.cumsum(band, axis=0, dtype=np.int32)])
        keep = strict[bots + 1, cols] > strict[tops, cols]
        cols, tops, bots = cols[keep], tops[keep], bots[keep]
    else:
        cols, tops, bots = column_runs(band)
    w = band.shape[1]
    if len(cols) == 0:
        return PanelPick(np.zeros(0), np.zeros(0), np.zeros(0), 0.0, 0.0, 0.5)
    starts = np.searchsorted(cols, np.arange(w + 1))
    inked = np.flatnonzero(starts[1:] > starts[:-1])
    back, last = _dp_back(tops.tolist(), bots.tolist(), starts.tolist(), inked.tolist(), float(baseline_row),
                          jump_weight, baseline_weight)
    # backtrack
    pick = np.zeros(len(inked), int)
    pick[-1] = last
    for k in range(len(inked) - 1, 0, -1):
        pick[k - 1] = back[k][pick[k]]
    chosen = starts[inked] + pick
    sel_t = tops[chosen].astype(np.float64)
    sel_b = bots[chosen].astype(np.float64)
    xc = np.asarray(inked, np.float64)
    if darkness is not None:
        top_e, bot_e = subpixel_edges(darkness, level, xc, sel_t, sel_b)
    else:
        top_e, bot_e = sel_t - 0.5, sel_b + 0.5
    touching = np.minimum(sel_b[1:], sel_b[:-1]) + 1 >= np.maximum(sel_t[1:], sel_t[:-1])
    adjacent = np.diff(xc) == 1
    continuity = float(np.mean(touching & adjacent)) if len(xc) > 1 else 0.0
    return PanelPick(xc, top_e, bot_e, len(inked) / float(w), continuity, pen_radius(top_e, bot_e))


def _dp_back(tops: list[int], bots: list[int], starts: list[int], inked: list[int], baseline_row: float,
             jump_weight: float, baseline_weight: float) -> tuple[list[list[int]], int]:
    """The DP of pick_trace over the inked columns: (per column, for each run the run of the previous column
    its cheapest path comes from; the cheapest last run). In plain floats (IEEE doubles, the same
    operations in the same order as on arrays): a column holds one to a few runs, and numpy's per-call cost
    on such tiny arrays was most of a page's tracing time. Columns with many runs use arrays."""
    prev_cost: list[float] = []
    prev_top: list[float] = []
    prev_bot: list[float] = []
    back: list[list[int]] = []
    for j in inked:
        a, b = starts[j], starts[j + 1]
        t = [float(v) for v in tops[a:b]]
        bt = [float(v) for v in bots[a:b]]
        own = [baseline_weight * abs(0.5 * (ti + bi) - baseline_row) for ti, bi in zip(t, bt)]
        if not back:
            cost, arg = own, [0] * len(t)
        elif len(t) * len(prev_cost) <= 16:
            cost, arg = [], []
            for ti, bi, oi in zip(t, bt, own):
                best, best_j = 0.0, -1
                for jj, (pc, pt, pb) in enumerate(zip(prev_cost, prev_top, prev_bot)):
                    gap = max(0.0, max(ti - pb - 1, pt - bi - 1))
                    total = pc + jump_weight * gap
                    if best_j < 0 or total < best:  # the first of equal totals, as np.argmin
                        best, best_j = total, jj
                cost.append(best + oi)
                arg.append(best_j)
        else:
            ta, ba, pta, pba = np.array(t), np.array(bt), np.array(prev_top), np.array(prev_bot)
            gap = np.maximum(0.0, np.maximum(ta[:, None] - pba[None, :] - 1, pta[None, :] - ba[:, None] - 1))
            total = np.array(prev_cost)[None, :] + jump_weight * gap
            arg_a = np.argmin(total, axis=1)
            cost = (total[np.arange(len(t)), arg_a] + np.array(own)).tolist()
            arg = arg_a.tolist()
        back.append(arg)
        prev_cost, prev_top, prev_bot = cost, t, bt
    return back, int(np.argmin(prev_cost))


def fit_page(picks: list[PanelPick]) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    """(pen aspect, per pick the centreline x, y). A pen (or a rasteriser) need not reach as far sideways as
    up and down, and a steep flank's x hangs on the sideways reach (~40 px of y per px of x on a QRS), which
    flat stretches cannot show. One pen drew the whole page, so the aspect is the one whose fits explain all
    the panels' stroke edges best. Only the columns around steep stretches are refitted per candidate (flat
    ones hardly depend on it). The radius is the page's too: the panels' median. A noisy lead's "flat" columns
    hold wiggles as tall as several pen widths, and a pen that fat leaves a narrow QRS tip free to overshoot."""
    radius = float(np.median([p.radius for p in picks])) if picks else 0.5
    steep = [_near_steep(p, radius) for p in picks]
    aspect = 1.0
    if any(m.any() for m in steep):
        misfits = [sum(_fit(p.xc[m], p.top_e[m], p.bot_e[m], radius, a * radius)[2]
                       for p, m in zip(picks, steep) if m.any()) for a in PEN_ASPECTS]
        aspect = float(PEN_ASPECTS[int(np.argmin(misfits))])
    return aspect, [centreline(p.xc, p.top_e, p.bot_e, radius, radius_x=aspect * radius) for p in picks]


def _near_steep(pick: PanelPick, radius: float, steep_radii: float = 8.0, around_px: int = 8) -> np.ndarray:
    """Columns within `around_px` of one whose run is much taller than the pen of `radius` (a QRS flank)."""
    steep = (pick.bot_e - pick.top_e) > steep_radii * radius
    if not steep.any():
        return steep
    xs = pick.xc[steep]
    i = np.clip(np.searchsorted(xs, pick.xc), 1, len(xs))
    near = np.minimum(np.abs(pick.xc - xs[i - 1]), np.abs(pick.xc - xs[np.minimum(i, len(xs) - 1)]))
    return near <= around_px


def erase_bars(band: np.ndarray, darkness: np.ndarray, level: float, cols: np.ndarray, top: float,
               bottom: float) -> None:
    """In place: in columns `cols`, remove every stroke (run of darkness >= `level`) covering rows top..bottom.
    That is a separator bar, together with any trace touching it (whose edges the bar hides)."""
    if len(cols) == 0:
        return
    c, t, b = column_runs(darkness[:, cols] >= level)
    for ci, ti, bi in zip(cols[c], t, b):
        if ti <= top and bi >= bottom:
            band[ti:bi + 1, ci] = False
            darkness[ti:bi + 1, ci] = 0.0


def subpixel_edges(darkness: np.ndarray, level: float, x: np.ndarray, top: np.ndarray,
                   bot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where darkness crosses `level` above and below each picked run (rows, sub-pixel): the stroke's edges.
    Anti-aliasing grades the edge pixels, so the crossing is interpolated between the last paper and first ink
    pixel."""
    h = darkness.shape[0]
    ti, bi = top.astype(int), bot.astype(int)
    x = x.astype(int)

    def crossing(inside: np.ndarray, outside: np.ndarray, edge_row: np.ndarray, step: int) -> np.ndarray:
        d_in, d_out = darkness[inside, x], darkness[outside, x]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.clip((d_in - level) / (d_in - d_out), 0.0, 1.0)  # from the ink pixel towards the paper one
        frac = np.where(np.isfinite(frac) & (outside != inside), frac, 0.5)
        return edge_row + step * frac

    top_e = crossing(ti, np.clip(ti - 1, 0, h - 1), ti.astype(np.float64), -1)
    bot_e = crossing(bi, np.clip(bi + 1, 0, h - 1), bi.astype(np.float64), +1)
    return top_e, bot_e


def pen_radius(top_e: np.ndarray, bot_e: np.ndarray, max_slope: float = 0.05, min_flat: int = 10) -> float:
    """Half the stroke's width where the trace is flat: columns whose centre hardly moves from its neighbours'.
    (Any slope widens a column's run, and the steep flanks' fit is very sensitive to this radius.) Too few
    flat columns: the median of the shorter half of the runs."""
    half = 0.5 * (bot_e - top_e)
    if len(half) < 3:
        return float(np.median(half)) if len(half) else 0.5
    flat = np.abs(np.gradient(0.5 * (top_e + bot_e))) < max_slope
    if flat.sum() >= min_flat:
        return float(np.median(half[flat]))
    return float(np.median(half[half <= np.percentile(half, 50)]))


def centreline(xc: np.ndarray, top_e: np.ndarray, bot_e: np.ndarray, radius: float, per_px: int = PER_PX,
               smooth: float = 0.2, iters: int = 8, radius_x: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pen's path y(x) on a grid of `per_px` points per pixel, from the stroke's edges in each column
    (see `_fit`)."""
    x, y, _ = _fit(xc, top_e, bot_e, radius, radius if radius_x is None else radius_x, per_px, smooth, iters)
    return x, y


def _fit(xc: np.ndarray, top_e: np.ndarray, bot_e: np.ndarray, radius: float, radius_x: float,
         per_px: int = PER_PX, smooth: float = 0.2, iters: int = 8) -> tuple[np.ndarray, np.ndarray, float]:
    """(x, y, misfit): the pen's path y(x) on a grid of `per_px` points per pixel, from the stroke's edges.

    A pen of radius R inks, in column c, everything within R of the path: its top edge is the lowest
    y(x) - sqrt(R^2 - (x - c)^2) over |x - c| <= R, its bottom edge the highest y(x) + sqrt(...). On a steep
    slope the two edges come from different x (entry and exit of the column, a sample each); at a narrow peak
    the edge on its side is the peak itself. We fit y to both edges of every column (least squares, with the
    points attaining each edge re-chosen until they settle) plus a small curvature penalty that fills the
    points no edge touches. Runs of adjacent columns are solved apart; gaps stay gaps.

    The pen may reach less far sideways (`radius_x`) than up and down (`radius`): an ellipse. `smooth` is the
    penalty at 4 points per pixel; it is rescaled so the curvature cost per unit length does not depend on
    `per_px`. Also returns the misfit: the squared distances (capped at 1 px^2, so a stray mark does not
    decide) between the stroke edges this path and pen would ink and the edges seen."""
    r = max(float(radius), 0.5 / per_px)
    rx = max(float(radius_x), 0.5 / per_px)
    smooth = smooth * (per_px / 4) ** 3  # second differences shrink as 1/per_px^2, their count grows as per_px
    m = int(np.floor(rx * per_px + 1e-9))
    offs = np.arange(-m, m + 1)
    g = r * np.sqrt(np.maximum(1.0 - (offs / per_px / rx) ** 2, 0.0))
    if len(xc) == 0:
        return np.zeros(0), np.zeros(0), 0.0
    # The runs of adjacent columns are independent problems. They are solved side by side as one
    # block-diagonal system (the blocks share no entry, so each block's solution is what solving it alone
    # gives, to the bit), and a run that has settled stays put while the others iterate: its next solve is
    # the same system.
    breaks = np.flatnonzero(np.diff(xc) > 1) + 1
    seg_a, seg_b = np.r_[0, breaks], np.r_[breaks, len(xc)]
    xfs, ks, ys, d2s = [], [], [], []
    start = 0
    for a, b in zip(seg_a, seg_b):
        c, te, be = xc[a:b], top_e[a:b], bot_e[a:b]
        xf = np.arange(c[0] * per_px - m, c[-1] * per_px + m + 1) / per_px
        n = len(xf)
        k = np.rint((c - xf[0]) * per_px).astype(int)[:, None] + offs[None, :]  # (cols, window)
        # the midline, where no column's bounds (below) reach the point
        ys.append(np.interp(xf, c, 0.5 * (te + be)))
        # banded normal matrix of the curvature penalty (pentadiagonal) plus a tiny pull to the start
        d2 = np.zeros((5, n))
        if n >= 3:
            for w, shift in ((1.0, 0), (-2.0, 1), (1.0, 2)):
                for w2, shift2 in ((1.0, 0), (-2.0, 1), (1.0, 2)):
                    # banded storage: ab[u + i - j, j] = A[i, j]
                    d2[2 + shift - shift2, shift2:shift2 + n - 2] += smooth * w * w2
        xfs.append(xf)
        ks.append(k + start)
        d2s.append(d2)
        start += n
    xf, k, y, d2 = np.concatenate(xfs), np.concatenate(ks), np.concatenate(ys), np.concatenate(d2s, axis=1)
    # Start inside the bounds every column puts on the path (y >= top + g, y <= bottom - g over its window):
    # tight on flat and steep stretches alike, so the edge-attaining points start right. (A point no
    # column's window reaches, when the pen is under half a pixel wide, starts on the midline.)
    lo, hi = np.full(len(xf), -np.inf), np.full(len(xf), np.inf)
    np.maximum.at(lo, k.ravel(), (top_e[:, None] + g[None, :]).ravel())
    np.minimum.at(hi, k.ravel(), (bot_e[:, None] - g[None, :]).ravel())
    bounded = np.isfinite(lo) & np.isfinite(hi) & (lo <= hi)
    y[bounded] = 0.5 * (lo[bounded] + hi[bounded])
    n, rows = len(xf), np.arange(len(xc))
    seg_n = np.diff(np.r_[0, np.cumsum([len(v) for v in xfs])])  # points per run
    eps = 1e-4
    y0 = y.copy()
    points, eps_n, ones = np.arange(n), np.full(n, eps), np.ones(2 * len(xc))
    prev = None
    active = np.ones(len(seg_a), bool)
    for _ in range(iters):
        yk = y[k]
        ia = np.argmin(yk - g[None, :], axis=1)
        ib = np.argmax(yk + g[None, :], axis=1)
        if prev is not None:
            changed = (ia != prev[0]) | (ib != prev[1])
            active = np.add.reduceat(changed, seg_a) > 0  # a run whose picks are those it was solved for is settled
            if not active.any():
                break
        prev = (ia, ib)
        ka, kb = k[rows, ia], k[rows, ib]
        # np.add.at's sums (the start value, then each column's edge in column order, tops then bottoms) in
        # one pass: bincount adds its weights one by one in input order too
        idx = np.concatenate((points, ka, kb))
        diag = np.bincount(idx, np.concatenate((eps_n, ones)), minlength=n)
        rhs = np.bincount(idx, np.concatenate((eps * y0, top_e + g[ia], bot_e - g[ib])), minlength=n)
        if active.all():
            y = _solve_pentadiagonal(d2, diag, rhs)
        else:  # the settled runs' blocks left out: the rest's solution does not depend on them
            pts = np.repeat(active, seg_n)
            y = y.copy()
            y[pts] = _solve_pentadiagonal(np.ascontiguousarray(d2[:, pts]), diag[pts], rhs[pts])
    yk = y[k]
    top_res = (yk - g).min(axis=1) - top_e
    bot_res = (yk + g).max(axis=1) - bot_e
    misfit = 0.0
    for a, b in zip(seg_a, seg_b):  # summed run by run, in the order (and so to the bit) of one run at a time
        res = np.concatenate((top_res[a:b], bot_res[a:b]))
        misfit += float(np.minimum(res ** 2, 1.0).sum())
    return xf, y, misfit


def _solve_pentadiagonal(d2: np.ndarray, diag: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """scipy.linalg.solve_banded((2, 2), d2 + diag on the main diagonal, rhs), calling LAPACK's gbsv as it does
    (the same result to the bit) without its checks and wrappers, which cost more than a small system's solve
    (a page's fit solves about a thousand)."""
    n = d2.shape[1]
    if n == 1:
        return rhs / (d2[2] + diag)
    ab = np.zeros((7, n))  # gbsv's storage: two more rows above for the LU factor's fill-in
    ab[2:] = d2
    ab[4] += diag
    _, _, y, info = _gbsv()(2, 2, ab, rhs, overwrite_ab=True, overwrite_b=False)
    if info > 0:
        raise np.linalg.LinAlgError("singular matrix")
    return y


@functools.lru_cache(maxsize=1)
def _gbsv():
    from scipy.linalg import get_lapack_funcs

    return get_lapack_funcs(("gbsv",), (np.zeros((5, 2)), np.zeros(2)))[0]


def line_thickness(ink: np.ndarray) -> float:
    """Typical vertical run length of ink (px): the line width where the trace is flat."""
    cols, tops, bots = column_runs(ink)
    if len(cols) == 0:
        return 1.0
    lengths = bots - tops + 1
    return float(np.median(lengths))

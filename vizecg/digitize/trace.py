"""Follow one trace through a panel: per-column ink runs, dynamic programming with a continuity cost.

Each pixel column of the panel's band holds zero or more vertical runs of ink (the trace, a neighbour's tall
QRS, a grid line that survived, a stray mark). The path picks one run per inked column minimising the vertical
jumps between consecutive picks (a pen line is continuous) plus a small pull towards the row's baseline (so it
stays on its own row where two rows' traces cross). The picked runs' sub-pixel edges then give the pen's path
(`centreline`): on steep QRS flanks the two edges of a column are two points of the path, not one blurred value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


HYSTERESIS = 0.7


@dataclass(frozen=True)
class PanelTrace:
    x: np.ndarray  # (n,) column x (px) of each traced column
    y: np.ndarray  # (n,) trace centre y (px), sub-pixel
    coverage: float  # fraction of the panel's columns with a pick
    continuity: float  # fraction of consecutive picks that touch (no jump across blank paper)


def column_runs(band: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertical runs of True in each column: (column, top, bottom) arrays, bottom inclusive, sorted by column."""
    padded = np.zeros((band.shape[0] + 2, band.shape[1]), np.int8)
    padded[1:-1] = band
    d = np.diff(padded, axis=0)
    sc, sr = np.nonzero(d.T == 1)  # transposed: sorted by column, then row
    ec, er = np.nonzero(d.T == -1)
    return sc, sr, er - 1


def trace_panel(band: np.ndarray, baseline_row: float, jump_weight: float = 1.0, baseline_weight: float = 0.02,
                darkness: np.ndarray | None = None, level: float = 0.5, radius: float | None = None) -> PanelTrace:
    """Trace of one panel from its ink band (rows, cols). y is in band rows; x in band columns, sub-pixel
    (`centreline`: 4 points per pixel column).

    `darkness` (same shape, the `band` is darkness >= `level`) places the stroke's edges to sub-pixel;
    `radius` is the pen's half width (default: measured on this panel's flat stretches)."""
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
        return PanelTrace(np.zeros(0), np.zeros(0), 0.0, 0.0)
    starts = np.searchsorted(cols, np.arange(w + 1))
    inked = [j for j in range(w) if starts[j + 1] > starts[j]]
    prev_cost = prev_top = prev_bot = None
    back: list[np.ndarray] = []
    for j in inked:
        a, b = starts[j], starts[j + 1]
        t, bt = tops[a:b].astype(np.float64), bots[a:b].astype(np.float64)
        own = baseline_weight * np.abs(0.5 * (t + bt) - baseline_row)
        if prev_cost is None:
            cost = own
            back.append(np.zeros(len(t), int))
        else:
            gap = np.maximum(0.0, np.maximum(t[:, None] - prev_bot[None, :] - 1, prev_top[None, :] - bt[:, None] - 1))
            total = prev_cost[None, :] + jump_weight * gap
            arg = np.argmin(total, axis=1)
            cost = total[np.arange(len(t)), arg] + own
            back.append(arg)
        prev_cost, prev_top, prev_bot = cost, t, bt
    # backtrack
    pick = np.zeros(len(inked), int)
    pick[-1] = int(np.argmin(prev_cost))
    for k in range(len(inked) - 1, 0, -1):
        pick[k - 1] = back[k][pick[k]]
    sel_t = np.array([tops[starts[j] + pick[k]] for k, j in enumerate(inked)], np.float64)
    sel_b = np.array([bots[starts[j] + pick[k]] for k, j in enumerate(inked)], np.float64)
    xc = np.asarray(inked, np.float64)
    if darkness is not None:
        top_e, bot_e = subpixel_edges(darkness, level, xc, sel_t, sel_b)
    else:
        top_e, bot_e = sel_t - 0.5, sel_b + 0.5
    x, y = centreline(xc, top_e, bot_e, pen_radius(top_e, bot_e) if radius is None else radius)
    touching = np.minimum(sel_b[1:], sel_b[:-1]) + 1 >= np.maximum(sel_t[1:], sel_t[:-1])
    adjacent = np.diff(xc) == 1
    continuity = float(np.mean(touching & adjacent)) if len(xc) > 1 else 0.0
    return PanelTrace(x=x, y=y, coverage=len(inked) / float(w), continuity=continuity)


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


def pen_radius(top_e: np.ndarray, bot_e: np.ndarray) -> float:
    """Half the stroke's width where the trace is flat (the shortest runs: most columns are flat)."""
    half = 0.5 * (bot_e - top_e)
    return float(np.median(half[half <= np.percentile(half, 50)])) if len(half) else 0.5


def centreline(xc: np.ndarray, top_e: np.ndarray, bot_e: np.ndarray, radius: float, per_px: int = 4,
               smooth: float = 0.05, iters: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The pen's path y(x) on a grid of `per_px` points per pixel, from the stroke's edges in each column.

    A pen of radius R inks, in column c, everything within R of the path: its top edge is the lowest
    y(x) - sqrt(R^2 - (x - c)^2) over |x - c| <= R, its bottom edge the highest y(x) + sqrt(...). On a steep
    slope the two edges come from different x (entry and exit of the column, a sample each); at a narrow peak
    the edge on its side is the peak itself. We fit y to both edges of every column (least squares, with the
    points attaining each edge re-chosen until they settle) plus a small curvature penalty that fills the
    points no edge touches. Runs of adjacent columns are solved apart; gaps stay gaps."""
    from scipy.linalg import solve_banded

    r = max(float(radius), 0.5 / per_px)
    m = int(np.floor(r * per_px + 1e-9))
    offs = np.arange(-m, m + 1)
    g = np.sqrt(np.maximum(r * r - (offs / per_px) ** 2, 0.0))
    xs_out, ys_out = [], []
    breaks = np.flatnonzero(np.diff(xc) > 1) + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(xc)]):
        c, te, be = xc[a:b], top_e[a:b], bot_e[a:b]
        xf = np.arange(c[0] * per_px - m, c[-1] * per_px + m + 1) / per_px
        n = len(xf)
        k = np.rint((c - xf[0]) * per_px).astype(int)[:, None] + offs[None, :]  # (cols, window)
        # Start inside the bounds every column puts on the path (y >= top + g, y <= bottom - g over its
        # window): tight on flat and steep stretches alike, so the edge-attaining points start right.
        lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
        np.maximum.at(lo, k, te[:, None] + g[None, :])
        np.minimum.at(hi, k, be[:, None] - g[None, :])
        y = np.where(lo <= hi, 0.5 * (lo + hi), np.interp(xf, c, 0.5 * (te + be)))
        # banded normal matrix of the curvature penalty (pentadiagonal) plus a tiny pull to the start
        d2 = np.zeros((5, n))
        if n >= 3:
            for w, shift in ((1.0, 0), (-2.0, 1), (1.0, 2)):
                for w2, shift2 in ((1.0, 0), (-2.0, 1), (1.0, 2)):
                    j = np.arange(n - 2) + shift2
                    d2[2 + shift - shift2, j] += smooth * w * w2  # banded storage: ab[u + i - j, j] = A[i, j]
        eps = 1e-4
        y0 = y.copy()
        prev = None
        for _ in range(iters):
            ia = np.argmin(y[k] - g[None, :], axis=1)
            ib = np.argmax(y[k] + g[None, :], axis=1)
            if prev is not None and np.array_equal(prev[0], ia) and np.array_equal(prev[1], ib):
                break
            prev = (ia, ib)
            ka, kb = k[np.arange(len(c)), ia], k[np.arange(len(c)), ib]
            diag = np.full(n, eps)
            rhs = eps * y0
            np.add.at(diag, ka, 1.0)
            np.add.at(rhs, ka, te + g[ia])
            np.add.at(diag, kb, 1.0)
            np.add.at(rhs, kb, be - g[ib])
            ab = d2.copy()
            ab[2] += diag
            y = solve_banded((2, 2), ab, rhs)
        xs_out.append(xf)
        ys_out.append(y)
    return np.concatenate(xs_out), np.concatenate(ys_out)


def line_thickness(ink: np.ndarray) -> float:
    """Typical vertical run length of ink (px): the line width where the trace is flat."""
    cols, tops, bots = column_runs(ink)
    if len(cols) == 0:
        return 1.0
    lengths = bots - tops + 1
    return float(np.median(lengths))

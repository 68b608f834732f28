"""Follow one trace through a panel: per-column ink runs, dynamic programming with a continuity cost.

Each pixel column of the panel's band holds zero or more vertical runs of ink (the trace, a neighbour's tall
QRS, a grid line that survived, a stray mark). The path picks one run per inked column minimising the vertical
jumps between consecutive picks (a pen line is continuous) plus a small pull towards the row's baseline (so it
stays on its own row where two rows' traces cross).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def trace_panel(band: np.ndarray, baseline_row: float, thickness: float, jump_weight: float = 1.0,
                baseline_weight: float = 0.02, darkness: np.ndarray | None = None) -> PanelTrace:
    """Trace of one panel from its ink band (rows, cols). y is in band rows; x in band columns.

    `darkness` (same shape, >= 0) refines flat stretches to sub-pixel: the darkness-weighted centre of the run
    (anti-aliasing puts the line's true centre between pixels)."""
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
    x, y = column_values(xc, sel_t, sel_b, thickness, _run_centroids(darkness, xc.astype(int), sel_t, sel_b))
    touching = np.minimum(sel_b[1:], sel_b[:-1]) + 1 >= np.maximum(sel_t[1:], sel_t[:-1])
    adjacent = np.diff(xc) == 1
    continuity = float(np.mean(touching & adjacent)) if len(xc) > 1 else 0.0
    return PanelTrace(x=x, y=y, coverage=len(inked) / float(w), continuity=continuity)


def _run_centroids(darkness: np.ndarray | None, x: np.ndarray, top: np.ndarray, bot: np.ndarray) -> np.ndarray | None:
    """Darkness-weighted centre of each run, widened by 1 px each side to catch the anti-aliased edges."""
    if darkness is None:
        return None
    h = darkness.shape[0]
    cs = np.vstack([np.zeros((1, darkness.shape[1])), np.cumsum(darkness, axis=0)])
    cy = np.vstack([np.zeros((1, darkness.shape[1])), np.cumsum(darkness * np.arange(h)[:, None], axis=0)])
    a = np.clip(top.astype(int) - 1, 0, h - 1)
    b = np.clip(bot.astype(int) + 1, 0, h - 1) + 1
    mass = cs[b, x] - cs[a, x]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (cy[b, x] - cy[a, x]) / mass
    return np.where(mass > 0, c, 0.5 * (top + bot))


def column_values(xc: np.ndarray, top: np.ndarray, bot: np.ndarray, thickness: float,
                  centre: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the signal in each column `xc` from its picked run [top, bot]: the run's (weighted) centre,
    except at a peak (the run rises above both neighbours: its top edge) or a trough (its bottom edge), each
    moved in by half the line width. (Two points per steep column -- entry and exit -- scored worse: a thick
    line's runs overlap across neighbouring columns.)"""
    half = max(0.0, (thickness - 1.0) / 2.0)
    y = 0.5 * (top + bot) if centre is None else centre
    if len(y) < 3:
        return xc.astype(np.float64), y
    t_prev, t_next = np.r_[top[0], top[:-1]], np.r_[top[1:], top[-1]]
    b_prev, b_next = np.r_[bot[0], bot[:-1]], np.r_[bot[1:], bot[-1]]
    long_run = (bot - top + 1) > thickness + 1.5
    peak = long_run & (top < t_prev) & (top < t_next)
    trough = long_run & (bot > b_prev) & (bot > b_next) & ~peak
    y = np.where(peak, top + half, np.where(trough, bot - half, y))
    return xc.astype(np.float64), y


def line_thickness(ink: np.ndarray) -> float:
    """Typical vertical run length of ink (px): the line width where the trace is flat."""
    cols, tops, bots = column_runs(ink)
    if len(cols) == 0:
        return 1.0
    lengths = bots - tops + 1
    return float(np.median(lengths))

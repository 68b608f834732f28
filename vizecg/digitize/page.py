"""Find the paper in a photo and make it flat and upright: outline -> perspective, grid -> rotation, grid
lattice -> curl, waves, wrinkles. Each step returns what it did so the digitizer can report it."""
from __future__ import annotations

import cv2
import numpy as np

from vizecg.digitize.ink import channel_max, channel_min

WORK_SIDE = 900  # the outline is found on a copy this long: plenty for a quadrilateral, fast
SIDE_ANGLE_MAX_DEG = 20.0  # opposite sides of the sheet in a photo are never further from parallel
SIDE_OUTSIDE_MIN = 0.1  # of the frame: a line this far outside the strongest candidate side is the sheet's own
NEUTRAL_DARK = 40.0  # brightness (0-255) below which a pixel's colour is noise: no paper, even in shadow
EDGE_FIX_MIN = 0.02  # hull corners this far (of the frame) from the straight edges' meeting points are not the page's


def find_page_quad(image: np.ndarray) -> tuple[np.ndarray | None, str]:
    """(4, 2) float corners (TL, TR, BR, BL) of the paper, or None with the reason (fills the frame, no outline)."""
    h, w = image.shape[:2]
    f = WORK_SIDE / max(h, w)
    small = cv2.resize(channel_max(image), (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 3)
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if n < 2:
        return None, "no bright paper region"
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = stats[big, cv2.CC_STAT_AREA] / float(bright.size)
    if area > 0.97:
        return None, "the paper fills the frame"
    if area < 0.15:
        return None, f"largest bright region covers only {area:.0%} of the image"
    mask = (labels == big).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    peri = cv2.arcLength(hull, True)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float64)
            break
    if quad is None:
        return None, "paper outline is not a quadrilateral"
    # A side lying on the frame's edge means the page runs out of the picture: its corners are not the page's.
    sh, sw = small.shape
    on_edge = ((quad[:, 0] <= 2) | (quad[:, 0] >= sw - 3) | (quad[:, 1] <= 2) | (quad[:, 1] >= sh - 3)).sum()
    edges = _edge_quad(max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float64), (sw, sh))
    if on_edge >= 2:
        # often only the corners are cut off: four edges still seen meet outside the frame
        if edges is not None:
            return edges / f, "outline from its edges (corners outside the frame)"
        return None, "the paper runs out of the frame"
    quad = order_corners(quad)
    # Only a gross miss is corrected: on a curled or waved sheet the hull's corners are the sheet's own and the
    # edges bow, so a straight fit moves them by < 1% of the frame and would tilt the page instead.
    if edges is not None and np.linalg.norm(edges - quad, axis=1).max() > EDGE_FIX_MIN * max(sw, sh):
        quad = edges
    return quad / f, "outline found"


def find_neutral_quad(image: np.ndarray) -> np.ndarray | None:
    """(4, 2) float corners (TL, TR, BR, BL) of the largest colourless region, or None where it runs into the
    frame (a grey or white table, a black desk) or is no quadrilateral.

    Paper is grey, whatever light falls on it; a fold or a shadow across the sheet makes part of it darker,
    and the bright region (find_page_quad) then ends at the fold. Where the table has a colour, the sheet's
    outline is the colourless region's (its grid's colour inside does not matter: the hull covers it).
    Colourless is measured as saturation (chroma over brightness), which a shadow does not change: a shadow
    falling across sheet and table alike leaves the table's shadowed part as coloured as its lit part, where
    its chroma alone fell to the paper's. Near-black pixels tell no colour and count as coloured."""
    h, w = image.shape[:2]
    f = WORK_SIDE / max(h, w)
    small = cv2.GaussianBlur(cv2.resize(image, (max(1, int(w * f)), max(1, int(h * f))),
                                        interpolation=cv2.INTER_AREA), (0, 0), 3)
    top = channel_max(small).astype(np.float32)
    sat = (top - channel_min(small)) / np.maximum(top, 1.0)
    sat = np.where(top >= NEUTRAL_DARK, sat, 1.0)
    _, coloured = cv2.threshold(np.clip(255 * sat, 0, 255).astype(np.uint8), 0, 255,
                                cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((coloured == 0).astype(np.uint8), connectivity=4)
    if n < 2:
        return None
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh, _ = stats[big]
    sh, sw = sat.shape
    if x <= 2 or y <= 2 or x + bw >= sw - 3 or y + bh >= sh - 3:
        return None
    contours, _ = cv2.findContours((labels == big).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    peri = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return order_corners(approx.reshape(4, 2).astype(np.float64)) / f
    return None


def find_grid_quad(image: np.ndarray) -> np.ndarray | None:
    """(4, 2) float corners (TL, TR, BR, BL) of the printed grid's area, or None where it shows no such area.

    On a white table, or with the sheet running out of the picture, the paper's outline is lost; the grid's
    own is not: the only place with fine coloured lines, whatever the background. Its area is a rectangle
    printed on the sheet, so its corners give the perspective as the paper's would. (A grey grid has no
    colour to find: None.)"""
    h, w = image.shape[:2]
    f = WORK_SIDE / max(h, w)
    small = cv2.resize(image, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
    chroma = channel_max(small).astype(np.float32) - channel_min(small)
    fine = chroma - cv2.GaussianBlur(chroma, (0, 0), 2)  # the lines, not the slow colour of a table or a tint
    energy = np.sqrt(cv2.GaussianBlur(fine ** 2, (0, 0), 6))
    energy = np.clip(255 * energy / max(float(energy.max()), 1e-6), 0, 255).astype(np.uint8)
    _, mask = cv2.threshold(energy, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if n < 2:
        return None
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[big, cv2.CC_STAT_AREA] < 0.15 * mask.size:
        return None
    contours, _ = cv2.findContours((labels == big).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    quad = _edge_quad(contour.reshape(-1, 2).astype(np.float64), (mask.shape[1], mask.shape[0]))
    if quad is None:
        return None
    return order_corners(quad) / f


def _edge_quad(contour: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """The paper's corners from its four straight edges, or None where four edges are not seen.

    The bright region's hull is only the page where nothing else is bright: a shadow across a corner cuts it
    off, a sunlit patch of table touching the sheet adds to it, and the hull's corners move by centimetres.
    The edges that are seen stay straight lines, so the longest straight runs of the outline (found one after
    another, RANSAC) are extended to meet."""
    sw, sh = size
    pts = contour[(contour[:, 0] > 2) & (contour[:, 0] < sw - 3) & (contour[:, 1] > 2) & (contour[:, 1] < sh - 3)]
    lines = _straight_runs(pts, tol=2.0, min_run=0.12 * min(sw, sh))
    # two sides across (direction mostly x) and two up-down
    across = _opposite_sides([ln for ln in lines if abs(ln[1][0]) >= abs(ln[1][1])], sh)
    updown = _opposite_sides([ln for ln in lines if abs(ln[1][0]) < abs(ln[1][1])], sw)
    if across is None or updown is None:
        return None
    top, bottom = sorted(across, key=lambda ln: ln[0][1])
    left, right = sorted(updown, key=lambda ln: ln[0][0])
    corners = [_meet(top, left), _meet(top, right), _meet(bottom, right), _meet(bottom, left)]
    if any(c is None for c in corners):
        return None
    quad = np.array(corners)
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return None
    return quad


def _opposite_sides(lines: list[tuple], span: float) -> tuple[tuple, tuple] | None:
    """The strongest line and the side opposite it, or None where no line can be.

    The opposite side runs within SIDE_ANGLE_MAX_DEG of the first (a perspective tilts it no more) and at least
    0.3 `span` from it (closer: two runs of one edge, a notch in it). Of such lines it is the strongest, unless
    another lies well outside it: the straight edge of a shadow across the sheet can be longer than what the
    shadow leaves of the paper's side, but it lies inside the sheet. (The runs of one curled side lie close.)"""
    if not lines:
        return None
    first = lines[0]
    normal = np.array([-first[1][1], first[1][0]])
    dists = [abs(float(np.dot(ln[0] - first[0], normal))) for ln in lines]
    cos_max = np.cos(np.radians(SIDE_ANGLE_MAX_DEG))
    candidates = [k for k in range(1, len(lines))
                  if abs(float(np.dot(lines[k][1], first[1]))) >= cos_max and dists[k] >= 0.3 * span]
    if not candidates:
        return None
    strongest, outer = candidates[0], max(candidates, key=lambda k: dists[k])
    return first, lines[outer if dists[outer] - dists[strongest] > SIDE_OUTSIDE_MIN * span else strongest]


def _straight_runs(pts: np.ndarray, tol: float, min_run: float) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Up to 6 lines (point, unit direction, inlier count), strongest first, each fitted to at least `min_run`
    outline points within `tol` px of it; a line's points are taken out before the next is looked for."""
    lines = []
    for k in range(6):
        if len(pts) < max(min_run, 2):
            break
        inl = _ransac_line(pts, tol, 200, k)  # seeded: the same photo always gives the same page
        if inl is None or inl.sum() < min_run:
            break
        vx, vy, x0, y0 = cv2.fitLine(pts[inl].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0]), np.array([vx, vy]), int(inl.sum())))
        pts = pts[~inl]
    return lines


def _ransac_line(pts: np.ndarray, tol: float, max_trials: int, seed: int, chunk: int = 25) -> np.ndarray | None:
    """The inliers skimage.measure.ransac(pts, LineModelND, min_samples=2, residual_threshold=tol,
    max_trials=max_trials, rng=seed) returns, to the bit: the same random pairs drawn in the same order, the
    same arithmetic per line (the same BLAS calls where it makes them), the same rule for the best line and
    the same early stop; but the residuals of `chunk` trials at a time are computed together (one trial at a
    time, its bookkeeping cost a photo about half a second)."""
    n = len(pts)
    rng = np.random.default_rng(seed)
    draws = [rng.choice(n, 2, replace=False) for _ in range(max_trials)]  # the trials' pairs, in order
    p0, p1 = pts[[d[0] for d in draws]], pts[[d[1] for d in draws]]  # (trials, 2)
    origins = (p0 + p1) / 2.0  # np.mean of the two points
    directions = (p1 - origins) - (p0 - origins)
    norms = np.sqrt([d.dot(d) for d in directions])  # np.linalg.norm, one vector at a time
    directions[norms != 0] /= norms[norms != 0, None]
    px, py = pts[:, 0], pts[:, 1]
    best_num, best_sum, best = 0, np.inf, None
    limit, t = max_trials, 0
    while t < limit:
        sl = slice(t, min(t + chunk, max_trials))
        o, d = origins[sl], directions[sl]
        centred = pts[None, :, :] - o[:, None, :]  # (chunk, n, 2)
        along = np.matmul(centred, d[:, :, None])[..., 0]  # (data - origin) @ direction, trial by trial
        rx = (px[None, :] - o[:, :1]) - along * d[:, :1]
        ry = (py[None, :] - o[:, 1:]) - along * d[:, 1:]
        residuals = np.sqrt(rx * rx + ry * ry)  # np.linalg.norm over the last axis
        inliers = residuals < tol
        counts = np.count_nonzero(inliers, axis=1)
        for i in range(len(counts)):
            if t >= limit:
                break
            count = int(counts[i])
            if count >= best_num:
                r = residuals[i]
                r_sum = r.dot(r)
                if count > best_num or r_sum < best_sum:
                    best_num, best_sum, best = count, r_sum, inliers[i]
                    limit = min(limit, _dynamic_max_trials(best_num, n))
            t += 1
    if best is None or not best.any():
        return None
    return best


def _dynamic_max_trials(n_inliers: int, n_samples: int) -> float:
    """skimage's trial count after which an outlier-free pair has been drawn (stop probability 1)."""
    if n_inliers == 0:
        return np.inf
    eps = np.spacing(1)
    denom = np.clip(1 - (n_inliers / n_samples) ** 2, eps, 1 - eps)
    return float(np.ceil(np.log(np.clip(0.0, eps, 1 - eps)) / np.log(denom)))


def _meet(l1: tuple, l2: tuple) -> np.ndarray | None:
    """Intersection of two lines given as (point, direction, _)."""
    (p, u, _), (q, v, _) = l1, l2
    det = u[0] * (-v[1]) - u[1] * (-v[0])
    if abs(det) < 1e-6:
        return None
    t = ((q - p)[0] * (-v[1]) - (q - p)[1] * (-v[0])) / det
    return p + t * u


def order_corners(pts: np.ndarray) -> np.ndarray:
    """TL, TR, BR, BL for a roughly upright quadrilateral."""
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise in image coordinates, starting near -180 deg (left)
    start = int(np.argmin(pts.sum(axis=1)))  # top-left has the smallest x + y
    return np.roll(pts, -start, axis=0)


def rectify(image: np.ndarray, quad: np.ndarray, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Warp the quadrilateral to an upright rectangle, with `margin` (fraction of its size) of what lies around
    it on every side; returns (image, 3x3 homography photo -> page)."""
    tl, tr, br, bl = quad
    inner_w = round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    inner_h = round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    mx, my = margin * inner_w, margin * inner_h
    width, height = int(round(inner_w + 2 * mx)), int(round(inner_h + 2 * my))
    dst = np.array([[mx, my], [mx + inner_w - 1, my], [mx + inner_w - 1, my + inner_h - 1], [mx, my + inner_h - 1]],
                   np.float64)
    hmat = cv2.getPerspectiveTransform(quad.astype(np.float32), dst.astype(np.float32))
    out = cv2.warpPerspective(image, hmat, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, hmat


def warp_centred(image: np.ndarray, hmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp by a perspective that keeps the image's centre in place (a fitted one may also shift the page, and
    push its margins, the calibration pulses with them, out of view); returns (image, the homography used)."""
    h, w = image.shape[:2]
    centre = np.array([[[(w - 1) / 2.0, (h - 1) / 2.0]]])
    cx, cy = cv2.perspectiveTransform(centre, hmat).ravel()
    hmat = np.array([[1.0, 0.0, (w - 1) / 2.0 - cx], [0.0, 1.0, (h - 1) / 2.0 - cy], [0.0, 0.0, 1.0]]) @ hmat
    out = cv2.warpPerspective(image, hmat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, hmat


def _profile_sharpness(m: np.ndarray, angle: float) -> float:
    h, w = m.shape
    rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    r = cv2.warpAffine(m, rot, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    rows, cols = r.sum(axis=1), r.sum(axis=0)
    return float(np.sum(np.diff(rows) ** 2) + np.sum(np.diff(cols) ** 2))


def estimate_rotation(feature: np.ndarray, max_deg: float, px_per_mm: float | None = None) -> float:
    """Angle (deg, cv2 convention: positive = counter-clockwise) that makes the lines of `feature` (grid darkness
    or ink) horizontal and vertical: the angle whose row and column profiles are sharpest."""
    h, w = feature.shape
    f = min(1.0, 1000.0 / max(h, w))
    if px_per_mm:
        f = max(f, min(1.0, 3.0 / px_per_mm))  # keep the 1 mm lines at >= 3 px
    m = cv2.resize(feature.astype(np.float32), (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)
    best = 0.0
    seen: dict[float, float] = {}  # each finer search starts on the coarser one's best (and may meet its neighbours)
    for step, span in ((0.5, max_deg), (0.1, 0.5), (0.02, 0.1)):
        angles = best + np.arange(-span, span + 1e-9, step)
        scores = [seen[a] if a in seen else seen.setdefault(a, _profile_sharpness(m, a)) for a in angles.tolist()]
        best = float(angles[int(np.argmax(scores))])
    return best


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    h, w = image.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    return cv2.warpAffine(image, rot, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def grid_phase(grid: np.ndarray, valid: np.ndarray, px_per_mm: float, axis: int, sigma_mm: float = 4.0,
               ) -> tuple[np.ndarray, int, np.ndarray]:
    """Where the 1 mm lines across `axis` (0: the horizontal lines, their y) lie relative to a perfect lattice of
    period `px_per_mm`: (displacement px on a coarse grid, its stride px, where the lines were seen rather than
    filled in).

    Complex demodulation: the grid times exp(-2 pi i f0 y), averaged over ~1 mm cells (which cancels the 2 f0
    term) and low-passed with a `sigma_mm` Gaussian (the 5 mm harmonics, 0.2 cycles/mm away, are suppressed
    ~1e-4), keeps the 1 mm comb near f0; its angle is the local line phase. Unwrapped in 2-D (skimage), a line
    shifted by d px has phase -2 pi f0 d. `valid` (float 0/1) marks pixels that may show grid (not the trace)."""
    from skimage.restoration import unwrap_phase

    g = grid if axis == 0 else grid.T
    v = valid if axis == 0 else valid.T
    h, w = g.shape
    f0 = 1.0 / px_per_mm
    carrier = np.exp(-2j * np.pi * f0 * np.arange(h))[:, None]
    stride = max(1, int(round(px_per_mm)))
    size = (max(1, w // stride), max(1, h // stride))
    gv = g * v

    def cells(a: np.ndarray) -> np.ndarray:
        small = cv2.resize(np.ascontiguousarray(a, np.float32), size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (0, 0), sigma_mm * px_per_mm / stride)

    wsum = cells(v) + 1e-3
    z = (cells(gv * carrier.real) + 1j * cells(gv * carrier.imag)) / wsum
    amp = np.abs(z)
    # Text, dense traces and the background carry no grid: there the phase of a far wider window fills in, so
    # the unwrapping never jumps a whole millimetre across a hole.
    wide = 4.0 * sigma_mm * px_per_mm / stride
    big = cv2.GaussianBlur(z.real.astype(np.float32), (0, 0), wide) + \
        1j * cv2.GaussianBlur(z.imag.astype(np.float32), (0, 0), wide)
    seen = amp >= 0.3 * np.median(amp)
    z = np.where(seen, z, big)
    disp = -unwrap_phase(np.angle(z)) / (2 * np.pi * f0)
    disp -= np.median(disp)
    return (disp, stride, seen) if axis == 0 else (disp.T, stride, seen.T)


def grid_lattice_maps(grid: np.ndarray, ink: np.ndarray, ppm_x: float, ppm_y: float,
                      ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Maps that move the page's grid lines onto a perfect lattice of `ppm_x` x `ppm_y` px/mm: remapping with
    them undoes curl, waves, wrinkles, a residual perspective or rotation and any scale error at once.

    Returns (map_x, map_y, rms px of the correction, seen): for each output pixel the input pixel it shows
    (float32, for cv2.remap and for mapping points back to the photo), and whether the grid was seen there in
    both directions (elsewhere the maps are filled in from around)."""
    h, w = grid.shape
    # The trace's grey anti-aliased rim (outside the ink mask) would pull the phase of the lines near it: grow
    # the ink by about half a millimetre before leaving it out.
    r = max(1, int(round(0.5 * min(ppm_x, ppm_y))))
    valid = 1.0 - cv2.dilate(ink.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(np.float32)
    fields, seen = [], np.ones((h, w), bool)
    for axis, ppm in ((0, ppm_y), (1, ppm_x)):
        d, stride, s = grid_phase(grid, valid, ppm, axis)
        # node k of the coarse grid is the centre of cell k: pixel (k + 0.5) * stride - 0.5
        ch, cw = d.shape
        full = cv2.resize(d.astype(np.float32), (cw * stride, ch * stride), interpolation=cv2.INTER_LINEAR)
        fields.append(cv2.copyMakeBorder(full, 0, max(0, h - ch * stride), 0, max(0, w - cw * stride),
                                         cv2.BORDER_REPLICATE)[:h, :w])
        s_full = cv2.resize(s.astype(np.uint8), (cw * stride, ch * stride), interpolation=cv2.INTER_NEAREST)
        seen &= cv2.copyMakeBorder(s_full, 0, max(0, h - ch * stride), 0, max(0, w - cw * stride),
                                   cv2.BORDER_REPLICATE)[:h, :w] > 0
    dy, dx = fields
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # The field is measured where the lines are seen (source positions); for a smooth field sampling it at
    # the output position is a sub-pixel approximation, refined once by a fixed-point step.
    map_x, map_y = xs + dx, ys + dy
    dx2 = cv2.remap(dx, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    dy2 = cv2.remap(dy, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # measured where the grid is seen: elsewhere (margins, the table) the maps are only filled in
    rms = float(np.sqrt(np.mean((dx ** 2 + dy ** 2)[seen]))) if seen.any() else 0.0
    return xs + dx2, ys + dy2, rms, seen


def lattice_homography(map_x: np.ndarray, map_y: np.ndarray, seen: np.ndarray, px_per_mm: float,
                       step_mm: float = 5.0, min_inliers: float = 0.3) -> np.ndarray | None:
    """The perspective (3x3, page -> lattice) that best moves the grid onto its lattice, from the lattice maps
    where the grid was seen, or None where no single perspective explains `min_inliers` of them.

    A page outline that was missed or misplaced leaves a perspective that moves the lines by millimetres:
    far more than curl, and more than the lattice maps can be trusted with near the grid's edges. A phase
    unwrapping failure instead moves a patch by whole millimetres, which RANSAC leaves out (tolerance 0.5 mm)."""
    h, w = seen.shape
    step = max(1, int(round(step_mm * px_per_mm)))
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    ok = seen[ys, xs]
    if ok.sum() < 20:
        return None
    dst = np.stack([xs[ok], ys[ok]], axis=1).astype(np.float32)
    src = np.stack([map_x[ys[ok], xs[ok]], map_y[ys[ok], xs[ok]]], axis=1).astype(np.float32)
    hmat, inl = cv2.findHomography(src, dst, cv2.RANSAC, 0.5 * px_per_mm)
    if hmat is None or inl.mean() < min_inliers:
        return None
    return hmat

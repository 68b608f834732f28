"""Find the paper in a photo and make it flat and upright: outline -> perspective, grid -> rotation, grid
phase -> curl. Each step returns what it did so the digitizer can report it."""
from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from vizecg.digitize.ink import channel_max

WORK_SIDE = 900  # the outline is found on a copy this long: plenty for a quadrilateral, fast


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
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
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
    if on_edge >= 2:
        return None, "the paper runs out of the frame"
    return order_corners(quad / f), "outline found"


def order_corners(pts: np.ndarray) -> np.ndarray:
    """TL, TR, BR, BL for a roughly upright quadrilateral."""
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise in image coordinates, starting near -180 deg (left)
    start = int(np.argmin(pts.sum(axis=1)))  # top-left has the smallest x + y
    return np.roll(pts, -start, axis=0)


def rectify(image: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp the quadrilateral to an upright rectangle; returns (image, 3x3 homography photo -> page)."""
    tl, tr, br, bl = quad
    width = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    height = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float64)
    hmat = cv2.getPerspectiveTransform(quad.astype(np.float32), dst.astype(np.float32))
    out = cv2.warpPerspective(image, hmat, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
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
    for step, span in ((0.5, max_deg), (0.1, 0.5), (0.02, 0.1)):
        angles = best + np.arange(-span, span + 1e-9, step)
        scores = [_profile_sharpness(m, a) for a in angles]
        best = float(angles[int(np.argmax(scores))])
    return best


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    h, w = image.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    return cv2.warpAffine(image, rot, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def grid_displacement(grid: np.ndarray, px_per_mm: float, axis: int, tile_mm: float = 25.0) -> np.ndarray | None:
    """Smooth displacement (px) of the grid lines across the page along `axis` (0: vertical shift of the
    horizontal lines, as a function of x and y), from the local phase of the 1 mm line frequency in tiles.

    Returns an (H, W) float32 field or None when the grid is too weak to measure. The phase is measured modulo
    1 mm, so the field is unwrapped across tiles and its page-wide mean removed (a global shift is harmless).
    """
    g = grid if axis == 0 else grid.T
    h, w = g.shape
    tile = int(round(tile_mm * px_per_mm))
    if tile < 16 or h < 2 * tile or w < 2 * tile:
        return None
    step = tile // 2
    ys = np.arange(0, h - tile + 1, step)
    xs = np.arange(0, w - tile + 1, step)
    freq = 1.0 / px_per_mm
    yy = np.arange(tile)
    carrier = np.exp(-2j * np.pi * freq * yy) * np.hanning(tile)
    phase = np.zeros((len(ys), len(xs)))
    amp = np.zeros_like(phase)
    for i, y0 in enumerate(ys):
        block = g[y0:y0 + tile]
        for j, x0 in enumerate(xs):
            prof = block[:, x0:x0 + tile].mean(axis=1)
            z = np.dot(prof - prof.mean(), carrier)
            phase[i, j] = np.angle(z * np.exp(-2j * np.pi * freq * y0))
            amp[i, j] = abs(z)
    if np.median(amp) <= 0:
        return None
    # unwrap along both directions (rows then columns), then convert to pixels
    un = np.unwrap(np.unwrap(phase, axis=0), axis=1)
    disp = -un / (2 * np.pi * freq)
    disp -= np.median(disp)
    centres_y = ys + tile / 2.0
    centres_x = xs + tile / 2.0
    field = cv2.resize(disp.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    # cv2.resize spreads tile values over the whole image; re-centre by a small shift is below a tile: ignored.
    del centres_y, centres_x
    field = gaussian_filter1d(gaussian_filter1d(field, tile / 2, axis=0), tile / 2, axis=1)
    return field if axis == 0 else field.T

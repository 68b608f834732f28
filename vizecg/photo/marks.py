"""What covers the paper without moving it: pen marks and stains (drawn on the flat page, so they bend with the
sheet), fingers and glare (drawn on the frame), and the photocopier's tone curve, specks and streaks.

Every function draws from the Generator it is given, returns its parameters for `photo_params` and, for the
occluders, the boxes they cover (`Occlusion`), so evaluation can tell a beat hidden by a thumb from a missed one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vizecg.photo.config import (PEN_COLORS, FingerConfig, GlareConfig, PenConfig, PhotocopyConfig, StainConfig)
from vizecg.render.truth import Box, PageTruth


@dataclass(frozen=True)
class Occlusion:
    """A region whose ink is hidden or washed out, in the coordinates of the image it is stored with."""

    kind: str  # "finger", "pen", "stain", "glare"
    box: Box


def _smooth1d(rng: np.random.Generator, n: int, knots: int) -> np.ndarray:
    """(n,) smooth noise in about [-1, 1]: random knots, linearly interpolated."""
    k = rng.uniform(-1, 1, max(2, knots))
    return np.interp(np.linspace(0, len(k) - 1, n), np.arange(len(k)), k)


# --- pen marks (page coordinates) ---------------------------------------------------------------------------------
def _handwriting(rng: np.random.Generator, mm: float) -> list[np.ndarray]:
    """Cursive-looking lines: letters are loops of varying height along a slanted, wavering baseline."""
    lh, lw = rng.uniform(2.5, 4.5) * mm, rng.uniform(1.5, 2.8) * mm
    strokes = []
    for line in range(int(rng.integers(1, 4))):
        x = 0.0
        for _ in range(int(rng.integers(1, 4))):
            n = int(rng.integers(3, 8))
            t = np.linspace(0, n, n * 16)
            tall = np.repeat(rng.choice([1.0, 1.0, 1.0, 1.9, -0.7], n), 16)  # ascenders, descenders
            tall = np.convolve(tall, np.ones(5) / 5, mode="same")
            ph = rng.uniform(0, 2 * np.pi)
            xs = x + t * lw + 0.35 * lw * np.cos(2 * np.pi * t + ph)
            ys = -0.5 * lh * (1 + np.sin(2 * np.pi * t + ph)) * np.where(tall < 0, 1.0, tall)
            ys = np.where(tall < 0, -ys * 0.8, ys) + line * 2.4 * lh + 0.3 * lh * _smooth1d(rng, len(t), 4)
            strokes.append(np.stack([xs, ys], 1))
            x = xs.max() + rng.uniform(1.5, 3.0) * lw
    slant = np.radians(rng.uniform(-10, 10))
    rot = np.array([[np.cos(slant), -np.sin(slant)], [np.sin(slant), np.cos(slant)]])
    return [s @ rot.T for s in strokes]


def _pen_shape(kind: str, rng: np.random.Generator, mm: float) -> list[np.ndarray]:
    """Strokes of one mark centred near (0, 0), in page px."""
    if kind == "handwriting":
        strokes = _handwriting(rng, mm)
        centre = np.concatenate(strokes).mean(0)
        return [s - centre for s in strokes]
    if kind == "circle":  # a loop drawn round a beat: not quite closed, not quite round
        r = rng.uniform(5, 14) * mm
        a = np.linspace(0, 2 * np.pi + rng.uniform(0.2, 0.9), 120) + rng.uniform(0, 2 * np.pi)
        rad = r * (1 + 0.12 * _smooth1d(rng, len(a), 5))
        return [np.stack([rad * np.cos(a) * rng.uniform(1.0, 1.6), rad * np.sin(a)], 1)]
    if kind == "underline":
        length = rng.uniform(15, 60) * mm
        x = np.linspace(-length / 2, length / 2, 60)
        return [np.stack([x, 0.8 * mm * _smooth1d(rng, len(x), 3) + rng.uniform(-0.03, 0.03) * x], 1)]
    if kind == "tick":
        s = rng.uniform(3, 8) * mm
        return [np.array([[-0.5 * s, 0.0], [-0.1 * s, 0.45 * s], [0.6 * s, -0.6 * s]])]
    if kind == "scribble":  # hatching back and forth, as when a reader blacks something out
        n, size = int(rng.integers(5, 14)), rng.uniform(5, 15) * mm
        xs = np.where(np.arange(n) % 2 == 0, -size / 2, size / 2) + rng.uniform(-0.15, 0.15, n) * size
        ys = np.linspace(-size / 3, size / 3, n) + rng.uniform(-0.05, 0.05, n) * size
        return [np.stack([xs, ys], 1)]
    raise ValueError(f"unknown pen mark {kind!r}")


def draw_pen_marks(img: np.ndarray, cfg: PenConfig, truth: PageTruth, mm: float, rng: np.random.Generator
                   ) -> tuple[np.ndarray, dict[str, Any], list[Occlusion]]:
    """Ballpoint strokes drawn on a copy of the flat page; half-transparent ink darkens what lies under it."""
    h, w = img.shape[:2]
    ink = np.zeros((h, w), np.uint8)
    marks, occ = [], []
    color = np.array(PEN_COLORS[cfg.colors[int(rng.integers(len(cfg.colors)))]], np.float32)
    thick = max(1, int(round(rng.uniform(*cfg.width_mm) * mm)))
    panels = [lt for lt in truth.leads if lt.present]
    for _ in range(int(rng.integers(cfg.count[0], cfg.count[1] + 1))):
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        on_trace = bool(rng.random() < cfg.over_trace) and bool(panels)
        beats = [b for b in truth.beats if b.visible]
        if on_trace and kind == "circle" and beats:
            centre = np.array(beats[int(rng.integers(len(beats)))].r_peak, np.float64)
        elif on_trace:
            pb = panels[int(rng.integers(len(panels)))].panel_box
            centre = rng.uniform([pb.x0, pb.y0], [max(pb.x1, pb.x0 + 1), max(pb.y1, pb.y0 + 1)])
        else:
            centre = rng.uniform([0.05 * w, 0.05 * h], [0.95 * w, 0.95 * h])
        strokes = [s + centre for s in _pen_shape(kind, rng, mm)]
        cv2.polylines(ink, [np.round(s * 16).astype(np.int32) for s in strokes], False, 255, thick, cv2.LINE_AA,
                      shift=4)
        pts = np.concatenate(strokes)
        lo, hi = pts.min(0) - thick, pts.max(0) + thick
        box = Box(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])).clip(w, h)
        marks.append({"kind": kind, "box": box.as_list(), "on_trace": on_trace})
        if box.width > 0 and box.height > 0:
            occ.append(Occlusion("pen", box))
    opacity = float(rng.uniform(0.7, 0.95))
    a = (ink.astype(np.float32) * (opacity / 255.0))[..., None]
    out = np.clip(img * (1 - a) + np.minimum(img, color) * a, 0, 255).astype(np.uint8)  # ink never lightens
    return out, {"color": color.tolist(), "width_px": thick, "opacity": opacity, "marks": marks}, occ


# --- stains (page coordinates) ------------------------------------------------------------------------------------
def draw_stains(img: np.ndarray, cfg: StainConfig, mm: float, rng: np.random.Generator
                ) -> tuple[np.ndarray, dict[str, Any], list[Occlusion]]:
    """Irregular blots that absorb blue light most (brown) and more on their dried rim."""
    h, w = img.shape[:2]
    out = img.copy()
    stains, occ = [], []
    for _ in range(int(rng.integers(cfg.count[0], cfg.count[1] + 1))):
        r = rng.uniform(*cfg.radius_mm) * mm
        c = rng.uniform([0, 0], [w, h])
        a = np.linspace(0, 2 * np.pi, 90, endpoint=False)
        rad = r * (1 + 0.18 * _smooth1d(rng, len(a) + 1, 7)[:-1])
        poly = c + np.stack([np.cos(a), np.sin(a)], 1) * rad[:, None]
        x0, y0 = np.floor(poly.min(0) - 4).astype(int)
        x1, y1 = np.ceil(poly.max(0) + 4).astype(int)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        density, ring = float(rng.uniform(*cfg.density)), float(rng.uniform(*cfg.ring))
        absorb = np.array([0.35, 0.6, 0.9], np.float32) * rng.uniform(0.8, 1.2)  # R, G, B: coffee brown
        stains.append({"centre": c.tolist(), "radius_px": float(r), "density": density, "ring": ring})
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        edge = max(0.5, 0.3 * mm)
        mask = cv2.GaussianBlur(mask, (0, 0), edge)
        rim_w = max(1, int(round(rng.uniform(0.5, 1.5) * mm)))
        rim = np.clip(mask - cv2.erode(mask, np.ones((2 * rim_w + 1,) * 2, np.uint8)), 0, 1)
        tex = 1 + 0.3 * cv2.resize(rng.standard_normal((8, 8)).astype(np.float32), mask.shape[::-1],
                                   interpolation=cv2.INTER_CUBIC)
        take = np.clip(density * mask * tex + ring * rim, 0, 0.9)[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        crop = out[cy0:cy1, cx0:cx1].astype(np.float32)
        out[cy0:cy1, cx0:cx1] = np.clip(crop * (1 - take[..., None] * absorb), 0, 255).astype(np.uint8)
        occ.append(Occlusion("stain", Box(float(cx0), float(cy0), float(cx1), float(cy1))))
    return out, {"stains": stains}, occ


# --- fingers (frame coordinates) ----------------------------------------------------------------------------------
def _skin(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0.02, 0.08) * 179, rng.uniform(0.25, 0.55) * 255, rng.uniform(0.4, 0.95) * 255]]])
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def draw_fingers(out: np.ndarray, cfg: FingerConfig, corners: np.ndarray, px_per_mm: float,
                 rng: np.random.Generator) -> tuple[dict[str, Any], list[Occlusion]]:
    """Fingers reaching over the page's edge from outside the frame, drawn in place on `out` (the frame).
    corners: (4, 2) the page's corners in the frame (clockwise from top-left)."""
    H, W = out.shape[:2]
    centre = corners.mean(0)
    fingers, occ = [], []
    for _ in range(int(rng.integers(cfg.count[0], cfg.count[1] + 1))):
        side = int(rng.integers(4))
        a, b = corners[side], corners[(side + 1) % 4]
        edge_pt = a + rng.uniform(0.1, 0.9) * (b - a)
        inward = centre - edge_pt
        ang = np.arctan2(inward[1], inward[0]) + np.radians(rng.uniform(-25, 25))
        d = np.array([np.cos(ang), np.sin(ang)])
        width = rng.uniform(*cfg.width_mm) * px_per_mm
        tip = edge_pt + d * rng.uniform(*cfg.reach_mm) * px_per_mm
        base = tip - d * (np.hypot(W, H) * 0.6 + width)  # from well outside the frame
        # The finger's local box (crop), clipped to the frame.
        lo = np.floor(np.minimum(tip, base) - width).astype(int)
        hi = np.ceil(np.maximum(tip, base) + width).astype(int)
        shadow_shift = rng.uniform(-1, 1, 2) * 0.25 * width
        x0, y0 = max(0, lo[0] - int(abs(shadow_shift[0])) - 2), max(0, lo[1] - int(abs(shadow_shift[1])) - 2)
        x1, y1 = min(W, hi[0] + int(abs(shadow_shift[0])) + 2), min(H, hi[1] + int(abs(shadow_shift[1])) + 2)
        skin = _skin(rng)
        dark = float(rng.uniform(*cfg.shadow))
        nail = bool(rng.random() < 0.6)
        fingers.append({"tip": tip.tolist(), "direction_deg": float(np.degrees(ang)), "width_px": float(width),
                        "skin_rgb": skin.tolist(), "shadow": dark, "nail": nail})
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rel_x, rel_y = xx - tip[0], yy - tip[1]
        along = -(rel_x * d[0] + rel_y * d[1])  # distance back from the tip along the finger
        across = rel_x * -d[1] + rel_y * d[0]
        r = width / 2
        # A capsule: a half-disc at the tip, a band of width 2r behind it, widening slightly toward the hand.
        radius = r * (1 + 0.1 * np.clip(along / (4 * width), 0, 1))
        dist = np.where(along > 0, np.abs(across) / radius, np.hypot(across, along) / r)
        soft = max(0.6, 0.04 * width)
        m = np.clip((1 - dist) * r / soft, 0, 1)
        shadow = cv2.GaussianBlur(m, (0, 0), max(1.0, 0.25 * width))
        shadow = cv2.warpAffine(shadow, np.float32([[1, 0, shadow_shift[0]], [0, 1, shadow_shift[1]]]),
                                shadow.shape[::-1], borderMode=cv2.BORDER_REPLICATE)
        shade = 0.65 + 0.35 * np.sqrt(np.clip(1 - (np.clip(dist, 0, 1)) ** 2, 0, 1))  # a lit cylinder
        color = skin * shade[..., None]
        if nail:
            nd = np.hypot(across / (0.55 * r), (along - 0.55 * width) / (0.5 * width))
            nm = np.clip((1 - nd) * 4, 0, 1)[..., None] * 0.6
            color = color * (1 - nm) + np.minimum(255, skin * 1.25 + 25) * nm
        crop = out[y0:y1, x0:x1].astype(np.float32) * (1 - dark * shadow * (1 - m))[..., None]
        out[y0:y1, x0:x1] = np.clip(crop * (1 - m[..., None]) + color * m[..., None], 0, 255).astype(np.uint8)
        ys, xs = np.nonzero(m > 0.5)
        if len(xs):
            occ.append(Occlusion("finger", Box(float(xs.min() + x0), float(ys.min() + y0), float(xs.max() + x0 + 1),
                                               float(ys.max() + y0 + 1))))
    return {"fingers": fingers}, occ


# --- glare (frame coordinates, coarse grid) -----------------------------------------------------------------------
def paper_glare_alpha(cfg: GlareConfig, grid: tuple[int, int], rng: np.random.Generator
                      ) -> tuple[np.ndarray, dict[str, Any]]:
    """(gh, gw) whitening of a reflection on glossy paper: a soft ellipse with a sharper bright core."""
    gw, gh = grid
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    cx, cy = rng.uniform(0.15, 0.85) * gw, rng.uniform(0.15, 0.85) * gh
    ax, ay = rng.uniform(*cfg.size) * gw, rng.uniform(*cfg.size) * gh * rng.uniform(0.4, 1.0)
    ang = rng.uniform(0, np.pi)
    c, s = np.cos(ang), np.sin(ang)
    dx, dy = xx - cx, yy - cy
    r2 = ((dx * c + dy * s) / ax) ** 2 + ((-dx * s + dy * c) / ay) ** 2
    peak = float(rng.uniform(*cfg.peak))
    alpha = np.clip(peak * (0.75 * np.exp(-r2) + 0.35 * np.exp(-6 * r2)), 0, 1)
    return alpha, {"centre": [cx / gw, cy / gh], "axes": [ax / gw, ay / gh], "angle_deg": float(np.degrees(ang)),
                   "peak": peak}


# --- photocopy (frame coordinates) --------------------------------------------------------------------------------
def photocopy(out: np.ndarray, cfg: PhotocopyConfig, px_per_mm: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, dict[str, Any]]:
    """Grey toner through a hard tone curve (light grid lines print as paper), specks, streaks."""
    H, W = out.shape[:2]
    white, black = float(rng.uniform(*cfg.white)), float(rng.uniform(*cfg.black))
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    v = np.clip((grey - black) / (white - black), 0, 1)
    streaks = []
    if rng.random() < cfg.streak_p:
        for _ in range(int(rng.integers(1, 3))):
            x, sw = rng.uniform(0, W), rng.uniform(1, 4) * px_per_mm
            dark = float(rng.uniform(0.05, 0.2))
            band = np.exp(-((np.arange(W, dtype=np.float32) - x) / sw) ** 2)[None, :]
            along = (1 + 0.5 * _smooth1d(rng, H, 12)).astype(np.float32)[:, None]
            v *= 1 - dark * band * along
            streaks.append({"x": float(x), "width_px": float(sw), "dark": dark})
    speck = float(rng.uniform(*cfg.speck))
    n = int(speck * W * H)
    v8 = np.round(v * 255).astype(np.uint8)
    if n:
        xy = rng.uniform([0, 0], [W, H], (n, 2)).astype(int)
        rad = rng.integers(0, max(1, int(round(0.15 * px_per_mm))) + 1, n)
        for (x, y), r in zip(xy, rad):
            cv2.circle(v8, (int(x), int(y)), int(r), int(rng.integers(0, 90)), -1)
    return cv2.merge([v8, v8, v8]), {"white": white, "black": black, "speck": speck, "specks": n, "streaks": streaks}


def beats_covered(truth: PageTruth, box: Box, min_overlap: float = 0.3) -> list[int]:
    """Indices of visible beats whose box is covered by `box` over at least `min_overlap` of its area."""
    hit = []
    for i, b in enumerate(truth.beats):
        if not b.visible or b.box.width <= 0 or b.box.height <= 0:
            continue
        ix = max(0.0, min(b.box.x1, box.x1) - max(b.box.x0, box.x0))
        iy = max(0.0, min(b.box.y1, box.y1) - max(b.box.y0, box.y0))
        if ix * iy >= min_overlap * b.box.width * b.box.height:
            hit.append(i)
    return hit

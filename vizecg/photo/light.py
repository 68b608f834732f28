"""What the camera sees besides the paper's geometry: the surface around the page, uneven light and shadows,
and the artefacts of photographing a monitor (pixel grid, moire, glare).

Low-frequency fields are computed on the coarse grid of the frame and upsampled once; every function draws
from the Generator it is given and returns its parameters for `photo_params`.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from vizecg.photo.config import LightingConfig, MoireConfig, ScreenConfig


def smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """(h, w) float32 noise in about [-1, 1] with ~`cells` blobs across: random nodes, cubic-upsampled."""
    w, h = size
    cx = max(2, cells)
    cy = max(2, int(round(cells * h / max(w, 1))))
    nodes = rng.standard_normal((cy, cx), dtype=np.float32) * 0.5
    return cv2.resize(nodes, (w, h), interpolation=cv2.INTER_CUBIC)


def _hsv_rgb(h: float, s: float, v: float) -> np.ndarray:
    px = cv2.cvtColor(np.array([[[h * 179, s * 255, v * 255]]], np.uint8), cv2.COLOR_HSV2RGB)
    return px[0, 0].astype(np.float32)


def background(kind: str, size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A procedural surface behind the page, (H, W, 3) uint8 RGB, built at quarter resolution and upsampled
    (the sensor noise added later supplies the fine grain)."""
    W, H = size
    hw, hh = max(W // 4, 2), max(H // 4, 2)
    yy, xx = np.mgrid[0:hh, 0:hw].astype(np.float32)
    shade = 1.0 + 0.08 * smooth_noise(rng, (hw, hh), int(rng.integers(2, 6)))
    grain_std = float(rng.uniform(0.01, 0.04))
    if kind == "white":  # scanner lid, white desk
        base = _hsv_rgb(rng.uniform(0, 1), rng.uniform(0, 0.06), rng.uniform(0.82, 0.97))
        tex = np.ones_like(xx)
    elif kind == "table":
        base = _hsv_rgb(rng.uniform(0, 1), rng.uniform(0.05, 0.4), rng.uniform(0.25, 0.85))
        tex = 1.0 + 0.06 * smooth_noise(rng, (hw, hh), int(rng.integers(8, 30)))
    elif kind == "wood":
        base = _hsv_rgb(rng.uniform(0.04, 0.1), rng.uniform(0.35, 0.7), rng.uniform(0.3, 0.75))
        ang = rng.uniform(0, np.pi)
        period = rng.uniform(0.015, 0.05) * hw
        warp = smooth_noise(rng, (hw, hh), int(rng.integers(3, 8))) * period * 3
        phase = 2 * np.pi * ((xx * np.cos(ang) + yy * np.sin(ang)) + warp) / period
        tex = 1.0 + 0.12 * np.sin(phase) + 0.05 * np.sin(2.7 * phase + 1.0)
    elif kind == "cloth":
        base = _hsv_rgb(rng.uniform(0, 1), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.8))
        period = rng.uniform(2.2, 4.0)  # quarter-res px
        tex = 1.0 + 0.12 * np.sin(2 * np.pi * xx / period)[..., :] * np.sin(2 * np.pi * yy / period)
        tex = tex + 0.05 * smooth_noise(rng, (hw, hh), int(rng.integers(10, 40)))
    elif kind == "dark":
        base = _hsv_rgb(rng.uniform(0, 1), rng.uniform(0, 0.3), rng.uniform(0.06, 0.25))
        tex = 1.0 + 0.1 * smooth_noise(rng, (hw, hh), int(rng.integers(5, 20)))
    elif kind == "bezel":  # monitor frame and a dark room
        base = _hsv_rgb(rng.uniform(0, 1), rng.uniform(0, 0.15), rng.uniform(0.03, 0.12))
        tex = 1.0 + 0.3 * smooth_noise(rng, (hw, hh), 3)
    elif kind == "photo":
        return _photo_background(size, rng)
    elif kind == "papers":
        return _papers_background(size, rng)
    else:
        raise ValueError(f"unknown background {kind!r}")
    grain = rng.standard_normal((hh, hw), dtype=np.float32) * grain_std
    img = base[None, None, :] * (shade * tex + grain)[..., None]
    img = cv2.resize(np.clip(img, 0, 255).astype(np.uint8), (W, H), interpolation=cv2.INTER_LINEAR)
    return img, {"kind": kind, "rgb": base.tolist(), "grain_std": grain_std}


def lighting_gain(cfg: LightingConfig, q: np.ndarray, frame: tuple[int, int], grid: tuple[int, int],
                  rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """(gh, gw) multiplicative light field over the frame: gradient, blotches, vignette, soft shadows."""
    W, H = frame
    gw, gh = grid
    qn = (q.reshape(gh, gw, 2) / [W, H]).astype(np.float32)  # frame coordinates in [0, 1]
    gain = np.ones((gh, gw), np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    d = np.array([np.cos(ang), np.sin(ang)], np.float32)
    ramp = (qn - 0.5) @ d
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    grad = float(rng.uniform(*cfg.gradient))
    gain *= 1.0 - grad * ramp
    blotch = float(rng.uniform(*cfg.blotch))
    gain *= 1.0 + blotch * smooth_noise(rng, (gw, gh), int(rng.integers(2, 6)))
    vig = float(rng.uniform(*cfg.vignette))
    r2 = ((qn - 0.5) ** 2).sum(-1) * 2.0
    gain *= 1.0 - vig * r2
    shadows = []
    if rng.random() < cfg.shadow_p:
        for _ in range(int(rng.integers(cfg.shadow_count[0], cfg.shadow_count[1] + 1))):
            # A blob (hand, phone, head) reaching in from outside the frame, with a soft penumbra.
            side = rng.uniform(0, 2 * np.pi)
            centre = np.array([0.5 + 0.6 * np.cos(side), 0.5 + 0.6 * np.sin(side)]) * [gw, gh]
            radius = rng.uniform(0.25, 0.6) * max(gw, gh)
            k = int(rng.integers(5, 9))
            angles = np.sort(rng.uniform(0, 2 * np.pi, k))
            radii = radius * rng.uniform(0.6, 1.0, k)
            poly = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
            mask = np.zeros((gh, gw), np.float32)
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1.0)
            soft = float(rng.uniform(0.01, 0.06))
            mask = cv2.GaussianBlur(mask, (0, 0), max(soft * max(gw, gh), 0.5))
            dark = float(rng.uniform(*cfg.shadow_dark))
            gain *= 1.0 - dark * mask
            shadows.append({"polygon": (poly / [gw, gh]).tolist(), "softness": soft, "dark": dark})
    params = {"gradient": grad, "gradient_dir_deg": float(np.degrees(ang)), "blotch": blotch, "vignette": vig,
              "shadows": shadows}
    return np.clip(gain, 0.05, 2.0), params


def page_drop_shadow(inside: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Darkening of the surface just outside the paper: the sheet's own soft shadow (coarse grid)."""
    gh, gw = inside.shape
    sigma = float(rng.uniform(0.003, 0.012)) * max(gw, gh)
    shift = rng.uniform(-1, 1, 2) * sigma
    m = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), max(sigma, 0.5))
    m = cv2.warpAffine(m, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (gw, gh), borderMode=cv2.BORDER_REPLICATE)
    strength = float(rng.uniform(0.1, 0.45))
    return 1.0 - strength * m * (1.0 - inside), {"sigma_frac": sigma / max(gw, gh), "strength": strength}


def screen_pixel_grid(cfg: ScreenConfig, size: tuple[int, int], px_per_mm: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """(h, w, 3) float32 gain of a monitor's pixel structure on the displayed page: RGB stripes, dark gaps."""
    w, h = size
    pitch = float(rng.uniform(*cfg.pixel_pitch_mm)) * px_per_mm
    dark = float(rng.uniform(*cfg.grid_dark))
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    rows = 1.0 - dark * np.maximum(0.0, np.cos(2 * np.pi * ys / pitch)) ** 4
    cols = np.stack([1.0 - dark + dark * (0.5 + 0.5 * np.cos(2 * np.pi * (xs / pitch - c / 3))) for c in range(3)], 1)
    return rows[:, None, None] * cols[None, :, :], {"pitch_px": pitch, "dark": dark}


def moire_gain(cfg: ScreenConfig, q: np.ndarray, grid: tuple[int, int], px_per_mm: float,
               rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """(gh, gw, 3) gain of interference bands: slightly curved, colour-fringed (phase differs per channel)."""
    gw, gh = grid
    qq = q.reshape(gh, gw, 2).astype(np.float32)
    period = float(rng.uniform(*cfg.moire_period_mm)) * px_per_mm
    ang = rng.uniform(0, np.pi)
    k = np.array([np.cos(ang), np.sin(ang)], np.float32) / period
    centre = qq.reshape(-1, 2).mean(0)
    bend = float(rng.uniform(-1, 1)) / (period * 40)
    phase = 2 * np.pi * (qq @ k + bend * ((qq - centre) ** 2).sum(-1) / 2)
    amp = float(rng.uniform(*cfg.moire))
    fringe = float(rng.uniform(0.3, 1.2))
    gain = np.stack([1.0 + amp * np.cos(phase + c * fringe) for c in range(3)], -1)
    return gain, {"amplitude": amp, "period_px": period, "angle_deg": float(np.degrees(ang)), "bend": bend,
                  "fringe": fringe}


def strong_moire_gain(cfg: MoireConfig, q: np.ndarray, grid: tuple[int, int], px_per_mm: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """(gh, gw, 3) gain of broad curved moire bands (MoireConfig). The bands are circles about a centre outside
    the frame (radius = diagonal / bend), so they bend without ever closing into a bullseye."""
    gw, gh = grid
    qq = q.reshape(gh, gw, 2).astype(np.float64)
    diag = float(np.hypot(*(qq[-1, -1] - qq[0, 0])))
    period = float(rng.uniform(*cfg.period_mm)) * px_per_mm
    ang = rng.uniform(0, 2 * np.pi)
    bend = float(rng.uniform(*cfg.bend))
    radius = diag / max(bend, 1e-3)
    mid = qq.reshape(-1, 2).mean(0)
    centre = mid - radius * np.array([np.cos(ang), np.sin(ang)])
    r = np.hypot(qq[..., 0] - centre[0], qq[..., 1] - centre[1])
    phase = 2 * np.pi * r / period
    tilt = np.radians(rng.uniform(3, 15))  # the second beat: a grating rotated a little, 2-4 times coarser
    k2 = np.array([np.cos(ang + np.pi / 2 + tilt), np.sin(ang + np.pi / 2 + tilt)]) / (period * rng.uniform(2, 4))
    beat = 0.6 + 0.4 * np.cos(2 * np.pi * (qq @ k2) + rng.uniform(0, 2 * np.pi))
    amp = float(rng.uniform(*cfg.amplitude))
    fringe = float(rng.uniform(0.5, 1.5))
    gain = np.stack([1.0 + amp * beat * np.cos(phase + c * fringe) for c in range(3)], -1).astype(np.float32)
    return gain, {"amplitude": amp, "period_px": period, "direction_deg": float(np.degrees(ang)), "bend": bend,
                  "fringe": fringe, "beat_tilt_deg": float(np.degrees(tilt))}


def glare_alpha(cfg: ScreenConfig, grid: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """(gh, gw) whitening of a light's reflection on the screen: a soft rotated ellipse."""
    gw, gh = grid
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    cx, cy = rng.uniform(0.1, 0.9) * gw, rng.uniform(0.1, 0.9) * gh
    ax, ay = rng.uniform(0.08, 0.35) * gw, rng.uniform(0.05, 0.25) * gh
    ang = rng.uniform(0, np.pi)
    c, s = np.cos(ang), np.sin(ang)
    dx, dy = xx - cx, yy - cy
    r2 = ((dx * c + dy * s) / ax) ** 2 + ((-dx * s + dy * c) / ay) ** 2
    peak = float(rng.uniform(*cfg.glare))
    return peak * np.exp(-r2), {"centre": [cx / gw, cy / gh], "axes": [ax / gw, ay / gh],
                                "angle_deg": float(np.degrees(ang)), "peak": peak}


# Real photographs bundled inside scikit-image's wheel (no download): a desk with a cup, brick, gravel, printed text.
PHOTO_BACKGROUNDS = ("coffee", "brick", "gravel", "text", "page")


def _photo_background(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A random crop of a bundled real photo, flipped/rotated, tinted when grey, out of focus like a background."""
    import skimage.data  # only here: a second's import most photos never need

    W, H = size
    name = PHOTO_BACKGROUNDS[int(rng.integers(len(PHOTO_BACKGROUNDS)))]
    im = getattr(skimage.data, name)()
    if im.ndim == 2:
        tint = _hsv_rgb(rng.uniform(0, 1), rng.uniform(0.05, 0.35), 1.0) / 255.0
        im = np.clip(im[..., None] * tint, 0, 255).astype(np.uint8)
    im = np.rot90(im, int(rng.integers(4)))
    if rng.random() < 0.5:
        im = im[:, ::-1]
    h, w = im.shape[:2]
    frac = rng.uniform(0.5, 1.0)
    ch, cw = max(8, int(h * frac)), max(8, int(w * frac))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = np.ascontiguousarray(im[y0:y0 + ch, x0:x0 + cw])
    img = cv2.resize(crop, (W, H), interpolation=cv2.INTER_LINEAR)
    gain = float(rng.uniform(0.6, 1.05))
    img = np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return img, {"kind": "photo", "photo": name, "crop": [x0, y0, cw, ch], "gain": gain}


def _papers_background(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A desk with other sheets lying on it: forms and letters (lines of grey 'text'), rotated, half in view.
    Around a real ECG page the camera often sees more paper, not a clean table."""
    W, H = size
    img, desk = background(("table", "wood", "dark")[int(rng.integers(3))], size, rng)
    sheets = []
    for _ in range(int(rng.integers(2, 6))):
        c = rng.uniform([-0.1 * W, -0.1 * H], [1.1 * W, 1.1 * H])
        sw, sh = rng.uniform(0.3, 0.7) * W, rng.uniform(0.3, 0.7) * H
        ang = rng.uniform(-40, 40)
        rect = cv2.boxPoints(((float(c[0]), float(c[1])), (float(sw), float(sh)), float(ang)))
        paper = _hsv_rgb(rng.uniform(0, 1), rng.uniform(0, 0.12), rng.uniform(0.75, 0.97))
        cv2.fillPoly(img, [np.round(rect).astype(np.int32)], paper.tolist(), cv2.LINE_AA)
        # lines of text: short dark strokes along the sheet's own axes
        e1, e2 = rect[1] - rect[0], rect[3] - rect[0]
        if np.linalg.norm(e1) < np.linalg.norm(e2):
            e1, e2 = e2, e1
        lu, lv = float(np.linalg.norm(e1)), float(np.linalg.norm(e2))
        u, v = e1 / max(lu, 1), e2 / max(lv, 1)  # lines run along the sheet's long side
        pitch = rng.uniform(0.012, 0.025) * min(W, H)
        ink = (paper * rng.uniform(0.2, 0.5)).tolist()
        thick = max(1, int(round(pitch * 0.15)))
        for t in np.arange(0.1 * lv, 0.9 * lv, pitch):
            a, end = rng.uniform(0.08, 0.2) * lu, rng.uniform(0.4, 0.9) * lu
            while a < end:  # words with gaps
                b = min(end, a + rng.uniform(0.02, 0.08) * lu)
                p0, p1 = rect[0] + u * a + v * t, rect[0] + u * b + v * t
                cv2.line(img, tuple(np.round(p0).astype(int)), tuple(np.round(p1).astype(int)), ink, thick,
                         cv2.LINE_AA)
                a = b + rng.uniform(0.01, 0.02) * lu
        sheets.append({"centre": c.tolist(), "size": [float(sw), float(sh)], "angle_deg": float(ang)})
    return img, {"kind": "papers", "desk": desk, "sheets": sheets}

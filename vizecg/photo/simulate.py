"""photograph(): a clean Printout -> a simulated scan / phone photo / monitor photo with its ground truth moved.

Order of a photo: draw every parameter from one seeded Generator; build the sheet geometry (deformations +
camera) and apply it in one cv2.remap over a procedural background; move the truth with the same point map;
then light (one gain field: light, shadows, paper shading, white balance, moire), glare, resolution loss, and
albumentations for blur, colour jitter, sensor noise and JPEG (their values drawn here, their noise seeded here).

The conditions added for real pages (folds, stains, pen marks, fingers, paper glare, photocopy, downsampling to
2-3 px/mm) draw from a second Generator seeded from (seed, 13), so the presets that predate them give the same
bytes as before. Occluders do not move the truth; they are listed in `photo_params["occlusions"]` (kind, box
in photo pixels, the beats they cover) and summed up in `truth.warnings`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import albumentations as A
import cv2
import numpy as np

from vizecg.config import to_dict
from vizecg.photo import light, marks
from vizecg.photo.config import (MIXED_ALL_WEIGHTS, MIXED_STRENGTH, MIXED_WEIGHTS, NEW_STEPS, PhotoConfig,
                                 preset_config)
from vizecg.photo.marks import Occlusion
from vizecg.photo.warp import GRID_STEP_MM, Crease, EdgeCurl, Fold, SheetWarp, Waves, Wrinkle, camera_homography
from vizecg.render.truth import Box, PageTruth, Printout

MAX_FIELD_SLOPE = 0.3  # cap on |grad d| of the smooth waves: keeps the fixed-point inversion fast and exact


EXTRA_STREAM = 13  # spawn key of the Generator the conditions added for real pages draw from


def photograph(printout: Printout, preset: str | PhotoConfig = "phone", seed: int = 0) -> Printout:
    """Simulate a photo of `printout`. preset: any name in PRESET_NAMES ('none', 'scan', 'phone', 'screen',
    'mixed', 'phone-hard', 'photocopy', 'lowres', 'screen-moire', 'mixed-all') or a PhotoConfig.

    Every drawn parameter is stored in `truth.photo_params`; the same (printout, preset, seed) gives the same
    bytes. The output may be larger or smaller than the page (a 4:3 phone frame), with about the same pixels.
    """
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(EXTRA_STREAM,)))
    params: dict[str, Any] = {"seed": int(seed)}
    if isinstance(preset, PhotoConfig):
        name, cfg = "custom", preset
    elif preset in ("mixed", "mixed-all"):
        weights = MIXED_WEIGHTS if preset == "mixed" else MIXED_ALL_WEIGHTS
        kinds = list(weights)
        name = kinds[int(rng.choice(len(kinds), p=np.array(list(weights.values())) / sum(weights.values())))]
        k = float(rng.uniform(*MIXED_STRENGTH))
        cfg = preset_config(name).scaled(k)
        params["mixed"] = {"base": name, "strength": k}
    else:
        name, cfg = preset, preset_config(preset)
    params["preset"] = preset if isinstance(preset, str) else "custom"
    if name == "none":
        params["steps"] = {}
        return Printout(printout.image.copy(), replace(printout.truth, photo_params=params))
    params["config"] = _config_params(cfg)
    image, truth, steps, occlusions = _simulate(printout, cfg, rng, extra)
    params["steps"] = steps
    if occlusions:
        params["occlusions"], warnings = _record_occlusions(truth, occlusions)
        truth = replace(truth, warnings=list(truth.warnings) + warnings)
    return Printout(image, replace(truth, photo_params=params))


def _config_params(cfg: PhotoConfig) -> dict[str, Any]:
    """to_dict(cfg) without the steps added for real pages while they are off (p = 0): the truth JSON of the
    presets that predate them stays byte-identical."""
    d = to_dict(cfg)
    for name in NEW_STEPS:
        if getattr(cfg, name).p == 0:
            del d[name]
    return d


def _record_occlusions(truth: PageTruth, occlusions: list[Occlusion]) -> tuple[list[dict[str, Any]], list[str]]:
    """Occlusions as JSON with the visible beats each covers (>= 30 % of a beat's box), and one warning per kind."""
    rows, hidden = [], {}
    for o in occlusions:
        beats = marks.beats_covered(truth, o.box)
        rows.append({"kind": o.kind, "box": o.box.as_list(), "beats": beats})
        hidden.setdefault(o.kind, [0, set()])
        hidden[o.kind][0] += 1
        hidden[o.kind][1].update(beats)
    warnings = [f"occluded by {kind}: {n} region(s) covering {len(b)} beat(s)" for kind, (n, b) in hidden.items()]
    return rows, warnings


def _u(rng: np.random.Generator, span) -> float:
    return float(rng.uniform(span[0], span[1]))


def _on(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)  # always draws, so one effect's switch never shifts another's numbers


def _frame_size(cfg: PhotoConfig, w: int, h: int, step: int) -> tuple[int, int]:
    a = cfg.framing.frame_aspect
    if a <= 0:
        W, H = w, h
    else:
        a = a if w >= h else 1.0 / a
        W, H = np.sqrt(w * h * a), np.sqrt(w * h / a)
    return max(step, int(round(W / step)) * step), max(step, int(round(H / step)) * step)


def _sheet_fields(cfg: PhotoConfig, w: int, h: int, mm: float, rng: np.random.Generator) -> list:
    fields: list = []
    short = float(min(w, h))
    if _on(rng, cfg.curl.p):
        m = 3
        amp = _u(rng, cfg.curl.wave) * short
        mag = rng.uniform(0.25, 1.0, m) / short  # cycles per px: at most one wave across the short side
        ang = rng.uniform(0, np.pi, m)
        freqs = np.stack([mag * np.cos(ang), mag * np.sin(ang)], 1)
        dirs = rng.uniform(0, 2 * np.pi, m)
        amps = np.stack([np.cos(dirs), np.sin(dirs)], 1) * (amp * rng.uniform(0.3, 1.0, m))[:, None]
        slope = float((2 * np.pi * mag * np.linalg.norm(amps, axis=1)).sum())
        if slope > MAX_FIELD_SLOPE:
            amps *= MAX_FIELD_SLOPE / slope
        fields.append(Waves(amps, freqs, rng.uniform(0, 2 * np.pi, m)))
        if _on(rng, cfg.curl.edge_p):
            side = int(rng.integers(4))
            normal = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])[side]
            edge = [0.0, w - 1.0, 0.0, h - 1.0][side]  # n . u on the edge line
            band = rng.uniform(0.08, 0.3) * short
            lift = min(_u(rng, cfg.curl.edge_lift) * short, 0.2 * band)
            fields.append(EdgeCurl(normal, float(edge), float(band), float(lift), float(rng.uniform(-0.15, 0.1))))
    if _on(rng, cfg.wrinkles.p):
        for _ in range(int(rng.integers(cfg.wrinkles.count[0], cfg.wrinkles.count[1] + 1))):
            a = rng.uniform(0, np.pi)
            half = _u(rng, cfg.wrinkles.length_mm) * mm / 2
            width = _u(rng, cfg.wrinkles.width_mm) * mm
            fields.append(Wrinkle(
                center=rng.uniform([0, 0], [w, h]), tangent=np.array([np.cos(a), np.sin(a)]),
                half_length=float(half), width=float(width),
                amplitude=float(min(_u(rng, cfg.wrinkles.amplitude), 0.35) * width),
                curvature=float(rng.uniform(-0.3, 0.3) / half),
                shade=float(_u(rng, cfg.wrinkles.shading) * rng.choice([-1, 1]))))
    if _on(rng, cfg.creases.p):
        for _ in range(int(rng.integers(cfg.creases.count[0], cfg.creases.count[1] + 1))):
            # Folds sit at halves or thirds of the sheet, along or across it, rarely quite straight.
            across = rng.random() < 0.5
            frac = float(rng.choice([0.5, 1 / 3, 2 / 3])) + rng.uniform(-0.03, 0.03)
            point = np.array([frac * w, h / 2]) if across else np.array([w / 2, frac * h])
            a = np.radians(rng.uniform(-2, 2)) + (0.0 if across else np.pi / 2)
            width = rng.uniform(0.8, 2.0) * mm
            fields.append(Crease(point, np.array([np.cos(a), np.sin(a)]), float(width),
                                 float(min(_u(rng, cfg.creases.shift_mm) * mm, 0.4 * width)),
                                 _u(rng, cfg.creases.line_dark), float(_u(rng, cfg.creases.facet) * rng.choice([-1, 1]))))
    return fields


def _folds(cfg: PhotoConfig, w: int, h: int, mm: float, rng: np.random.Generator) -> list[Fold]:
    """Folds at halves or thirds of the sheet, along or across it; one side rises, foreshortened."""
    out = []
    if _on(rng, cfg.folds.p):
        for _ in range(int(rng.integers(cfg.folds.count[0], cfg.folds.count[1] + 1))):
            across = rng.random() < 0.5
            frac = float(rng.choice([0.5, 1 / 3, 2 / 3])) + rng.uniform(-0.03, 0.03)
            point = np.array([frac * w, h / 2]) if across else np.array([w / 2, frac * h])
            a = np.radians(rng.uniform(-2, 2)) + (0.0 if across else np.pi / 2)
            normal = np.array([np.cos(a), np.sin(a)]) * float(rng.choice([-1, 1]))
            angle = np.radians(_u(rng, cfg.folds.angle_deg))
            out.append(Fold(point, normal, float(rng.uniform(1.0, 3.0) * mm), float(1 / np.cos(angle) - 1),
                            float(_u(rng, cfg.folds.facet) * rng.choice([-1, 1])),
                            float(_u(rng, cfg.folds.ridge) * rng.choice([-1, 1]))))
    return out


def _whiten(out: np.ndarray, alpha: np.ndarray, size: tuple[int, int]) -> None:
    """out += alpha (upsampled from the coarse grid) x (255 - out), in place: a reflection over everything."""
    a8 = cv2.resize(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8), size, interpolation=cv2.INTER_LINEAR)
    whiten = cv2.multiply(cv2.subtract(255, out), cv2.merge([a8, a8, a8]), scale=1 / 255)
    cv2.add(out, whiten, dst=out)


def _simulate(printout: Printout, cfg: PhotoConfig, rng: np.random.Generator, xrng: np.random.Generator):
    """xrng: the Generator of the steps added for real pages (see the module docstring)."""
    img, truth = printout.image, printout.truth
    h, w = img.shape[:2]
    mm = float(truth.px_per_mm)
    step = int(np.clip(round(GRID_STEP_MM * mm), 2, 8))
    W, H = _frame_size(cfg, w, h, step)
    steps: dict[str, Any] = {"frame": [W, H]}

    # --- geometry -----------------------------------------------------------------------------------------
    tilt = _u(rng, cfg.perspective.tilt_deg) if _on(rng, cfg.perspective.p) else 0.0
    tilt_dir, fov = float(rng.uniform(0, 360)), _u(rng, cfg.perspective.fov_deg)
    roll = _u(rng, cfg.rotation.deg) * float(rng.choice([-1, 1])) if _on(rng, cfg.rotation.p) else 0.0
    fill = _u(rng, cfg.framing.fill)
    offset = tuple(float(v) for v in rng.uniform(-1, 1, 2) * cfg.framing.offset)
    Hm = camera_homography((w, h), (W, H), tilt, tilt_dir, roll, fov, fill, offset)
    fields = _sheet_fields(cfg, w, h, mm, rng) + _folds(cfg, w, h, mm, xrng)
    sheet = SheetWarp(fields, Hm, (w, h), (W, H), step)
    corners = cv2.perspectiveTransform(np.float64([[[0, 0], [w, 0], [w, h], [0, h]]]), Hm)[0]
    scale = float(np.sqrt(cv2.contourArea(corners.astype(np.float32)) / (w * h)))  # frame px per page px
    steps["camera"] = {"tilt_deg": tilt, "tilt_dir_deg": tilt_dir, "fov_deg": fov, "roll_deg": roll, "fill": fill,
                       "offset": list(offset), "page_scale": scale, "px_per_mm": mm * scale}
    steps["sheet"] = sheet.params()

    src = img
    if _on(rng, cfg.screen.p):
        grid_gain, steps["screen_grid"] = light.screen_pixel_grid(cfg.screen, (w, h), mm, rng)
        src = np.clip(img * grid_gain, 0, 255).astype(np.uint8)
        screen = True
    else:
        screen = False
    page_occ: list[Occlusion] = []  # stains and pen marks lie on the paper: drawn flat, they bend with it
    if _on(xrng, cfg.stains.p):
        src, steps["stains"], occ = marks.draw_stains(src, cfg.stains, mm, xrng)
        page_occ += occ
    if _on(xrng, cfg.pen.p):
        src, steps["pen"], occ = marks.draw_pen_marks(src, cfg.pen, truth, mm, xrng)
        page_occ += occ
    if scale < 0.6:  # anti-alias before shrinking: bilinear sampling alone would drop thin traces
        src = cv2.GaussianBlur(src, (0, 0), 0.45 / scale)
    kinds = cfg.framing.backgrounds
    out, steps["background"] = light.background(kinds[int(rng.integers(len(kinds)))], (W, H), rng)
    q, u, grid = sheet.coarse_grid()
    map_x, map_y, p_coarse, shade = sheet.sampling_maps(u, grid)
    cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_TRANSPARENT)
    sheet.prepare(truth_points(truth))  # one batched inversion for all of transformed()'s queries
    truth = truth.transformed(sheet.forward, W, H)
    occlusions = [Occlusion(o.kind, o.box.transformed(sheet.forward, W, H)) for o in page_occ]
    if _on(xrng, cfg.fingers.p):  # in the scene, so the light below falls on them too
        page_corners = sheet.forward(np.float64([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]))
        steps["fingers"], occ = marks.draw_fingers(out, cfg.fingers, page_corners, mm * scale, xrng)
        occlusions += occ

    # --- light: one multiplicative field on the coarse grid ---------------------------------------------------
    gw, gh = grid
    inside = ((p_coarse[..., 0] >= 0) & (p_coarse[..., 0] <= w - 1) & (p_coarse[..., 1] >= 0)
              & (p_coarse[..., 1] <= h - 1)).astype(np.float32)
    gain = np.ones((gh, gw, 3), np.float32)
    if _on(rng, cfg.lighting.p):
        g, steps["lighting"] = light.lighting_gain(cfg.lighting, q, (W, H), grid, rng)
        gain *= g[..., None]
    if cfg.framing.frame_aspect > 0 and not screen:
        g, steps["page_shadow"] = light.page_drop_shadow(inside, rng)
        gain *= g[..., None]
    if shade is not None:
        gain *= (1.0 + (shade - 1.0) * inside)[..., None]
    if screen:
        g, steps["moire"] = light.moire_gain(cfg.screen, q, grid, mm * scale, rng)
        gain *= g
    if _on(xrng, cfg.moire.p):
        g, steps["strong_moire"] = light.strong_moire_gain(cfg.moire, q, grid, mm * scale, xrng)
        gain *= g
    color_on = _on(rng, cfg.color.p)
    if color_on:
        wb = _u(rng, cfg.color.white_balance)
        temp, tint = rng.uniform(-1, 1, 2)
        rgb = np.array([1 + wb * temp, 1 + 0.5 * wb * tint, 1 - wb * temp], np.float32)
        rgb /= rgb.max()  # a camera never amplifies a channel past the white point here
        gain *= rgb
        steps["white_balance"] = rgb.tolist()
    if not np.allclose(gain, 1.0):
        gain_u8 = np.clip(gain * 128.0 + 0.5, 0, 255).astype(np.uint8)
        cv2.multiply(out, cv2.resize(gain_u8, (W, H), interpolation=cv2.INTER_LINEAR), dst=out, scale=1 / 128)
    if screen and _on(rng, cfg.screen.glare_p):
        alpha, steps["glare"] = light.glare_alpha(cfg.screen, grid, rng)
        _whiten(out, alpha, (W, H))
    if _on(xrng, cfg.glare.p):
        alpha, steps["paper_glare"] = marks.paper_glare_alpha(cfg.glare, grid, xrng)
        _whiten(out, alpha, (W, H))
        gy, gx = np.nonzero(alpha > 0.5)  # past half whitening the trace keeps under half its contrast
        if len(gx):
            occlusions.append(Occlusion("glare", Box(float(gx.min() * step), float(gy.min() * step),
                                                     float((gx.max() + 1) * step), float((gy.max() + 1) * step))))
    if _on(xrng, cfg.photocopy.p):
        out, steps["photocopy"] = marks.photocopy(out, cfg.photocopy, mm * scale, xrng)

    # --- optics and sensor -----------------------------------------------------------------------------------
    if _on(rng, cfg.resolution.p):
        dpi = _u(rng, cfg.resolution.dpi)
        f = dpi / (mm * scale * 25.4)
        steps["resolution"] = {"dpi": dpi, "factor": min(f, 1.0)}
        if f < 0.97:  # down then up with pixel-centre alignment: the point map is the identity
            small = cv2.resize(out, (max(1, round(W * f)), max(1, round(H * f))), interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    ds = 1.0  # downsampling factor of the output (1: the frame keeps its size)
    if _on(xrng, cfg.downsample.p):
        target = _u(xrng, cfg.downsample.px_per_mm)
        f = target / (mm * scale)
        if f < 0.97:  # pixel-centre aligned resize: a point p moves to (p + 0.5) f - 0.5
            W2, H2 = max(1, round(W * f)), max(1, round(H * f))
            out = cv2.resize(out, (W2, H2), interpolation=cv2.INTER_AREA)
            sx, sy = W2 / W, H2 / H
            fn = lambda p: (np.asarray(p, np.float64).reshape(-1, 2) + 0.5) * [sx, sy] - 0.5  # noqa: E731
            truth = truth.transformed(fn, W2, H2)
            occlusions = [Occlusion(o.kind, o.box.transformed(fn, W2, H2)) for o in occlusions]
            W, H, ds = W2, H2, float(np.sqrt(sx * sy))
        steps["downsample"] = {"target_px_per_mm": target, "factor": min(f, 1.0), "size": [W, H],
                               "px_per_mm": mm * scale * ds}
    ops: list = []
    px = mm * scale * ds
    if _on(rng, cfg.blur.p):
        sigma = _u(rng, cfg.blur.sigma_mm) * px
        steps["blur"] = {"sigma_px": sigma}
        if sigma >= 0.3:
            ops.append(A.GaussianBlur(blur_limit=0, sigma_limit=(sigma, sigma), p=1.0))
    if _on(rng, cfg.blur.motion_p):
        k = int(round(_u(rng, cfg.blur.motion_mm) * px)) | 1
        ang = float(rng.uniform(0, 180))
        steps["motion_blur"] = {"kernel": k, "angle_deg": ang}
        if k >= 3:  # centred streak: a shifted kernel would move the page away from its truth
            ops.append(A.MotionBlur(blur_limit=(k, k), allow_shifted=False, angle_range=(ang, ang),
                                    direction_range=(0.0, 0.0), p=1.0))
    if color_on:
        jit = {n: 1.0 + _u(rng, getattr(cfg.color, n)) * float(rng.choice([-1, 1]))
               for n in ("brightness", "contrast", "saturation")}
        steps["color_jitter"] = jit
        ops.append(A.ColorJitter(brightness=(jit["brightness"],) * 2, contrast=(jit["contrast"],) * 2,
                                 saturation=(jit["saturation"],) * 2, hue=(0.0, 0.0), p=1.0))
    noise = None
    if _on(rng, cfg.noise.p):
        std, grain = _u(rng, cfg.noise.std), _u(rng, cfg.noise.grain)
        steps["noise"] = {"std": std, "grain": grain}
        noise = sensor_noise(rng, (W, H), std, grain)
    jpeg = None
    if _on(rng, cfg.jpeg.p):
        quality = int(rng.integers(cfg.jpeg.quality[0], cfg.jpeg.quality[1] + 1))
        steps["jpeg"] = {"quality": quality}
        jpeg = A.ImageCompression(compression_type="jpeg", quality_range=(quality, quality), p=1.0)
    aug_seed = int(rng.integers(2**31))
    if ops:
        steps["albumentations_seed"] = aug_seed
        out = A.Compose(ops, seed=aug_seed)(image=out)["image"]
    if noise is not None:  # sensor noise comes before the camera's JPEG
        out = cv2.add(out, noise, dtype=cv2.CV_8U)
    if jpeg is not None:
        out = A.Compose([jpeg], seed=aug_seed)(image=out)["image"]
    occlusions = [o for o in occlusions if o.box.width > 0 and o.box.height > 0]
    return np.ascontiguousarray(out), truth, steps, occlusions


def sensor_noise(rng: np.random.Generator, size: tuple[int, int], std: float, grain: float) -> np.ndarray:
    """(H, W, 3) int16 noise: luminance drawn at `grain` of the resolution, weaker colour noise at half that.
    A phone's demosaiced, denoised noise is blotchy, not per-pixel; drawing it small keeps it cheap
    (albumentations' GaussNoise costs ~0.4 s on a 2200 px page)."""
    W, H = size
    luma = rng.standard_normal((max(1, round(H * grain)), max(1, round(W * grain))), dtype=np.float32)
    chroma = rng.standard_normal((max(1, round(H * grain / 2)), max(1, round(W * grain / 2)), 3), dtype=np.float32)
    luma = cv2.resize(np.round(luma * (std * 255.0)).astype(np.int16), (W, H), interpolation=cv2.INTER_LINEAR)
    chroma = cv2.resize(np.round(chroma * (0.5 * std * 255.0)).astype(np.int16), (W, H),
                        interpolation=cv2.INTER_LINEAR)
    return cv2.add(chroma, cv2.merge([luma, luma, luma]))


def truth_points(truth: PageTruth) -> list[np.ndarray]:
    """The point sets PageTruth.transformed will move, in the order and form it passes them to its map."""
    chunks: list[np.ndarray] = []
    for lt in truth.leads:
        tr = lt.trace.astype(np.float64)
        finite = np.isfinite(tr).all(axis=1)
        if finite.any():
            chunks.append(tr[finite])
        chunks += [b.boundary_points() for b in (lt.panel_box, lt.label_box) if b is not None]
    for b in truth.beats:
        chunks += [np.asarray([b.r_peak], np.float64), b.box.boundary_points()]
    chunks += [b.boundary_points() for b in truth.calibration_boxes]
    chunks.append((truth.page_box or Box(0, 0, truth.width, truth.height)).boundary_points())
    return chunks

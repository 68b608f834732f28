"""Geometry of a photographed sheet: paper deformations and the camera homography, composed into ONE
sampling map for cv2.remap and ONE forward point map for the ground truth.

Convention: u are coordinates on the deformed sheet, before the camera. The flat-page pixel seen at u is
p = u + d(u), d the sum of the deformation fields (each smooth, |grad d| well below 1). The camera maps u to
frame pixels q = H u. Pixels: q -> H^-1 q = u -> p (evaluated on a coarse grid, upsampled, one cv2.remap).
Points: p -> u by fixed-point iteration u <- p - d(u) (converges because d is a contraction) -> q = H u.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

GRID_STEP_MM = 0.5  # paper mm per coarse-map node: the finest field (a crease line) spans >= ~1 mm


@dataclass
class Waves:
    """Low-frequency bow / waviness of the sheet: a few sinusoidal modes with vector amplitudes."""

    amps: np.ndarray  # (m, 2) px
    freqs: np.ndarray  # (m, 2) cycles per px
    phases: np.ndarray  # (m,)

    def displacement(self, u: np.ndarray) -> np.ndarray:
        d = np.zeros_like(u)
        for (fx, fy), ph, (ax, ay) in zip(self.freqs * 2 * np.pi, self.phases, self.amps):
            s = np.sin(u[:, 0] * fx + u[:, 1] * fy + ph)  # explicit: matmul of (n, 2) by (2, m) is slow here
            d[:, 0] += ax * s
            d[:, 1] += ay * s
        return d

    def evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.displacement(u), None

    def params(self) -> dict[str, Any]:
        return {"kind": "waves", "amps": self.amps.tolist(), "freqs": self.freqs.tolist(),
                "phases": self.phases.tolist()}


@dataclass
class EdgeCurl:
    """One edge lifts off the table: the band near it is foreshortened, so the page shrinks there."""

    normal: np.ndarray  # (2,) outward unit normal of the curled edge
    edge: float  # n . u on the edge line
    band: float  # px: width of the lifted band
    lift: float  # px: how far the edge appears pulled in (<= 0.2 band keeps |grad d| <= 0.4)
    shade: float  # brightness change of the lifted band (+ lit, - shaded)

    def _t(self, u: np.ndarray) -> np.ndarray:
        return np.clip(1.0 - (self.edge - u @ self.normal) / self.band, 0.0, 1.0)

    def displacement(self, u: np.ndarray) -> np.ndarray:
        return (self.lift * self._t(u) ** 2)[:, None] * self.normal

    def evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t2 = self._t(u) ** 2
        return (self.lift * t2)[:, None] * self.normal, 1.0 + self.shade * t2

    def params(self) -> dict[str, Any]:
        return {"kind": "edge_curl", **_plain(asdict(self))}


@dataclass
class Wrinkle:
    """A short thin ridge: across it the paper is pushed aside; one flank is lit, the other shaded."""

    center: np.ndarray  # (2,) px
    tangent: np.ndarray  # (2,) unit
    half_length: float  # px
    width: float  # px
    amplitude: float  # px, <= 0.35 width
    curvature: float  # 1/px: the ridge bends a little
    shade: float

    def _profile(self, u: np.ndarray) -> np.ndarray:
        """x exp(-x^2) across the ridge (max 0.43 at x = 0.71), faded out along it; 0 outside its window."""
        (cx, cy), (tx, ty) = self.center, self.tangent
        dx, dy = u[:, 0] - cx, u[:, 1] - cy  # explicit products: a (n, 2) @ (2,) matmul is slow here
        t = dx * tx + dy * ty
        out = np.zeros(len(u), u.dtype)
        near = np.abs(t) < 1.6 * self.half_length  # beyond: exp(-(t/L)^4) < 1e-3
        dx, dy, t = dx[near], dy[near], t[near]
        s = (dy * tx - dx * ty) - self.curvature * t * t
        x = s / self.width
        out[near] = x * np.exp(-x * x - (t / self.half_length) ** 4)
        return out

    def displacement(self, u: np.ndarray) -> np.ndarray:
        normal = np.array([-self.tangent[1], self.tangent[0]])
        return (self.amplitude * self._profile(u))[:, None] * normal

    def evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prof = self._profile(u)
        normal = np.array([-self.tangent[1], self.tangent[0]])
        return (self.amplitude * prof)[:, None] * normal, 1.0 + self.shade * 2.33 * prof

    def params(self) -> dict[str, Any]:
        return {"kind": "wrinkle", **_plain(asdict(self))}


@dataclass
class Crease:
    """A fold line across the sheet: a small step, a dark line on the fold, two facets lit differently."""

    point: np.ndarray  # (2,) a point on the fold, px
    normal: np.ndarray  # (2,) unit
    width: float  # px
    shift: float  # px, <= 0.4 width
    line_dark: float
    facet: float

    def _s(self, u: np.ndarray) -> np.ndarray:
        return (u - self.point) @ self.normal / self.width

    def displacement(self, u: np.ndarray) -> np.ndarray:
        return (self.shift * np.tanh(self._s(u)))[:, None] * self.normal

    def evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self._s(u)
        th = np.tanh(s)
        return (self.shift * th)[:, None] * self.normal, (1.0 - self.line_dark * np.exp(-4.0 * s * s)) * (1.0 + self.facet * th)

    def params(self) -> dict[str, Any]:
        return {"kind": "crease", **_plain(asdict(self))}


@dataclass
class Fold:
    """A folded sheet that stays bent: past the fold line the paper rises by an angle, so the camera sees it
    foreshortened by cos(angle): the sheet point at signed distance s shows the page at s / cos(angle).
    A softplus over `width` rounds the bend, so |grad d| rises smoothly to `stretch` = 1/cos - 1 (< 0.5)."""

    point: np.ndarray  # (2,) a point on the fold line, px
    normal: np.ndarray  # (2,) unit, pointing into the risen part
    width: float  # px: how round the bend is
    stretch: float  # 1 / cos(angle) - 1
    facet: float  # brightness change of the risen part
    ridge: float  # brightening (+) or darkening (-) on the fold line

    def _s(self, u: np.ndarray) -> np.ndarray:
        return ((u[:, 0] - self.point[0]) * self.normal[0] + (u[:, 1] - self.point[1]) * self.normal[1]) / self.width

    def displacement(self, u: np.ndarray) -> np.ndarray:
        s = self._s(u)
        return (self.stretch * self.width * np.logaddexp(0.0, s))[:, None] * self.normal

    def evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self._s(u)
        d = (self.stretch * self.width * np.logaddexp(0.0, s))[:, None] * self.normal
        risen = 0.5 * (1.0 + np.tanh(0.5 * s))  # the sigmoid: 0 on the flat part, 1 on the risen one
        return d.astype(u.dtype), ((1.0 + self.facet * risen) * (1.0 + self.ridge * np.exp(-s * s))).astype(u.dtype)

    def params(self) -> dict[str, Any]:
        return {"kind": "fold", **_plain(asdict(self))}


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else float(v)) for k, v in d.items()}


@dataclass
class SheetWarp:
    """The composed geometry of one photo: deformation fields on the sheet, then the homography H."""

    fields: list  # Waves | EdgeCurl | Wrinkle | Crease | Fold
    H: np.ndarray  # (3, 3) sheet u -> frame q
    page_size: tuple[int, int]  # (w, h) of the flat page
    frame_size: tuple[int, int]  # (W, H) of the output, multiples of step
    step: int = 4  # frame pixels per coarse-map node; bilinear upsampling of the map is then sub-pixel exact
    _batch: tuple | None = field(default=None, repr=False)

    def displacement(self, u: np.ndarray) -> np.ndarray:
        d = np.zeros_like(u)
        for f in self.fields:
            d += f.displacement(u)
        return d

    def page_and_shading(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """p = u + d(u) and the paper's own shading (wrinkle flanks, crease lines) at u, in one pass."""
        p, g = u.copy(), None
        for f in self.fields:
            d, s = f.evaluate(u)
            p += d
            if s is not None:
                g = s if g is None else g * s
        return p, g

    def page_to_sheet(self, p: np.ndarray, tol: float = 1e-3, max_iter: int = 60) -> np.ndarray:
        """Invert p = u + d(u) by u <- p - d(u): each step shrinks the error by |grad d| (< 0.5 here)."""
        u = p.copy()
        if not self.fields:
            return u
        for _ in range(max_iter):
            nxt = p - self.displacement(u)
            step = np.abs(nxt - u).max(initial=0.0)
            u = nxt
            if step < tol:
                break
        return u

    def forward(self, p: np.ndarray) -> np.ndarray:
        """Flat-page pixel (n, 2) -> frame pixel (n, 2): the ground truth's point map."""
        p = np.asarray(p, np.float64).reshape(-1, 2)
        if len(p) == 0:
            return p
        if self._batch is not None:  # answer from the batch solved in prepare() when asked in its order
            pts, moved, at = self._batch
            if at + len(p) <= len(pts) and np.array_equal(pts[at:at + len(p)], p):
                self._batch = (pts, moved, at + len(p))
                return moved[at:at + len(p)].copy()
        u = self.page_to_sheet(p)
        return cv2.perspectiveTransform(u[None], self.H)[0]

    def prepare(self, chunks: list[np.ndarray]) -> None:
        """Solve the chunks PageTruth.transformed will ask for (lead by lead, box by box) in one batch: one
        vectorised inversion is far cheaper than a hundred small ones. Any other query is solved directly."""
        self._batch = None
        pts = np.concatenate([np.asarray(c, np.float64).reshape(-1, 2) for c in chunks] + [np.zeros((0, 2))])
        self._batch = (pts, self.forward(pts), 0)

    def coarse_grid(self) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """Frame points of the coarse nodes (at the centres cv2.resize assumes) and their sheet coordinates."""
        W, Hh = self.frame_size
        gw, gh = W // self.step, Hh // self.step
        xs = (np.arange(gw) + 0.5) * self.step - 0.5
        ys = (np.arange(gh) + 0.5) * self.step - 0.5
        q = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        u = cv2.perspectiveTransform(q[None], np.linalg.inv(self.H))[0]
        return q, u, (gw, gh)

    def sampling_maps(self, u: np.ndarray, grid: tuple[int, int]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Full-resolution (map_x, map_y) for cv2.remap, the coarse page coordinates (gh, gw, 2) and the
        coarse paper shading (gh, gw) or None."""
        gw, gh = grid
        p, shade = self.page_and_shading(u.astype(np.float32))
        p = p.reshape(gh, gw, 2).astype(np.float32)
        full = cv2.resize(p, self.frame_size, interpolation=cv2.INTER_LINEAR)
        return full[..., 0], full[..., 1], p, None if shade is None else shade.reshape(gh, gw)

    def params(self) -> dict[str, Any]:
        return {"homography": self.H.tolist(), "grid_step": self.step, "fields": [f.params() for f in self.fields]}


def camera_homography(page_size: tuple[int, int], frame_size: tuple[int, int], tilt_deg: float, tilt_dir_deg: float,
                      roll_deg: float, fov_deg: float, fill: float, offset: tuple[float, float]) -> np.ndarray:
    """Homography of a pinhole camera looking at the flat sheet, scaled so the page fills `fill` of the frame.

    The sheet (centred at the origin, z = 0) is tilted by `tilt_deg` about an axis in its plane at
    `tilt_dir_deg`, rolled by `roll_deg`, and viewed from the distance at which its diagonal spans `fov_deg`.
    """
    w, h = page_size
    W, Hh = frame_size
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    c3 = np.concatenate([corners - [(w - 1) / 2, (h - 1) / 2], np.zeros((4, 1))], 1)
    t, a, r = np.radians([tilt_deg, tilt_dir_deg, roll_deg])
    axis = np.array([np.cos(a), np.sin(a), 0.0])
    R_tilt = cv2.Rodrigues(axis * t)[0]
    R_roll = cv2.Rodrigues(np.array([0.0, 0.0, r]))[0]
    pts = c3 @ (R_roll @ R_tilt).T
    dist = 0.5 * np.hypot(w, h) / np.tan(np.radians(fov_deg) / 2)
    proj = pts[:, :2] * dist / (dist + pts[:, 2:3])
    lo, hi = proj.min(0), proj.max(0)
    scale = fill * min((W - 1) / (hi[0] - lo[0]), (Hh - 1) / (hi[1] - lo[1]))
    centre = np.array([(W - 1) / 2 + offset[0] * W, (Hh - 1) / 2 + offset[1] * Hh])
    dst = (proj - (lo + hi) / 2) * scale + centre
    return cv2.getPerspectiveTransform(corners.astype(np.float32), dst.astype(np.float32)).astype(np.float64)

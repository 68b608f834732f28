"""PhotoConfig: every effect of the photo simulator, each with its chance `p` (0 = off, 1 = always) and the
ranges its strengths are drawn from; and the named presets (scan, phone, screen, and the harder conditions real
pages show: phone-hard, photocopy, lowres, screen-moire).

Lengths on the paper are in mm (converted with the page's px_per_mm), so a preset looks the same at any dpi.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import ClassVar

from vizecg.errors import ConfigError

Span = tuple[float, float]  # (low, high), drawn uniformly


BACKGROUNDS: tuple[str, ...] = ("white", "table", "wood", "cloth", "dark", "bezel", "photo", "papers")


@dataclass(frozen=True)
class FramingConfig:
    """Where the page lands in the output image, and what surrounds it."""

    frame_aspect: float = 0.0  # output width / height, flipped to the page's orientation; 0 keeps the page's
    fill: Span = (1.0, 1.0)  # page's projected extent / frame's (< 1: background shows around the page)
    offset: float = 0.0  # max shift of the page centre, fraction of the frame: a margin may leave the frame
    backgrounds: tuple[str, ...] = ("white",)  # drawn from BACKGROUNDS


@dataclass(frozen=True)
class PerspectiveConfig:
    p: float = 0.0
    tilt_deg: Span = (0.0, 0.0)  # camera tilt away from the page normal, in a random direction
    fov_deg: Span = (60.0, 75.0)  # diagonal field of view: wider = stronger perspective for the same tilt
    strength: ClassVar[tuple[str, ...]] = ("tilt_deg",)


@dataclass(frozen=True)
class RotationConfig:
    p: float = 0.0
    deg: Span = (0.0, 0.0)  # in-plane rotation magnitude, random sign
    strength: ClassVar[tuple[str, ...]] = ("deg",)


@dataclass(frozen=True)
class CurlConfig:
    """A sheet that does not lie flat: a smooth bow/waviness and one curled edge (smooth, low frequency)."""

    p: float = 0.0
    wave: Span = (0.0, 0.0)  # waviness amplitude, fraction of the page's short side
    edge_p: float = 0.5  # chance that one edge or corner curls up
    edge_lift: Span = (0.0, 0.0)  # how far the curled band shrinks, fraction of the short side
    strength: ClassVar[tuple[str, ...]] = ("wave", "edge_lift")


@dataclass(frozen=True)
class WrinkleConfig:
    """Short thin ridges of crumpled paper: a narrow displacement plus a lit side and a shaded side."""

    p: float = 0.0
    count: tuple[int, int] = (0, 0)
    length_mm: Span = (20.0, 90.0)
    width_mm: Span = (1.5, 4.0)
    amplitude: Span = (0.0, 0.0)  # displacement / width (< 0.35 keeps the map invertible)
    shading: Span = (0.0, 0.0)  # brightness swing across the ridge
    strength: ClassVar[tuple[str, ...]] = ("amplitude", "shading")


@dataclass(frozen=True)
class CreaseConfig:
    """Fold lines across the whole sheet (folded in halves or thirds): a small step, a dark line, two facets."""

    p: float = 0.0
    count: tuple[int, int] = (1, 2)
    shift_mm: Span = (0.0, 0.0)  # step of the paper across the fold
    line_dark: Span = (0.0, 0.0)  # darkening on the fold line
    facet: Span = (0.0, 0.0)  # brightness difference between the two sides
    strength: ClassVar[tuple[str, ...]] = ("shift_mm", "line_dark", "facet")


@dataclass(frozen=True)
class LightingConfig:
    """Uneven light over the whole frame (low frequency) and soft shadows of a hand / phone."""

    p: float = 0.0
    gradient: Span = (0.0, 0.0)  # darkening from one side of the frame to the other
    blotch: Span = (0.0, 0.0)  # low-frequency random brightness variation
    vignette: Span = (0.0, 0.0)  # darkening toward the corners
    shadow_p: float = 0.0
    shadow_count: tuple[int, int] = (1, 2)
    shadow_dark: Span = (0.2, 0.5)  # fraction of light a shadow takes away
    strength: ClassVar[tuple[str, ...]] = ("gradient", "blotch", "vignette", "shadow_dark")


@dataclass(frozen=True)
class ScreenConfig:
    """A page shown on a monitor: pixel grid, moire bands, glare."""

    p: float = 0.0
    pixel_pitch_mm: Span = (0.25, 0.45)  # monitor pixel size measured on the displayed page
    grid_dark: Span = (0.05, 0.2)  # darkening of the gaps between monitor pixels
    moire: Span = (0.0, 0.0)  # amplitude of the interference bands
    moire_period_mm: Span = (3.0, 12.0)
    glare_p: float = 0.7
    glare: Span = (0.0, 0.0)  # peak whitening of the glare ellipse
    strength: ClassVar[tuple[str, ...]] = ("grid_dark", "moire", "glare")


@dataclass(frozen=True)
class ResolutionConfig:
    """Resampling to a lower resolution and back: a scanner's dpi, a far-away phone camera."""

    p: float = 0.0
    dpi: Span = (150.0, 300.0)  # effective resolution on the paper; above the page's own dpi: no change


@dataclass(frozen=True)
class BlurConfig:
    p: float = 0.0
    sigma_mm: Span = (0.0, 0.0)  # gaussian defocus on the paper
    motion_p: float = 0.0
    motion_mm: Span = (0.3, 0.8)  # hand-shake streak length
    strength: ClassVar[tuple[str, ...]] = ("sigma_mm", "motion_mm")


@dataclass(frozen=True)
class NoiseConfig:
    p: float = 0.0
    std: Span = (0.0, 0.0)  # sensor noise std as a fraction of 255
    grain: Span = (0.3, 0.5)  # noise generated at this fraction of the resolution (demosaic / denoise blotches)
    strength: ClassVar[tuple[str, ...]] = ("std",)


@dataclass(frozen=True)
class ColorConfig:
    p: float = 0.0
    white_balance: Span = (0.0, 0.0)  # warm/cool and green/magenta per-channel gain deviation
    brightness: Span = (0.0, 0.0)  # ColorJitter factors drawn in 1 +- these
    contrast: Span = (0.0, 0.0)
    saturation: Span = (0.0, 0.0)
    strength: ClassVar[tuple[str, ...]] = ("white_balance", "brightness", "contrast", "saturation")


@dataclass(frozen=True)
class JpegConfig:
    p: float = 0.0
    quality: tuple[int, int] = (70, 95)

# --- conditions added for real pages (issue 13) ------------------------------------------------------------------
# Each checks its bounds on construction: a range outside them would break an invariant (an invertible sheet map,
# a visible page), not just look odd. Their numbers come from a Generator of their own (see simulate.py), so
# adding them never shifts the draws of the effects above.

def _check_p(owner: str, **ps: float) -> None:
    for name, v in ps.items():
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{owner}.{name} must lie in [0, 1], got {v}")


def _check_span(owner: str, name: str, span, lo: float, hi: float) -> None:
    if len(span) != 2 or not lo <= span[0] <= span[1] <= hi:
        raise ValueError(f"{owner}.{name} must be (low, high) with {lo} <= low <= high <= {hi}, got {span}")


@dataclass(frozen=True)
class FoldConfig:
    """A sheet that was folded and does not lie flat again: past the fold line the paper rises at an angle, so
    the camera sees that part foreshortened (a bend of the whole part, not a crease's small step)."""

    p: float = 0.0
    count: tuple[int, int] = (1, 1)  # folds at halves or thirds, along or across the sheet
    angle_deg: Span = (0.0, 0.0)  # how far the far part rises: <= 40 keeps 1/cos - 1 <= 0.31 (map invertible)
    facet: Span = (0.0, 0.0)  # brightness change of the risen part (sign drawn: lit or shaded)
    ridge: Span = (0.0, 0.0)  # brightening or darkening on the fold line itself
    strength: ClassVar[tuple[str, ...]] = ("angle_deg", "facet", "ridge")

    def __post_init__(self) -> None:
        _check_p("folds", p=self.p)
        _check_span("folds", "count", self.count, 0, 3)
        _check_span("folds", "angle_deg", self.angle_deg, 0.0, 40.0)
        _check_span("folds", "facet", self.facet, 0.0, 0.5)
        _check_span("folds", "ridge", self.ridge, 0.0, 0.5)


@dataclass(frozen=True)
class FingerConfig:
    """Fingers holding the sheet down or up for the photo: skin-coloured, shaded, reaching in from the frame's
    edge onto the page margin and sometimes over the traces. They hide the paper; the truth does not move."""

    p: float = 0.0
    count: tuple[int, int] = (1, 2)
    width_mm: Span = (16.0, 23.0)  # fingertip width on the paper (index 16-19 mm, thumb 19-23 mm)
    reach_mm: Span = (5.0, 35.0)  # how far the tip reaches past the page's edge onto the sheet
    shadow: Span = (0.1, 0.35)  # darkening of the soft shadow the finger casts beside itself
    strength: ClassVar[tuple[str, ...]] = ("reach_mm", "shadow")

    def __post_init__(self) -> None:
        _check_p("fingers", p=self.p)
        _check_span("fingers", "count", self.count, 0, 4)
        _check_span("fingers", "width_mm", self.width_mm, 5.0, 40.0)
        _check_span("fingers", "reach_mm", self.reach_mm, 0.0, 120.0)
        _check_span("fingers", "shadow", self.shadow, 0.0, 0.8)


PEN_KINDS = ("handwriting", "circle", "underline", "tick", "scribble")


@dataclass(frozen=True)
class PenConfig:
    """Ballpoint marks a reader left on the printout: handwritten notes, circled beats, underlines, ticks and
    scribbles, drawn on the paper (they bend with it) and often right over the traces."""

    p: float = 0.0
    count: tuple[int, int] = (1, 4)
    kinds: tuple[str, ...] = PEN_KINDS
    width_mm: Span = (0.3, 0.6)  # ballpoint / felt-tip line width: as wide as a trace, so a detector can mix them
    over_trace: float = 0.6  # chance that a mark lands on a lead panel rather than anywhere on the sheet
    colors: tuple[str, ...] = ("blue", "black", "red")

    def __post_init__(self) -> None:
        _check_p("pen", p=self.p, over_trace=self.over_trace)
        _check_span("pen", "count", self.count, 0, 20)
        _check_span("pen", "width_mm", self.width_mm, 0.1, 2.0)
        bad = [k for k in self.kinds if k not in PEN_KINDS] + [c for c in self.colors if c not in PEN_COLORS]
        if bad or not self.kinds or not self.colors:
            raise ValueError(f"pen: unknown or empty kinds/colors {bad} (kinds: {PEN_KINDS}, colors: "
                             f"{tuple(PEN_COLORS)})")


PEN_COLORS: dict[str, tuple[int, int, int]] = {"blue": (25, 45, 150), "black": (30, 30, 35), "red": (175, 30, 35)}


@dataclass(frozen=True)
class StainConfig:
    """Coffee / water stains on the paper: an irregular tinted blot with a darker dried rim (coffee ring)."""

    p: float = 0.0
    count: tuple[int, int] = (1, 2)
    radius_mm: Span = (6.0, 25.0)
    density: Span = (0.0, 0.0)  # light taken away inside the blot (0.3: ink still shows, paper turns brown)
    ring: Span = (0.0, 0.0)  # extra darkening on the rim
    strength: ClassVar[tuple[str, ...]] = ("density", "ring")

    def __post_init__(self) -> None:
        _check_p("stains", p=self.p)
        _check_span("stains", "count", self.count, 0, 10)
        _check_span("stains", "radius_mm", self.radius_mm, 1.0, 100.0)
        _check_span("stains", "density", self.density, 0.0, 0.8)
        _check_span("stains", "ring", self.ring, 0.0, 0.8)


@dataclass(frozen=True)
class GlareConfig:
    """A lamp's or window's reflection on glossy (thermal) paper: a soft whitened ellipse with a brighter core
    that washes the traces out; where it whitens past half, the beats under it are recorded as occluded."""

    p: float = 0.0
    size: Span = (0.08, 0.3)  # half-axes of the ellipse, fraction of the frame
    peak: Span = (0.0, 0.0)  # whitening at the centre (1: pure white, nothing left of the ink)
    strength: ClassVar[tuple[str, ...]] = ("peak",)

    def __post_init__(self) -> None:
        _check_p("glare", p=self.p)
        _check_span("glare", "size", self.size, 0.01, 1.0)
        _check_span("glare", "peak", self.peak, 0.0, 1.0)


@dataclass(frozen=True)
class PhotocopyConfig:
    """A photocopy (or a fax) of the printout: grey toner, a hard tone curve that drops the light grid, toner
    specks and drum streaks."""

    p: float = 0.0
    white: Span = (0.7, 0.9)  # grey level (fraction of 255) and lighter that prints as paper: a pink grid is lost
    black: Span = (0.1, 0.35)  # grey level and darker that prints as full toner
    speck: Span = (0.0, 0.0)  # fraction of pixels with a toner speck
    streak_p: float = 0.4  # chance of 1-2 faint streaks along the paper feed
    strength: ClassVar[tuple[str, ...]] = ("speck",)

    def __post_init__(self) -> None:
        _check_p("photocopy", p=self.p, streak_p=self.streak_p)
        _check_span("photocopy", "white", self.white, 0.3, 1.0)
        _check_span("photocopy", "black", self.black, 0.0, 0.6)
        _check_span("photocopy", "speck", self.speck, 0.0, 0.02)
        if self.black[1] >= self.white[0]:
            raise ValueError(f"photocopy.black {self.black} must lie below photocopy.white {self.white}")


@dataclass(frozen=True)
class MoireConfig:
    """Strong moire of a phone photographing a monitor: the sensor's grid beats against the screen's, giving
    broad colour bands, curved by the lens (centre of curvature outside the frame) and modulated by a second,
    slightly rotated beat. Added on top of `screen.moire`."""

    p: float = 0.0
    amplitude: Span = (0.0, 0.0)  # peak gain swing of the bands
    period_mm: Span = (4.0, 15.0)  # band spacing on the displayed page
    bend: Span = (0.0, 0.3)  # band curvature: frame diagonals / radius of curvature
    strength: ClassVar[tuple[str, ...]] = ("amplitude",)

    def __post_init__(self) -> None:
        _check_p("moire", p=self.p)
        _check_span("moire", "amplitude", self.amplitude, 0.0, 0.5)
        _check_span("moire", "period_mm", self.period_mm, 0.5, 100.0)
        _check_span("moire", "bend", self.bend, 0.0, 1.0)


@dataclass(frozen=True)
class DownsampleConfig:
    """The image itself comes at low resolution (a thumbnail, a messaging app, a far phone): unlike
    `resolution` (down and back up) the output is smaller, and the truth is scaled with it."""

    p: float = 0.0
    px_per_mm: Span = (2.0, 3.0)  # final pixels per paper mm; at or above the photo's own: no change

    def __post_init__(self) -> None:
        _check_p("downsample", p=self.p)
        _check_span("downsample", "px_per_mm", self.px_per_mm, 0.5, 40.0)


@dataclass(frozen=True)
class PhotoConfig:
    """All effects of one photo; the presets below fill it in. Unused effects stay at p = 0."""

    framing: FramingConfig = field(default_factory=FramingConfig)
    perspective: PerspectiveConfig = field(default_factory=PerspectiveConfig)
    rotation: RotationConfig = field(default_factory=RotationConfig)
    curl: CurlConfig = field(default_factory=CurlConfig)
    wrinkles: WrinkleConfig = field(default_factory=WrinkleConfig)
    creases: CreaseConfig = field(default_factory=CreaseConfig)
    lighting: LightingConfig = field(default_factory=LightingConfig)
    screen: ScreenConfig = field(default_factory=ScreenConfig)
    resolution: ResolutionConfig = field(default_factory=ResolutionConfig)
    blur: BlurConfig = field(default_factory=BlurConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    color: ColorConfig = field(default_factory=ColorConfig)
    jpeg: JpegConfig = field(default_factory=JpegConfig)
    # Added for real pages; at their defaults (off) they are left out of photo_params (see NEW_STEPS).
    folds: FoldConfig = field(default_factory=FoldConfig)
    fingers: FingerConfig = field(default_factory=FingerConfig)
    pen: PenConfig = field(default_factory=PenConfig)
    stains: StainConfig = field(default_factory=StainConfig)
    glare: GlareConfig = field(default_factory=GlareConfig)
    photocopy: PhotocopyConfig = field(default_factory=PhotocopyConfig)
    downsample: DownsampleConfig = field(default_factory=DownsampleConfig)
    moire: MoireConfig = field(default_factory=MoireConfig)

    def __post_init__(self) -> None:
        # What every step shares, checked here for the steps that predate their own bounds: a config written in
        # YAML (RenderJob.photo_config) must fail on construction, not as a traceback halfway through a render.
        for f in dataclasses.fields(self):
            step = getattr(self, f.name)
            for g in dataclasses.fields(step):
                v = getattr(step, g.name)
                if g.name == "p" or g.name.endswith("_p"):
                    _check_p(f.name, **{g.name: v})
                elif isinstance(v, tuple) and v and all(isinstance(x, (int, float)) for x in v):
                    if len(v) != 2 or v[0] > v[1]:
                        raise ValueError(f"{f.name}.{g.name} must be (low, high) with low <= high, got {v}")
        unknown = [b for b in self.framing.backgrounds if b not in BACKGROUNDS]
        if unknown or not self.framing.backgrounds:
            raise ValueError(f"framing.backgrounds: unknown or empty {unknown} (known: {', '.join(BACKGROUNDS)})")

    def scaled(self, k: float) -> "PhotoConfig":
        """The same effects with every strength range multiplied by k (JPEG: the quality loss)."""
        changes = {}
        for f in dataclasses.fields(self):
            sub = getattr(self, f.name)
            names = getattr(type(sub), "strength", ())
            changes[f.name] = replace(sub, **{n: tuple(v * k for v in getattr(sub, n)) for n in names})
        q = self.jpeg.quality
        changes["jpeg"] = replace(self.jpeg, quality=tuple(int(round(min(100, max(30, 100 - (100 - v) * k))))
                                                           for v in q))
        return replace(self, **changes)


SCAN = PhotoConfig(
    framing=FramingConfig(frame_aspect=0.0, fill=(0.96, 1.0), offset=0.01, backgrounds=("white",)),
    rotation=RotationConfig(p=1.0, deg=(0.0, 2.0)),
    resolution=ResolutionConfig(p=0.8, dpi=(100.0, 300.0)),
    blur=BlurConfig(p=0.6, sigma_mm=(0.02, 0.08)),
    noise=NoiseConfig(p=0.4, std=(0.005, 0.02)),
    color=ColorConfig(p=0.6, white_balance=(0.0, 0.03), brightness=(0.0, 0.08), contrast=(0.0, 0.15),
                      saturation=(0.0, 0.3)),
    jpeg=JpegConfig(p=0.9, quality=(60, 95)),
)

PHONE = PhotoConfig(
    framing=FramingConfig(frame_aspect=4 / 3, fill=(0.74, 1.02), offset=0.06,
                          backgrounds=("table", "wood", "cloth", "dark", "white")),
    perspective=PerspectiveConfig(p=0.95, tilt_deg=(2.0, 22.0)),
    rotation=RotationConfig(p=1.0, deg=(0.0, 8.0)),
    curl=CurlConfig(p=0.85, wave=(0.0, 0.012), edge_p=0.5, edge_lift=(0.005, 0.03)),
    wrinkles=WrinkleConfig(p=0.45, count=(1, 8), amplitude=(0.05, 0.3), shading=(0.03, 0.12)),
    creases=CreaseConfig(p=0.35, count=(1, 2), shift_mm=(0.05, 0.4), line_dark=(0.05, 0.25), facet=(0.0, 0.08)),
    lighting=LightingConfig(p=0.95, gradient=(0.0, 0.35), blotch=(0.0, 0.15), vignette=(0.0, 0.3),
                            shadow_p=0.45, shadow_count=(1, 2), shadow_dark=(0.15, 0.5)),
    resolution=ResolutionConfig(p=0.3, dpi=(90.0, 200.0)),
    blur=BlurConfig(p=0.7, sigma_mm=(0.03, 0.13), motion_p=0.25, motion_mm=(0.2, 0.6)),
    noise=NoiseConfig(p=0.9, std=(0.01, 0.045)),
    color=ColorConfig(p=0.9, white_balance=(0.0, 0.12), brightness=(0.0, 0.15), contrast=(0.0, 0.2),
                      saturation=(0.0, 0.4)),
    jpeg=JpegConfig(p=0.95, quality=(55, 92)),
)

SCREEN = PhotoConfig(
    framing=FramingConfig(frame_aspect=4 / 3, fill=(0.78, 0.98), offset=0.03, backgrounds=("bezel",)),
    perspective=PerspectiveConfig(p=0.9, tilt_deg=(1.0, 12.0)),
    rotation=RotationConfig(p=1.0, deg=(0.0, 4.0)),
    lighting=LightingConfig(p=0.6, gradient=(0.0, 0.15), blotch=(0.0, 0.08), vignette=(0.0, 0.2)),
    screen=ScreenConfig(p=1.0, moire=(0.03, 0.12), glare=(0.1, 0.45)),
    blur=BlurConfig(p=0.6, sigma_mm=(0.03, 0.1), motion_p=0.15, motion_mm=(0.2, 0.5)),
    noise=NoiseConfig(p=0.9, std=(0.01, 0.04)),
    color=ColorConfig(p=0.9, white_balance=(0.02, 0.12), brightness=(0.0, 0.1), contrast=(0.0, 0.2),
                      saturation=(0.0, 0.3)),
    jpeg=JpegConfig(p=0.95, quality=(55, 90)),
)

# --- harder conditions real pages show (issue 13: 28 phone photos, 7 scans among 52 real pages) -------------------
# Strengths are chosen so that mixed-all's scaling (x 1.25 at most) stays inside every bound.
PHONE_HARD = replace(
    PHONE,
    framing=FramingConfig(frame_aspect=4 / 3, fill=(0.55, 0.95), offset=0.08,
                          backgrounds=("table", "wood", "cloth", "dark", "white", "photo", "papers")),
    perspective=PerspectiveConfig(p=1.0, tilt_deg=(15.0, 30.0), fov_deg=(60.0, 80.0)),  # keystone is the rule
    rotation=RotationConfig(p=1.0, deg=(0.0, 12.0)),
    creases=CreaseConfig(p=0.5, count=(1, 2), shift_mm=(0.1, 0.5), line_dark=(0.1, 0.3), facet=(0.0, 0.1)),
    folds=FoldConfig(p=0.5, count=(1, 2), angle_deg=(10.0, 32.0), facet=(0.03, 0.15), ridge=(0.05, 0.25)),
    fingers=FingerConfig(p=0.5, count=(1, 2)),
    pen=PenConfig(p=0.5, count=(1, 5)),
    stains=StainConfig(p=0.3, density=(0.1, 0.35), ring=(0.1, 0.35)),
    glare=GlareConfig(p=0.35, peak=(0.3, 0.75)),
    resolution=ResolutionConfig(p=0.4, dpi=(60.0, 150.0)),
)

PHOTOCOPY = PhotoConfig(
    framing=FramingConfig(frame_aspect=0.0, fill=(0.94, 1.0), offset=0.015, backgrounds=("white",)),
    rotation=RotationConfig(p=1.0, deg=(0.0, 2.5)),
    pen=PenConfig(p=0.3, count=(1, 3)),  # marks on the original are copied with it
    photocopy=PhotocopyConfig(p=1.0, speck=(0.0002, 0.003)),
    resolution=ResolutionConfig(p=0.7, dpi=(100.0, 200.0)),
    blur=BlurConfig(p=0.7, sigma_mm=(0.03, 0.1)),
    noise=NoiseConfig(p=0.3, std=(0.005, 0.015)),
    jpeg=JpegConfig(p=0.9, quality=(50, 90)),
)

# A phone photo that reaches the reader as a small image (messaging app, thumbnail): 2-3 px per paper mm.
LOWRES = replace(PHONE, downsample=DownsampleConfig(p=1.0, px_per_mm=(2.0, 3.0)), jpeg=JpegConfig(p=1.0,
                                                                                               quality=(40, 80)))

# A monitor photographed close enough for its pixel grid to alias into strong colour bands.
SCREEN_MOIRE = replace(
    SCREEN,
    screen=ScreenConfig(p=1.0, pixel_pitch_mm=(0.2, 0.35), grid_dark=(0.15, 0.3), moire=(0.02, 0.06),
                        glare_p=0.8, glare=(0.2, 0.6)),
    moire=MoireConfig(p=1.0, amplitude=(0.12, 0.3)),
)

PRESETS: dict[str, PhotoConfig] = {"scan": SCAN, "phone": PHONE, "screen": SCREEN, "phone-hard": PHONE_HARD,
                                   "photocopy": PHOTOCOPY, "lowres": LOWRES, "screen-moire": SCREEN_MOIRE}
PRESET_NAMES: tuple[str, ...] = ("none", "scan", "phone", "screen", "mixed", "phone-hard", "photocopy", "lowres",
                                 "screen-moire", "mixed-all")
# mixed: a seeded choice of base preset, then every strength scaled by a factor drawn from MIXED_STRENGTH.
# It draws only the four original presets, so its pages stay byte-identical; mixed-all draws every preset.
MIXED_WEIGHTS: dict[str, float] = {"none": 0.08, "scan": 0.27, "phone": 0.45, "screen": 0.20}
MIXED_ALL_WEIGHTS: dict[str, float] = {"none": 0.05, "scan": 0.15, "phone": 0.27, "screen": 0.08, "phone-hard": 0.2,
                                       "photocopy": 0.08, "lowres": 0.12, "screen-moire": 0.05}
MIXED_STRENGTH: Span = (0.4, 1.25)
# The steps added after the presets above were pinned: left out of photo_params while at their defaults (off).
NEW_STEPS: tuple[str, ...] = ("folds", "fingers", "pen", "stains", "glare", "photocopy", "downsample", "moire")


def preset_config(name: str) -> PhotoConfig:
    """The PhotoConfig of a fixed preset (any name in PRESETS); 'none' is the all-off config."""
    if name == "none":
        return PhotoConfig()
    if name not in PRESETS:
        raise ConfigError(f"unknown photo preset {name!r} (known: {', '.join(PRESET_NAMES)})")
    return PRESETS[name]

"""PhotoConfig: every effect of the photo simulator, each with its chance `p` (0 = off, 1 = always) and the
ranges its strengths are drawn from; and the named presets (scan, phone, screen).

Lengths on the paper are in mm (converted with the page's px_per_mm), so a preset looks the same at any dpi.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import ClassVar

from vizecg.errors import ConfigError

Span = tuple[float, float]  # (low, high), drawn uniformly


@dataclass(frozen=True)
class FramingConfig:
    """Where the page lands in the output image, and what surrounds it."""

    frame_aspect: float = 0.0  # output width / height, flipped to the page's orientation; 0 keeps the page's
    fill: Span = (1.0, 1.0)  # page's projected extent / frame's (< 1: background shows around the page)
    offset: float = 0.0  # max shift of the page centre, fraction of the frame: a margin may leave the frame
    backgrounds: tuple[str, ...] = ("white",)  # drawn from: white, table, wood, cloth, dark, bezel


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

PRESETS: dict[str, PhotoConfig] = {"scan": SCAN, "phone": PHONE, "screen": SCREEN}
PRESET_NAMES: tuple[str, ...] = ("none", "scan", "phone", "screen", "mixed")
# mixed: a seeded choice of base preset, then every strength scaled by a factor drawn from MIXED_STRENGTH.
MIXED_WEIGHTS: dict[str, float] = {"none": 0.08, "scan": 0.27, "phone": 0.45, "screen": 0.20}
MIXED_STRENGTH: Span = (0.4, 1.25)


def preset_config(name: str) -> PhotoConfig:
    """The PhotoConfig of a fixed preset ('scan', 'phone', 'screen'); 'none' is the all-off config."""
    if name == "none":
        return PhotoConfig()
    if name not in PRESETS:
        raise ConfigError(f"unknown photo preset {name!r} (known: {', '.join(PRESET_NAMES)})")
    return PRESETS[name]

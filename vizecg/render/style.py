"""The print-style space: a typed `PrintStyle` per page, drawn from named families of real ECG printouts.

Every way real printouts differ is one field: the lead grid and rhythm strips, the calibration pulse, column
separators, the grid, the trace, the labels and their font, the header/footer text, speed and gain (per lead
group), the paper and its margins, and a frame that cuts the page. A family is a named draw over those fields
(timm-style: one registry, `@register_family`), with a share of the mix, so that a training set can leave
families out and a benchmark can measure them unseen:

    style = draw_print_style(rng)                          # a family drawn by share, then its fields
    style = draw_print_style(rng, "thermal-dots")          # one family
    style = draw_print_style(rng, exclude=("thermal-dots", "export-green"))
    list_families()                                        # {name: PrintFamily(share, description)}

`render_print_style(record, style, dpi, ...)` (printout.py) prints it. `RenderConfig` maps onto a PrintStyle too
(`style_from_config`), so the fixed/random styles of today and the families share one renderer.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Literal

import numpy as np

from vizecg.errors import RenderError
from vizecg.render import paper

Rows = tuple[tuple[str, ...], ...]

LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "-aVR")
ROWS_3X4: Rows = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
# Cabrera order puts the limb leads in their angular sequence, with aVR printed inverted.
ROWS_3X4_CABRERA: Rows = (("aVL", "II", "V1", "V4"), ("I", "aVF", "V2", "V5"), ("-aVR", "III", "V3", "V6"))
ROWS_6X2: Rows = (("I", "V1"), ("II", "V2"), ("III", "V3"), ("aVR", "V4"), ("aVL", "V5"), ("aVF", "V6"))
ROWS_6X2_CABRERA: Rows = (("aVL", "V1"), ("I", "V2"), ("-aVR", "V3"), ("II", "V4"), ("aVF", "V5"), ("III", "V6"))
ROWS_12X1: Rows = tuple((lead,) for lead in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"))
ROWS_LIMB: Rows = tuple((lead,) for lead in ("I", "II", "III", "aVR", "aVL", "aVF"))
# A 15-lead page prints V4R, V8, V9 in a fifth column; a record without them gets real leads there instead
# (printed under their own names): a 12-lead record never shows a made-up signal under an extra lead's name.
EXTRA_LEADS = ("V4R", "V8", "V9")
FIFTH_COLUMN_FALLBACK = ("II", "V1", "V5")

GRID_PALETTES, TRACE_COLORS, PAPER_COLORS = paper.GRID_PALETTES, paper.TRACE_COLORS, paper.PAPER_COLORS
# Fonts: "hershey" is OpenCV's stroke font (today's look); the others are TTF files matplotlib ships.
FONTS = ("hershey", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf",
         "STIXGeneral.ttf", "cmss10.ttf", "cmtt10.ttf")

GridKind = Literal["lines", "dots", "dotted_minor", "major_only", "none"]
LabelPosition = Literal["top_left", "above_left", "below_left", "on_trace"]
Separator = Literal["none", "ticks", "dotted", "bars"]
HeaderKind = Literal["none", "classic", "minimal", "measurements"]


@dataclass(frozen=True)
class LeadGrid:
    """Which lead is printed where: rows of panels (columns split the page's time) plus full-width strips."""

    name: str = "3x4+1"  # the layout as PageTruth.layout reports it
    rows: Rows = ROWS_3X4  # lead names as printed, top to bottom, left to right ("-aVR": aVR inverted)
    rhythm: tuple[str, ...] = ("II",)  # 0-3 full-width rhythm strips under the rows, top to bottom
    strip_paper: bool = False  # one short strip-paper row (the 1x1 rhythm strip of a monitor / MIT-BIH)


@dataclass(frozen=True)
class PulseStyle:
    side: Literal["left", "right", "none"] = "left"  # which end of each row carries the 1 mV pulse
    width_mm: float = 5.0  # 0.2 s at 25 mm/s; real machines also print about 3.5 mm and 2 mm
    shape: Literal["square", "bare"] = "square"  # square: with baseline lead-in/out; bare: the pulse alone
    height_mv: float = 1.0


@dataclass(frozen=True)
class GridStyle:
    kind: GridKind = "lines"  # lines: minor+major; dots: thermal (major lines, 1 mm dots); dotted_minor
    palette: str = "red"  # a GRID_PALETTES name
    extent: Literal["traces", "page"] = "traces"  # printed under the traces only, or pre-printed paper
    minor_width_mm: float = 0.08
    major_width_mm: float = 0.2


@dataclass(frozen=True)
class TextStyle:
    font: str = "hershey"  # a FONTS name
    size_mm: float = paper.TEXT_HEIGHT_MM  # cap height of labels and header text
    label_position: LabelPosition = "top_left"  # on_trace: at the trace start, overprinted by the trace


@dataclass(frozen=True)
class HeaderStyle:
    kind: HeaderKind = "classic"  # classic: today's 3-line block; measurements: patient/measurements/statements
    height_mm: float = paper.HEADER_HEIGHT_MM  # space above the grid (0 with kind none)
    device_line: str = "VizECG ER-12 electrocardiograph"
    filter_low_hz: float = 0.05  # printed only: the renderer draws the signal as given
    filter_high_hz: float = 150.0
    notch_hz: int = 50  # printed only; 0 = no notch line
    redact: bool = False  # black bars over the patient fields
    footer: Literal["none", "speed_gain", "device"] = "none"  # e.g. "25mm/s 10mm/mV 100Hz" under the grid
    # Interpretation statements are drawn from a fixed list, never from the record's labels: the text on the
    # page must not give away the diagnosis an image model is trained to find.
    statements: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrintStyle:
    """Everything that decides how a page looks (dpi and the record window are the caller's)."""

    family: str = "vizecg-classic"
    leads: LeadGrid = field(default_factory=LeadGrid)
    paper_size: Literal["letter", "a4"] = "letter"  # landscape
    paper_color: str = "white"  # a PAPER_COLORS name
    margin_top_mm: float = paper.MARGIN_TOP_MM
    margin_bottom_mm: float = paper.MARGIN_BOTTOM_MM
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0  # limb leads (and every lead unless chest_gain_mm_mv is set)
    chest_gain_mm_mv: float | None = None  # V leads; e.g. 5 with gain 10: "half gain on chest leads"
    pulse: PulseStyle = field(default_factory=PulseStyle)
    separator: Separator = "ticks"  # where one column's lead ends and the next begins
    grid: GridStyle = field(default_factory=GridStyle)
    trace_color: str = "black"  # a TRACE_COLORS name
    line_width_mm: float = 0.25
    greyscale: bool = False  # black-and-white printer / photocopy
    text: TextStyle = field(default_factory=TextStyle)
    header: HeaderStyle = field(default_factory=HeaderStyle)
    # The frame cuts the page: fractions of width/height lost at (left, top, right, bottom).
    crop: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        paper.check_speed_gain(self.speed_mm_s, self.gain_mm_mv)
        if self.chest_gain_mm_mv is not None:
            paper.check_speed_gain(self.speed_mm_s, self.chest_gain_mm_mv)
        if self.paper_size not in paper.PAPER_SIZES_MM:
            raise RenderError(f"unknown paper {self.paper_size!r} (known: {', '.join(paper.PAPER_SIZES_MM)})")
        for name, value, known in (("grid.palette", self.grid.palette, GRID_PALETTES),
                                   ("trace_color", self.trace_color, TRACE_COLORS),
                                   ("paper_color", self.paper_color, PAPER_COLORS), ("text.font", self.text.font, FONTS)):
            if value not in known:
                raise RenderError(f"{name}: unknown {value!r} (known: {', '.join(known)})")
        if not (0 < self.line_width_mm <= 2 and 1.0 <= self.pulse.width_mm <= 12 and 1.0 <= self.text.size_mm <= 6):
            raise RenderError("line width, pulse width or text size out of bounds")
        if not 0 <= len(self.leads.rhythm) <= 3 or not (self.leads.rows or self.leads.rhythm):
            raise RenderError(f"layout {self.leads.name}: 0-3 rhythm strips and at least one panel")
        if any(not 0.0 <= c < 0.5 for c in self.crop):
            raise RenderError(f"crop {self.crop}: each side's share must lie in [0, 0.5)")

    def gain_of(self, lead: str) -> float:
        if self.chest_gain_mm_mv is not None and lead.lstrip("-") not in LIMB_LEADS:
            return self.chest_gain_mm_mv
        return self.gain_mm_mv


# --- families -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrintFamily:
    name: str
    share: float  # its weight in the default mix (normalised over the families drawn from)
    description: str
    draw: Callable[[np.random.Generator], PrintStyle]


_FAMILIES: dict[str, PrintFamily] = {}


def register_family(name: str, share: float, description: str):
    def wrap(fn: Callable[[np.random.Generator], PrintStyle]) -> Callable[[np.random.Generator], PrintStyle]:
        _FAMILIES[name] = PrintFamily(name, share, description, fn)
        return fn
    return wrap


def list_families() -> dict[str, PrintFamily]:
    return dict(_FAMILIES)


def check_families(names: tuple[str, ...] | list[str], key: str = "families") -> None:
    unknown = [n for n in names if n not in _FAMILIES]
    if unknown:
        raise RenderError(f"{key}: unknown famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                          f"(known: {', '.join(_FAMILIES)})")


def draw_print_style(rng: np.random.Generator, family: str | None = None, *, include: tuple[str, ...] = (),
                     exclude: tuple[str, ...] = ()) -> PrintStyle:
    """A PrintStyle of `family`, or of a family drawn by share from `include` (default: all) minus `exclude`."""
    check_families(include, "include")
    check_families(exclude, "exclude")
    if family is not None:
        check_families((family,), "family")
        return _FAMILIES[family].draw(rng)
    names = [n for n in (include or tuple(_FAMILIES)) if n not in exclude]
    if not names:
        raise RenderError("no print-style family left to draw from (all excluded)")
    shares = np.array([_FAMILIES[n].share for n in names])
    name = names[int(rng.choice(len(names), p=shares / shares.sum()))]
    return _FAMILIES[name].draw(rng)


def as_strip(style: PrintStyle, lead: str) -> PrintStyle:
    """The same look on strip paper with one rhythm strip (a two-lead MIT-BIH record prints only that)."""
    return replace(style, leads=LeadGrid("1x1", (), (lead,), strip_paper=True), crop=(0.0, 0.0, 0.0, 0.0))


def _pick(rng: np.random.Generator, values, p=None):
    """One of `values` (weights p); always one draw, so a change of one axis never shifts the others'."""
    i = int(rng.choice(len(values), p=None if p is None else np.asarray(p, float) / np.sum(p)))
    return values[i]


def _crop(rng: np.random.Generator, share: float) -> tuple[float, float, float, float]:
    """The frame cuts a page with probability `share`: a bottom strip (the rhythm strip), a side (the pulse)."""
    on, where, amount = rng.random() < share, rng.integers(3), float(rng.uniform(0.04, 0.18))
    if not on:
        return (0.0, 0.0, 0.0, 0.0)
    amount = round(amount, 3)
    return ((0.0, 0.0, 0.0, amount), (amount / 3, 0.0, 0.0, 0.0), (0.0, 0.0, amount / 3, amount / 2))[int(where)]


def _measure_header(rng: np.random.Generator, device: str, redact_share: float, footer_p) -> HeaderStyle:
    statements = _pick(rng, _STATEMENTS)
    return HeaderStyle(kind="measurements", height_mm=float(_pick(rng, (22.0, 26.0, 30.0))), device_line=device,
                       filter_low_hz=float(_pick(rng, (0.05, 0.15, 0.5))),
                       filter_high_hz=float(_pick(rng, (40.0, 100.0, 150.0))), notch_hz=int(_pick(rng, (0, 50, 60))),
                       redact=bool(rng.random() < redact_share),
                       footer=_pick(rng, ("none", "speed_gain", "device"), footer_p), statements=statements)


_STATEMENTS: tuple[tuple[str, ...], ...] = (
    ("Sinus rhythm", "Unconfirmed report"), ("** Computer analysis **", "Confirmation required"),
    ("Rhythm: see strip", "Reviewed by: ________"), ("Automated interpretation not printed",),
    ("Statement suppressed", "Physician review pending"), (),
)
_DEVICES = ("VizECG ER-12 electrocardiograph", "12-lead resting ECG", "CardioPrint 3000", "ECG-1200 interpretive",
            "Resting ECG  v2.4", "CardioScan R12", "ElectroCardio 600")


def _lead_grid_3x4(rng: np.random.Generator, rhythm_p=(0.2, 0.7, 0.05, 0.05)) -> LeadGrid:
    n = int(_pick(rng, (0, 1, 2, 3), rhythm_p))
    one = _pick(rng, ("II", "V1", "V5", "II"), (0.8, 0.1, 0.05, 0.05))
    rhythm = {0: (), 1: (one,), 2: ("V1", "II"), 3: ("V1", "II", "V5")}[n]
    return LeadGrid(f"3x4+{n}" if n else "3x4", ROWS_3X4, rhythm)


@register_family("vizecg-classic", 0.22, "today's renderer: 3x4+1/3x4/6x2/12x1, red/pink/green/grey lines, "
                 "Hershey text, tick separators, 5 mm pulse at the left")
def _classic(rng: np.random.Generator) -> PrintStyle:
    from vizecg.render.printout import RenderConfig, random_render_config, style_from_config

    layout = str(_pick(rng, ("3x4+1", "3x4", "6x2", "12x1"), (0.55, 0.15, 0.2, 0.1)))
    return replace(style_from_config(random_render_config(rng, RenderConfig(layout=layout))), family="vizecg-classic")


@register_family("hospital-3x4+1", 0.22, "3x4 with 0-3 rhythm strips (II, sometimes V1), fine+major lines in "
                 "every palette, TTF labels above/below/on the trace, measurement header, 5 or 3.5 mm pulse")
def _hospital(rng: np.random.Generator) -> PrintStyle:
    leads = _lead_grid_3x4(rng)
    palette = _pick(rng, ("pink", "red", "magenta", "mauve", "orange", "brown", "grey"),
                    (0.25, 0.25, 0.12, 0.1, 0.12, 0.1, 0.06))
    gain = float(_pick(rng, (10.0, 5.0, 20.0), (0.9, 0.05, 0.05)))
    half_chest = bool(rng.random() < 0.1)  # chest leads at half the limb gain (10/5, 20/10)
    return PrintStyle(
        family="hospital-3x4+1", leads=leads, paper_size=_pick(rng, ("letter", "a4")),
        margin_top_mm=float(np.round(rng.uniform(3, 10), 1)), margin_bottom_mm=float(np.round(rng.uniform(4, 10), 1)),
        speed_mm_s=25.0, gain_mm_mv=gain, chest_gain_mm_mv=gain / 2 if half_chest and gain > 5.0 else None,
        pulse=PulseStyle(_pick(rng, ("left", "right", "none"), (0.85, 0.1, 0.05)), float(_pick(rng, (5.0, 3.5, 2.0), (0.5, 0.4, 0.1))),
                         _pick(rng, ("square", "bare"))),
        separator=_pick(rng, ("none", "ticks", "dotted", "bars"), (0.3, 0.35, 0.2, 0.15)),
        grid=GridStyle(_pick(rng, ("lines", "dotted_minor", "major_only"), (0.85, 0.1, 0.05)), palette,
                       _pick(rng, ("traces", "page"), (0.6, 0.4))),
        trace_color="black", line_width_mm=float(np.round(rng.uniform(0.18, 0.4), 3)), greyscale=bool(rng.random() < 0.05),
        text=TextStyle(_pick(rng, FONTS[1:]), float(np.round(rng.uniform(2.0, 3.4), 2)),
                       _pick(rng, ("top_left", "above_left", "below_left", "on_trace"), (0.3, 0.3, 0.15, 0.25))),
        header=_measure_header(rng, _pick(rng, _DEVICES), 0.2, (0.75, 0.15, 0.1)),
        crop=_crop(rng, 0.08))


@register_family("thermal-dots", 0.18, "thermal paper: major lines every 5 mm with 1 mm dots, 3x4(+1/+3), narrow "
                 "pulses, labels often on the trace, monospace/sans text, redaction bars")
def _thermal(rng: np.random.Generator) -> PrintStyle:
    leads = _lead_grid_3x4(rng, (0.25, 0.6, 0.05, 0.1))
    return PrintStyle(
        family="thermal-dots", leads=leads, paper_size=_pick(rng, ("letter", "a4")), paper_color="thermal",
        margin_top_mm=float(np.round(rng.uniform(3, 8), 1)), margin_bottom_mm=float(np.round(rng.uniform(4, 9), 1)),
        speed_mm_s=25.0, gain_mm_mv=10.0, chest_gain_mm_mv=_pick(rng, (None, 5.0), (0.92, 0.08)),
        pulse=PulseStyle(_pick(rng, ("left", "right", "none"), (0.85, 0.1, 0.05)), float(_pick(rng, (3.5, 5.0, 2.0), (0.5, 0.35, 0.15))),
                         _pick(rng, ("square", "bare"), (0.4, 0.6))),
        separator=_pick(rng, ("none", "ticks", "dotted"), (0.4, 0.4, 0.2)),
        grid=GridStyle("dots", _pick(rng, ("red", "pink", "orange", "grey", "brown")), "page",
                       minor_width_mm=float(_pick(rng, (0.2, 0.3))), major_width_mm=float(_pick(rng, (0.12, 0.2)))),
        trace_color="black", line_width_mm=float(np.round(rng.uniform(0.2, 0.35), 3)),
        text=TextStyle(_pick(rng, ("DejaVuSansMono.ttf", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "cmtt10.ttf")),
                       float(np.round(rng.uniform(2.0, 3.0), 2)),
                       _pick(rng, ("on_trace", "above_left", "top_left"), (0.5, 0.35, 0.15))),
        header=_measure_header(rng, _pick(rng, _DEVICES), 0.35, (0.85, 0.1, 0.05)),
        crop=_crop(rng, 0.12))


@register_family("export-green", 0.08, "PDF exports: green or blue traces, grey/green/no grid or dotted minor "
                 "lines, speed/gain footer, pulse at either end")
def _export(rng: np.random.Generator) -> PrintStyle:
    leads = _lead_grid_3x4(rng, (0.3, 0.6, 0.05, 0.05))
    kind = _pick(rng, ("lines", "dotted_minor", "major_only", "none"), (0.45, 0.25, 0.15, 0.15))
    return PrintStyle(
        family="export-green", leads=leads, paper_size=_pick(rng, ("letter", "a4")),
        margin_top_mm=float(np.round(rng.uniform(3, 8), 1)), margin_bottom_mm=float(np.round(rng.uniform(6, 12), 1)),
        speed_mm_s=25.0, gain_mm_mv=10.0, chest_gain_mm_mv=None,
        pulse=PulseStyle(_pick(rng, ("left", "right", "none"), (0.6, 0.3, 0.1)), float(_pick(rng, (5.0, 3.5))), "square"),
        separator=_pick(rng, ("none", "ticks", "dotted", "bars"), (0.3, 0.2, 0.3, 0.2)),
        grid=GridStyle(kind, _pick(rng, ("grey", "green", "pink")), _pick(rng, ("traces", "page"))),
        trace_color=_pick(rng, ("green", "blue", "black"), (0.5, 0.3, 0.2)),
        line_width_mm=float(np.round(rng.uniform(0.15, 0.3), 3)),
        text=TextStyle(_pick(rng, ("DejaVuSans.ttf", "DejaVuSerif.ttf", "STIXGeneral.ttf", "cmss10.ttf")),
                       float(np.round(rng.uniform(2.2, 3.2), 2)), _pick(rng, ("top_left", "above_left"))),
        header=_measure_header(rng, _pick(rng, _DEVICES), 0.15, (0.3, 0.6, 0.1)))


@register_family("hospital-3x4+3", 0.08, "3x4 with three rhythm strips (V1, II, V5) or two (V1, II): six or five "
                 "short rows, fine+major lines, measurement header")
def _hospital3(rng: np.random.Generator) -> PrintStyle:
    base = _hospital(rng)
    three = rng.random() < 0.75
    leads = LeadGrid("3x4+3" if three else "3x4+2", ROWS_3X4, ("V1", "II", "V5") if three else ("V1", "II"))
    return replace(base, family="hospital-3x4+3", leads=leads, margin_top_mm=min(base.margin_top_mm, 6.0),
                   header=replace(base.header, height_mm=min(base.header.height_mm, 22.0)))


@register_family("cabrera-6x2", 0.06, "6x2 in Cabrera order (aVL, I, -aVR, II, aVF, III | V1-V6) or standard "
                 "order, 25 or 50 mm/s, sometimes half gain on the chest leads")
def _cabrera(rng: np.random.Generator) -> PrintStyle:
    base = _hospital(rng)
    cabrera = rng.random() < 0.7
    leads = LeadGrid("6x2", ROWS_6X2_CABRERA if cabrera else ROWS_6X2, ())
    speed = float(_pick(rng, (25.0, 50.0), (0.75, 0.25)))
    return replace(base, family="cabrera-6x2", leads=leads, speed_mm_s=speed, gain_mm_mv=10.0,
                   chest_gain_mm_mv=_pick(rng, (None, 5.0), (0.7, 0.3)), crop=(0.0, 0.0, 0.0, 0.0),
                   pulse=replace(base.pulse, width_mm=0.2 * speed if base.pulse.width_mm == 5.0 else base.pulse.width_mm),
                   header=replace(base.header, height_mm=min(base.header.height_mm, 22.0)))


@register_family("cabrera-3x4", 0.04, "3x4(+1) in Cabrera order (aVL, I, -aVR | II, aVF, III | V1-V6)")
def _cabrera34(rng: np.random.Generator) -> PrintStyle:
    base = _hospital(rng)
    rhythm = _pick(rng, ((), ("II",)), (0.4, 0.6))
    return replace(base, family="cabrera-3x4", leads=LeadGrid("3x4+1" if rhythm else "3x4", ROWS_3X4_CABRERA, rhythm))


@register_family("full-12x1", 0.04, "12 rows of 10 s, gain 5 (or 10 with 5 on chest leads), no header or a "
                 "minimal one")
def _twelve(rng: np.random.Generator) -> PrintStyle:
    base = _hospital(rng)
    gain, chest = _pick(rng, ((5.0, None), (10.0, 5.0), (5.0, 5.0)), (0.6, 0.3, 0.1))
    header = _pick(rng, (HeaderStyle("none", 0.0, footer="speed_gain"),
                         HeaderStyle("minimal", 10.0, device_line=base.header.device_line)), (0.5, 0.5))
    return replace(base, family="full-12x1", leads=LeadGrid("12x1", ROWS_12X1, ()), gain_mm_mv=gain,
                   chest_gain_mm_mv=chest, header=header, margin_top_mm=4.0, margin_bottom_mm=5.0,
                   crop=(0.0, 0.0, 0.0, 0.0))


@register_family("fifteen-3x5", 0.04, "3x5 grid of 2 s panels: the fifth column prints V4R, V8, V9 where the "
                 "record has them, else real II, V1, V5 under their own names; 0-1 rhythm strip")
def _fifteen(rng: np.random.Generator) -> PrintStyle:
    base = _hospital(rng) if rng.random() < 0.6 else _thermal(rng)
    rows = tuple(row + (extra,) for row, extra in zip(ROWS_3X4, EXTRA_LEADS))
    rhythm = _pick(rng, ((), ("II",)), (0.5, 0.5))
    return replace(base, family="fifteen-3x5", leads=LeadGrid("3x5+1" if rhythm else "3x5", rows, rhythm),
                   chest_gain_mm_mv=None, crop=(0.0, 0.0, 0.0, 0.0))


@register_family("limb-6", 0.02, "the six limb leads only, one 10 s row each")
def _limb(rng: np.random.Generator) -> PrintStyle:
    base = _hospital(rng)
    return replace(base, family="limb-6", leads=LeadGrid("6x1", ROWS_LIMB, ()), chest_gain_mm_mv=None,
                   crop=(0.0, 0.0, 0.0, 0.0))


@register_family("rhythm-strip", 0.02, "single-lead strip paper (II, V1 or V5) or a rhythm page of three 10 s "
                 "strips (II, V1, V5)")
def _strip(rng: np.random.Generator) -> PrintStyle:
    base = _hospital(rng) if rng.random() < 0.5 else _thermal(rng)
    single = rng.random() < 0.6
    lead = _pick(rng, ("II", "V1", "V5"), (0.7, 0.2, 0.1))
    leads = LeadGrid("1x1", (), (lead,), strip_paper=True) if single else LeadGrid("3x1", (), ("II", "V1", "V5"))
    header = replace(base.header, kind="minimal", height_mm=10.0) if single else base.header
    return replace(base, family="rhythm-strip", leads=leads, header=header, chest_gain_mm_mv=None,
                   crop=(0.0, 0.0, 0.0, 0.0))


# --- coverage -------------------------------------------------------------------------------------------------
def style_axes(style: PrintStyle) -> dict[str, str]:
    """The value of every axis of a style, as the coverage table counts it."""
    rhythm = ",".join(style.leads.rhythm) if style.leads.rows else "-"
    cabrera = "Cabrera" if any("-aVR" in row for row in style.leads.rows) else "standard"
    return {
        "family": style.family,
        "layout": style.leads.name,
        "lead order": cabrera if style.leads.rows else "strips",
        "rhythm strips": rhythm or "none",
        "pulse position": style.pulse.side,
        "pulse width": "none" if style.pulse.side == "none" else f"{style.pulse.width_mm:g} mm",
        "pulse shape": "none" if style.pulse.side == "none" else style.pulse.shape,
        "separators": style.separator,
        "grid": style.grid.kind,
        "grid colour": "none" if style.grid.kind == "none" else style.grid.palette,
        "grid extent": style.grid.extent,
        "paper": f"{style.paper_size}, {style.paper_color}",
        "trace colour": style.trace_color,
        "trace width": f"{_bucket(style.line_width_mm, (0.2, 0.3))} mm",
        "label position": style.text.label_position,
        "font": style.text.font,
        "text size": f"{_bucket(style.text.size_mm, (2.4, 2.8))} mm",
        "header": style.header.kind,
        "redaction": "yes" if style.header.redact and style.header.kind != "none" else "no",
        "footer": style.header.footer,
        "speed": f"{style.speed_mm_s:g} mm/s",
        "gain": (f"{style.gain_mm_mv:g} mm/mV" + (f", chest {style.chest_gain_mm_mv:g}"
                                                  if style.chest_gain_mm_mv not in (None, style.gain_mm_mv) else "")),
        "greyscale": "yes" if style.greyscale else "no",
        "cut by the frame": "no" if not any(style.crop) else ("bottom" if style.crop[3] and not style.crop[2]
                                                              else "left" if style.crop[0] else "right+bottom"),
    }


def _bucket(v: float, edges: tuple[float, float]) -> str:
    return f"< {edges[0]:g}" if v < edges[0] else f"{edges[0]:g}-{edges[1]:g}" if v < edges[1] else f">= {edges[1]:g}"


def coverage(n: int = 4000, seed: int = 0, exclude: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    """Share of each value of each axis over n styles drawn like a `style: families` render draws them."""
    counts: dict[str, dict[str, int]] = {}
    for k in range(n):
        rng = np.random.default_rng(np.random.SeedSequence([seed, k]))
        for axis, value in style_axes(draw_print_style(rng, exclude=exclude)).items():
            counts.setdefault(axis, {}).setdefault(value, 0)
            counts[axis][value] += 1
    return {axis: {v: c / n for v, c in sorted(vals.items(), key=lambda kv: -kv[1])} for axis, vals in counts.items()}


def coverage_markdown(cov: dict[str, dict[str, float]]) -> str:
    lines = ["| axis | values (share of pages) |", "|---|---|"]
    for axis, vals in cov.items():
        lines.append(f"| {axis} | " + ", ".join(f"{v} {100 * s:.1f}%" if s >= 0.001 else f"{v} <0.1%"
                                               for v, s in vals.items()) + " |")
    return "\n".join(lines)

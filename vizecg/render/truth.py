"""Ground truth that travels with every rendered page and every simulated photo of it.

All coordinates are pixels of the image they come with (x right, y down). The renderer creates a PageTruth in
clean-page coordinates; each geometric photo step calls `PageTruth.transformed(fn, w, h)` with the same point
mapping it applied to the pixels, so the truth always describes the image it is stored with.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import numpy as np

# fn maps an (n, 2) float array of (x, y) points to their new (n, 2) positions.
PointMap = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def as_list(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]

    def clip(self, width: int, height: int) -> "Box":
        return Box(min(max(self.x0, 0.0), width), min(max(self.y0, 0.0), height),
                   min(max(self.x1, 0.0), width), min(max(self.y1, 0.0), height))

    def boundary_points(self, per_edge: int = 8) -> np.ndarray:
        """Points along the edges: a box bent by a non-linear warp is the bbox of its moved boundary."""
        t = np.linspace(0.0, 1.0, per_edge)
        xs = self.x0 + t * self.width
        ys = self.y0 + t * self.height
        return np.concatenate([
            np.stack([xs, np.full_like(xs, self.y0)], 1), np.stack([xs, np.full_like(xs, self.y1)], 1),
            np.stack([np.full_like(ys, self.x0), ys], 1), np.stack([np.full_like(ys, self.x1), ys], 1),
        ]).astype(np.float64)

    def transformed(self, fn: PointMap, width: int, height: int) -> "Box":
        pts = fn(self.boundary_points())
        return Box(float(pts[:, 0].min()), float(pts[:, 1].min()),
                   float(pts[:, 0].max()), float(pts[:, 1].max())).clip(width, height)

    @classmethod
    def from_list(cls, v: list[float]) -> "Box":
        return cls(*map(float, v))


@dataclass(frozen=True)
class PixelMapping:
    """Exact pixel <-> (seconds, mV) mapping of one panel on the clean page.

    x = x_t0 + (t - t0_s) * px_per_s ;  y = baseline_y - mv * px_per_mv. After a photo warp the mapping still
    describes the clean page; the trace points (which were moved) are the truth in photo coordinates.
    """

    x_t0: float  # x pixel of time t0_s
    t0_s: float  # seconds (record time) shown at x_t0
    baseline_y: float  # y pixel of 0 mV
    px_per_s: float  # = px_per_mm * speed_mm_s
    px_per_mv: float  # = px_per_mm * gain_mm_mv

    def to_pixels(self, t_s: np.ndarray, mv: np.ndarray) -> np.ndarray:
        x = self.x_t0 + (np.asarray(t_s, np.float64) - self.t0_s) * self.px_per_s
        y = self.baseline_y - np.asarray(mv, np.float64) * self.px_per_mv
        return np.stack([x, y], axis=-1)

    def to_signal(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xy = np.asarray(xy, np.float64)
        t = self.t0_s + (xy[..., 0] - self.x_t0) / self.px_per_s
        mv = (self.baseline_y - xy[..., 1]) / self.px_per_mv
        return t, mv


@dataclass
class LeadTruth:
    """One lead panel (or the rhythm strip): where it is, what time it shows, and its trace pixels."""

    lead: str
    panel_box: Box
    label_box: Box | None
    t_start_s: float  # record time of the first plotted sample
    t_end_s: float
    sample_start: int  # index into the record's signal (record fs) of the first plotted sample
    mapping: PixelMapping
    trace: np.ndarray  # (n, 2) float32 (x, y) px, one per plotted sample; NaN where the signal has a gap
    visible: np.ndarray  # (n,) bool: the point lies inside the image (after photo warps)
    clipped: np.ndarray  # (n,) bool: amplitude exceeded the panel and was clipped like a printer does
    is_rhythm_strip: bool = False
    present: bool = True  # False: the record lacks this lead; the panel is drawn empty
    # Added with the print-style space; older label JSON reads back with these defaults.
    label: str = ""  # the lead name as printed ("-aVR" on a Cabrera page whose `lead` is aVR); "" = `lead`
    gain_mm_mv: float = 0.0  # this panel's gain (chest leads may print at half gain); 0 = unknown (older JSON)
    page_t_start_s: float = 0.0  # the panel's window on the page's time axis (0 = the page's left edge)
    page_t_end_s: float = 0.0
    row: int = -1  # row band of the page, top to bottom (-1 = unknown, older JSON)
    col: int = -1  # column within the row, left to right
    inverted: bool = False  # printed upside down (-aVR): mapping.px_per_mv is negative, so to_signal gives aVR

    def transformed(self, fn: PointMap, width: int, height: int) -> "LeadTruth":
        trace = self.trace.astype(np.float64)
        finite = np.isfinite(trace).all(axis=1)
        moved = np.full_like(trace, np.nan)
        if finite.any():
            moved[finite] = fn(trace[finite])
        inside = finite & (moved[:, 0] >= 0) & (moved[:, 0] <= width - 1) & (moved[:, 1] >= 0) & (moved[:, 1] <= height - 1)
        return replace(self, panel_box=self.panel_box.transformed(fn, width, height),
                       label_box=None if self.label_box is None else self.label_box.transformed(fn, width, height),
                       trace=moved.astype(np.float32), visible=self.visible & inside)


@dataclass
class PulseTruth:
    """One calibration pulse as printed: its box and the geometry a digitizer reads the scale from."""

    box: Box
    row: int  # the row band it calibrates
    side: str  # "left" / "right": which end of the row
    width_mm: float  # the pulse's top, as printed
    height_mm: float  # = height_mv x gain_mm_mv (less where the row clips it)
    height_mv: float
    gain_mm_mv: float
    shape: str

    def transformed(self, fn: PointMap, width: int, height: int) -> "PulseTruth":
        return replace(self, box=self.box.transformed(fn, width, height))


@dataclass
class TextTruth:
    """A printed text block (header/footer line, measurement, interpretation) or a redaction bar."""

    kind: str  # "patient", "measurement", "interpretation", "device", "footer", "redaction"
    text: str  # what is printed ("" for a redaction bar)
    box: Box

    def transformed(self, fn: PointMap, width: int, height: int) -> "TextTruth":
        return replace(self, box=self.box.transformed(fn, width, height))


@dataclass
class BeatTruth:
    """One complete heartbeat drawn in one panel: P onset .. T end, bounded by the neighbouring beats."""

    box: Box
    lead: str
    panel_index: int  # index into PageTruth.leads
    r_peak: tuple[float, float]  # (x, y) px
    r_sample: int  # index into the record's signal
    label: str | None = None  # source beat symbol (MIT-BIH), if any
    aami: str | None = None  # AAMI group N/S/V/F/Q, if any
    visible: bool = True

    def transformed(self, fn: PointMap, width: int, height: int) -> "BeatTruth":
        r = fn(np.asarray([self.r_peak], np.float64))[0]
        box = self.box.transformed(fn, width, height)
        inside = 0 <= r[0] <= width - 1 and 0 <= r[1] <= height - 1 and box.width > 1 and box.height > 1
        return replace(self, box=box, r_peak=(float(r[0]), float(r[1])), visible=self.visible and inside)


@dataclass
class PageTruth:
    """Everything known about one page image: geometry, panels, traces, beats, calibration, parameters."""

    width: int
    height: int
    px_per_mm: float  # on the clean page; a photo changes the local scale (see `photo`)
    leads: list[LeadTruth]
    beats: list[BeatTruth]
    calibration_boxes: list[Box]
    record_id: str = ""
    layout: str = ""
    render_params: dict[str, Any] = field(default_factory=dict)
    photo_params: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)  # e.g. "lead V3 missing: panel left empty"
    page_box: Box | None = None  # the paper's outline (the whole image for a clean render)
    pulses: list[PulseTruth] = field(default_factory=list)  # calibration_boxes with their geometry
    texts: list[TextTruth] = field(default_factory=list)  # header/footer text and redaction bars

    def transformed(self, fn: PointMap, width: int, height: int) -> "PageTruth":
        """The truth after a geometric step that moved every pixel p of the old image to fn(p)."""
        page = self.page_box or Box(0, 0, self.width, self.height)
        return replace(
            self, width=int(width), height=int(height),
            leads=[lead.transformed(fn, width, height) for lead in self.leads],
            beats=[b.transformed(fn, width, height) for b in self.beats],
            calibration_boxes=[b.transformed(fn, width, height) for b in self.calibration_boxes],
            page_box=page.transformed(fn, width, height),
            pulses=[p.transformed(fn, width, height) for p in self.pulses],
            texts=[t.transformed(fn, width, height) for t in self.texts])

    # --- JSON (labels/<id>.json) -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        def lead_json(lt: LeadTruth) -> dict[str, Any]:
            d = {k: v for k, v in asdict(lt).items() if k not in ("trace", "visible", "clipped", "panel_box",
                                                                    "label_box", "mapping")}
            d["panel_box"] = lt.panel_box.as_list()
            d["label_box"] = None if lt.label_box is None else lt.label_box.as_list()
            d["mapping"] = asdict(lt.mapping)
            # strict JSON has no NaN: gaps (and points that left the page) are written as null
            d["trace"] = [[None if not np.isfinite(v) else v for v in pt]
                          for pt in np.round(lt.trace.astype(np.float64), 2).tolist()]
            d["visible"] = lt.visible.astype(int).tolist()
            d["clipped"] = lt.clipped.astype(int).tolist()
            return d

        return {
            "width": self.width, "height": self.height, "px_per_mm": self.px_per_mm,
            "record_id": self.record_id, "layout": self.layout,
            "render_params": self.render_params, "photo_params": self.photo_params, "warnings": self.warnings,
            "page_box": None if self.page_box is None else self.page_box.as_list(),
            "calibration_boxes": [b.as_list() for b in self.calibration_boxes],
            "leads": [lead_json(lt) for lt in self.leads],
            "beats": [{"box": b.box.as_list(), "lead": b.lead, "panel_index": b.panel_index,
                       "r_peak": list(b.r_peak), "r_sample": b.r_sample, "label": b.label, "aami": b.aami,
                       "visible": b.visible} for b in self.beats],
            "pulses": [asdict(p) | {"box": p.box.as_list()} for p in self.pulses],
            "texts": [{"kind": t.kind, "text": t.text, "box": t.box.as_list()} for t in self.texts],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "PageTruth":
        leads = []
        for ld in d["leads"]:
            leads.append(LeadTruth(
                lead=ld["lead"], panel_box=Box.from_list(ld["panel_box"]),
                label_box=None if ld["label_box"] is None else Box.from_list(ld["label_box"]),
                t_start_s=ld["t_start_s"], t_end_s=ld["t_end_s"], sample_start=ld["sample_start"],
                mapping=PixelMapping(**ld["mapping"]),
                trace=np.array(ld["trace"], dtype=np.float32).reshape(-1, 2),  # null -> NaN
                visible=np.asarray(ld["visible"], bool), clipped=np.asarray(ld["clipped"], bool),
                is_rhythm_strip=ld["is_rhythm_strip"], present=ld["present"],
                **{k: ld[k] for k in _LEAD_EXTRAS if k in ld}))
        beats = [BeatTruth(box=Box.from_list(b["box"]), lead=b["lead"], panel_index=b["panel_index"],
                           r_peak=tuple(b["r_peak"]), r_sample=b["r_sample"], label=b["label"], aami=b["aami"],
                           visible=b["visible"]) for b in d["beats"]]
        return cls(width=d["width"], height=d["height"], px_per_mm=d["px_per_mm"], leads=leads, beats=beats,
                   calibration_boxes=[Box.from_list(b) for b in d["calibration_boxes"]],
                   record_id=d.get("record_id", ""), layout=d.get("layout", ""),
                   render_params=d.get("render_params", {}), photo_params=d.get("photo_params"),
                   warnings=d.get("warnings", []),
                   page_box=None if d.get("page_box") is None else Box.from_list(d["page_box"]),
                   pulses=[PulseTruth(**(p | {"box": Box.from_list(p["box"])})) for p in d.get("pulses", [])],
                   texts=[TextTruth(t["kind"], t["text"], Box.from_list(t["box"])) for t in d.get("texts", [])])


_LEAD_EXTRAS = ("label", "gain_mm_mv", "page_t_start_s", "page_t_end_s", "row", "col", "inverted")


@dataclass
class Printout:
    """An image (H, W, 3) uint8 RGB with its ground truth. Both the renderer and the photo simulator return it."""

    image: np.ndarray
    truth: PageTruth

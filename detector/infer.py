"""`BeatDetector`: page image -> beat boxes in page pixels, assigned to leads and ordered in time.

Two backends give the same boxes: "torch" runs ultralytics' own predictor on the .pt weights; "onnx" runs the
exported graph with onnxruntime and this module's numpy letterbox + NMS (no torch or ultralytics needed).
Optional tiling slices a big page into overlapping tiles and merges the tile boxes back (NMS or WBF).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from detector.config import BEAT, CLASS_NAMES, LEAD_LABEL, LEAD_PANEL
from detector.geometry import letterbox, nms, tile_windows, unletterbox, weighted_boxes_fusion
from vizecg.errors import DataError, ModelError, first_line

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "beats_yolo.pt"
# The same weights exported for the torch-free runtime (`vizecg detector export --out detector/weights/beats_yolo.onnx`):
# its metadata records beats_yolo.pt's SHA-256; it shares beats_yolo.json (the operating point).
DEFAULT_ONNX = DEFAULT_WEIGHTS.with_suffix(".onnx")
# The 3x4 layout's rows, column by column: I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6 (+ rhythm strip).
ROWS_3X4: tuple[tuple[str, ...], ...] = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"),
                                          ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"  # what a 3x4+1 page's full-width strip shows unless the printer was told otherwise
# The lead_panel score bar when the weights' sidecar names none (weights before stage 10 were used at this).
PANEL_CONF = 0.05
# Lead-label candidates handed to the label reader: below the beat score too, since the reader itself answers
# not_a_label for what is not one (a label missed at the beat score leaves its panel to the row below's label).
LABEL_CONF = 0.2


@dataclass
class Detections:
    """Everything found on one page. Beats come first, sorted by (panel, time); boxes are xyxy page pixels."""

    boxes: np.ndarray  # (n, 4) float32
    scores: np.ndarray  # (n,) float32
    classes: np.ndarray  # (n,) int64 index into CLASS_NAMES
    panel: np.ndarray  # (n,) int64: for a beat, index into `panels`; -1 for other classes or no panel
    order: np.ndarray  # (n,) int64: a beat's time rank within its panel (0 = leftmost); -1 otherwise
    panels: np.ndarray  # (p, 4) float32 lead_panel boxes in reading order (rows top-down, left to right)
    panel_leads: list[str]  # (p,) lead name of each panel: standard names when the 3x4 layout is recognised
    image_shape: tuple[int, int]  # (h, w) of the page
    layout: str = "unknown"  # "3x4+1", "3x4" or "unknown" (then panel_leads are "panel0", "panel1", ...)
    meta: dict[str, Any] = field(default_factory=dict)
    # Lead names read from the page (detector.layout.PageLayout) when a label reader was given; panel_leads and
    # layout then follow it (unknown names stay "panel<i>").
    page_layout: Any = None

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def is_beat(self) -> np.ndarray:
        return self.classes == BEAT

    @property
    def beat_boxes(self) -> np.ndarray:
        return self.boxes[self.is_beat]

    @property
    def beat_leads(self) -> list[str | None]:
        return [self.panel_leads[p] if p >= 0 else None for p in self.panel[self.is_beat]]

    def order_keys(self) -> np.ndarray:
        """(n_beats, 2) (panel index, x-centre) keys for `vizecg.crops.crop_beats`; unassigned beats go last."""
        b = self.beat_boxes
        p = self.panel[self.is_beat].astype(np.float64)
        p[p < 0] = len(self.panels)
        return np.stack([p, (b[:, 0] + b[:, 2]) / 2], 1) if len(b) else np.zeros((0, 2))

    def to_json(self) -> dict[str, Any]:
        items = []
        for i in range(len(self)):
            c = int(self.classes[i])
            p = int(self.panel[i])
            items.append({"class": CLASS_NAMES[c], "box": [round(float(v), 1) for v in self.boxes[i]],
                          "score": round(float(self.scores[i]), 4),
                          "lead": self.panel_leads[p] if p >= 0 else None, "panel": p, "order": int(self.order[i])})
        return {"image_shape": list(self.image_shape), "layout": self.layout, "panel_leads": self.panel_leads,
                "panels": np.round(self.panels, 1).tolist(), "n_beats": int(self.is_beat.sum()),
                "detections": items, **({"meta": self.meta} if self.meta else {}),
                **({"page_layout": self.page_layout.to_json()} if self.page_layout is not None else {})}


def assign_leads(boxes: np.ndarray, classes: np.ndarray
                 ) -> tuple[np.ndarray, list[str], str, np.ndarray, np.ndarray]:
    """Panels in reading order, their lead names, the layout, and each beat's panel and time rank.

    Rows are clusters of panel centres in y (a gap over half the median panel height starts a new row).
    Three rows of four (+ one wide strip) are the 3x4(+1) layout; anything else keeps generic panel names.
    A beat belongs to the panel holding most of its area (none if under a quarter of it lies in any panel).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    panels = boxes[classes == LEAD_PANEL]
    rows = panel_rows(panels)
    order = [j for r in rows for j in r]
    panels = panels[order] if order else np.zeros((0, 4))
    sizes = [len(r) for r in rows]
    if sizes[:3] == [4, 4, 4] and len(sizes) in (3, 4) and (len(sizes) == 3 or sizes[3] == 1):
        names = [lead for row in ROWS_3X4 for lead in row] + ([RHYTHM_LEAD] if len(sizes) == 4 else [])
        layout = "3x4+1" if len(sizes) == 4 else "3x4"
    else:
        names = [f"panel{i}" for i in range(len(panels))]
        layout = "unknown"
    beat_idx = np.flatnonzero(classes == BEAT)
    panel_of = np.full(len(boxes), -1, np.int64)
    rank = np.full(len(boxes), -1, np.int64)
    if len(panels) and len(beat_idx):
        b = boxes[beat_idx]
        lt = np.maximum(b[:, None, :2], panels[None, :, :2])
        rb = np.minimum(b[:, None, 2:], panels[None, :, 2:])
        inter = (rb - lt).clip(0).prod(-1)  # (beats, panels)
        frac = inter / np.maximum(((b[:, 2:] - b[:, :2]).clip(0).prod(-1))[:, None], 1e-9)
        best = frac.argmax(1)
        ok = frac[np.arange(len(b)), best] >= 0.25
        panel_of[beat_idx[ok]] = best[ok]
    for p in np.unique(panel_of[beat_idx]) if len(beat_idx) else []:
        if p < 0:
            continue
        members = beat_idx[panel_of[beat_idx] == p]
        xs = (boxes[members, 0] + boxes[members, 2]) / 2
        rank[members[np.argsort(xs, kind="stable")]] = np.arange(len(members))
    return panels, names, layout, panel_of, rank


def panel_rows(panels: np.ndarray) -> list[list[int]]:
    """Indices of the panels per row, rows top-down, each left to right.

    A row is a chain of panels that abut (the next one starts between 30 % of a panel width before and 15 %
    after where this one ends) and overlap most in y: links are local, so a photographed page tilted by more than
    half a row (where one y band per row mixes rows) still chains each row. Ends left unlinked are then bridged
    over one missing panel (a gap under 1.3 panel widths, at the same height). Rows go top-down by their mean
    centre."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4)
    n = len(panels)
    if not n:
        return []
    w = np.maximum(panels[:, 2] - panels[:, 0], 1.0)
    h = np.maximum(panels[:, 3] - panels[:, 1], 1.0)
    overlap = (np.minimum(panels[:, None, 3], panels[None, :, 3]) - np.maximum(panels[:, None, 1], panels[None, :, 1])
               ).clip(0) / np.minimum(h[:, None], h[None, :])  # (i, j) share of the lower panel's height
    # (i, j): j starts near where i ends (boxes of a tilted photo's panels overlap by up to ~a fifth of a
    # width) and lies to i's right
    gap = panels[None, :, 0] - panels[:, None, 2]
    wmin = np.minimum(w[:, None], w[None, :])
    right = panels[None, :, 0] > panels[:, None, 0] + 0.5 * w[:, None]
    abut = (gap > -0.3 * wmin) & (gap < 0.15 * wmin) & right
    # a panel the detector missed leaves a gap of about one panel width: bridged only after every abutting link
    # is taken, and only between panels at the same height
    bridge = (gap >= 0.15 * wmin) & (gap < 1.3 * wmin) & right & (overlap > 0.6)
    nxt, prv = np.full(n, -1), np.full(n, -1)
    for links in (np.where(abut & (overlap > 0.3), overlap, 0.0), np.where(bridge, overlap, 0.0)):
        np.fill_diagonal(links, 0.0)
        for k in np.argsort(-links, axis=None, kind="stable"):  # strongest links first, one in and one out each
            i, j = divmod(int(k), n)
            if links[i, j] <= 0:
                break
            if nxt[i] < 0 and prv[j] < 0:
                nxt[i], prv[j] = j, i
    rows = []
    for start in np.flatnonzero(prv < 0):
        row, j = [], int(start)
        while j >= 0 and j not in row:
            row.append(j)
            j = int(nxt[j])
        rows.append(row)
    cy = (panels[:, 1] + panels[:, 3]) / 2
    return sorted(rows, key=lambda r: float(np.mean(cy[r])))


# A panel box lying this much inside surer ones is a piece of them (a rhythm strip's first quarter scored as a
# panel of its own, a box straddling two rows of a family page), not a panel: panels of one page abut and overlap
# by a fifth of a box at most, so even four neighbours cover well under this share of a real panel.
NESTED_SHARE = 0.8
# ... or this much inside one surer box: abutting panels overlap by a fifth at most (a strip box cut short and its
# missing end scored as a panel of its own overlaps the strip by three quarters)
NESTED_ONE_SHARE = 0.5
_COVER_GRID = 24  # sample points per side of a box for the share the surer boxes cover


# Two boxes in one band overlapping by more than this share of the narrower one's width are pieces of one panel
# (a rhythm strip scored as its first column plus the rest); abutting panels overlap by a fifth at most.
SPLIT_X_SHARE = 0.3
SPLIT_Y_SHARE = 0.8  # "one band": y overlap over the lower box's height


def merge_split_panels(panels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(panels with each group of pieces replaced by their union in the surest piece's slot, (k,) bool: the other
    pieces, to drop)."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4).copy()
    scores = np.asarray(scores, np.float64).reshape(-1)
    gone = np.zeros(len(panels), bool)
    merged = True
    while merged:
        merged = False
        order = [int(i) for i in np.lexsort((np.arange(len(panels)), -scores)) if not gone[i]]
        for a in order:
            for b in order:
                if a == b or gone[a] or gone[b] or scores[b] > scores[a] or (scores[b] == scores[a] and b < a):
                    continue
                pa, pb = panels[a], panels[b]
                ox = min(pa[2], pb[2]) - max(pa[0], pb[0])
                oy = min(pa[3], pb[3]) - max(pa[1], pb[1])
                narrow = max(min(pa[2] - pa[0], pb[2] - pb[0]), 1.0)
                low = max(min(pa[3] - pa[1], pb[3] - pb[1]), 1.0)
                if ox > SPLIT_X_SHARE * narrow and oy > SPLIT_Y_SHARE * low:
                    panels[a] = [min(pa[0], pb[0]), min(pa[1], pb[1]), max(pa[2], pb[2]), max(pa[3], pb[3])]
                    gone[b] = merged = True
    return panels, gone


def nested(panels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(k,) bool: the panel lies >= NESTED_SHARE of its area inside higher-scoring panels that are kept (one, or
    several together), or >= NESTED_ONE_SHARE inside one of them."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    out = np.zeros(len(panels), bool)
    t = (np.arange(_COVER_GRID) + 0.5) / _COVER_GRID
    kept: list[int] = []
    for i in np.lexsort((np.arange(len(panels)), -scores)):  # surest first; ties: the earlier box
        x0, y0, x1, y1 = panels[i]
        if kept and x1 > x0 and y1 > y0:
            xs, ys = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            others = panels[kept]
            in_x = (xs[None, :] >= others[:, :1]) & (xs[None, :] <= others[:, 2:3])  # (kept, grid)
            in_y = (ys[None, :] >= others[:, 1:2]) & (ys[None, :] <= others[:, 3:4])
            inside = in_y[:, :, None] & in_x[:, None, :]  # (kept, grid y, grid x)
            if inside.any(0).mean() >= NESTED_SHARE or inside.mean((1, 2)).max() >= NESTED_ONE_SHARE:
                out[i] = True
                continue
        kept.append(int(i))
    return out


def read_page_layout(detections: Detections, image: np.ndarray, reader: Any, labels: np.ndarray | None = None
                     ) -> Detections:
    """`detections` with the lead names read from the page: page_layout set, panel_leads and layout from it.
    labels: the label candidates to read (default: the lead_label boxes among `detections`)."""
    from dataclasses import replace

    from detector.layout import read_layout

    if labels is None:
        labels = detections.boxes[detections.classes == LEAD_LABEL]
    template = detections.panel_leads if detections.layout != "unknown" else None
    page = read_layout(image, detections.panels, panel_rows(detections.panels), labels, reader, template,
                       detections.layout)
    names = [lead if lead is not None else f"panel{i}" for i, lead in enumerate(page.panel_leads)]
    return replace(detections, panel_leads=names, layout=page.layout, page_layout=page)


def build_detections(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, shape: tuple[int, int],
                     meta: dict[str, Any] | None = None) -> Detections:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    classes = np.asarray(classes, np.int64).reshape(-1)
    panels, names, layout, panel_of, rank = assign_leads(boxes, classes)
    # Beats first, by (panel, time); unassigned beats after them by x; then the other classes by class, score.
    is_beat = classes == BEAT
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    panel_key = np.where(panel_of >= 0, panel_of, len(panels))
    key_beat = np.lexsort((cx, panel_key, ~is_beat))
    beats = key_beat[: int(is_beat.sum())]
    others = np.flatnonzero(~is_beat)
    others = others[np.lexsort((-scores[others], classes[others]))]
    idx = np.concatenate([beats, others]).astype(np.int64)
    return Detections(boxes=boxes[idx].astype(np.float32), scores=scores[idx].astype(np.float32),
                      classes=classes[idx], panel=panel_of[idx], order=rank[idx],
                      panels=panels.astype(np.float32), panel_leads=names, image_shape=(int(shape[0]), int(shape[1])),
                      layout=layout, meta=meta or {})


# Below this correlation of horizontally neighbouring pixels (grey, page scaled to 400 px) an image is pixel
# noise, not a photograph of anything: photographed and scanned pages measure 0.48-0.99 (294 rendered photos),
# independent noise 0.00. The model answers noise with beat-like boxes (stages 8-9: up to 0.64), so it is not asked.
MIN_PIXEL_CORRELATION = 0.2


def pixel_correlation(image: np.ndarray) -> float:
    """Correlation of horizontally neighbouring grey pixels, on the image scaled to 400 px (1.0 when flat)."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    scale = 400 / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    a, b = grey[:, :-1].ravel().astype(np.float64), grey[:, 1:].ravel().astype(np.float64)
    if a.std() < 1e-6 or b.std() < 1e-6:
        return 1.0
    return float(np.corrcoef(a, b)[0, 1])


MAX_ASPECT = 40  # a 10 s single-lead strip is ~8:1; beyond 40:1 a page scaled to 736 px is a few pixels thin


def check_image(image: Any, path: str | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB, or a clear DataError naming the file."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8 or min(image.shape[:2]) < 8:
        raise DataError(f"expected an (H, W, 3) uint8 RGB image of at least 8x8 px, got {image.shape} {image.dtype}",
                        path)
    h, w = image.shape[:2]
    if max(h, w) > MAX_ASPECT * min(h, w):  # scaled to the model's input it would be under a pixel thin
        raise DataError(f"image of {w}x{h} px is too elongated to hold an ECG page or strip (sides over "
                        f"{MAX_ASPECT}:1)", path)
    return np.ascontiguousarray(image[:, :, :3])


class BeatDetector:
    """YOLO beat detector. `BeatDetector()` loads the weights shipped in detector/weights/.

    weights: .pt (backend "torch") or .onnx (backend "onnx"); backend "onnx" with .pt weights exports them to a
    cached ONNX file beside a temporary folder first. imgsz/conf/iou default to the values the weights were
    trained with (stored in the checkpoint); conf=None reads the operating score calibrated on validation pages
    from the sidecar `<weights stem>.json` (calibrated on PTB-XL fold 9, see detector/weights/README.md), else
    0.25, and imgsz=None the input size it was calibrated at (sidecar "imgsz", when given). panel_conf: the
    lead_panel score bar (None: the sidecar's "panel_conf", calibrated for the most validation pages with their
    layout recognised, else PANEL_CONF).
    tile: tile side in page pixels (0 = whole page); merge: "nms" or "wbf" for boxes seen in several tiles.
    labels: the lead-label reader (vizecg.labels.LabelReader) that names panels from their printed labels;
    "auto": the shipped reader on this backend; None: panels named by the row shape only (3x4 / 3x4+1).
    """

    def __init__(self, weights: str | Path | None = None, imgsz: int | None = None, conf: float | None = None,
                 iou: float = 0.6, device: str = "cpu", backend: Literal["torch", "onnx"] = "torch",
                 tile: int = 0, tile_overlap: float = 0.25, merge: Literal["nms", "wbf"] = "nms",
                 max_det: int = 300, panel_conf: float | None = None, labels: Any = "auto"):
        self.weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        if not self.weights.is_file():
            raise ModelError("detector weights not found" + (" (the shipped weights are missing from this install)"
                                                             if weights is None else ""), self.weights)
        self.conf = float(conf) if conf is not None else operating_conf(self.weights)
        self.iou, self.device, self.backend = float(iou), device, backend
        self.tile, self.tile_overlap, self.merge, self.max_det = int(tile), float(tile_overlap), merge, int(max_det)
        self.panel_conf = float(panel_conf) if panel_conf is not None else operating_panel_conf(self.weights)
        if backend not in ("torch", "onnx"):
            raise ModelError(f"unknown backend {backend!r} (torch or onnx)")
        if backend == "torch":
            if self.weights.suffix != ".pt":
                raise ModelError("the torch backend needs .pt weights", self.weights)
            self._model = load_yolo(self.weights)
            trained = int(self._model.overrides.get("imgsz", 640) or 640)
            self.imgsz = int(imgsz or operating_imgsz(self.weights) or trained)
            self.names = [self._model.names[i] for i in sorted(self._model.names)]
        else:
            onnx_path = self.weights
            if self.weights.suffix == ".pt":
                from detector.export import export_onnx

                onnx_path = export_onnx(self.weights, imgsz=imgsz)
            self._session, meta = _load_onnx(onnx_path)
            _check_not_stale(onnx_path, meta.get("source_sha256"))
            self.imgsz = int(meta["imgsz"])
            if imgsz and int(imgsz) != self.imgsz:
                raise ModelError(f"this ONNX graph has a fixed input of {self.imgsz} px, not {imgsz}", onnx_path)
            self.names = meta["names"]
        if tuple(self.names) != CLASS_NAMES:
            raise ModelError(f"weights predict {self.names}, expected {list(CLASS_NAMES)}", self.weights)
        if isinstance(labels, str) and labels == "auto":
            from vizecg.labels import LabelReader

            labels = LabelReader(backend=backend)
        self.label_reader = labels

    # --- raw boxes ----------------------------------------------------------------------------------------
    def predict_boxes(self, image: np.ndarray, conf: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes (n, 4) xyxy page px, scores (n,), classes (n,)) over all classes, tiles merged; nothing for
        an image of pixel noise (see MIN_PIXEL_CORRELATION)."""
        image = check_image(image)
        conf = self.conf if conf is None else float(conf)
        if pixel_correlation(image) < MIN_PIXEL_CORRELATION:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
        h, w = image.shape[:2]
        if self.tile <= 0 or max(h, w) <= self.tile:
            return self._predict_one(image, conf)
        all_b, all_s, all_c = [], [], []
        for x0, y0, x1, y1 in tile_windows((h, w), self.tile, self.tile_overlap):
            b, s, c = self._predict_one(image[y0:y1, x0:x1], conf)
            all_b.append(b + np.array([x0, y0, x0, y0]))
            all_s.append(s)
            all_c.append(c)
        b, s, c = np.concatenate(all_b), np.concatenate(all_s), np.concatenate(all_c)
        if self.merge == "wbf":
            return weighted_boxes_fusion(b, s, c, iou=0.6, metric="ios")
        keep = nms(b, s, c, iou=0.6, metric="ios", max_det=self.max_det)
        return b[keep], s[keep], c[keep]

    def _predict_one(self, image: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.backend == "torch":
            res = self._model.predict(np.ascontiguousarray(image[:, :, ::-1]), imgsz=self.imgsz, conf=conf, iou=self.iou,
                                      device=self.device, max_det=self.max_det, verbose=False, rect=False)[0]
            bx = res.boxes
            return (bx.xyxy.cpu().numpy().astype(np.float64), bx.conf.cpu().numpy().astype(np.float64),
                    bx.cls.cpu().numpy().astype(np.int64))
        return _onnx_predict(self._session, image, self.imgsz, conf, self.iou, self.max_det)

    # --- the public API -----------------------------------------------------------------------------------
    def detect(self, image: np.ndarray, conf: float | None = None) -> Detections:
        """Detect beats, lead labels, calibration pulses and lead panels on one RGB page; beats get their lead."""
        image = check_image(image)
        conf = self.conf if conf is None else float(conf)
        # Lead panels have their own calibrated bar (panel_conf): the model scores them differently from beats,
        # and one panel too many or too few loses the layout, so every beat's lead name. A panel also stays from
        # the beat score up: the bar is calibrated on 3x4+1 pages, and on the other print-style families panels
        # score lower (shipped weights, benchmarks/detector.py --families 20, mean of the 11 families: names read
        # right on 0.228 of the printed panels this way, 0.218 with the bar alone).
        reading = self.label_reader is not None
        boxes, scores, classes = self.predict_boxes(image, min(conf, self.panel_conf, LABEL_CONF if reading else 1.0))
        labels = boxes[(classes == LEAD_LABEL) & (scores >= LABEL_CONF)]
        is_panel = classes == LEAD_PANEL
        keep = (scores >= conf) | (is_panel & (scores >= self.panel_conf))
        boxes = boxes.copy()
        idx = np.flatnonzero(is_panel & keep)
        boxes[idx], pieces = merge_split_panels(boxes[idx], scores[idx])
        keep[idx[pieces]] = False
        idx = np.flatnonzero(is_panel & keep)
        keep[idx[nested(boxes[idx], scores[idx])]] = False
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        found = build_detections(boxes, scores, classes, image.shape[:2],
                                 meta={"backend": self.backend, "imgsz": self.imgsz, "conf": self.conf if conf is None
                                       else float(conf), "tile": self.tile})
        return read_page_layout(found, image, self.label_reader, labels) if reading else found

    def crops(self, image: np.ndarray, detections: Detections, size: tuple[int, int] = (64, 64),
              max_beats: int = 24) -> tuple[np.ndarray, np.ndarray]:
        """Beat crops (k, 3, h, w) float32 in [0, 1] ordered by lead then time, and their indices into
        `detections.beat_boxes` (see vizecg.crops.crop_beats)."""
        from vizecg.crops import crop_beats

        return crop_beats(check_image(image), detections.beat_boxes, detections.order_keys(), size=size,
                          max_beats=max_beats)


def operating_conf(weights: Path, default: float = 0.25) -> float:
    """The calibrated beat score threshold stored beside the weights (`<stem>.json`: {"conf": ...})."""
    value = _sidecar(weights).get("conf", default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ModelError("weights sidecar JSON has a non-numeric 'conf'", weights.with_suffix(".json")) from None


def operating_panel_conf(weights: Path, default: float = PANEL_CONF) -> float:
    """The calibrated lead_panel score threshold stored beside the weights (sidecar "panel_conf"), else default."""
    value = _sidecar(weights).get("panel_conf", default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ModelError(f"weights sidecar JSON: 'panel_conf' must be a score in (0, 1), got {value!r}",
                         weights.with_suffix(".json"))
    return float(value)


def operating_imgsz(weights: Path) -> int | None:
    """The input size the operating score was calibrated at (sidecar "imgsz"), if the sidecar gives one."""
    value = _sidecar(weights).get("imgsz")
    if value is None:
        return None
    if not isinstance(value, int) or value < 32 or value % 32:
        raise ModelError(f"weights sidecar JSON: 'imgsz' must be a multiple of 32, got {value!r}",
                         weights.with_suffix(".json"))
    return value


def _sidecar(weights: Path) -> dict[str, Any]:
    import json

    sidecar = Path(weights).with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"weights sidecar JSON is not valid JSON: {exc}", sidecar) from None
    if not isinstance(data, dict) or "conf" not in data:
        raise ModelError("weights sidecar JSON lacks a numeric 'conf'", sidecar)
    return data


def load_yolo(weights: Path):
    """YOLO from .pt weights through ultralytics' restricted loader: a file holding anything but known model
    classes (a pickled payload) is refused before any of it runs."""
    from vizecg.offline import import_ultralytics

    yolo_class = import_ultralytics().YOLO
    try:
        return yolo_class(str(weights), task="detect")
    except Exception as exc:  # ultralytics raises many types for a corrupt or foreign file
        raise ModelError(f"cannot load YOLO weights: {load_error_reason(exc)}", weights) from None


def load_error_reason(exc: Exception) -> str:
    """ultralytics' errors run over several lines with emoji and advice about its own models: keep the reason."""
    text = str(exc).strip()
    if "outside the supported Ultralytics checkpoint format" in text:
        return "it holds objects other than known model classes, refused unopened (loading them could run code)"
    return first_line(exc, 300).replace("ERROR ❌️ ", "").strip()


def _load_onnx(path: Path) -> tuple[Any, dict[str, Any]]:
    import ast

    from detector.export import SOURCE_SHA_KEY
    from vizecg.onnx_session import cpu_session

    try:
        session = cpu_session(path)
    except Exception as exc:
        raise ModelError(f"cannot load ONNX model: {exc}", path) from None
    meta = session.get_modelmeta().custom_metadata_map
    shape = session.get_inputs()[0].shape
    try:
        names = ast.literal_eval(meta["names"])
        names = [names[i] for i in sorted(names)]
        imgsz = int(shape[2])
    except (KeyError, ValueError, TypeError, SyntaxError):
        raise ModelError("ONNX model lacks ultralytics metadata (names) or a fixed input size", path) from None
    return session, {"names": names, "imgsz": imgsz, "source_sha256": meta.get(SOURCE_SHA_KEY)}


def _check_not_stale(onnx_path: Path, recorded: str | None) -> None:
    """A graph lying beside `<stem>.pt` must have been exported from those bytes (release rule: re-export the
    .onnx with every new .pt), else it answers with old weights under the new weights' sidecar: refused."""
    from detector.export import sha256_file

    weights = onnx_path.with_suffix(".pt")
    if weights.is_file() and recorded != (actual := sha256_file(weights)):
        raise ModelError(f"stale ONNX graph: it was not exported from the {weights.name} beside it (records sha256 "
                         f"{str(recorded)[:16]}, the file has {actual[:16]}); re-export it: "
                         f"`vizecg detector export --weights {weights} --out {onnx_path}`", onnx_path)


def _onnx_predict(session: Any, image: np.ndarray, imgsz: int, conf: float, iou: float, max_det: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Letterbox -> graph -> best class per anchor -> class-wise NMS -> page pixels (ultralytics' own steps)."""
    padded, gain, pad = letterbox(image, imgsz)
    x = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    out = session.run(None, {session.get_inputs()[0].name: x})[0][0]  # (4 + nc, anchors)
    cls_scores = out[4:]
    cls = cls_scores.argmax(0)
    score = cls_scores[cls, np.arange(out.shape[1])]
    keep = score > conf
    xywh = out[:4, keep].T.astype(np.float64)
    boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
    score, cls = score[keep].astype(np.float64), cls[keep].astype(np.int64)
    k = nms(boxes, score, cls, iou=iou, max_det=max_det)
    return unletterbox(boxes[k], gain, pad, image.shape[:2]), score[k], cls[k]

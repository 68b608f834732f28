"""`PageLayout`: the page's rows of panels with the lead names printed on it, read from the page.

From the detector's lead_panel boxes (clustered into rows, as `assign_leads` does) and lead_label boxes:
each label is attached to the panel whose left end it sits at (above-left, below-left or on the trace start:
all inside the panel's band, near its left edge; one label per panel, Hungarian matching), and read by the
lead-label reader (vizecg.labels). A panel left without a read (no label box found, or one read as not a label)
is probed: word-sized blobs of ink near the panel's left end, wherever the style prints its names
(vizecg.labels.crops.ink_label_boxes), and label-sized windows where our printer puts them (band top, above / on /
below the baseline, 1 mm in from the panel's left edge: the only probes for a name overprinted by the trace; mm
from the rows' 250 mm trace width), the surest read kept. The layout is named after a standard template only where the read names
agree with it (a 3x4+1 page whose strip reads V1 is "3x4+1" with strip V1); panels left unread on a recognised
layout take the template's name, flagged `assumed`. A page where nothing can be read keeps today's template
logic (3x4 / 3x4+1 from the row shape), every name flagged assumed; anything else unread is None, never guessed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vizecg.labels.crops import ink_label_boxes, probe_boxes
from vizecg.render.paper import TRACE_WIDTH_MM
from vizecg.render.style import (EXTRA_LEADS, FIFTH_COLUMN_FALLBACK, ROWS_3X4, ROWS_3X4_CABRERA, ROWS_6X2,
                                 ROWS_6X2_CABRERA, ROWS_12X1, ROWS_LIMB)

Rows = tuple[tuple[str, ...], ...]
# (layout name as the renderer reports it, lead order, grid rows, may rhythm strips follow)
TEMPLATES: tuple[tuple[str, str, Rows, bool], ...] = (
    ("3x4", "standard", ROWS_3X4, True), ("3x4", "Cabrera", ROWS_3X4_CABRERA, True),
    ("3x5", "standard", tuple(r + (x,) for r, x in zip(ROWS_3X4, EXTRA_LEADS)), True),
    ("6x2", "standard", ROWS_6X2, False), ("6x2", "Cabrera", ROWS_6X2_CABRERA, False),
    ("12x1", "standard", ROWS_12X1, False), ("6x1", "standard", ROWS_LIMB, False),
    ("3x1", "strips", (("II",), ("V1",), ("V5",)), False),
)
MAX_CLASH_SHARE = 0.15
# A probe read must be surer than a read of a detected label box: eight windows per panel are eight chances for a
# trace start or a scratched-out name to look like "I" (on clean pages with the names painted out, probes read
# "I" / "aVR" at up to 0.81).
PROBE_MIN_PROB = 0.9
# What unread rhythm strips are assumed to show, by their number (render/style.py's 3x4+N pages).
DEFAULT_STRIPS = {1: ("II",), 2: ("V1", "II"), 3: ("V1", "II", "V5")}
# A 15-lead page's fifth column prints II, V1, V5 under their own names when the record lacks V4R, V8, V9.
_ALSO_ACCEPTED = {x: {x, f} for x, f in zip(EXTRA_LEADS, FIFTH_COLUMN_FALLBACK)}


@dataclass
class PanelLead:
    """One panel: its box, where it sits, the label attached to it and the name it gets."""

    box: list[float]  # xyxy page px
    row: int
    col: int
    lead: str | None  # the name as printed (read, or assumed from the template), None where unknown
    source: str  # "read", "template" (assumed) or "none"
    prob: float | None = None  # the reader's calibrated probability of its read (None: no label read)
    label_box: list[float] | None = None
    read: str | None = None  # the reader's top class for the attached label (may be "not_a_label")

    def to_json(self) -> dict[str, Any]:
        return {"box": [round(v, 1) for v in self.box], "row": self.row, "col": self.col, "lead": self.lead,
                "source": self.source, "prob": None if self.prob is None else round(self.prob, 4),
                "label_box": None if self.label_box is None else [round(v, 1) for v in self.label_box],
                "read": self.read}


@dataclass
class PageLayout:
    layout: str  # "3x4+1", "6x2", "3x5", "12x1", ... or "unknown"
    order: str | None  # "standard", "Cabrera", "strips"; None when the layout is unknown
    panels: list[PanelLead]  # reading order: rows top to bottom, left to right
    rows: list[list[str | None]] = field(default_factory=list)  # lead names per row, None where unknown
    names_assumed: bool = False  # no name could be read: every name comes from the template (or is None)

    @property
    def panel_leads(self) -> list[str | None]:
        return [p.lead for p in self.panels]

    @property
    def assumed(self) -> list[list[bool]]:
        out: list[list[bool]] = [[] for _ in self.rows]
        for p in self.panels:
            out[p.row].append(p.source == "template")
        return out

    @property
    def rhythm(self) -> list[str | None]:
        """The rhythm strips' leads (the single-panel rows under a 3x4/3x5 grid), top to bottom."""
        base = self.layout.split("+")[0]
        if "+" not in self.layout or base not in ("3x4", "3x5"):
            return []
        return [row[0] for row in self.rows[3:]]

    @property
    def n_read(self) -> int:
        return sum(p.source == "read" for p in self.panels)

    def to_json(self) -> dict[str, Any]:
        return {"layout": self.layout, "order": self.order, "rows": self.rows, "assumed": self.assumed,
                "names_assumed": self.names_assumed, "rhythm": self.rhythm, "n_read": self.n_read,
                "panels": [p.to_json() for p in self.panels]}


def attach_labels(panels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(p,) index into `labels` of the label at each panel's left end, -1 where none.

    A label belongs to a panel when its centre lies in the panel's band (with a third of its height to spare:
    photos bend rows) and near its left edge (within a third of the panel's width right of it, or just left of
    it); the cost is the distance from that corner, in panel widths and heights; one label per panel."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4)
    labels = np.asarray(labels, np.float64).reshape(-1, 4)
    out = np.full(len(panels), -1, np.int64)
    if not len(panels) or not len(labels):
        return out
    from scipy.optimize import linear_sum_assignment

    pw = np.maximum(panels[:, 2] - panels[:, 0], 1.0)[:, None]
    ph = np.maximum(panels[:, 3] - panels[:, 1], 1.0)[:, None]
    lx, ly = (labels[:, 0] + labels[:, 2]) / 2, (labels[:, 1] + labels[:, 3]) / 2
    lw = (labels[:, 2] - labels[:, 0])[None, :]
    dx = (lx[None, :] - (panels[:, :1] + lw / 2)) / pw  # 0 when the label starts at the panel's left edge
    dy = (ly[None, :] - (panels[:, 1:2] + panels[:, 3:4]) / 2) / ph
    ok = (dx > -0.08 - lw / pw) & (dx < 0.33) & (np.abs(dy) < 0.5 + 0.33)
    cost = np.where(ok, 3 * np.abs(dx) + np.abs(dy), 1e6)
    r, c = linear_sum_assignment(cost)
    keep = cost[r, c] < 1e6
    out[r[keep]] = c[keep]
    return out


def column_positions(panels: np.ndarray, rows: list[list[int]]) -> list[list[int]]:
    """Each panel's column in its row. Rows as wide as the widest count their panels left to right; a shorter
    row (the detector missed a panel) puts each panel in the widest row's column it overlaps most, so a missed
    panel leaves a hole instead of shifting its neighbours' names. A single panel spanning most of the page
    width (a rhythm strip) is column 0."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4)
    if not rows:
        return []
    widest = max(rows, key=len)
    n_cols = len(widest)
    span = panels[widest, 2].max() - panels[widest, 0].min() if widest else 1.0
    out = []
    for row in rows:
        if len(row) >= n_cols or (len(row) == 1 and panels[row[0], 2] - panels[row[0], 0] > 0.6 * span):
            out.append(list(range(len(row))))
            continue
        ref = panels[widest]
        ov = (np.minimum(panels[row, None, 2], ref[None, :, 2]) - np.maximum(panels[row, None, 0], ref[None, :, 0])
              ).clip(0)  # (len(row), n_cols) x-overlap with the widest row's columns
        cols = [int(c) for c in ov.argmax(1)]
        if len(set(cols)) < len(cols) or sorted(cols) != cols:  # two panels in one column: not a grid row
            cols = list(range(len(row)))
        out.append(cols)
    return out


def _template_fit(sizes: list[int], names: list[list[str | None]], cols: list[list[int]] | None = None
                  ) -> tuple[str, str, list[list[str]]] | None:
    """The best template the row shape fits and the read names agree with (most agreeing reads wins; a clash
    is tolerated per MAX_CLASH_SHARE of agreeing reads, at least 4 of them: one misread of a trace's start
    does not lose a page whose other labels all agree): (layout name, order, template names per row).
    cols: each panel's column (`column_positions`); a grid row may then miss panels (at most one per row, each
    missed panel a hole), but never a whole row, and its reads must be at least 4 to name anything."""
    cols = cols if cols is not None else [list(range(n)) for n in sizes]
    best, best_hits = None, 0
    for name, order, grid, strips in TEMPLATES:
        n_grid = len(grid)
        extra = len(sizes) - n_grid
        if extra < 0 or (extra and not strips) or extra > 3 or any(s != 1 for s in sizes[n_grid:]):
            continue
        holes = sum(len(g) - s for g, s in zip(grid, sizes))
        if any(s > len(g) or s < len(g) - 1 or (c and c[-1] >= len(g)) for g, s, c in zip(grid, sizes, cols)):
            continue
        want = [list(r) for r in grid] + [[s] for s in DEFAULT_STRIPS.get(extra, ())]
        hits, clashes = 0, 0
        for r, row in enumerate(names):
            for c, read in zip(cols[r], row):
                if read is None:
                    continue
                if r >= n_grid:  # a rhythm strip may show any lead
                    hits += 1
                elif read in _ALSO_ACCEPTED.get(want[r][c], {want[r][c]}):
                    hits += 1
                else:
                    clashes += 1
        if holes and hits < 4:
            continue
        if clashes <= int(MAX_CLASH_SHARE * hits) and (hits >= 4 or not clashes) and hits > best_hits:
            best, best_hits = (name + (f"+{extra}" if extra else ""), order, want), hits
    return best


def px_per_mm(panels: np.ndarray, rows: list[list[int]]) -> float:
    """Page scale from the widest row: every layout's rows span the 250 mm trace width (at any paper speed)."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4)
    spans = [panels[r, 2].max() - panels[r, 0].min() for r in rows if len(r)]
    return max(spans) / TRACE_WIDTH_MM if spans else 1.0


def read_layout(image: np.ndarray, panels: np.ndarray, rows: list[list[int]], label_boxes: np.ndarray, reader: Any,
                template_names: list[str] | None = None, template_layout: str = "unknown",
                probe: bool = True) -> PageLayout:
    """PageLayout of one page: detected labels attached and read, unread panels probed (see the module doc)."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4)
    label_boxes = np.asarray(label_boxes, np.float64).reshape(-1, 4)
    attached = attach_labels(panels, label_boxes)
    reads = reader.read(image, label_boxes) if len(label_boxes) else []
    boxes: list[np.ndarray | None] = [label_boxes[k] if k >= 0 else None for k in attached]
    panel_reads = [reads[k] if k >= 0 else None for k in attached]
    todo = [j for j, r in enumerate(panel_reads) if r is None or r.name is None]
    if probe and todo:
        mm = px_per_mm(panels, rows)
        cand = [np.concatenate([ink_label_boxes(image, panels[j], mm), probe_boxes(panels[j], mm)]) for j in todo]
        found = reader.read(image, np.concatenate(cand))
        k = 0
        for j, c in zip(todo, cand):
            mine = found[k:k + len(c)]
            k += len(c)
            named = [i for i, r in enumerate(mine) if r.name is not None and r.prob >= PROBE_MIN_PROB]
            if named:
                best = max(named, key=lambda i: mine[i].prob)
                boxes[j], panel_reads[j] = c[best], mine[best]
    return assemble_layout(panels, rows, boxes, panel_reads, template_names, template_layout)


def build_page_layout(panels: np.ndarray, rows: list[list[int]], label_boxes: np.ndarray, reads: list[Any],
                      template_names: list[str] | None = None, template_layout: str = "unknown") -> PageLayout:
    """PageLayout of panels already in reading order (`rows`: their indices per row), with `reads[i]` the
    LabelRead (name, cls, prob) of label_boxes[i]; no probing (read_layout probes)."""
    attached = attach_labels(panels, label_boxes)
    label_boxes = np.asarray(label_boxes, np.float64).reshape(-1, 4)
    return assemble_layout(panels, rows, [label_boxes[k] if k >= 0 else None for k in attached],
                           [reads[k] if k >= 0 else None for k in attached], template_names, template_layout)


def assemble_layout(panels: np.ndarray, rows: list[list[int]], boxes: list[np.ndarray | None], reads: list[Any],
                    template_names: list[str] | None = None, template_layout: str = "unknown") -> PageLayout:
    """PageLayout from each panel's label box and read (None where none). template_names/template_layout: what
    the row-shape-only logic (`assign_leads`) called the panels, used, flagged assumed, when nothing was read."""
    panels = np.asarray(panels, np.float64).reshape(-1, 4)
    where = {j: (r, c) for r, row in enumerate(rows) for c, j in enumerate(row)}
    items = []
    for j, box in enumerate(panels):
        r, c = where[j]
        read, lbox = reads[j], boxes[j]
        name = read.name if read is not None else None
        items.append(PanelLead(box=[float(v) for v in box], row=r, col=c, lead=name,
                               source="read" if name is not None else "none",
                               prob=None if read is None else float(read.prob),
                               label_box=None if lbox is None else [float(v) for v in lbox],
                               read=None if read is None else read.cls))
    sizes = [len(row) for row in rows]
    read_rows = [[items[j].lead for j in row] for row in rows]
    nothing_read = all(p.source != "read" for p in items)
    if nothing_read:
        layout, order = template_layout, ("standard" if template_layout != "unknown" else None)
        if template_layout != "unknown" and template_names is not None:
            for p, name in zip(items, template_names):
                p.lead, p.source = name, "template"
    else:
        cols = column_positions(panels, rows)
        fit = _template_fit(sizes, read_rows, cols)
        if fit is None:
            layout, order = "unknown", None
        else:
            layout, order, want = fit
            n_grid = len(rows) - (int(layout.split("+")[1]) if "+" in layout else 0)
            for r, row in enumerate(rows):
                for c, j in zip(cols[r], row):
                    ok = items[j].source == "read" and (
                        r >= n_grid or items[j].lead in _ALSO_ACCEPTED.get(want[r][c], {want[r][c]}))
                    if not ok:  # unread, or a tolerated clash (a misread): the template's name, assumed
                        items[j].lead, items[j].source = want[r][c if r < n_grid else 0], "template"
    out_rows = [[items[j].lead for j in row] for row in rows]
    return PageLayout(layout=layout, order=order, panels=items, rows=out_rows, names_assumed=nothing_read)

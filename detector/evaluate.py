"""Detection quality on rendered pages: precision/recall at the operating score, AP50 and AP50-95 per class,
overall, per photo severity and per page group, also with the panel-end beats left out; the two
candidate operating scores (max F1, most recall at the target precision); and the lead_panel score: how many
pages get their printed layout recognised at the detector's panel bar, and the bar that recognises the most
(`panel_calibration`). Matching follows ultralytics' validator (greedy by score, one truth per box,
IoU thresholds 0.50:0.95); the AP itself is ultralytics' `ap_per_class`."""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from detector.config import BEAT, CLASS_NAMES, LEAD_PANEL
from detector.geometry import pairwise_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
AP_CONF = 0.001  # boxes down to this score feed the PR curve; P/R are read at the detector's own conf
TARGET_PRECISION = 0.95  # the operating score is the lowest at which beat precision still reaches this (issue 4)
# A beat box whose left or right end lies this close to its panel's first or last printed sample is a panel-end
# beat: whether its 0.25 s before R / 0.45 s after R were printed decides its label, a matter of a few pixels.
PANEL_END_S = 0.1
# Lead-panel bars tried by `panel_calibration` (every panel score the model gives lies in one of these steps).
PANEL_CANDIDATES = tuple(round(float(v), 2) for v in np.arange(0.01, 0.96, 0.01))
PANEL_TARGET_PRECISION = 0.99  # a spurious panel costs the layout: the panel-recall candidate keeps P >= this
LAYOUTS_NAMED = ("3x4+1", "3x4")  # the layouts `assign_leads` names leads for; any other page should read unknown


def match(pred_boxes: np.ndarray, pred_scores: np.ndarray, pred_cls: np.ndarray, gt_boxes: np.ndarray,
          gt_cls: np.ndarray) -> np.ndarray:
    """(n_pred, 10) bool: prediction i is a true positive at IoU threshold t (each truth matched once)."""
    tp = np.zeros((len(pred_boxes), len(IOU_THRESHOLDS)), bool)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    iou = pairwise_iou(pred_boxes, gt_boxes)
    iou[pred_cls[:, None] != gt_cls[None, :]] = 0.0
    order = np.argsort(-pred_scores, kind="stable")
    for t, thr in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(len(gt_boxes), bool)
        for i in order:
            cand = np.where(~taken & (iou[i] >= thr))[0]
            if len(cand):
                j = cand[np.argmax(iou[i, cand])]
                taken[j] = True
                tp[i, t] = True
    return tp


class Accumulator:
    """Collects matches of many pages; `summary()` gives per-class and beat metrics."""

    def __init__(self, conf: float):
        self.conf = conf
        self.tp: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.pred_cls: list[np.ndarray] = []
        self.gt_cls: list[np.ndarray] = []
        self.pages = 0

    def add(self, pred: tuple[np.ndarray, np.ndarray, np.ndarray], gt_boxes: np.ndarray, gt_cls: np.ndarray) -> None:
        boxes, scores, cls = pred
        self.tp.append(match(boxes, scores, cls, gt_boxes, gt_cls))
        self.scores.append(np.asarray(scores, np.float64))
        self.pred_cls.append(np.asarray(cls, np.int64))
        self.gt_cls.append(np.asarray(gt_cls, np.int64))
        self.pages += 1

    def summary(self) -> dict[str, Any]:
        from vizecg.offline import import_ultralytics

        import_ultralytics()  # offline, safe-load switch on, its chatter on stderr (an ONNX-only eval imports it here)
        from ultralytics.utils.metrics import ap_per_class

        tp = np.concatenate(self.tp) if self.tp else np.zeros((0, 10), bool)
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0)
        pcls = np.concatenate(self.pred_cls) if self.pred_cls else np.zeros(0, np.int64)
        gcls = np.concatenate(self.gt_cls) if self.gt_cls else np.zeros(0, np.int64)
        per_class: dict[str, Any] = {}
        ap = {}
        if len(gcls):
            res = ap_per_class(tp, scores, pcls, gcls, names={i: n for i, n in enumerate(CLASS_NAMES)})
            # res: tp, fp, p, r, f1, ap (nc, 10), unique_classes, ...
            ap_mat, classes = res[5], res[6]
            ap = {int(c): ap_mat[k] for k, c in enumerate(classes)}
        for c, name in enumerate(CLASS_NAMES):
            keep = (pcls == c) & (scores >= self.conf)
            n_gt = int((gcls == c).sum())
            n_tp = int(tp[keep, 0].sum())
            n_pred = int(keep.sum())
            per_class[name] = {
                "n_true": n_gt, "n_pred": n_pred,
                "precision": round(n_tp / n_pred, 4) if n_pred else (1.0 if n_gt == 0 else 0.0),
                "recall": round(n_tp / n_gt, 4) if n_gt else None,
                "mAP50": round(float(ap[c][0]), 4) if c in ap else None,
                "mAP50-95": round(float(ap[c].mean()), 4) if c in ap else None,
            }
        best_conf, best_f1 = best_f1_threshold(tp[:, 0], scores, pcls, gcls, BEAT)
        at_precision = conf_at_precision(tp[:, 0], scores, pcls, gcls, BEAT, TARGET_PRECISION)
        panel_at_precision = conf_at_precision(tp[:, 0], scores, pcls, gcls, LEAD_PANEL, PANEL_TARGET_PRECISION)
        with_truth = [v for v in per_class.values() if v["n_true"]]
        beat = per_class[CLASS_NAMES[BEAT]]
        return {"pages": self.pages, "conf": self.conf,
                "precision": beat["precision"], "recall": beat["recall"], "mAP50": beat["mAP50"],
                "mAP50-95": beat["mAP50-95"], "beat_best_f1": best_f1, "beat_best_f1_conf": best_conf,
                "beat_at_target_precision": at_precision, "panel_at_target_precision": panel_at_precision,
                "all_classes_mAP50": round(float(np.mean([v["mAP50"] or 0 for v in with_truth])), 4) if with_truth else None,
                "all_classes_mAP50-95": round(float(np.mean([v["mAP50-95"] or 0 for v in with_truth])), 4)
                if with_truth else None,
                "per_class": per_class}


def _pr_curve(tp50: np.ndarray, scores: np.ndarray, pcls: np.ndarray, gcls: np.ndarray, c: int):
    """Scores (descending) of class-c predictions with precision and recall at IoU 0.5 when cut at each."""
    keep = pcls == c
    n_gt = int((gcls == c).sum())
    if not keep.any() or n_gt == 0:
        return None
    order = np.argsort(-scores[keep], kind="stable")
    s, hit = scores[keep][order], tp50[keep][order].astype(np.float64)
    ctp = np.cumsum(hit)
    return s, ctp / np.arange(1, len(hit) + 1), ctp / n_gt


def conf_at_precision(tp50: np.ndarray, scores: np.ndarray, pcls: np.ndarray, gcls: np.ndarray, c: int,
                      target: float) -> dict[str, float] | None:
    """The score threshold giving the most recall while precision (IoU 0.5) stays >= target, for class c:
    {"target", "conf", "precision", "recall"}; None when no threshold reaches the target."""
    curve = _pr_curve(tp50, scores, pcls, gcls, c)
    if curve is None:
        return None
    s, precision, recall = curve
    ok = np.flatnonzero(precision >= target)
    if not len(ok):
        return None
    i = int(ok[np.argmax(recall[ok])])
    return {"target": target, "conf": round(float(s[i]), 4), "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4)}


def best_f1_threshold(tp50: np.ndarray, scores: np.ndarray, pcls: np.ndarray, gcls: np.ndarray, c: int
                      ) -> tuple[float | None, float | None]:
    """The score threshold maximising F1 at IoU 0.5 for class c."""
    curve = _pr_curve(tp50, scores, pcls, gcls, c)
    if curve is None:
        return None, None
    s, precision, recall = curve
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    i = int(np.argmax(f1))
    return round(float(s[i]), 4), round(float(f1[i]), 4)


@dataclass
class EvalPage:
    """One page to score: the image, its truth boxes/classes, photo severity, other groups it belongs to, and
    its panels' ends (`panel_ends`; None: unknown, every beat counts as away from the ends) and its printed
    layout ("3x4+1", "6x2", ...; "none" for a page with no ECG; "" unknown: not scored for layout)."""

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    severity: str
    groups: tuple[str, ...] = ()
    panel_ends: np.ndarray | None = None
    layout: str = ""


def eval_page(image: np.ndarray, truth: Any, severity: str, groups: tuple[str, ...] = ()) -> EvalPage:
    """An EvalPage from a page's PageTruth (the render's YOLO boxes and the panels' printed ends)."""
    from detector.dataset import truth_boxes

    return EvalPage(image, *truth_boxes(truth), severity, tuple(groups), panel_ends(truth), truth.layout or "none")


def panel_ends(truth: Any) -> np.ndarray:
    """(k, 6) per printed lead panel: x, y of its first and of its last printed sample (photo pixels, so
    rotation and perspective are followed), pixels per second along the trace, and the panel's height."""
    rows = []
    for lead in truth.leads:
        pts = lead.trace[np.isfinite(lead.trace).all(axis=1)].astype(np.float64)
        if len(pts) < 2 or lead.t_end_s <= lead.t_start_s:
            continue
        px_per_s = float(np.hypot(*(pts[-1] - pts[0]))) / (lead.t_end_s - lead.t_start_s)
        rows.append([*pts[0], *pts[-1], px_per_s, lead.panel_box.y1 - lead.panel_box.y0])
    return np.asarray(rows, np.float64).reshape(-1, 6)


def at_panel_end(boxes: np.ndarray, ends: np.ndarray, seconds: float = PANEL_END_S) -> np.ndarray:
    """(n,) bool: the box's left end lies within `seconds` of a panel's first printed sample, or its right end
    within `seconds` of a panel's last one (and its centre within half a panel height of that sample)."""
    out = np.zeros(len(boxes), bool)
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    for x0, y0, x1, y1, px_per_s, height in ends:
        m = seconds * px_per_s
        out |= (np.abs(boxes[:, 0] - x0) < m) & (np.abs(cy - y0) < height / 2)
        out |= (np.abs(boxes[:, 2] - x1) < m) & (np.abs(cy - y1) < height / 2)
    return out


def _without_panel_end_beats(pred: tuple[np.ndarray, np.ndarray, np.ndarray], page: EvalPage):
    boxes, scores, cls = pred
    if page.panel_ends is None:
        return pred, page.boxes, page.classes
    keep_p = ~((cls == BEAT) & at_panel_end(boxes, page.panel_ends))
    keep_g = ~((page.classes == BEAT) & at_panel_end(page.boxes, page.panel_ends))
    return (boxes[keep_p], scores[keep_p], cls[keep_p]), page.boxes[keep_g], page.classes[keep_g]


@dataclass
class PagePanels:
    """What layout scoring needs of one page: the predicted lead_panel boxes and scores, and the truth."""

    boxes: np.ndarray  # (k, 4) predicted lead_panel boxes, xyxy
    scores: np.ndarray  # (k,)
    n_true: int  # lead panels printed on the page
    layout: str  # the page's printed layout
    severity: str


def layout_found(page: PagePanels, bar: float) -> bool:
    """Cut at `bar`, the page's panels give its printed layout: the same number of panels, and lead names
    (3x4+1 / 3x4) exactly when the page prints one of those layouts."""
    from detector.infer import assign_leads

    keep = page.scores >= bar
    _, _, layout, _, _ = assign_leads(page.boxes[keep], np.full(int(keep.sum()), LEAD_PANEL))
    expected = page.layout if page.layout in LAYOUTS_NAMED else "unknown"
    return layout == expected and int(keep.sum()) == page.n_true


def layout_summary(pages: list[PagePanels], bar: float) -> dict[str, Any]:
    """Share of pages whose layout is recognised at panel bar `bar`, overall and per severity."""
    def share(group: list[PagePanels]) -> float | None:
        return round(float(np.mean([layout_found(p, bar) for p in group])), 4) if group else None

    scored = [p for p in pages if p.layout]
    severities = sorted({p.severity for p in scored})
    return {"panel_conf": bar, "pages": len(scored), "recognised": share(scored),
            "per_severity": {s: share([p for p in scored if p.severity == s]) for s in severities}}


def panel_calibration(pages: list[PagePanels], candidates: Iterable[float] = PANEL_CANDIDATES) -> dict[str, Any]:
    """The lead_panel bar that recognises the most pages' layouts: the middle of the longest run of candidate
    bars reaching the best count (a plateau's middle keeps a margin on both sides: one spurious panel above
    it, one missed panel below it)."""
    scored = [p for p in pages if p.layout]
    candidates = list(candidates)
    if not scored:
        return {"pages": 0, "panel_conf": None}
    counts = np.asarray([sum(layout_found(p, c) for p in scored) for c in candidates])
    best = int(counts.max())
    runs, start = [], None
    for i, ok in enumerate(list(counts == best) + [False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            runs.append((start, i - 1))
            start = None
    lo, hi = max(runs, key=lambda r: r[1] - r[0])
    mid = candidates[(lo + hi) // 2]
    return {"pages": len(scored), "panel_conf": mid, "recognised": round(best / len(scored), 4),
            "plateau": [candidates[lo], candidates[hi]],
            "recognised_by_bar": {f"{c:g}": round(int(n) / len(scored), 4) for c, n in zip(candidates, counts)
                                  if c in (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9) or c == mid}}


def evaluate(detector: Any, items: Iterable[EvalPage], total: int | None = None, progress: bool = True
             ) -> dict[str, Any]:
    """Beat metrics headline; per photo severity too, and per other group (e.g. heart rate or paper speed)
    under `per_group` when pages name any.
    Each result also has `away_from_panel_ends`: P/R/mAP with the beats at a panel's ends left out of truth and
    predictions alike (a diagnostic: how much of the error is the panel-end labelling decision).
    `layout`: share of pages whose printed layout is recognised at the detector's panel bar (`panel_conf`);
    `panel_calibration`: the bar that would recognise the most (see `panel_calibration`)."""
    from tqdm import tqdm

    conf = detector.conf
    accs: dict[tuple[str, str], tuple[Accumulator, Accumulator]] = defaultdict(
        lambda: (Accumulator(conf), Accumulator(conf)))  # (kind, name) -> (all beats, away from panel ends)
    seconds = []
    panels: list[PagePanels] = []
    for page in tqdm(items, total=total, desc="eval", unit="page", disable=not progress):
        t0 = time.perf_counter()
        pred = detector.predict_boxes(page.image, conf=AP_CONF)
        seconds.append(time.perf_counter() - t0)
        is_panel = pred[2] == LEAD_PANEL
        panels.append(PagePanels(np.asarray(pred[0])[is_panel], np.asarray(pred[1])[is_panel],
                                 int((page.classes == LEAD_PANEL).sum()), page.layout, page.severity))
        inner = _without_panel_end_beats(pred, page)
        for key in [("all", ""), ("severity", page.severity), *(("group", g) for g in page.groups)]:
            accs[key][0].add(pred, page.boxes, page.classes)
            accs[key][1].add(*inner)

    def summary(key: tuple[str, str]) -> dict[str, Any]:
        whole, inner_acc = accs[key]
        res = whole.summary()
        inner_res = inner_acc.summary()
        res["away_from_panel_ends"] = {k: inner_res[k] for k in ("precision", "recall", "mAP50", "mAP50-95")}
        return res

    out = summary(("all", ""))
    out["per_severity"] = {name: summary((kind, name)) for kind, name in sorted(accs) if kind == "severity"}
    groups = {name: summary((kind, name)) for kind, name in sorted(accs) if kind == "group"}
    if groups:
        out["per_group"] = groups
    out["seconds_per_page"] = round(float(np.mean(seconds)), 4) if seconds else None
    out["layout"] = layout_summary(panels, float(getattr(detector, "panel_conf", 0.05)))
    out["panel_calibration"] = panel_calibration(panels)
    return out


def render_dir_items(render_dir: str | Path, folds: tuple[int, ...] | None = None
                     ) -> list[tuple[Path, Path]]:
    """(image, label JSON) pairs of a render folder, optionally only pages of some PTB-XL folds."""
    from vizecg.data import RenderFolder

    return [(p.image, p.label) for p in RenderFolder(render_dir) if folds is None or p.fold in folds]


def iter_render_dir(pairs: list[tuple[Path, Path]]):
    """EvalPages of (image, label JSON) pairs, read one at a time."""
    from detector.dataset import photo_severity
    from vizecg.data.render_folder import read_label
    from vizecg.images import read_image
    from vizecg.render import PageTruth

    for image_path, label_path in pairs:
        label = read_label(label_path)
        yield eval_page(read_image(image_path), PageTruth.from_json(label), photo_severity(label))


# --- lead names and layouts read from the page (issue 13) -------------------------------------------------------
@dataclass(frozen=True)
class PrintedPanels:
    """A page's printed lead panels from its truth: boxes, the names as printed, and the rows (top to bottom,
    names left to right) that a PageLayout should read back."""

    boxes: np.ndarray  # (k, 4) xyxy
    names: list[str]
    rows: list[list[str]]


def printed_panels(truth: Any) -> PrintedPanels:
    """The panels of a PageTruth that print a trace (a lead the record lacks is drawn empty: not scored)."""
    leads = [ld for ld in truth.leads if ld.present]
    boxes = np.array([ld.panel_box.as_list() for ld in leads], np.float64).reshape(-1, 4)
    names = [ld.label or ld.lead for ld in leads]
    by_row: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for ld, name in zip(leads, names):
        by_row[ld.row].append((ld.col, name))
    rows = [[n for _, n in sorted(by_row[r])] for r in sorted(by_row)]
    return PrintedPanels(boxes, names, rows)


def panels_named_right(printed: PrintedPanels, det_boxes: np.ndarray, det_names: list[str | None]) -> np.ndarray:
    """(k,) bool per printed panel: its best-overlapping detected panel (IoU >= 0.5) carries its printed name."""
    det_boxes = np.asarray(det_boxes, np.float64).reshape(-1, 4)
    if not len(det_boxes) or not len(printed.boxes):
        return np.zeros(len(printed.boxes), bool)
    m = pairwise_iou(printed.boxes, det_boxes)
    best = m.argmax(1)
    return np.array([m[i, best[i]] >= 0.5 and det_names[best[i]] == printed.names[i]
                     for i in range(len(printed.boxes))], bool)


def layout_exact(printed: PrintedPanels, rows: list[list[str | None]]) -> bool:
    """The page's rows read back exactly: as many rows, each with the printed names in order (no panel missed,
    none added, none unnamed)."""
    return [list(r) for r in rows] == printed.rows

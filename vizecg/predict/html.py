"""report.html: one self-contained file (figures inlined as data: URIs, no script, no external link), so it
opens offline and can be mailed as is. Warnings come first, then the answer, the figures and every finding."""
from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from vizecg.predict.calibration import describe_calibration
from vizecg.predict.schema import NOTICE, Prediction


def _jpeg_uri(image: np.ndarray, max_side: int = 1400) -> str:
    """A photo figure as a JPEG data: URI (a PNG of a noisy photo is ~10x larger for nothing)."""
    import cv2

    img = np.ascontiguousarray(image)
    if max(img.shape[:2]) > max_side:
        s = max_side / max(img.shape[:2])
        img = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode() if ok else ""


def beats_figure(pred: Prediction, image: np.ndarray) -> np.ndarray:
    """The upright page with each beat box outlined and its lead written beside it."""
    import cv2

    from vizecg.report import draw_boxes

    page = pred.upright if pred.upright is not None else image
    boxes = np.asarray([b.box for b in pred.beats], np.float64).reshape(-1, 4)
    out = draw_boxes(page, boxes, color=(0, 90, 255))
    scale = max(0.4, min(out.shape[:2]) / 1200)
    for b in pred.beats:
        if b.lead:
            cv2.putText(out, b.lead, (int(b.box[0]), max(10, int(b.box[1]) - 3)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (0, 60, 200), max(1, int(round(scale * 2))), cv2.LINE_AA)
    return out


def traces_figure(pred: Prediction, image: np.ndarray) -> np.ndarray:
    """The photo as given with the digitizer's traces drawn over it (where it read each lead)."""
    import cv2

    out = np.ascontiguousarray(image).copy()
    t = max(1, round(min(out.shape[:2]) / 500))
    for pieces in pred.traces.values():
        for pts in pieces:
            p = np.asarray(pts, np.float64).reshape(-1, 2)
            p = p[np.isfinite(p).all(1)]
            if len(p) > 1:
                cv2.polylines(out, [np.round(p).astype(np.int32).reshape(-1, 1, 2)], False, (230, 0, 180), t,
                              cv2.LINE_AA)
    return out


def signal_figure(record: Any) -> str:
    """The digitized leads re-plotted on ECG paper (one row per lead, in mV against s): a data: URI."""
    fig = signal_plot(record)  # first: it picks the Agg backend before pyplot is imported
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


SIGNAL_ROW_MV = (1.5, 4.0)  # the re-plot's row pitch: the leads' widest swing, within these bounds (mV)


def signal_plot(record: Any, confidence: dict[str, float] | None = None) -> Any:
    """The figure of signal_figure (a matplotlib Figure; the caller closes it): one axes, a row per lead at the
    same gain, each lead's median on its row's line, the 0.2 s x 0.5 mV grid behind. With `confidence`, each
    row's label gives the lead's digitizer confidence under its name (the PDF report)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    n = len(record.lead_names)
    t = np.arange(record.n_samples) / record.fs
    span = max(10.0, float(t[-1]) if len(t) else 0.0)
    centred, swing = [], 0.0
    for x in np.asarray(record.signal, np.float64):
        finite = x[np.isfinite(x)]
        mid = float(np.median(finite)) if finite.size else 0.0
        centred.append(x - mid)
        if finite.size:
            swing = max(swing, float(np.percentile(np.abs(finite - mid), 99.5)) * 2)
    # a multiple of the grid's 0.5 mV, so every row's line is a grid line
    pitch = float(np.clip(np.ceil((swing + 0.5) / 0.5) * 0.5, *SIGNAL_ROW_MV))
    height = 0.8 * n + 0.7
    fig = plt.figure(figsize=(11, height))
    ax = fig.add_axes((0.07, 0.5 / height, 0.92, 1 - 0.6 / height))
    lo, hi = -(n - 0.5) * pitch, 0.5 * pitch
    # one line collection for the whole grid: ticks and per-lead axes were most of this figure's time
    grid = [((v, lo), (v, hi)) for v in np.arange(0.0, span + 1e-9, 0.2)]
    grid += [((0.0, v), (span, v)) for v in np.arange(np.ceil(lo / 0.5) * 0.5, hi + 1e-9, 0.5)]
    ax.add_collection(LineCollection(grid, colors="#f2b8b8", linewidths=0.4, zorder=0))
    for i, (name, x) in enumerate(zip(record.lead_names, centred)):
        y = -i * pitch
        ax.plot(t, x + y, color="black", lw=0.7)
        label = name if confidence is None or name not in confidence else f"{name}\n{confidence[name]:.2f}"
        ax.text(-0.012 * span, y, label, ha="right", va="center", fontsize=8)
        if not np.isfinite(x).any():
            ax.text(span / 2, y, "not read", ha="center", va="center", color="#a00", fontsize=8)
    ax.set_xlim(0.0, span)
    ax.set_ylim(lo, hi)
    ax.set_yticks([])
    ax.tick_params(labelsize=7)
    ax.set_xlabel(f"time (s); grid 0.2 s x 0.5 mV, rows {pitch:g} mV apart, each lead's median on its row's line")
    return fig


def explanation_figure(pred: Prediction, k: int) -> np.ndarray:
    """The upright page with class k's Grad-CAM heat over it and its most important beats outlined, by rank."""
    import cv2

    from vizecg.predict.explain import TOP_BEATS, overlay
    from vizecg.report import draw_boxes

    ex = pred.explanation
    cls = ex.classes[k]
    top = list(cls.top_beats[:TOP_BEATS])
    out = draw_boxes(overlay(pred.upright, cls.page_heat), ex.boxes[top], color=(255, 255, 255))
    scale = max(0.4, min(out.shape[:2]) / 1000)
    for rank, i in enumerate(top, 1):
        x0, y0 = int(ex.boxes[i][0]), int(ex.boxes[i][1])
        cv2.putText(out, str(rank), (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    max(1, int(round(scale * 2))), cv2.LINE_AA)
    return out


def beats_strip(pred: Prediction, k: int, size: int = 120) -> np.ndarray:
    """Class k's most important beat crops (as the model saw them), each with its Grad-CAM heat, side by side."""
    import cv2

    from vizecg.predict.explain import TOP_BEATS, overlay

    ex = pred.explanation
    cls = ex.classes[k]
    slot = {int(i): j for j, i in enumerate(ex.beat_index)}
    tiles = [cv2.resize(overlay(ex.beat_crops[slot[i]], cls.beat_heat[slot[i]]), (size, size),
                        interpolation=cv2.INTER_NEAREST) for i in cls.top_beats[:TOP_BEATS]]
    gap = np.full((size, 6, 3), 255, np.uint8)
    return np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1)


def _explanation_html(pred: Prediction) -> list[str]:
    from vizecg.predict.explain import TOP_BEATS

    e = html.escape
    ex = pred.explanation
    parts = ["<h2>Explanation (Grad-CAM)</h2>"]
    if ex.reason:
        return parts + [f"<p>No explanation: {e(ex.reason)}.</p>"]
    parts.append("<p>Where the classifier looked, for its most probable classes (red: pushes the class up; "
                 "blue: does not). Grad-CAM shows what the model used, not what is clinically there; the page map "
                 "is coarse (the page branch's last feature map, stretched over the page). The model sees at most "
                 f"{len(ex.beat_index)} of the {len(ex.boxes)} beats; only those are ranked.</p>")
    for k, cls in enumerate(ex.classes):
        evidence = "" if cls.page_evidence else " No part of the page pushes this class up (the map is empty)."
        parts.append(f"<h3>{e(cls.name)} (probability {cls.probability:.3f})</h3>")
        uri = _jpeg_uri(explanation_figure(pred, k), max_side=1000)  # the heat is coarse: no need for more
        parts.append(f"<figure><img src='{uri}' alt='grad-cam {e(cls.name)}'><figcaption>Grad-CAM of {e(cls.name)} "
                     f"over the page; the most important beats outlined and numbered by rank.{evidence}"
                     "</figcaption></figure>")
        if cls.top_beats:
            parts.append(f"<figure><img src='{_jpeg_uri(beats_strip(pred, k))}' alt='beats {e(cls.name)}'>"
                         "<figcaption>The most important beat crops, in rank order, with their Grad-CAM."
                         "</figcaption></figure>")
            rows = [[r, ex.leads[i] or "-", f"{cls.beat_importance[i]:.3f}"]
                    for r, i in enumerate(cls.top_beats[:TOP_BEATS], 1)]
            parts.append(_table(["rank", "lead", "importance"], rows))
            if cls.leads:
                parts.append("<p>Leads by their most important beat: "
                             + ", ".join(f"{e(l)} {v:.2f}" for l, v in cls.leads.items()) + ".</p>")
    return parts


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = ("body{font-family:sans-serif;max-width:1150px;margin:1.5em auto;padding:0 1em;line-height:1.4}"
         "table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #bbb;padding:3px 8px;"
         "text-align:left}th{background:#eee}img{max-width:100%;border:1px solid #ddd}.notice{background:#fff4d6;"
         "border:1px solid #e0b000;padding:.6em}.warn{background:#fde8e8;border:1px solid #d33;padding:.6em}"
         ".refused{background:#fde8e8;border:2px solid #b00;padding:.8em;font-size:1.1em}"
         "figcaption{color:#555;font-size:.9em}")


def report_html(pred: Prediction, image: np.ndarray, report: dict[str, Any], title: str = "VizECG report") -> str:
    """The whole report page. `report` is pred.to_json(...) as written beside it (its signal paths)."""
    e = html.escape
    parts = [f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>{e(title)}</h1>",
             f"<p class='notice'><b>Not a medical device.</b> {e(NOTICE)}</p>"]
    if not pred.ok:
        parts.append(f"<p class='refused'><b>Refused:</b> {e(pred.reason or '')}</p>")
    if pred.warnings:
        parts.append("<div class='warn'><b>Warnings</b><ul>" + "".join(f"<li>{e(w)}</li>" for w in pred.warnings)
                     + "</ul></div>")
    if pred.ok:
        parts.append("<h2>Probabilities</h2>")
        if pred.probabilities is None:
            parts.append("<p>No classifier installed: no probabilities.</p>")
        else:
            th = pred.thresholds or {}
            rows = [[c, f"{p:.3f}", f"{th[c]:.3f}" if c in th else "-",
                     ("yes" if c in th and p >= th[c] else "no") if c in th else "-"]
                    for c, p in pred.probabilities.items()]
            parts.append(_table(["class", "probability", "threshold (validation F1)", "called"], rows))
            cal = pred.calibration or {}
            parts.append(f"<p>{e(describe_calibration(cal))}</p>")
        parts.append(f"<figure><img src='{_jpeg_uri(beats_figure(pred, image))}' alt='beats'><figcaption>"
                     f"The page{' turned upright' if pred.layout.get('orientation_deg') else ''} with the "
                     f"{len(pred.beats)} beats the detector found (blue) and the lead each belongs to."
                     "</figcaption></figure>")
        if pred.explanation is not None:
            parts += _explanation_html(pred)
        if pred.signal is not None:
            parts.append(f"<figure><img src='{_jpeg_uri(traces_figure(pred, image))}' alt='traces'><figcaption>"
                         "Where the digitizer traced each lead on the photo (magenta).</figcaption></figure>")
            parts.append(f"<figure><img src='{signal_figure(pred.signal)}' alt='signal'><figcaption>The digitized "
                         "leads re-plotted (mV against seconds; blank where the page shows nothing or a lead was "
                         "not trusted).</figcaption></figure>")
            paths = (report.get("signal") or {}).get("paths") or {}
            if paths:
                parts.append("<p>Signal files: " + ", ".join(f"{e(k)} <code>{e(v)}</code>" for k, v in paths.items())
                             + "</p>")
    q = pred.quality
    parts.append("<h2>Quality</h2>")
    parts.append(_table(["finding"], [[f] for f in q.get("findings", [])]))
    parts.append(_table(["score", "value"], [[k, "n/a" if v is None else f"{v:.4g}"]
                                            for k, v in q.get("scores", {}).items()]))
    if q.get("readable_leads") is not None and pred.ok:
        parts.append(f"<p>Readable leads: {e(', '.join(q['readable_leads']) or 'none')}.</p>")
    parts.append("<h2>Layout</h2>" + _table(["key", "value"], [[k, v] for k, v in pred.layout.items()]))
    parts.append("<h2>Model versions</h2>" + _table(["part", "version"], [[k, v] for k, v in pred.models.items()]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

"""report.pdf (`vizecg predict --pdf`): the report as a printable PDF, made with matplotlib's PdfPages (no browser).

Page 1: the title, the status (ok, or refused with the reason, large), the research-use notice, every warning, the
probabilities with their thresholds (called yes/no) and the calibration, the quality findings, the model versions,
and the photo (upright, downscaled) with the beat boxes coloured by lead. Text that does not fit runs on to a
further page before the photo. Page 2, only when a signal was read: the digitized leads re-plotted in mV on a
10 s axis, each row labelled with its lead and the digitizer's confidence (html.signal_plot, as in report.html).

The file is written atomically (vizecg.runs.atomic_write_bytes) and without a creation date, so the same
prediction gives the same bytes. Research software, not a medical device.
"""
from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from vizecg.predict.calibration import describe_calibration
from vizecg.predict.schema import NOTICE, Prediction

PAGE = (8.27, 11.69)  # A4 portrait, inches
MARGIN = 0.55  # inches, each side
PHOTO_MAX_SIDE = 1000  # px: the photo is embedded losslessly (Flate), so it is downscaled first
PHOTO_MIN_H = 2.2  # inches: a photo with less room left on page 1 goes on a page of its own
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
RC = {"pdf.fonttype": 42, "pdf.compression": 9}  # TrueType: text a reader can extract


class _Flow:
    """Blocks of text placed top-down on A4 pages, a new page when one is full."""

    def __init__(self, pdf: Any, footer: str) -> None:
        self.pdf, self.footer = pdf, footer
        self.fig: Any = None
        self.y = 0.0  # inches from the top of the page

    def page(self) -> Any:
        import matplotlib.pyplot as plt

        if self.fig is not None:
            self.close()
        self.fig = plt.figure(figsize=PAGE)
        self.fig.text(0.5, 0.25 / PAGE[1], self.footer, ha="center", va="bottom", fontsize=7, color="#555")
        self.y = MARGIN
        return self.fig

    def close(self) -> None:
        import matplotlib.pyplot as plt

        if self.fig is not None:
            self.pdf.savefig(self.fig)
            plt.close(self.fig)
            self.fig = None

    def room(self) -> float:
        """Inches left above the footer."""
        return PAGE[1] - MARGIN - self.y

    def text(self, text: str, size: float = 9, mono: bool = False, gap: float = 0.08, box: dict | None = None,
             indent: float = 0.0, **kw: Any) -> None:
        width_in = PAGE[0] - 2 * MARGIN - indent - (2 * 0.5 * size / 72 + 0.1 if box else 0)  # the box's pad
        em = 0.6 if mono else 0.64 if kw.get("weight") == "bold" else 0.54  # a character's mean width, in em
        chars = max(20, int(width_in * 72 / (size * em)))
        lines = [w for line in text.split("\n") for w in (textwrap.wrap(line, chars, break_long_words=True,
                                                                         subsequent_indent="  ") or [""])]
        line_h = size * 1.25 / 72
        pad = 0.1 if box else 0.0
        start = 0
        while start < len(lines):
            if self.fig is None or self.room() < line_h + 2 * pad:
                self.page()
            fit = max(1, int((self.room() - 2 * pad) / line_h))
            chunk = lines[start:start + fit]
            self.fig.text((MARGIN + indent + pad) / PAGE[0], 1 - (self.y + pad) / PAGE[1], "\n".join(chunk),
                          ha="left", va="top", fontsize=size, family="monospace" if mono else "sans-serif",
                          linespacing=1.25, bbox=None if box is None else dict(boxstyle="square,pad=0.5", **box),
                          **kw)
            self.y += len(chunk) * line_h + 2 * pad + gap
            start += len(chunk)

    def heading(self, text: str) -> None:
        self.y += 0.06
        self.text(text, size=11, weight="bold", gap=0.04)


def _lead_colours(pred: Prediction) -> dict[str | None, Any]:
    import matplotlib

    named = sorted({b.lead for b in pred.beats if b.lead},
                   key=lambda l: (LEADS.index(l) if l in LEADS else len(LEADS), l))
    cmap = matplotlib.colormaps["tab20"]
    colours: dict[str | None, Any] = {l: cmap(i % 20) for i, l in enumerate(named)}
    colours[None] = (0.45, 0.45, 0.45, 1.0)
    return colours


def _photo(flow: _Flow, pred: Prediction, image: np.ndarray) -> None:
    """The page (upright when it was turned) downscaled, each beat box outlined in its lead's colour."""
    import cv2
    from matplotlib.patches import Rectangle

    page = np.ascontiguousarray(pred.upright if pred.upright is not None else image)
    s = min(1.0, PHOTO_MAX_SIDE / max(page.shape[:2]))
    if s < 1:
        page = cv2.resize(page, (max(1, int(page.shape[1] * s)), max(1, int(page.shape[0] * s))),
                          interpolation=cv2.INTER_AREA)
    if page.ndim == 2:
        page = np.repeat(page[..., None], 3, axis=2)
    if flow.fig is None or flow.room() < PHOTO_MIN_H + 0.8:  # caption and legend: the rest
        flow.page()
    caption = (f"The page{' turned upright' if pred.layout.get('orientation_deg') else ''}"
               + (f", with the {len(pred.beats)} beats the detector found, coloured by lead." if pred.beats else "."))
    flow.text(caption, size=8, color="#333", gap=0.04)
    legend_h = 0.45 if pred.beats else 0.0
    avail_h = flow.room() - legend_h
    avail_w = PAGE[0] - 2 * MARGIN
    h, w = page.shape[:2]
    scale = min(avail_w / w, avail_h / h)
    fw, fh = w * scale, h * scale
    left = MARGIN + (avail_w - fw) / 2
    ax = flow.fig.add_axes([left / PAGE[0], 1 - (flow.y + fh) / PAGE[1], fw / PAGE[0], fh / PAGE[1]])
    ax.imshow(page, interpolation="antialiased")
    ax.set_axis_off()
    colours = _lead_colours(pred)
    for b in pred.beats:
        x0, y0, x1, y1 = (v * s for v in b.box)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.8, edgecolor=colours[b.lead]))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    if pred.beats:
        used = [l for l in colours if any(b.lead == l for b in pred.beats)]
        handles = [Rectangle((0, 0), 1, 1, fill=False, edgecolor=colours[l], lw=1.5) for l in used]
        flow.fig.legend(handles, [l or "no lead" for l in used], loc="upper center", ncol=min(13, len(used)),
                        fontsize=7, frameon=False, handlelength=1.2, columnspacing=0.8,
                        bbox_to_anchor=(0.5, 1 - (flow.y + fh + 0.05) / PAGE[1]))
    flow.y += fh + legend_h


def _models_lines(models: dict[str, Any]) -> list[str]:
    lines = []
    for part, v in models.items():
        if isinstance(v, dict):
            v = ", ".join(f"{k}={x}" for k, x in v.items())
        lines.append(f"{part}: {'-' if v is None else v}")
    return lines


def _first_page(flow: _Flow, pred: Prediction, image: np.ndarray, title: str) -> None:
    flow.page()
    flow.text(title, size=18, weight="bold", gap=0.12)
    if pred.ok:
        flow.text("Status: ok", size=16, weight="bold", color="#05621f", gap=0.1)
    else:
        flow.text(f"Status: refused\nReason: {pred.reason or 'not given'}", size=15, weight="bold", color="#a00000",
                  gap=0.14, box={"facecolor": "#fde8e8", "edgecolor": "#b00000"})
    flow.text(NOTICE, size=9, gap=0.14, box={"facecolor": "#fff4d6",
                                                                           "edgecolor": "#e0b000"})
    flow.heading("Warnings")
    if pred.warnings:
        flow.text("\n".join(f"- {w}" for w in pred.warnings), size=9, color="#8a0000", gap=0.1)
    else:
        flow.text("none", size=9)
    if pred.ok:
        flow.heading("Probabilities")
        if pred.probabilities is None:
            flow.text("No classifier installed: no probabilities.", size=9)
        else:
            th = pred.thresholds or {}
            width = max(5, *(len(c) for c in pred.probabilities))
            rows = [f"{'class':<{width}}  probability  threshold  called"]
            for c, p in pred.probabilities.items():
                t = f"{th[c]:.3f}" if c in th else "-"
                called = ("yes" if p >= th[c] else "no") if c in th else "-"
                rows.append(f"{c:<{width}}  {p:>11.3f}  {t:>9}  {called:>6}")
            flow.text("\n".join(rows), size=9, mono=True, gap=0.04)
            flow.text("Thresholds: chosen for F1 on the validation fold; a class is called when its probability "
                      "reaches its threshold.", size=8, color="#333", gap=0.02)
            flow.text(describe_calibration(pred.calibration), size=8, color="#333")
    flow.heading("Quality")
    q = pred.quality
    flow.text("\n".join(f"- {f}" for f in q.get("findings", [])) or "no findings", size=9)
    if pred.ok and q.get("readable_leads") is not None:
        flow.text(f"Readable leads: {', '.join(q['readable_leads']) or 'none'}.", size=9)
    if pred.signal is not None:
        flow.text("The digitized signal: page 2.", size=9)
    flow.heading("Model versions")
    flow.text("\n".join(_models_lines(pred.models)), size=7.5, mono=True)
    flow.y += 0.08
    _photo(flow, pred, image)
    flow.close()


def _signal_page(pdf: Any, pred: Prediction) -> None:
    import matplotlib.pyplot as plt

    from vizecg.predict.html import signal_plot

    rec = pred.signal
    fig = signal_plot(rec, pred.signal_confidence)
    w, h = fig.get_size_inches()
    top, foot = 0.6, 0.35
    H = h + top + foot
    ax = fig.axes[0]
    x0, y0, aw, ah = ax.get_position().bounds  # in fractions of the figure as signal_plot made it
    fig.set_size_inches(w, H)
    ax.set_position((x0, (y0 * h + foot) / H, aw, ah * h / H))
    fig.text(0.07, 1 - 0.2 / H, "The digitized leads (mV against seconds)", fontsize=12, weight="bold", va="top")
    fig.text(0.07, 1 - 0.45 / H, "Each row: the lead, and the digitizer's confidence in it (0..1) under its name. "
             "Blank where the page shows nothing or a lead was not trusted.", fontsize=8, va="top", color="#333")
    fig.text(0.5, 0.12 / H, NOTICE, ha="center", va="bottom", fontsize=6.5, color="#555")
    pdf.savefig(fig)
    plt.close(fig)


def report_pdf_bytes(pred: Prediction, image: np.ndarray, title: str = "VizECG report") -> bytes:
    """The report as PDF bytes (the same prediction gives the same bytes: no creation date)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        with PdfPages(buf, metadata={"Title": title, "Creator": "vizecg predict", "CreationDate": None}) as pdf:
            flow = _Flow(pdf, "VizECG: research software, not a medical device.")
            try:
                _first_page(flow, pred, image, title)
            finally:
                flow.close()
            if pred.signal is not None:
                _signal_page(pdf, pred)
    return buf.getvalue()


def write_report_pdf(prediction: Prediction, image: np.ndarray, path: str | Path, title: str = "VizECG report") -> Path:
    """report.pdf of one page at `path`, written atomically (a temp file in the same folder, then os.replace)."""
    from vizecg.runs import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, report_pdf_bytes(prediction, image, title))
    return path

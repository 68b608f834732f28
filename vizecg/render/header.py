"""The printed header and footer: device line, patient fields (placeholders), measurements, statements.

Only the heart rate and the QRS axis are measured from the record; PR, QRS duration, QT/QTc and the P/T axes
are plausible values drawn from the page seed (a renderer does not delineate waves). Statements come from the
style's fixed list, never from the record's labels: the page must not print the diagnosis a model learns.
"""
from __future__ import annotations

import numpy as np

from vizecg.record import EcgRecord
from vizecg.render import paper
from vizecg.render.layout import PageGeometry
from vizecg.render.style import PrintStyle
from vizecg.render.text import TextLayer
from vizecg.render.truth import Box, TextTruth

FOOTER_MM = 5.0  # room under the grid for a footer line
_LINE = 2.0  # line pitch in cap heights


def draw_header(layer: TextLayer, record: EcgRecord, style: PrintStyle, geo: PageGeometry, s: float,
                ink: tuple[int, int, int], r_samples: np.ndarray, seed: int | None) -> list[TextTruth]:
    """Draw the style's header above the grid and its footer below; returns every text block's truth (and the
    redaction bars, kind 'redaction', which the caller paints over their fields)."""
    h = style.header
    out: list[TextTruth] = []
    rate = _rate(record, r_samples)
    font = style.text.font
    x_left = (geo.width_mm - paper.TRACE_WIDTH_MM) / 2.0 * s
    y0 = style.margin_top_mm * s

    def put(kind: str, text: str, x: float, y: float, cap: float) -> Box:
        box = layer.put(text, x, y, cap, font, ink)
        out.append(TextTruth(kind, text, box))
        return box

    if h.kind == "classic":  # today's block: two columns of three lines
        notch = f"   ~{h.notch_hz} Hz" if h.notch_hz else ""
        left = [("patient", f"ID: {record.record_id}" + (f"   Patient: {record.patient_id}" if record.patient_id else "")),
                ("measurement", f"Vent. rate {rate:.0f} BPM" if rate else "Vent. rate --- BPM"),
                ("device", f"{record.fs:g} Hz   {', '.join(record.lead_names[:12])}")]
        right = [("device", h.device_line),
                 ("device", f"{style.speed_mm_s:g} mm/s   {style.gain_mm_mv:g} mm/mV"),
                 ("device", f"{h.filter_low_hz:g}-{h.filter_high_hz:g} Hz{notch}")]
        cap = style.text.size_mm
        x_right = geo.width_mm * s / 2.0 + 20 * s
        for i, ((ka, a), (kb, b)) in enumerate(zip(left, right)):
            put(ka, a, x_left, y0 + i * cap * _LINE * s, cap)
            put(kb, b, x_right, y0 + i * cap * _LINE * s, cap)
    elif h.kind == "minimal":
        cap = min(style.text.size_mm, 2.6)
        put("device", f"ID: {record.record_id}   __/__/____ __:__   {h.device_line}   "
                      f"{style.speed_mm_s:g} mm/s  {style.gain_mm_mv:g} mm/mV", x_left, y0, cap)
    elif h.kind == "measurements":
        bars = _measurement_block(put, record, style, rate, x_left, y0, s, seed)
        # A redacted field is no longer printed text: its truth is the bar.
        out = [t for t in out if not any(_inside(t.box, b.box) for b in bars)] + bars
    if h.footer != "none":
        cap = min(style.text.size_mm, 2.4)
        y = (geo.rows_y0_mm + geo.n_rows * geo.row_height_mm + 1.2) * s
        if h.footer == "speed_gain":
            chest = (f" (chest {style.chest_gain_mm_mv:g}mm/mV)"
                     if style.chest_gain_mm_mv not in (None, style.gain_mm_mv) else "")
            text = f"{style.speed_mm_s:g}mm/s {style.gain_mm_mv:g}mm/mV{chest} {h.filter_high_hz:g}Hz"
        else:
            text = f"{h.device_line}   {h.filter_low_hz:g}-{h.filter_high_hz:g} Hz"
        put("footer", text, x_left, y, cap)
    return out


def _measurement_block(put, record: EcgRecord, style: PrintStyle, rate: float | None, x_left: float, y0: float,
                       s: float, seed: int | None) -> list[TextTruth]:
    """Three columns: patient fields, measurements, statements + device (a resting-ECG report header)."""
    h = style.header
    rng = np.random.default_rng([0 if seed is None else int(seed), 0x4EAD])
    pr, qrs, qtc = int(rng.integers(120, 200)), int(rng.integers(76, 112)), int(rng.integers(380, 450))
    p_axis, t_axis = int(rng.integers(0, 75)), int(rng.integers(-10, 70))
    rr = 60.0 / rate if rate else 1.0
    qt = int(round(qtc * np.sqrt(rr) / 2) * 2)  # Bazett, inverted
    axis = _qrs_axis(record)
    n_lines = 5
    cap = min(style.text.size_mm, 2.6, (h.height_mm - 2.0) / (n_lines * _LINE))
    pitch = cap * _LINE * s
    patient = ["Name: ____________________", f"ID: {record.record_id}", "DOB: __/__/____   Sex: _",
               "Age: __   Ht: ___ cm   Wt: ___ kg", "Ref. by: ______________"]
    measures = [f"Vent. rate   {rate:.0f} BPM" if rate else "Vent. rate   --- BPM", f"PR interval  {pr} ms",
                f"QRS duration {qrs} ms", f"QT/QTc       {qt}/{qtc} ms",
                f"P-R-T axes   {p_axis} {axis if axis is not None else '--'} {t_axis}"]
    right = list(h.statements[:3]) + [h.device_line,
                                      f"{h.filter_low_hz:g}-{h.filter_high_hz:g} Hz" +
                                      (f"  ~{h.notch_hz} Hz" if h.notch_hz else "")]
    redactions = []
    for i, text in enumerate(patient):
        box = put("patient", text, x_left, y0 + i * pitch, cap)
        if h.redact and i < 2:
            redactions.append(TextTruth("redaction", "", Box(box.x0 + 0.0, box.y0 - 0.4 * s, box.x1 + 2 * s,
                                                             box.y1 + 0.4 * s)))
    for i, text in enumerate(measures):
        put("measurement", text, x_left + 88 * s, y0 + i * pitch, cap)
    for i, text in enumerate(right):
        put("interpretation" if i < len(right) - 2 else "device", text, x_left + 160 * s, y0 + i * pitch, cap)
    return redactions


def _inside(a: Box, b: Box) -> bool:
    return b.x0 <= a.x0 and a.x1 <= b.x1 and b.y0 <= a.y0 and a.y1 <= b.y1


def _rate(record: EcgRecord, r_samples: np.ndarray) -> float | None:
    if len(r_samples) < 2:
        return None
    return 60.0 * record.fs / float(np.median(np.diff(r_samples)))


def _qrs_axis(record: EcgRecord) -> int | None:
    """Frontal QRS axis from the net QRS area proxy (max + min) in leads I and aVF, in degrees."""
    if "I" not in record.lead_names or "aVF" not in record.lead_names:
        return None
    i = np.nan_to_num(record.lead("I"))
    f = np.nan_to_num(record.lead("aVF"))
    net_i, net_f = float(i.max() + i.min()), float(f.max() + f.min())
    if abs(net_i) + abs(net_f) < 1e-6:
        return None
    return int(round(np.degrees(np.arctan2(net_f, net_i))))

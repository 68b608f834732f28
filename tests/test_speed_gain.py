"""Printed speed/gain (issues 13, 14): the parser on real-world forms and traps, the OCR reader on a rendered
footer, and the digitizer's scale confirmed or contradicted by the printed text (the reader's answer
monkeypatched, so these tests see the scale logic, not the OCR)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vizecg.data import load_source
from vizecg.digitize import DigitizeConfig, digitize
from vizecg.digitize.scale import TRUST_PRINTED_DISAGREE
from vizecg.labels import speed_gain as sg
from vizecg.labels.speed_gain import SpeedGain, combine, parse_speed_gain, read_speed_gain
from vizecg.render import draw_print_style, render_print_style
from vizecg.render.style import ROWS_3X4, LeadGrid, PulseStyle

DPI = 100  # the digitizer tests: small pages, the scale logic is what is tested


@pytest.mark.parametrize("text, speed, gain, chest", [
    ("25mm/s", 25.0, None, None),
    ("25 mm/s", 25.0, None, None),
    ("25.0 mm/sec", 25.0, None, None),
    ("Speed: 50 mm/s", 50.0, None, None),
    ("12,5 mm/s", 12.5, None, None),
    ("10mm/mV", None, 10.0, None),
    ("10 mm/mV", None, 10.0, None),
    ("5 mm/mV", None, 5.0, None),
    ("20mm/mV", None, 20.0, None),
    ("2.5 mm/mV", None, 2.5, None),
    ("Gain 10 mm/mV", None, 10.0, None),
    ("x 10 mm/mv", None, 10.0, None),
    ("10/5 mm/mV", None, 10.0, 5.0),
    ("Limb: 10 mm/mV  Chest: 5 mm/mV", None, 10.0, 5.0),
    ("25mm/s 10mm/mV (chest 5mm/mV) 100Hz", 25.0, 10.0, 5.0),
    ("25mm/s 10mm/mV 100Hz", 25.0, 10.0, None),
    ("25 mm/s   10 mm/mV", 25.0, 10.0, None),
    ("50 mm/s, 10 mm/mV", 50.0, 10.0, None),
    ("25mm/s10mm/mV", 25.0, 10.0, None),  # the recogniser often drops spaces
    ("25mmls 10mmlmV", 25.0, 10.0, None),  # and reads a small slash as "l"
    ("ID: 00146   __/__/____ __:__   Resting ECG v2.4   25 mm/s  5 mm/mV", 25.0, 5.0, None),
])
def test_parser_reads_the_forms_printouts_use(text, speed, gain, chest):
    assert parse_speed_gain(text) == sg.ParsedSpeedGain(speed, gain, chest)


@pytest.mark.parametrize("text", [
    "100Hz", "0.05-150 Hz", "QT 400 ms", "QT/QTc 406/419 ms", "PR interval 146 ms", "QRS duration 104 ms",
    "Vent. rate 64 BPM", "1 mV", "25 mm", "10 mm", "500 Hz   I, II, III", "~50 Hz",
    "125mm/s",  # not a speed any machine offers: a misread, never "25"
    "30 mm/s", "15 mm/mV",  # not offered either
    "RestingECGv2.425mm/s5mm/mV",  # "2.4" and "25" run together: the speed cannot be told, the gain can
])
def test_parser_reads_no_setting_from_other_numbers(text):
    p = parse_speed_gain(text)
    assert p.speed_mm_s is None
    if text.startswith("RestingECG"):
        assert p.gain_mm_mv == 5.0
    else:
        assert p.gain_mm_mv is None and p.chest_gain_mm_mv is None


def test_two_values_for_one_setting_are_no_value():
    assert parse_speed_gain("10 mm/mV 20 mm/mV").gain_mm_mv is None
    assert parse_speed_gain("25 mm/s 50 mm/s").speed_mm_s is None
    quad = np.array([[0, 0], [10, 0], [10, 2], [0, 2]], np.float64)
    got = combine([("25 mm/s 10 mm/mV", 0.95, quad), ("50 mm/s", 0.9, quad + [0, 20])])
    assert got.speed_mm_s is None and got.gain_mm_mv == 10.0
    assert got.conflicts == ("speed printed as 25 and 50",)
    assert combine([("25 mm/s", 0.2, quad)]) == sg.NOTHING  # a line the recogniser is unsure of is not used


@pytest.fixture(scope="module")
def record():
    return load_source("sample").get("00001")


def _style(footer: str = "none", pulse: PulseStyle | None = None, gain: float = 10.0):
    """hospital-3x4+1's look on an uncut 3x4+1 page at `gain`, no header, the footer asked for."""
    style = draw_print_style(np.random.default_rng(0), "hospital-3x4+1")
    style = replace(style, leads=LeadGrid("3x4+1", ROWS_3X4, ("II",)), crop=(0.0, 0.0, 0.0, 0.0), gain_mm_mv=gain,
                    chest_gain_mm_mv=None, speed_mm_s=25.0,
                    header=replace(style.header, kind="none", height_mm=0.0, footer=footer))
    return replace(style, pulse=pulse) if pulse is not None else style


def test_reader_reads_a_rendered_footer(record):
    page = render_print_style(record, _style("speed_gain", gain=5.0), dpi=150, seed=0)
    truth = [t.text for t in page.truth.texts if t.kind == "footer"]
    assert truth == ["25mm/s 5mm/mV 100Hz"]
    got = read_speed_gain(page.image)
    assert (got.speed_mm_s, got.gain_mm_mv) == (25.0, 5.0)
    assert got.confidence > 0.8 and "mm/s" in got.text
    x0, y0, x1, y1 = got.box
    tb = [t.box for t in page.truth.texts if t.kind == "footer"][0]
    assert x0 < tb.x1 and tb.x0 < x1 and y0 < tb.y1 and tb.y0 < y1  # the box is on the footer
    # a page that prints no speed/gain reads as nothing
    blank = render_print_style(record, _style("none"), dpi=150, seed=0)
    assert not read_speed_gain(blank.image).read


def test_missing_engine_is_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_rapidocr(name, *args, **kwargs):
        if name.startswith("rapidocr_onnxruntime"):
            raise ImportError("No module named 'rapidocr_onnxruntime'")
        return real(name, *args, **kwargs)

    sg.ocr_engine.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_rapidocr)
    with pytest.raises(sg.OcrMissingError, match="pip install --no-deps rapidocr-onnxruntime"):
        sg.ocr_engine(1)
    monkeypatch.undo()
    sg.ocr_engine.cache_clear()


@pytest.fixture(scope="module")
def pages(record):
    return {"pulse": render_print_style(record, _style(), dpi=DPI, seed=0),
            "no_pulse": render_print_style(record, _style(pulse=PulseStyle("none")), dpi=DPI, seed=0)}


@pytest.fixture(scope="module")
def plain(pages):
    """Each page digitized with the reader off (as before it existed)."""
    return {name: digitize(page.image) for name, page in pages.items()}


def _printed(speed, gain, text):
    return SpeedGain(speed, gain, text, (0.0, 0.0, 10.0, 2.0), 0.97)


def _digitize_printed(monkeypatch, image, answer):
    """digitize with read_speed_gain on and the reader answering `answer` (what it was asked is recorded)."""
    asked = []

    def fake(page, regions=None, px_per_mm=None, **kwargs):
        asked.append((page.shape, list(regions), px_per_mm))
        return answer

    monkeypatch.setattr(sg, "read_speed_gain", fake)
    return digitize(image, DigitizeConfig(read_speed_gain=True)), asked


def test_off_by_default_and_nothing_read_changes_nothing(monkeypatch, pages, plain):
    assert DigitizeConfig().read_speed_gain is False
    plain = plain["pulse"]
    assert "printed" not in plain.found["scale"]
    read, asked = _digitize_printed(monkeypatch, pages["pulse"].image, sg.NOTHING)
    assert len(asked) == 1 and len(asked[0][1]) == 2  # the footer strip, then the header strip
    assert read.found == plain.found and read.warnings == plain.warnings
    np.testing.assert_array_equal(read.record.signal, plain.record.signal)


def test_printed_gain_that_agrees_is_recorded_and_changes_nothing(monkeypatch, pages, plain):
    plain = plain["pulse"]
    read, _ = _digitize_printed(monkeypatch, pages["pulse"].image, _printed(25.0, 10.0, "25mm/s 10mm/mV 100Hz"))
    scale = read.found["scale"]
    assert scale["printed"]["gain_agrees"] is True and scale["trust"] == 1.0
    assert scale["gain_from"] == "pulse height"
    assert read.warnings == plain.warnings and read.page_confidence == plain.page_confidence
    np.testing.assert_array_equal(read.record.signal, plain.record.signal)


def test_printed_gain_that_contradicts_the_pulse_is_a_doubt(monkeypatch, capsys, tmp_path, pages, plain):
    plain = plain["pulse"]
    read, _ = _digitize_printed(monkeypatch, pages["pulse"].image, _printed(25.0, 20.0, "25mm/s 20mm/mV"))
    scale = read.found["scale"]
    assert scale["gain_mm_mv"] == 10.0 and scale["gain_from"] == "pulse height"  # the measured gain is kept
    assert scale["printed"]["gain_agrees"] is False and scale["trust"] == TRUST_PRINTED_DISAGREE
    assert any("prints 20 mm/mV" in w for w in read.warnings)
    assert read.page_confidence < plain.page_confidence
    assert max(read.confidence.values()) <= TRUST_PRINTED_DISAGREE + 1e-9
    # the doubt is printed on stderr by the CLI, not only written to digitize.json
    import cv2

    from vizecg.cli import main

    img = tmp_path / "page.png"
    cv2.imwrite(str(img), pages["pulse"].image[:, :, ::-1])
    assert main(["digitize", str(img), "--set", "read_speed_gain=true", "--out", str(tmp_path / "out")]) == 0
    assert "prints 20 mm/mV ('25mm/s 20mm/mV')" in capsys.readouterr().err


def test_printed_gain_decides_where_there_is_no_pulse(monkeypatch, pages, plain):
    plain = plain["no_pulse"]
    assert plain.found["scale"]["gain_from"] == "declared"
    read, _ = _digitize_printed(monkeypatch, pages["no_pulse"].image, _printed(25.0, 20.0, "25mm/s 20mm/mV"))
    scale = read.found["scale"]
    assert (scale["gain_mm_mv"], scale["gain_from"], scale["speed_from"]) == (20.0, "printed", "printed")
    assert scale["printed"]["gain_agrees"] is None  # nothing measured to agree with
    assert read.record.meta["gain_mm_mv"] == 20.0
    both = np.isfinite(plain.record.signal) & np.isfinite(read.record.signal)
    # the same ink read at twice the gain: half the millivolts
    np.testing.assert_allclose(read.record.signal[both], 0.5 * plain.record.signal[both], atol=1e-4)

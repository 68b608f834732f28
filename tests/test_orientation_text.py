"""Which way up from the printed text's glyphs (vizecg.digitize.orientation.text_up_cue / with_text): the cue the
digitizer adds where the trace's own cues leave a page unsure."""
from __future__ import annotations

import numpy as np
import pytest

from vizecg.data import load_source
from vizecg.digitize import DigitizeConfig, digitize
from vizecg.digitize.orientation import UP_REFUSE, Orientation, text_up_cue, up_margin, with_text
from vizecg.render.printout import render_print_style
from vizecg.render.style import draw_print_style

pytest.importorskip("rapidocr_onnxruntime")


@pytest.fixture(scope="module")
def page():
    """A hospital-style page with a header block (patient fields, measurements) at 100 dpi."""
    record = load_source("sample").get("00001")
    return render_print_style(record, draw_print_style(np.random.default_rng(3), "hospital-3x4+1"), dpi=100, seed=3)


def test_text_reads_upright_and_upside_down(page):
    ppm = page.truth.px_per_mm
    up, lines = text_up_cue(page.image, ppm)
    down, lines_down = text_up_cue(np.ascontiguousarray(page.image[::-1, ::-1]), ppm)
    assert lines >= 3 and lines_down >= 3
    assert up > 0.3 and down < -0.3, (up, down)


def test_text_on_a_page_without_text_says_nothing():
    blank = np.full((400, 600, 3), 255, np.uint8)
    assert text_up_cue(blank, 4.0) == (0.0, 0)


def test_text_outweighs_an_unsure_ink_reading():
    ink = Orientation(degrees=0, across=2.0, up=0.03, cues={"time": 0.05, "polarity": 0.0, "pulse": 0.0}, beats=40)
    assert up_margin(ink.cues) == pytest.approx(0.025)  # the ink's three cues alone
    turned = with_text(ink, -0.9)  # the text reads upside down on that reading: the page lies the other way
    assert turned.degrees == 180 and turned.up >= UP_REFUSE and turned.cues["text"] == pytest.approx(0.9)
    kept = with_text(ink, 0.9)
    assert kept.degrees == 0 and kept.up > ink.up


def test_digitizer_turns_an_unsure_reading_by_the_text(page, monkeypatch):
    """The trace's cues (forced here) call an upright page upside down, barely: without the text it is refused;
    with it (the default), the text's glyphs turn the reading round and the page is read upright."""
    from vizecg.digitize import digitizer
    from vizecg.errors import DigitizeError

    wrong = Orientation(degrees=180, across=2.0, up=0.02, cues={"time": 0.03, "polarity": 0.0, "pulse": 0.0}, beats=40)
    monkeypatch.setattr(digitizer, "find_orientation", lambda *a, **k: wrong)
    assert DigitizeConfig().read_text_orientation  # on by default
    with pytest.raises(DigitizeError, match="which way up"):
        digitize(page.image, DigitizeConfig(read_text_orientation=False))
    result = digitize(page.image, DigitizeConfig())
    assert result.found["orientation_deg"] == 0 and result.found["orientation_text_lines"] >= 3
    assert result.found["orientation"]["cues"]["text"] > 0.3

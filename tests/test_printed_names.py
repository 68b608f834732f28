"""Lead names read from the page's printed labels (issue 14): the digitizer takes them (`digitize(printed=)`),
predict_page hands it the names its beat finder read. Real renders of a real sample record; the names are the
ones the page prints (its ground truth), as a perfect label reader would read them, or deliberately misread."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vizecg.data import load_source
from vizecg.digitize import DigitizeConfig, digitize
from vizecg.digitize.evaluate import score_page
from vizecg.digitize.printed import PrintedNames, check_names
from vizecg.errors import DigitizeError
from vizecg.render import RenderConfig
from vizecg.render.printout import render_print_style, style_from_config
from vizecg.render.style import ROWS_3X4, ROWS_6X2, LeadGrid


@pytest.fixture(scope="module")
def record():
    return load_source("sample").get("00001")


def _page(record, grid: LeadGrid):
    base = style_from_config(RenderConfig(layout="3x4+1"))
    return render_print_style(record, replace(base, leads=grid), dpi=150, seed=0)


def printed_names(truth) -> list[list[str | None]]:
    """The names the page prints, rows top to bottom, left to right: what a perfect label reader reads."""
    rows: list[list[str | None]] = [[None] * (1 + max(lt.col for lt in truth.leads if lt.row == r))
                                    for r in range(1 + max(lt.row for lt in truth.leads))]
    for lt in truth.leads:
        rows[lt.row][lt.col] = lt.label or lt.lead
    return rows


@pytest.fixture(scope="module")
def strip_page(record):
    return _page(record, LeadGrid("1x1", (), ("V1",)))


@pytest.fixture(scope="module")
def rhythm_page(record):
    """Three 10 s strips (II, V1, V5): three rows, as a 3x4 page prints."""
    return _page(record, LeadGrid("3x1", (), ("II", "V1", "V5")))


@pytest.fixture(scope="module")
def page_6x2(record):
    return _page(record, LeadGrid("6x2", ROWS_6X2, ()))


@pytest.fixture(scope="module")
def page_3x4_3(record):
    return _page(record, LeadGrid("3x4+3", ROWS_3X4, ("V1", "II", "V5")))


def test_names_are_compared_position_by_position_without_the_inverted_sign():
    read = PrintedNames.from_rows([["aVL", "I", "-aVR"], [None, "V2"], ["V1"]])
    check = check_names(read, [["aVL", "I", "aVR"], ["II", "V3"], [None]])
    assert check.compared and check.agree == 3
    assert check.contradict == ((1, 1, "V2", "V3"),) and check.fill == ((2, 0, "V1"),)
    beyond = check_names(PrintedNames.from_rows([["I", "V1"]]), [["I"]])
    assert beyond.contradict == ((0, 1, "V1", None),), "a read name where the layout prints no panel contradicts it"
    assert not check_names(read, [["I"]]).compared  # another number of rows: not compared
    assert check_names(PrintedNames.from_rows([["V4R"]]), [[None]]).fill == (), "not a lead the record can hold"


def test_a_rhythm_strip_is_returned_as_the_lead_its_label_reads(record, strip_page):
    with pytest.raises(DigitizeError, match="only unnamed"):  # matching no panel, the strip's lead is not known
        digitize(strip_page.image, DigitizeConfig())
    as_ii = digitize(strip_page.image, DigitizeConfig(rhythm_lead="II"))
    assert as_ii.record.lead_names == ("II",)  # the failure the issue saw: a V1 strip written out as II

    read = digitize(strip_page.image, DigitizeConfig(rhythm_lead="II"),
                    printed=PrintedNames.from_rows(printed_names(strip_page.truth)))
    assert read.record.lead_names == ("V1",)
    assert read.found["layout_rows"] == [["V1"]]
    assert read.found["printed_names"]["named_from_labels"] == [{"row": 0, "col": 0, "lead": "V1"}]
    np.testing.assert_array_equal(read.record.signal, as_ii.record.signal)  # the same trace, its own name
    assert score_page(read, record, strip_page.truth)["leads"]["V1"]["snr_db"] > 10.0


def test_a_layout_the_labels_contradict_is_not_chosen_while_one_agrees(record, rhythm_page):
    blind = digitize(rhythm_page.image, DigitizeConfig())
    assert blind.found["layout"] != "3x1"  # three rows read as a 3x4 / 3x5 grid: twelve leads that are not there

    read = digitize(rhythm_page.image, DigitizeConfig(),
                    printed=PrintedNames.from_rows(printed_names(rhythm_page.truth)))
    assert read.found["layout"] == "3x1" and read.record.lead_names == ("II", "V1", "V5")
    assert {"3x4", "3x5", "cabrera-3x4"} <= set(read.found["printed_names"]["ruled_out"])
    assert read.found["printed_names"]["contradict"] == 0
    score = score_page(read, record, rhythm_page.truth)["leads"]
    assert all(score[lead]["snr_db"] > 10.0 for lead in ("II", "V1", "V5")), score


def test_labels_contradicting_every_layout_leave_those_leads_unnamed_and_say_so(record, page_6x2):
    blind = digitize(page_6x2.image, DigitizeConfig())
    assert blind.found["layout"] == "6x2"
    names = printed_names(page_6x2.truth)
    assert names[0] == ["I", "V1"]
    names[0][1] = "V2"  # a misread label: no layout of six rows prints V2 there

    read = digitize(page_6x2.image, DigitizeConfig(), printed=PrintedNames.from_rows(names))
    assert read.found["layout"] == "6x2"
    assert "V1" not in read.record.lead_names, "a lead is never returned under a name its label contradicts"
    assert read.found["printed_names"]["contradicted"] == [{"row": 0, "col": 1, "read": "V2", "layout": "V1"}]
    assert any("row 1 col 2 reads V2 where 6x2 has V1" in w and "unnamed" in w for w in read.warnings)
    (panel,) = [u for u in read.unnamed if (u["row"], u["col"]) == (0, 1)]
    v1 = blind.record.signal[blind.record.lead_names.index("V1")]
    np.testing.assert_array_equal(panel["signal"], v1.astype(np.float32))  # the trace, returned unnamed
    v2 = read.record.signal[read.record.lead_names.index("V2")]
    np.testing.assert_array_equal(v2, blind.record.signal[blind.record.lead_names.index("V2")])
    assert max(read.confidence.values()) <= 0.75  # an unnamed panel caps the page's leads


def test_limb_leads_obeying_einthoven_are_kept_against_a_misread_label(record):
    """The shipped label reader read a clean 3x4+1 render's first column as II, III, II: Einthoven's law says
    the traces are I, II, III as the layout names them."""
    page = _page(record, LeadGrid("3x4+1", ROWS_3X4, ("II",)))
    blind = digitize(page.image, DigitizeConfig())
    names = printed_names(page.truth)
    names[0][0], names[1][0], names[2][0] = "II", "III", "II"
    read = digitize(page.image, DigitizeConfig(), printed=PrintedNames.from_rows(names))
    assert read.found["printed_names"]["contradict"] == 3 and read.found["printed_names"]["einthoven_kept"] == [
        "I", "II", "III"]
    assert read.record.lead_names == blind.record.lead_names and read.unnamed == []
    np.testing.assert_array_equal(read.record.signal, blind.record.signal)
    assert any("I, II, III kept: their traces obey Einthoven's law" in w for w in read.warnings)


def test_labels_that_agree_change_nothing(page_3x4_3):
    blind = digitize(page_3x4_3.image, DigitizeConfig())
    names = printed_names(page_3x4_3.truth)
    read = digitize(page_3x4_3.image, DigitizeConfig(), printed=PrintedNames.from_rows(names))
    assert read.found["layout"] == blind.found["layout"] == "3x4+3"
    assert read.found["layout_rows"] == blind.found["layout_rows"]
    assert read.record.lead_names == blind.record.lead_names
    np.testing.assert_array_equal(read.record.signal, blind.record.signal)
    assert read.confidence == blind.confidence
    assert read.found["printed_names"]["agree"] == 12 and read.found["printed_names"]["contradict"] == 0
    assert set(read.found["printed_names"]["ruled_out"]) >= {"6x2", "cabrera-6x2"}

    rows_only = digitize(page_3x4_3.image, DigitizeConfig(), printed=PrintedNames.from_rows(names[:3]))
    np.testing.assert_array_equal(rows_only.record.signal, blind.record.signal)
    assert any("not compared" in w for w in rows_only.warnings)


# --- predict_page: the beat finder's read names against the digitizer's ---------------------------------------
def _finder(page, printed_rows):
    from vizecg.predict import FoundBeats

    beats = page.truth.beats
    found = FoundBeats(boxes=np.array([[b.box.x0, b.box.y0, b.box.x1, b.box.y1] for b in beats]),
                       scores=np.ones(len(beats)), leads=tuple(b.lead for b in beats),
                       order_keys=np.array([[b.panel_index, (b.box.x0 + b.box.x1) / 2] for b in beats]),
                       layout="unknown", info={"name": "ground truth"},
                       printed_rows=tuple(tuple(row) for row in printed_rows))
    return lambda image: found


class CountingDigitizer:
    def __init__(self):
        self.calls: list[PrintedNames | None] = []

    def __call__(self, image, printed=None):
        from vizecg.predict import default_digitizer

        self.calls.append(printed)
        return default_digitizer(image, printed=printed)


def test_predict_page_digitizes_again_where_the_read_names_contradict_the_digitizers(rhythm_page):
    from vizecg.predict import predict_page, schema_errors

    names = printed_names(rhythm_page.truth)
    digitizer = CountingDigitizer()
    pred = predict_page(rhythm_page.image, _finder(rhythm_page, names), None, digitizer=digitizer)
    assert pred.ok, pred.reason
    assert len(digitizer.calls) == 2 and digitizer.calls[0] is None
    assert digitizer.calls[1].rows == (("II",), ("V1",), ("V5",))
    assert pred.signal.lead_names == ("II", "V1", "V5")
    assert pred.layout["printed_rows"] == names and pred.layout["printed_agree"] is False
    assert pred.layout["digitizer_layout"] == "3x1"
    assert any("contradict" in w and "digitized again with the printed names (layout 3x1)" in w
               for w in pred.warnings), pred.warnings
    assert schema_errors(pred.to_json()) == []


def test_predict_page_keeps_the_digitizers_reading_where_the_read_names_agree(page_6x2):
    from vizecg.predict import predict_page

    names = printed_names(page_6x2.truth)
    digitizer = CountingDigitizer()
    pred = predict_page(page_6x2.image, _finder(page_6x2, names), None, digitizer=digitizer)
    assert pred.ok and digitizer.calls == [None]
    assert pred.layout["printed_agree"] is True and pred.layout["printed_rows"] == names
    assert not any("printed names" in w for w in pred.warnings)

    unread = predict_page(page_6x2.image, _finder(page_6x2, []), None, digitizer=digitizer)
    assert unread.layout["printed_rows"] == [] and unread.layout["printed_agree"] is None


def test_the_detectors_read_names_keep_their_column_and_leave_template_names_out():
    from detector.layout import PageLayout, PanelLead
    from vizecg.commands.predict import read_rows

    def panel(x0, x1, y, row, col, lead, source):
        return PanelLead(box=[x0, y, x1, y + 80.0], row=row, col=col, lead=lead, source=source)

    # row 0: four panels, the second's name lent by the template; row 1: the detector missed the second panel
    panels = [panel(0, 250, 0, 0, 0, "I", "read"), panel(250, 500, 0, 0, 1, "aVR", "template"),
              panel(500, 750, 0, 0, 2, "V1", "read"), panel(750, 1000, 0, 0, 3, "V4", "read"),
              panel(0, 250, 100, 1, 0, "II", "read"), panel(500, 750, 100, 1, 1, "V2", "read"),
              panel(750, 1000, 100, 1, 2, "V5", "read"), panel(0, 1000, 200, 2, 0, "V1", "read")]
    layout = PageLayout(layout="unknown", order=None, panels=panels,
                        rows=[["I", "aVR", "V1", "V4"], ["II", "V2", "V5"], ["V1"]])
    assert read_rows(layout) == (("I", None, "V1", "V4"), ("II", None, "V2", "V5"), ("V1",))
    assert read_rows(None) == ()
    assert read_rows(PageLayout("3x4", "standard", [panel(0, 250, 0, 0, 0, "I", "template")], [["I"]])) == ()

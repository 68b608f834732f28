"""Digitizer scale: px/mm from the grid along each axis, confirmed by the calibration pulse's height (never its
width); pulse height alone without a grid; refused with neither; a doubt printed where grid and pulse disagree."""
from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from vizecg.cli import main
from vizecg.data import load_source
from vizecg.digitize import DigitizeConfig, digitize
from vizecg.digitize.layout import Pulse
from vizecg.digitize.scale import GRID_STRENGTH_MIN, TRUST_DISAGREE, GridScale, grid_period, measure_scale
from vizecg.errors import DigitizeError
from vizecg.render import draw_print_style, render_print_style
from vizecg.render.style import ROWS_3X4, GridStyle, LeadGrid, PulseStyle

DPI = 100  # 3.94 px/mm: small pages keep these tests fast; the scale is read as well as at 200 dpi


@pytest.fixture(scope="module")
def record():
    return load_source("sample").get("00001")


def _style(family: str, **fields):
    """A family's look on a 3x4+1 page at 10 mm/mV, uncut (the layout and gain are not what is tested here)."""
    style = draw_print_style(np.random.default_rng(0), family)
    style = replace(style, leads=LeadGrid("3x4+1", ROWS_3X4, ("II",)), crop=(0.0, 0.0, 0.0, 0.0), gain_mm_mv=10.0,
                    chest_gain_mm_mv=None, speed_mm_s=25.0)
    return replace(style, **fields)


# thermal paper's dot grid with a bare 2 mm pulse; fine + major lines with a 2 mm pulse on its baseline
NARROW = {"thermal-dots": PulseStyle("left", 2.0, "bare"), "hospital-3x4+1": PulseStyle("left", 2.0, "square")}


@pytest.fixture(scope="module")
def pages(record):
    styles = {"dots": _style("thermal-dots", pulse=NARROW["thermal-dots"]),
              "lines": _style("hospital-3x4+1", pulse=NARROW["hospital-3x4+1"]),
              "no_grid": _style("hospital-3x4+1", grid=GridStyle("none"), pulse=PulseStyle("left", 5.0, "square")),
              "neither": _style("hospital-3x4+1", grid=GridStyle("none"), pulse=PulseStyle("none")),
              "pulse_15mm": _style("hospital-3x4+1", pulse=PulseStyle("left", 5.0, "square", height_mv=1.5)),
              "right_no_grid": _style("hospital-3x4+1", grid=GridStyle("none"), pulse=PulseStyle("right", 5.0, "square"))}
    return {name: render_print_style(record, style, dpi=DPI, seed=0) for name, style in styles.items()}


@pytest.fixture(scope="module")
def read(record, pages):
    """Each page digitized once (the neither page is refused: its error instead)."""
    out = {}
    for name, page in pages.items():
        try:
            out[name] = digitize(page.image, DigitizeConfig(fs=record.fs))
        except DigitizeError as exc:
            out[name] = exc
    return out


@pytest.mark.parametrize("name", ["dots", "lines"])
def test_a_page_stretched_across_has_two_scales_both_read(record, pages, read, name):
    """A scan or photo stretched in x only: px/mm across and down are read apart from the grid, each within
    2 %; the narrow pulse's height confirms the grid (its 2 mm width is no cue)."""
    page = pages[name]
    stretched = cv2.resize(page.image, None, fx=1.2, fy=1.0, interpolation=cv2.INTER_LINEAR)
    result = digitize(stretched, DigitizeConfig(fs=record.fs))
    scale = result.found["scale"]
    truth = page.truth.px_per_mm
    assert scale["px_per_mm_x"] == pytest.approx(1.2 * truth, rel=0.02)
    assert scale["px_per_mm_y"] == pytest.approx(truth, rel=0.02)
    assert scale["px_per_mm_x"] / scale["px_per_mm_y"] == pytest.approx(1.2, rel=0.02)
    assert scale["source"] == "grid+pulse" and scale["gain_mm_mv"] == 10.0 and scale["speed_mm_s"] == 25.0
    assert scale["pulse_height_mm"] == pytest.approx(10.0, rel=0.05) and scale["agreement"] == pytest.approx(1, abs=0.05)
    assert not scale["doubts"]
    # unstretched, the same page reads one scale, with the same evidence
    flat = read[name].found["scale"]
    assert flat["px_per_mm_x"] == pytest.approx(truth, rel=0.02) and flat["source"] == "grid+pulse"


def test_a_page_without_grid_is_read_from_the_pulse_height_and_says_so(pages, read):
    result = read["no_grid"]
    assert isinstance(result, type(read["lines"])), result
    scale = result.found["scale"]
    assert scale["source"] == "pulse" and scale["pulse_height_mm"] is None
    assert scale["px_per_mm_y"] == pytest.approx(pages["no_grid"].truth.px_per_mm, rel=0.03)
    assert scale["px_per_mm_x"] == scale["px_per_mm_y"]  # square pixels assumed: the pulse's width is no cue
    assert any("no grid found" in w and "pulse's height" in w for w in result.warnings)
    assert scale["trust"] < 1 and result.page_confidence < read["lines"].page_confidence


def test_a_pulse_at_the_rows_right_end_gives_the_scale(record, pages, read):
    """Some machines print the pulse after the trace: without a grid it is the only scale on the page, found at
    the rows' right end (its height the scale, within 3 %), and the trace is still read from the page's left."""
    from vizecg.digitize.evaluate import score_page

    result = read["right_no_grid"]
    assert not isinstance(result, DigitizeError), result
    scale = result.found["scale"]
    assert scale["source"] == "pulse"
    assert scale["px_per_mm_y"] == pytest.approx(pages["right_no_grid"].truth.px_per_mm, rel=0.03)
    sides = {p["side"] for p in result.found["pulses"] if p is not None}
    assert sides == {"right"} and sum(p is not None for p in result.found["pulses"]) >= 3
    assert any("right end" in w for w in result.warnings)
    assert score_page(result, record, pages["right_no_grid"].truth)["snr_db"] > 10  # 12.3 (the pulse left: 16.1)


def test_a_page_with_neither_grid_nor_pulse_is_refused(read):
    err = read["neither"]
    assert isinstance(err, DigitizeError)
    assert "no grid and no calibration pulse" in str(err) and "cannot be measured" in str(err)


def test_a_pulse_the_grid_measures_15_mm_tall_is_a_printed_doubt(pages, read, tmp_path, capsys):
    """1 mV at an offered gain is 5, 10 or 20 mm: a 15 mm pulse means the grid or the pulse is misread. The
    grid's scale is kept, the doubt is written, printed on stderr, and lowers the page's confidence."""
    result = read["pulse_15mm"]
    scale = result.found["scale"]
    assert scale["source"] == "grid" and scale["gain_mm_mv"] == 10.0  # the declared gain, not 15
    assert scale["pulse_height_mm"] == pytest.approx(15.0, rel=0.03) and scale["agreement"] == pytest.approx(1.5, rel=0.03)
    assert scale["trust"] == TRUST_DISAGREE
    assert any("disagree" in w for w in result.warnings)
    assert result.page_confidence < 0.6 * read["lines"].page_confidence
    img = tmp_path / "page.png"
    cv2.imwrite(str(img), cv2.cvtColor(pages["pulse_15mm"].image, cv2.COLOR_RGB2BGR))
    assert main(["digitize", str(img), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "grid" in err and "disagree" in err and "15.0 mm" in err
    found = json.loads((tmp_path / "out" / "digitize.json").read_text())
    assert found["found"]["scale"]["source"] == "grid" and any("disagree" in w for w in found["warnings"])


# --- measure_scale on its own: the rules, without rendering ----------------------------------------------
def _pulse(height_px: float, width_px: float, clipped: bool = False) -> Pulse:
    return Pulse(x_rise=50.0, x_fall=50.0 + width_px, y_base=200.0, y_top=200.0 - height_px, clipped=clipped)


def _measure(pulses, has_grid=True, ppm=(5.0, 4.0), **kw):
    args = dict(speed_mm_s=25.0, gain_mm_mv=10.0, trust_pulse=True, min_px_per_mm=2.0, max_px_per_mm=30.0)
    return measure_scale(GridScale(ppm[0], 40.0), GridScale(ppm[1], 40.0), has_grid, pulses, **{**args, **kw})


def test_the_pulse_width_never_sets_the_scale():
    """2, 3.5 and 5 mm wide pulses of one height give one scale; only a width of 0.2 s at an offered speed
    (10 mm: 50 mm/s) says the paper speed."""
    scales = [_measure([_pulse(40.0, w * 5.0)] * 4) for w in (2.0, 3.5, 5.0, 10.0)]
    assert {(s.px_per_mm_x, s.px_per_mm_y, s.source) for s in scales} == {(5.0, 4.0, "grid+pulse")}
    assert [s.speed_mm_s for s in scales] == [25.0, 25.0, 25.0, 50.0]
    no_grid = [_measure([_pulse(40.0, w * 4.0)] * 4, has_grid=False) for w in (2.0, 3.5, 5.0)]
    assert {(s.px_per_mm_x, s.px_per_mm_y, s.source) for s in no_grid} == {(4.0, 4.0, "pulse")}


def test_half_gain_rows_confirm_the_grid_and_a_wrong_height_does_not():
    mixed = _measure([_pulse(40.0, 20.0)] * 3 + [_pulse(20.0, 20.0)] * 3)  # 10 mm and 5 mm pulses
    assert mixed.source == "grid+pulse" and mixed.gain_mm_mv == 10.0 and mixed.trust == 1.0
    assert _measure([_pulse(80.0, 20.0)] * 3).gain_mm_mv == 20.0
    odd = _measure([_pulse(48.0, 20.0)] * 3)  # 12 mm: no offered gain
    assert odd.source == "grid" and odd.trust == TRUST_DISAGREE and odd.agreement == pytest.approx(1.2)
    clipped = _measure([_pulse(30.0, 20.0, clipped=True)])
    assert clipped.source == "grid" and clipped.gain_from == "declared" and clipped.trust == 1.0


def test_a_scale_outside_the_configured_bounds_is_refused():
    with pytest.raises(DigitizeError, match="outside the allowed 2-30 px/mm"):
        _measure([_pulse(15.0, 10.0)] * 4, has_grid=False)  # 1.5 px/mm: below the 2 px/mm floor
    with pytest.raises(DigitizeError, match="no grid and its calibration pulses are clipped"):
        _measure([_pulse(40.0, 20.0, clipped=True)], has_grid=False)
    with pytest.raises(DigitizeError, match="no grid and no calibration pulse"):
        _measure([None, None], has_grid=False)


def test_a_doubted_scale_and_unnamed_panels_cap_the_confidences():
    from vizecg.digitize.confidence import UNNAMED_PANEL_CAP, lead_confidence, page_confidence

    sure = {"coverage": 1.0, "continuity": 1.0, "finite": 1.0, "jump_rate": 0.0, "amplitude_mv": 2.0,
            "limb_lead_residual": 0.01, "limb_residual": 0.01, "has_grid": 1.0, "pulse_agree": 1.0,
            "grid_strength": 60.0, "pulse_rows": 1.0, "row_pulse": 1.0, "n_candidates": 2.0}
    base = lead_confidence(sure)
    assert base > 0.8
    assert lead_confidence({**sure, "scale_trust": TRUST_DISAGREE}) == pytest.approx(TRUST_DISAGREE * base)
    assert lead_confidence({**sure, "unnamed_panels": 3.0}) == UNNAMED_PANEL_CAP
    assert page_confidence({**sure, "scale_trust": 0.5}, [base] * 12) < 0.6 * page_confidence(sure, [base] * 12)


def test_a_grid_seen_one_way_only_gives_the_scale_both_ways_and_says_so(record, pages, monkeypatch):
    """A photo blurred along one axis (or faint lines one way) leaves the grid's period across only: that
    period gives px/mm both ways (square pixels), the pulse still confirms the gain, and the doubt is written
    (it was refused as 'no grid', or scaled from the pulse alone). The blur here leaves the 5 mm lines down
    (the next test); the 5 mm reading is turned off to stand for a page where they are gone too."""
    from vizecg.digitize import digitizer

    monkeypatch.setattr(digitizer, "_major_grid", lambda grid, sx, sy, *args: (sx, sy))
    monkeypatch.setattr(digitizer, "_page_cache", type(digitizer._page_cache)())  # this page's stage not kept
    page = pages["lines"]
    smeared = cv2.GaussianBlur(page.image, (0, 0), sigmaX=0.01, sigmaY=1.5)  # the horizontal 1 mm lines wiped out
    result = digitize(smeared, DigitizeConfig(fs=record.fs))
    grid, scale = result.found["grid"], result.found["scale"]
    assert grid["read"] == "across" and grid["strength"][1] < grid["strength"][0]
    assert scale["px_per_mm_y"] == scale["px_per_mm_x"] == pytest.approx(page.truth.px_per_mm, rel=0.02)
    assert scale["source"] == "grid+pulse" and scale["gain_mm_mv"] == 10.0 and scale["trust"] < 1
    assert any("read across only" in w for w in result.warnings)


def test_a_grid_whose_1_mm_lines_show_one_way_is_read_the_other_way_from_its_5_mm_lines(record, pages):
    """The same smeared photo: searched again near the period across (the 5 mm lines down survive the blur),
    the lines down give px/mm down, so no square pixels are assumed and no doubt is raised."""
    page = pages["lines"]
    smeared = cv2.GaussianBlur(page.image, (0, 0), sigmaX=0.01, sigmaY=1.5)
    result = digitize(smeared, DigitizeConfig(fs=record.fs))
    grid, scale = result.found["grid"], result.found["scale"]
    assert grid["read"] == "both ways"
    assert scale["px_per_mm_y"] == pytest.approx(page.truth.px_per_mm, rel=0.01)
    assert scale["px_per_mm_x"] == pytest.approx(page.truth.px_per_mm, rel=0.01)
    assert scale["trust"] == 1 and not any("read across only" in w for w in result.warnings)


def test_pulses_on_a_faint_pens_ink_must_stand_in_one_column():
    """On a faint pen's page the pulses are looked for on all ink as dark as the trace, shadows included: a
    column of pulses on most rows is kept (an odd one out dropped), scattered finds are none."""
    from vizecg.digitize.digitizer import _aligned_pulses

    def at(x: float) -> Pulse:
        return Pulse(x_rise=x, x_fall=x + 20.0, y_base=100.0, y_top=60.0, clipped=False)

    column = [at(50.0), at(51.0), None, at(49.5), at(140.0)]
    kept = _aligned_pulses(column, px_per_mm=4.0)
    assert [p is not None for p in kept] == [True, True, False, True, False]
    assert _aligned_pulses([at(50.0), None, None, at(300.0), None], px_per_mm=4.0) == [None] * 5
    assert _aligned_pulses([None, None], px_per_mm=4.0) == [None, None]


# --- half gain on the chest leads: each panel at the gain of the pulse beside it -------------------------
def _panels(rows: list[list[str]]) -> list:
    from vizecg.digitize.layout import Panel

    return [Panel(lead, r, c, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, is_rhythm_strip=not lead)
            for r, row in enumerate(rows) for c, lead in enumerate(row)]


def _side(pulse: Pulse, side: str) -> Pulse:
    return replace(pulse, side=side)


def test_panel_gains_follow_the_pulse_beside_each_group():
    from vizecg.digitize.scale import panel_gains

    p10, p5 = _pulse(40.0, 20.0), _pulse(20.0, 20.0)  # 10 and 5 mm at 4 px/mm
    grid = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"], [""]]
    cols = [4, 4, 4, 1]
    # one gain shown: every panel at the page's
    same, groups = panel_gains(_panels(grid), [p10] * 4, cols, 4.0, 10.0)
    assert same == [10.0] * 13 and groups == {}
    # pulses after the trace: beside V4-V6 at 5 mm (the chest gain), the rhythm strip's at 10 mm: the limb
    # leads take the other gain shown, though most rows show 5 (the page's gain as measure_scale reads it)
    right = [_side(p5, "right")] * 3 + [_side(p10, "right")]
    gains, groups = panel_gains(_panels(grid), right, cols, 4.0, 5.0)
    by_lead = {pnl.lead or "strip": g for pnl, g in zip(_panels(grid), gains)}
    assert groups == {"chest": 5.0, "limb": 10.0}
    assert {k for k, g in by_lead.items() if g == 5.0} == {"V1", "V2", "V3", "V4", "V5", "V6"}
    assert by_lead["II"] == by_lead["aVF"] == by_lead["strip"] == 10.0
    # 12x1: most of each group's rows; a clipped pulse tells nothing, a misread one is outvoted
    twelve = [["I"], ["II"], ["III"], ["aVR"], ["aVL"], ["aVF"], ["V1"], ["V2"], ["V3"], ["V4"], ["V5"], ["V6"]]
    pulses = [p10] * 5 + [p5] + [p5] * 5 + [_pulse(20.0, 20.0, clipped=True)]
    gains, groups = panel_gains(_panels(twelve), pulses, [1] * 12, 4.0, 10.0)
    assert gains == [10.0] * 6 + [5.0] * 6 and groups == {"limb": 10.0, "chest": 5.0}
    # a second gain in no half-gain pattern (pulses misread at 5 mm beside limb leads only) changes nothing
    misread = [p5, p10, p10, p5]
    assert panel_gains(_panels(grid), misread, cols, 4.0, 10.0) == ([10.0] * 13, {})
    assert panel_gains(_panels(twelve[:6]), [p10, p5, p10, p5, p10, p10], [1] * 6, 4.0, 10.0) == ([10.0] * 6, {})


def test_a_page_with_half_gain_chest_leads_is_read_at_both_gains(record):
    """Pulses at the rows' right end stand beside the chest panels: at half gain they are 5 mm tall, and read
    as the page's gain every limb lead came out twice its size (0 dB; a thermal-dots test page of the cpu
    benchmark scored 0.2 dB on lead II at confidence 0.82)."""
    from vizecg.digitize.evaluate import score_page

    page = render_print_style(record, _style("hospital-3x4+1", pulse=PulseStyle("right", 5.0, "square"),
                                             chest_gain_mm_mv=5.0), dpi=DPI, seed=0)
    result = digitize(page.image, DigitizeConfig(fs=record.fs))
    assert result.found["gains_mm_mv"] == {"chest": 5.0, "limb": 10.0}
    assert any("two gains" in w for w in result.warnings)
    assert score_page(result, record, page.truth)["snr_db"] > 12  # 17.4 dB; at the page's one gain 10.8


@pytest.mark.parametrize("shrink", [0.6, 0.55])
def test_a_page_at_2_px_per_mm_is_scaled_from_its_5_mm_lines(record, pages, shrink):
    """At 2-2.5 px/mm (common on real photos) the 1 mm lines are gone and the 5 mm lines remain: the grid still
    gives the scale both ways (it was 'no grid', the scale then from the pulse alone), searched again near the
    page-size guess where the whole band found no 1 mm line, and the pulse confirms it."""
    page = pages["lines"]
    small = cv2.resize(page.image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    result = digitize(small, DigitizeConfig(fs=record.fs))
    grid, scale = result.found["grid"], result.found["scale"]
    assert grid["found"] and grid["read"] == "both ways"
    assert scale["px_per_mm_x"] == pytest.approx(shrink * page.truth.px_per_mm, rel=0.01)
    assert scale["px_per_mm_y"] == pytest.approx(shrink * page.truth.px_per_mm, rel=0.01)
    assert scale["source"] == "grid+pulse" and scale["gain_mm_mv"] == 10.0
    assert not any("no grid found" in w for w in result.warnings)


def test_5_mm_lines_alone_give_the_scale_only_when_asked_and_not_an_octave_off():
    """One function's unit test (a synthetic profile): blurred 5 mm lines at 4.4 px/mm hold no 1 mm peak, so
    the 1 mm reading is weak; asked for, the 5 mm lines give 4.4 px/mm (not 8.8: their period, not half of it),
    and a grid whose 1 mm lines show is read from them as before."""
    ppm, x = 4.4, np.arange(1200, dtype=float)
    phase = (x % (5 * ppm)) - 2.5 * ppm
    # 5 mm lines blurred to ~1 mm wide (no 1 mm comb, few harmonics), on a photo's noise
    major = np.exp(-0.5 * (phase / 2.2) ** 2) + 0.05 * np.random.default_rng(0).standard_normal(len(x))
    plain = grid_period(major, 2.0, 30.0)
    coarse = grid_period(major, 2.0, 30.0, major_only=True)
    assert plain.strength < GRID_STRENGTH_MIN
    assert not coarse.fine and coarse.strength >= GRID_STRENGTH_MIN
    assert coarse.px_per_mm == pytest.approx(ppm, rel=0.01)
    minor_phase = (x % ppm) - 0.5 * ppm
    fine = major + 0.5 * np.exp(-0.5 * (minor_phase / 0.5) ** 2)
    both = grid_period(fine, 2.0, 30.0, major_only=True)
    assert both.fine and both.px_per_mm == pytest.approx(ppm, rel=0.01)


def test_5_mm_lines_taken_for_1_mm_lines_one_way_are_read_again_near_the_page_size_guess(pages):
    """A blurred photo's comb search can take the 5 mm lines for the 1 mm ones (5 times too fine), strong as
    a grid and disagreeing with the other way: the period is then searched again where the page's size puts
    it, and the right scale comes back both ways."""
    from vizecg.digitize import digitizer

    page = pages["lines"]
    small = cv2.resize(page.image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    truth, guess = 0.6 * page.truth.px_per_mm, digitizer._ppm_guess(small, 0.0)
    cfg = DigitizeConfig()
    _, _, grid = digitizer._page_views(small, guess, cfg)
    wrong, weak = GridScale(5 * truth, 13.0), GridScale(3.1 * truth, 1.5)
    sx, sy = digitizer._major_grid(grid, wrong, weak, guess, cfg, int(40 * guess))
    assert sx.px_per_mm == pytest.approx(truth, rel=0.01)
    assert sy.px_per_mm == pytest.approx(truth, rel=0.01)
    far = GridScale(5 * truth, 13.0)  # nothing near the guess to read: the scales stay as given
    blank = np.zeros_like(grid)
    assert digitizer._major_grid(blank, far, weak, guess, cfg, int(40 * guess)) == (far, weak)

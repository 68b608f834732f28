"""The print-style space: every family prints with consistent ground truth (lead names as printed, panels,
traces, gains, pulses, labels, text), pages are seeded, families can be left out, and render folders record them."""
from __future__ import annotations

import csv
import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from vizecg.config import load_config
from vizecg.data import load_source
from vizecg.errors import ConfigError, RenderError
from vizecg.render import (PageTruth, RenderConfig, draw_print_style, list_families, render_print_style,
                           render_printout, style_from_config)
from vizecg.render.style import (EXTRA_LEADS, FIFTH_COLUMN_FALLBACK, TRACE_COLORS, LeadGrid, PulseStyle, ROWS_3X4,
                                 ROWS_6X2_CABRERA, coverage)

DPI = 100
FAMILIES = list(list_families())


@pytest.fixture(scope="module")
def record():
    src = load_source("sample")
    return src.get(src.record_ids[0])  # real PTB-XL, 12 leads, 10 s at 500 Hz


@pytest.fixture(scope="module")
def pages(record):
    """Two pages per family (seeds 0 and 1), with the styles they were printed in."""
    out = {}
    for name in FAMILIES:
        for k in (0, 1):
            style = draw_print_style(np.random.default_rng(k), name)
            out[name, k] = (style, render_print_style(record, style, dpi=DPI, seed=k))
    return out


def _expected_labels(style, record) -> list[str]:
    have = set(record.lead_names)
    stand_in = dict(zip(EXTRA_LEADS, FIFTH_COLUMN_FALLBACK))
    rows = [stand_in[x] if x in stand_in and x not in have else x for row in style.leads.rows for x in row]
    return rows + list(style.leads.rhythm)


def _ink(image: np.ndarray, rgb, greyscale: bool) -> np.ndarray:
    """Pixels within 70 (per channel) of the colour `rgb` as printed."""
    if greyscale:
        g = cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2GRAY)[0, 0]
        rgb = (int(g),) * 3
    return (np.abs(image.astype(np.int16) - np.asarray(rgb, np.int16)) < 70).all(axis=2)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_prints_with_consistent_truth(pages, record, family):
    for k in (0, 1):
        style, page = pages[family, k]
        t = page.truth
        assert page.image.shape == (t.height, t.width, 3) and t.layout == style.leads.name
        assert t.render_params["family"] == family
        s = t.px_per_mm
        # Every panel: the lead name as printed, in order; its gain; its window on the page's time axis.
        assert [lt.label for lt in t.leads] == _expected_labels(style, record)
        for lt in t.leads:
            assert lt.lead == lt.label.lstrip("-") and lt.inverted == lt.label.startswith("-")
            assert lt.gain_mm_mv == style.gain_of(lt.lead)
            assert abs(lt.mapping.px_per_mv) == pytest.approx(lt.gain_mm_mv * s)
            assert lt.page_t_end_s - lt.page_t_start_s == pytest.approx(lt.panel_box.width / s / style.speed_mm_s,
                                                                        abs=1e-6) or any(style.crop)
            pts = lt.trace[lt.visible]
            b = lt.panel_box
            assert len(pts) > 0.5 * len(lt.trace) or any(style.crop)
            assert (pts[:, 0] >= b.x0 - 0.01).all() and (pts[:, 0] <= b.x1 + 0.01).all()
            assert (pts[:, 1] >= b.y0 - 0.01).all() and (pts[:, 1] <= b.y1 + 0.01).all()
            # The trace maps back onto the record (an inverted -aVR gives aVR back).
            ok = lt.visible & ~lt.clipped
            sec, mv = lt.mapping.to_signal(lt.trace[ok])
            idx = lt.sample_start + np.flatnonzero(ok)
            np.testing.assert_allclose(mv, record.lead(lt.lead)[idx], atol=1e-3)
            # A label box holds printed (black) ink and starts at its panel's left end.
            if lt.label_box is not None and lt.label_box.width > 1:
                lb = lt.label_box.clip(t.width, t.height)
                crop = page.image[int(lb.y0):int(np.ceil(lb.y1)), int(lb.x0):int(np.ceil(lb.x1))]
                # Anti-aliased TTF strokes at 100 dpi are grey; no grid colour is this dark (max channel < 150).
                assert (crop.max(axis=2) < 150).sum() >= 3, (family, k, lt.label)
                assert abs(lt.label_box.x0 - b.x0) < 3 * s and b.y0 - 1 <= lt.label_box.y0 < b.y1
        # Pulses: one per row where printed, holding trace-coloured ink; none where the style prints none.
        rows = {lt.row for lt in t.leads}
        if style.pulse.side == "none":
            assert t.pulses == [] and t.calibration_boxes == []
        else:
            assert len(t.pulses) == len(rows) or any(style.crop)
            assert [p.box for p in t.pulses] == t.calibration_boxes
            for p in t.pulses:
                assert p.side == style.pulse.side and p.width_mm == style.pulse.width_mm
                assert p.height_mm <= p.height_mv * p.gain_mm_mv + 1e-6
                assert p.box.width == pytest.approx(p.width_mm * s + max(1, round(style.line_width_mm * s)), abs=1.5) \
                    or any(style.crop)
                bb = p.box.clip(t.width, t.height)
                crop = page.image[int(bb.y0):int(np.ceil(bb.y1)), int(bb.x0):int(np.ceil(bb.x1))]
                assert _ink(crop, TRACE_COLORS[style.trace_color], style.greyscale).sum() > 5
        for text in t.texts:
            assert 0 <= text.box.x0 < text.box.x1 <= t.width + 1 and 0 <= text.box.y0 < text.box.y1 <= t.height + 1
        for beat in t.beats:
            pb = t.leads[beat.panel_index].panel_box
            assert pb.x0 - 0.01 <= beat.box.x0 < beat.box.x1 <= pb.x1 + 0.01


def test_a_page_without_pulse_has_no_ink_beside_its_rows(record):
    style = replace(draw_print_style(np.random.default_rng(3), "hospital-3x4+1"), pulse=PulseStyle("none"),
                    crop=(0.0, 0.0, 0.0, 0.0), trace_color="black", greyscale=False)
    page = render_print_style(record, style, dpi=DPI)
    t = page.truth
    x_first = min(lt.panel_box.x0 for lt in t.leads)
    y0, y1 = min(lt.panel_box.y0 for lt in t.leads), max(lt.panel_box.y1 for lt in t.leads)
    assert t.pulses == [] and not _ink(page.image[int(y0):int(y1), :int(x_first) - 1], (0, 0, 0), False).any()
    left = render_print_style(record, replace(style, pulse=PulseStyle("left", 3.5)), dpi=DPI).truth
    right = render_print_style(record, replace(style, pulse=PulseStyle("right", 2.0, "bare")), dpi=DPI).truth
    assert all(p.box.x1 <= x_first + 1 for p in left.pulses)
    assert all(p.box.x0 >= max(lt.panel_box.x1 for lt in right.leads) - 1 for p in right.pulses)
    assert {round(p.width_mm, 1) for p in right.pulses} == {2.0} and len(right.pulses) == len({lt.row for lt in right.leads})


def test_cabrera_prints_inverted_avr_and_half_gain_chest(record):
    style = replace(draw_print_style(np.random.default_rng(0), "cabrera-6x2"), leads=LeadGrid("6x2", ROWS_6X2_CABRERA, ()),
                    speed_mm_s=25.0, gain_mm_mv=10.0, chest_gain_mm_mv=5.0, crop=(0.0, 0.0, 0.0, 0.0))
    t = render_print_style(record, style, dpi=DPI).truth
    assert [lt.label for lt in t.leads if lt.col == 0] == ["aVL", "I", "-aVR", "II", "aVF", "III"]
    avr = next(lt for lt in t.leads if lt.label == "-aVR")
    assert avr.lead == "aVR" and avr.inverted and avr.mapping.px_per_mv < 0
    # Printed upside down: the ink of -aVR is the mirror of aVR about its baseline.
    i = 1000 - avr.sample_start
    assert avr.trace[i, 1] - avr.mapping.baseline_y == pytest.approx(record.lead("aVR")[1000] * 10 * t.px_per_mm,
                                                                     abs=0.01)
    assert {lt.gain_mm_mv for lt in t.leads if lt.lead.startswith("V")} == {5.0}
    assert {lt.gain_mm_mv for lt in t.leads if not lt.lead.startswith("V")} == {10.0}
    # Columns: 0-5 s and 5-10 s on the page's time axis.
    assert sorted({(lt.page_t_start_s, lt.page_t_end_s) for lt in t.leads}) == [(0.0, 5.0), (5.0, 10.0)]


def test_fifteen_lead_page_prints_extra_leads_only_when_the_record_has_them(record):
    style = replace(draw_print_style(np.random.default_rng(1), "fifteen-3x5"), leads=LeadGrid(
        "3x5", tuple(row + (x,) for row, x in zip(ROWS_3X4, EXTRA_LEADS)), ()))
    t12 = render_print_style(record, style, dpi=DPI).truth
    assert [lt.label for lt in t12.leads if lt.col == 4] == list(FIFTH_COLUMN_FALLBACK)
    assert not any(lt.label in EXTRA_LEADS for lt in t12.leads) and not t12.warnings
    # A 12-lead record: the fifth column shows II, V1, V5 (a record carrying V4R/V8/V9 prints them).
    assert sorted({round(lt.page_t_start_s, 6) for lt in t12.leads}) == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_a_page_cut_by_the_frame_moves_its_truth(record):
    style = replace(draw_print_style(np.random.default_rng(2), "hospital-3x4+1"), leads=LeadGrid("3x4+1", ROWS_3X4, ("II",)))
    whole = render_print_style(record, style, dpi=DPI).truth
    cut = render_print_style(record, replace(style, crop=(0.02, 0.0, 0.0, 0.15)), dpi=DPI)
    t = cut.truth
    assert cut.image.shape[:2] == (t.height, t.width) and t.height == whole.height - round(0.15 * whole.height)
    dx = round(0.02 * whole.width)
    assert t.leads[0].panel_box.x0 == pytest.approx(whole.leads[0].panel_box.x0 - dx)
    for b in t.beats:  # a beat cut by the frame is not a whole beat any more
        assert not b.visible or (b.box.y1 <= t.height and b.box.x0 >= 0)
    assert sum(b.visible for b in t.beats) < sum(b.visible for b in whole.beats)
    strip = next(lt for lt in t.leads if lt.is_rhythm_strip)
    assert not strip.visible.all()  # the rhythm strip runs off the bottom
    assert all(p.box.width > 1 and p.box.height > 1 for p in t.pulses)


def test_same_seed_same_page_and_styles_vary(record):
    a = draw_print_style(np.random.default_rng(5))
    assert a == draw_print_style(np.random.default_rng(5))
    p1, p2 = (render_print_style(record, a, dpi=DPI, seed=9) for _ in range(2))
    assert p1.image.tobytes() == p2.image.tobytes() and p1.truth.to_json() == p2.truth.to_json()
    assert len({draw_print_style(np.random.default_rng(k)) for k in range(20)}) == 20
    # A RenderConfig prints through the same renderer as the style it maps onto.
    cfg = RenderConfig(dpi=DPI, grid_color="pink", layout="6x2")
    assert render_printout(record, cfg).image.tobytes() == render_print_style(record, style_from_config(cfg),
                                                                              dpi=DPI).image.tobytes()


def test_families_can_be_left_out_and_named_ones_are_checked():
    drawn = {draw_print_style(np.random.default_rng(k), exclude=("thermal-dots", "export-green")).family
             for k in range(300)}
    assert "thermal-dots" not in drawn and "export-green" not in drawn and len(drawn) >= 6
    assert {draw_print_style(np.random.default_rng(k), include=("cabrera-6x2",)).family for k in range(5)} == {
        "cabrera-6x2"}
    with pytest.raises(RenderError, match="unknown family nope"):
        draw_print_style(np.random.default_rng(0), exclude=("nope",))
    with pytest.raises(RenderError, match="all excluded"):
        draw_print_style(np.random.default_rng(0), exclude=tuple(FAMILIES))
    shares = coverage(n=300)["family"]
    assert set(shares) <= set(FAMILIES) and abs(sum(shares.values()) - 1) < 1e-9


def test_render_job_takes_families_and_fingerprints_them():
    from vizecg.builders.render_job import RenderJob, output_settings, plan_items

    job = load_config(RenderJob, None, ["style=families", "exclude_families=[thermal-dots]", "n=12"])
    assert job.exclude_families == ("thermal-dots",)
    settings = output_settings(job)
    assert settings["exclude_families"] == ["thermal-dots"] and settings["families"] == []
    assert "families" not in output_settings(RenderJob())  # older folders keep their fingerprint
    plans = plan_items(job, load_source("sample"))
    assert all(p.style is not None and p.style.family != "thermal-dots" for p in plans)
    assert plans == plan_items(job, load_source("sample"))
    with pytest.raises(ConfigError, match="exclude_families: unknown family bogus"):
        load_config(RenderJob, None, ["style=families", "exclude_families=[bogus]"])
    with pytest.raises(ConfigError, match="need style: families"):
        load_config(RenderJob, None, ["families=[thermal-dots]"])
    mitdb = plan_items(RenderJob(source="sample:mitdb", style="families", n=3), load_source("sample:mitdb"))
    assert all(p.style.leads.name == "1x1" and p.style.leads.strip_paper for p in mitdb)


def test_render_folder_of_families_records_family_and_truth(tmp_path):
    from vizecg.cli import main

    out = tmp_path / "fam"
    assert main(["render", "--source", "sample", "--n", "2", "--dpi", "100", "--style", "families", "--set",
                 "families=[thermal-dots,cabrera-6x2]", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert {r["family"] for r in rows} <= {"thermal-dots", "cabrera-6x2"}
    fp = json.loads((out / "fingerprint.json").read_text())
    assert fp["settings"]["families"] == ["thermal-dots", "cabrera-6x2"]
    for r in rows:
        label = json.loads((out / r["label"]).read_text())
        assert label["family"] == r["family"] and label["print_style"]["family"] == r["family"]
        truth = PageTruth.from_json(label)  # new fields read back
        assert truth.pulses or label["print_style"]["pulse"]["side"] == "none"
        assert [lt.label for lt in truth.leads] and all(lt.gain_mm_mv > 0 for lt in truth.leads)
        assert truth.to_json()["texts"] == label["texts"]
    # another family set is another folder's settings: refused
    assert main(["render", "--source", "sample", "--n", "2", "--dpi", "100", "--style", "families", "--set",
                 "families=[thermal-dots]", "--out", str(out), "--quiet"]) != 0


def test_older_label_json_still_reads(record):
    d = render_printout(record, RenderConfig(dpi=DPI)).truth.to_json()
    for key in ("pulses", "texts"):
        del d[key]
    for ld in d["leads"]:
        for key in ("label", "gain_mm_mv", "page_t_start_s", "page_t_end_s", "row", "col", "inverted"):
            del ld[key]
    t = PageTruth.from_json(d)
    assert t.pulses == [] and t.leads[0].label == "" and t.leads[0].gain_mm_mv == 0.0


def test_photo_moves_pulses_and_text(pages):
    from vizecg.photo import photograph

    style, page = pages["hospital-3x4+1", 0]
    photo = photograph(page, "scan", seed=1)
    t = photo.truth
    assert len(t.pulses) == len(page.truth.pulses) and len(t.texts) == len(page.truth.texts)
    assert [p.box for p in t.pulses] == t.calibration_boxes

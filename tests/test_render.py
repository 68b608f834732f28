"""Renderer: layouts, exact ground truth (round trips), beat boxes, determinism, bad input."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from vizecg.data import load_source
from vizecg.errors import RenderError
from vizecg.record import EcgRecord
from vizecg.render import LAYOUTS, RenderConfig, random_render_config, render_printout
from vizecg.render import paper

SMALL = RenderConfig(dpi=100)


@pytest.fixture(scope="module")
def record() -> EcgRecord:
    src = load_source("sample")
    return src.get(src.record_ids[0])  # real PTB-XL 12-lead, 10 s at 500 Hz


@pytest.fixture(scope="module")
def strip_record() -> EcgRecord:
    src = load_source("sample:mitdb")
    return src.get(src.record_ids[0])  # real MIT-BIH excerpt with beat annotations


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_has_the_promised_panels(record, layout):
    p = render_printout(record, replace(SMALL, layout=layout))
    t = p.truth
    assert p.image.dtype == np.uint8 and p.image.shape == (t.height, t.width, 3)
    rows, strip = LAYOUTS[layout]
    expected = [lead for row in rows for lead in row] + (["II"] if strip else [])
    assert sorted(lt.lead for lt in t.leads) == sorted(expected)
    assert sum(lt.is_rhythm_strip for lt in t.leads) == int(strip)
    assert len(t.calibration_boxes) == len(rows) + int(strip)
    assert t.px_per_mm == pytest.approx(100 / 25.4)
    for lt in t.leads:
        b = lt.panel_box
        assert 0 <= b.x0 < b.x1 <= t.width and 0 <= b.y0 < b.y1 <= t.height
        assert b.width == pytest.approx(paper.TRACE_WIDTH_MM * t.px_per_mm / (1 if lt.is_rhythm_strip else
                                                                                 len(rows[0])), abs=1e-6)
        # 25 mm/s: a panel shows its width in mm / 25 seconds; the rhythm strip 10 s.
        assert lt.t_end_s - lt.t_start_s == pytest.approx(b.width / t.px_per_mm / 25.0, abs=2.5 / record.fs)
        assert len(lt.trace) == round((lt.t_end_s - lt.t_start_s) * record.fs) + 1
    if rows:
        # The panels of one column show the same moment (simultaneous leads).
        by_x = {}
        for lt in t.leads:
            if not lt.is_rhythm_strip:
                by_x.setdefault(round(lt.panel_box.x0, 3), set()).add(lt.t_start_s)
        assert all(len(times) == 1 for times in by_x.values())
        assert len(by_x) == len(rows[0])


def test_3x4_columns_are_consecutive_2_5_s_windows(record):
    t = render_printout(record, SMALL).truth
    starts = sorted({lt.t_start_s for lt in t.leads if not lt.is_rhythm_strip})
    assert starts == pytest.approx([0.0, 2.5, 5.0, 7.5])
    strip = next(lt for lt in t.leads if lt.is_rhythm_strip)
    assert (strip.t_start_s, strip.t_end_s) == pytest.approx((0.0, 10.0 - 1 / record.fs))


def test_trace_pixels_map_back_to_the_signal(record):
    t = render_printout(record, replace(SMALL, gain_mm_mv=20.0)).truth
    checked = 0
    for lt in t.leads:
        ok = ~lt.clipped & np.isfinite(lt.trace).all(axis=1)
        sec, mv = lt.mapping.to_signal(lt.trace[ok])
        idx = lt.sample_start + np.flatnonzero(ok)
        np.testing.assert_allclose(sec, idx / record.fs, atol=1e-4)
        np.testing.assert_allclose(mv, record.lead(lt.lead)[idx], atol=1e-4)  # float32 px: ~1e-5 mV
        checked += ok.sum()
    assert checked > 0.9 * sum(len(lt.trace) for lt in t.leads)  # 20 mm/mV clips some R waves, not most


def _ink_trace_snr(printout, lead_truth, record) -> float:
    """Trace the ink (darkness-weighted centroid per pixel column) and compare with the true signal."""
    grey = cv2.cvtColor(printout.image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    b = lead_truth.panel_box
    x0 = int(np.ceil(max(b.x0, lead_truth.label_box.x1))) + 1
    x1 = int(np.floor(b.x1)) - 1
    y0, y1 = int(np.ceil(b.y0)) + 1, int(np.floor(b.y1)) - 1
    ink = np.clip(110.0 - grey[y0:y1, x0:x1], 0, None)  # grid lines are lighter than 110; ink is ~0
    weight = ink.sum(axis=0)
    has_ink = weight > 0
    y_est = (ink * np.arange(y0, y1)[:, None]).sum(axis=0)[has_ink] / weight[has_ink]
    xs = np.arange(x0, x1)[has_ink]
    m = lead_truth.mapping
    sec, mv_est = m.to_signal(np.stack([xs, y_est], axis=1))
    sig = record.lead(lead_truth.lead)
    # One pixel column (5 ms at 200 dpi, 25 mm/s) can only show the signal averaged over its width.
    fine = sec[:, None] + (np.arange(16)[None, :] + 0.5) / 16.0 / m.px_per_s - 0.5 / m.px_per_s
    mv_true = np.interp(fine, np.arange(len(sig)) / record.fs, sig).mean(axis=1)
    err = mv_est - mv_true
    centred = mv_true - mv_true.mean()
    return float(10 * np.log10((centred ** 2).sum() / (err ** 2).sum()))


def test_ink_traced_from_a_clean_200dpi_page_recovers_the_signal(record):
    # A 1-px printer line (0.12 mm at 200 dpi): with thicker strokes a per-column centroid is pulled sideways by
    # the steep QRS edges (~14 dB at the default 0.25 mm), which is the digitizer's problem, not the page's.
    p = render_printout(record, RenderConfig(dpi=200, line_width_mm=0.12))
    snrs = [_ink_trace_snr(p, lt, record) for lt in p.truth.leads]
    print(f"ink-trace SNR per panel, 200 dpi: median {np.median(snrs):.1f} dB, min {min(snrs):.1f} dB")
    assert np.median(snrs) >= 25.0


def test_beat_boxes_lie_in_their_panels_and_hold_their_r_peak(record):
    t = render_printout(record, SMALL).truth
    assert t.beats
    for b in t.beats:
        panel = t.leads[b.panel_index]
        assert b.lead == panel.lead
        pb = panel.panel_box
        assert pb.x0 <= b.box.x0 < b.box.x1 <= pb.x1 and pb.y0 <= b.box.y0 < b.box.y1 <= pb.y1
        assert b.box.x0 <= b.r_peak[0] <= b.box.x1 and b.box.y0 <= b.r_peak[1] <= b.box.y1
        assert panel.t_start_s <= b.r_sample / 500.0 <= panel.t_end_s
    # Beats are simultaneous in all leads: every 2.5 s column shows the same beats in its three panels.
    per_panel = {}
    for b in t.beats:
        per_panel.setdefault(b.panel_index, []).append(b.r_sample)
    for i, lt in enumerate(t.leads):
        for j, other in enumerate(t.leads):
            if lt.t_start_s == other.t_start_s and lt.t_end_s == other.t_end_s:
                assert per_panel.get(i) == per_panel.get(j)
    # The 10 s rhythm strip holds every beat whose whole span lies in the record (~64 bpm here).
    strip = next(i for i, lt in enumerate(t.leads) if lt.is_rhythm_strip)
    assert 8 <= len(per_panel[strip]) <= 12


def test_mitdb_strip_beats_carry_the_source_labels(strip_record):
    p = render_printout(strip_record, RenderConfig(dpi=100, layout="1x1", start_s=None), seed=5)
    t = p.truth
    assert [lt.lead for lt in t.leads] == ["MLII"]
    assert t.render_params["beat_origin"] == "annotations"
    ann = strip_record.meta["beats"]
    assert len(t.beats) >= 5
    for b in t.beats:
        i = int(np.flatnonzero(ann["sample"] == b.r_sample)[0])
        assert (b.label, b.aami) == (ann["symbol"][i], ann["aami"][i])


def test_same_seed_same_bytes_and_seed_moves_the_window(strip_record):
    cfg = RenderConfig(dpi=100, layout="1x1", start_s=None)
    a = render_printout(strip_record, cfg, seed=11)
    b = render_printout(strip_record, cfg, seed=11)
    c = render_printout(strip_record, cfg, seed=12)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.truth.to_json() == b.truth.to_json()
    assert a.truth.leads[0].t_start_s != c.truth.leads[0].t_start_s
    r1 = random_render_config(np.random.default_rng(3), SMALL)
    assert r1 == random_render_config(np.random.default_rng(3), SMALL)
    styles = {random_render_config(np.random.default_rng(s), SMALL) for s in range(12)}
    assert len(styles) == 12 and all(st.layout == SMALL.layout and st.dpi == 100 for st in styles)
    fast = [random_render_config(np.random.default_rng(s), SMALL, fast_paper_share=1.0) for s in range(12)]
    assert all(st.speed_mm_s == 50.0 for st in fast)  # only the paper speed follows the share
    assert [replace(st, speed_mm_s=0.0) for st in fast] == [
        replace(random_render_config(np.random.default_rng(s), SMALL), speed_mm_s=0.0) for s in range(12)]


# --- bad input -------------------------------------------------------------------------------------------------
def test_short_record_is_padded_with_a_gap_and_a_warning(record):
    short = record.with_signal(record.signal[:, :3000])  # 6 s of a 10 s page
    t = render_printout(short, SMALL).truth
    assert any("left blank" in w for w in t.warnings)
    strip = next(lt for lt in t.leads if lt.is_rhythm_strip)
    assert np.isfinite(strip.trace[:3000]).all() and np.isnan(strip.trace[3000:]).all()
    assert not strip.visible[3000:].any()
    assert all(b.r_sample < 3000 for b in t.beats)


def test_record_too_short_for_anything_is_an_error(record):
    with pytest.raises(RenderError, match=r"00001.*needs at least"):
        render_printout(record.with_signal(record.signal[:, :200]), SMALL)


def test_missing_lead_leaves_an_empty_panel(record):
    keep = [i for i, n in enumerate(record.lead_names) if n != "V3"]
    rec = record.with_signal(record.signal[keep], lead_names=tuple(record.lead_names[i] for i in keep))
    t = render_printout(rec, SMALL).truth
    v3 = next(i for i, lt in enumerate(t.leads) if lt.lead == "V3")
    assert not t.leads[v3].present and np.isnan(t.leads[v3].trace).all()
    assert not any(b.panel_index == v3 for b in t.beats)
    assert "lead V3 missing: panel left empty" in t.warnings


def test_record_with_none_of_the_layout_leads_is_an_error(strip_record):
    mlii_only = strip_record.with_signal(strip_record.signal[:1], lead_names=("MLII",))
    with pytest.raises(RenderError, match="has none of the leads"):
        render_printout(mlii_only, replace(SMALL, layout="3x4"))


def test_nan_samples_leave_gaps_in_the_ink(record):
    sig = record.signal.copy()
    ii = record.lead_names.index("II")
    sig[ii, 2000:2600] = np.nan  # 4.0-5.2 s
    rec = EcgRecord(signal=sig, fs=record.fs, lead_names=record.lead_names, record_id="gap", allow_nan=True)
    p = render_printout(rec, SMALL)
    strip = next(lt for lt in p.truth.leads if lt.is_rhythm_strip)
    assert np.isnan(strip.trace[2000:2600]).all() and np.isfinite(strip.trace[:2000]).all()
    xa, xb = strip.trace[1999, 0], strip.trace[2600, 0]
    grey = cv2.cvtColor(p.image, cv2.COLOR_RGB2GRAY)
    b = strip.panel_box
    gap = grey[int(b.y0) + 1:int(b.y1) - 1, int(xa) + 3:int(xb) - 3]
    assert gap.min() > 100  # grid only, no ink
    for beat in p.truth.beats:
        if beat.panel_index == p.truth.leads.index(strip):
            assert not 2000 - 250 <= beat.r_sample <= 2600 + 150


def test_out_of_range_amplitude_is_clipped_at_the_panel_edge(record):
    sig = record.signal.copy()
    sig[record.lead_names.index("I")] *= 20
    t = render_printout(record.with_signal(sig), SMALL).truth
    lead_i = next(lt for lt in t.leads if lt.lead == "I")
    assert lead_i.clipped.any()
    assert (lead_i.trace[:, 1] >= lead_i.panel_box.y0).all() and (lead_i.trace[:, 1] <= lead_i.panel_box.y1).all()
    assert any(w.startswith("lead I:") and "clipped" in w for w in t.warnings)


@pytest.mark.parametrize("change,match", [({"dpi": 600}, "dpi 600"), ({"layout": "5x5"}, "unknown layout"),
                                          ({"gain_mm_mv": 7.0}, "gain 7.0"), ({"start_s": -1.0}, "start_s")])
def test_bad_settings_are_clear_errors(record, change, match):
    with pytest.raises(RenderError, match=match):
        render_printout(record, replace(SMALL, **change))


def test_records_restrict_a_render_to_named_records():
    from vizecg.builders.render_job import select_records

    ids = ["00001", "00002", "00103", "ab7"]
    assert select_records(ids, (), "src") == ids
    assert select_records(ids, ("103", "00001"), "src") == ["00001", "00103"]  # the source's order, numbers match
    assert select_records(ids, ("ab7",), "src") == ["ab7"]
    with pytest.raises(RenderError, match="not in source src: 00999"):
        select_records(ids, ("00002", "00999"), "src")


def test_items_are_planned_from_seed_and_index_alone_so_a_larger_n_only_adds_items():
    # What lets a resume with a larger n extend a render folder (the fingerprint allows n to grow, nothing else).
    from vizecg.builders.render_job import RenderJob, output_settings, plan_items

    src = load_source("sample")
    job = RenderJob(n=3, style="random", layout="mixed", seed=4)
    assert plan_items(replace(job, n=5), src)[:3] == plan_items(job, src)
    assert plan_items(replace(job, workers=4), src) == plan_items(job, src)
    assert "workers" not in output_settings(job) and output_settings(job)["render"]["dpi"] == job.render.dpi

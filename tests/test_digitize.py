"""Digitizer: real renders of real sample records, the Challenge SNR metric, bad inputs, the CLI."""
from __future__ import annotations

import numpy as np
import pytest

from vizecg.cli import main
from vizecg.data import load_source
from vizecg.digitize import DigitizeConfig, align, digitize, score_lead, snr_db
from vizecg.digitize.evaluate import score_page
from vizecg.digitize.ink import grid_darkness, ink_mask, paper_normalised
from vizecg.digitize.scale import grid_period
from vizecg.errors import DigitizeError
from vizecg.render import RenderConfig, render_printout


@pytest.fixture(scope="module")
def record():
    return load_source("sample").get("00001")


@pytest.fixture(scope="module")
def clean_page(record):
    return render_printout(record, RenderConfig(layout="3x4+1", dpi=200), seed=0)


# --- metric ------------------------------------------------------------------------------------------------
def test_snr_of_known_noise():
    x = np.sin(np.linspace(0, 20, 1000))
    assert snr_db(x, x + 0.1 * x) == pytest.approx(20.0)
    assert snr_db(x, x) == float("inf")


def test_alignment_undoes_shift_and_offset_within_limits():
    rng = np.random.default_rng(0)
    x = np.convolve(rng.standard_normal(2000), np.ones(9) / 9, mode="same")
    est = np.roll(x, 37) + 0.4  # 74 ms late at 500 Hz, 0.4 mV high
    out, lag, off = align(x, est, fs=500)
    assert lag == -37 and off == pytest.approx(-0.4, abs=1e-9)
    moved = np.isfinite(out)
    assert moved.sum() == 2000 - 37  # what shifted out of the window is missing, not invented
    np.testing.assert_allclose(out[moved], x[moved], atol=1e-9)
    # beyond the limits (1.0 s, 1.5 mV) the alignment may not reach it
    assert score_lead(x, np.roll(x, 500) + 1.5, 500)["snr_db"] < 5


def test_nan_estimate_counts_as_zero_and_nan_reference_is_skipped():
    x = np.ones(100)
    est = x.copy()
    est[:50] = np.nan  # half missing: noise = signal there -> SNR = 10 log10(100/50)
    assert snr_db(x, est) == pytest.approx(10 * np.log10(2))
    ref = x.copy()
    ref[:50] = np.nan  # reference absent there: not compared, the rest is perfect
    assert snr_db(ref, est) == float("inf")


# --- scale -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dpi,grid", [(100, "pink"), (200, "red"), (300, "green")])
def test_grid_scale_within_2_percent(record, dpi, grid):
    page = render_printout(record, RenderConfig(dpi=dpi, grid_color=grid), seed=0)
    norm = paper_normalised(page.image)
    ink, _ = ink_mask(norm)
    g = grid_darkness(page.image, norm, ink)
    for profile in (g.mean(axis=0), g.mean(axis=1)):
        est = grid_period(profile, 2.0, 30.0).px_per_mm
        assert abs(est / page.truth.px_per_mm - 1) < 0.02


# --- end to end --------------------------------------------------------------------------------------------
def test_clean_render_digitizes_to_the_true_signal(record, clean_page):
    result = digitize(clean_page.image, DigitizeConfig(fs=record.fs))
    assert result.found["layout"] == "3x4+1"
    assert result.found["scale"]["gain_mm_mv"] == 10.0 and result.found["scale"]["speed_mm_s"] == 25.0
    score = score_page(result, record, clean_page.truth)
    assert set(score["leads"]) == set(record.lead_names)
    # 500 Hz truth on a 200 dpi page (~2.5 samples per pixel column): the pen's path read from both stroke
    # edges, with the pen's sideways reach fitted per page, recovers the steep QRS flanks (21.1 dB on this page;
    # 18.8 dB with a round pen and the separator margins cut blind).
    assert score["snr_db"] > 19.5
    assert score["pearson_r"] > 0.98
    # calibrated P(SNR >= 10 dB): its top is made safe on left-out families (docs/digitizer_confidence.md), so
    # a clean page's leads sit at 0.74-0.82, not near 1
    assert min(result.confidence.values()) > 0.6 and result.page_confidence > 0.8


def test_layout_auto_reads_6x2(record):
    page = render_printout(record, RenderConfig(layout="6x2", dpi=150), seed=0)
    result = digitize(page.image, DigitizeConfig(fs=record.fs))
    assert result.found["layout"] == "6x2"
    assert score_page(result, record, page.truth)["snr_db"] > 8.0


# --- bad input ---------------------------------------------------------------------------------------------
def test_noise_and_blank_pages_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(DigitizeError):
        digitize(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    with pytest.raises(DigitizeError, match="blank"):
        digitize(np.full((600, 800, 3), 255, np.uint8))


def test_half_page_is_refused_or_marked(clean_page, record):
    top = clean_page.image[: clean_page.image.shape[0] // 2]  # two of four rows: no known layout
    with pytest.raises(DigitizeError, match="layout"):
        digitize(top, DigitizeConfig(fs=record.fs))
    left = clean_page.image[:, : clean_page.image.shape[1] // 2]  # left half: right-hand columns missing
    result = digitize(left, DigitizeConfig(fs=record.fs))
    assert result.confidence["V4"] == 0.0 and np.isnan(result.record.lead("V4")).all()
    assert result.confidence["I"] > 0.5


def test_wrong_layout_request_is_an_error(clean_page):
    with pytest.raises(DigitizeError, match="12x1"):
        digitize(clean_page.image, DigitizeConfig(layout="12x1"))


# --- CLI ---------------------------------------------------------------------------------------------------
def test_cli_writes_readable_wfdb(tmp_path, clean_page):
    import cv2
    import json

    import wfdb

    img = tmp_path / "page.png"
    cv2.imwrite(str(img), cv2.cvtColor(clean_page.image, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    assert main(["digitize", str(img), "--layout", "auto", "--fs", "250", "--out", str(out)]) == 0
    rec = wfdb.rdrecord(str(out / "page"))  # the reader the Challenge uses: gaps come back as NaN
    assert rec.fs == 250 and rec.sig_name[:3] == ["I", "II", "III"] and rec.p_signal.shape == (2500, 12)
    shown = np.isfinite(rec.p_signal).mean(axis=0)  # 3x4+1: each lead 2.5 s of 10 s, lead II the whole strip
    assert shown[rec.sig_name.index("II")] > 0.97 and (shown > 0.24).all()
    found = json.loads((out / "digitize.json").read_text())
    assert found["layout"]["name"] == "3x4+1" and set(found["confidence"]) == set(rec.sig_name)
    assert found["layout"]["rows"][-1] == ["II"] and 0.0 <= found["page_confidence"] <= 1.0  # strip matched to II
    assert (out / "page_overlay.png").stat().st_size > 0 and (out / "config.yaml").is_file()


def test_cli_json_prints_only_the_summary(tmp_path, clean_page, capsys):
    import cv2
    import json

    img = tmp_path / "page.png"
    cv2.imwrite(str(img), cv2.cvtColor(clean_page.image, cv2.COLOR_RGB2BGR))
    capsys.readouterr()
    assert main(["digitize", str(img), "--out", str(tmp_path / "out"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)  # stdout is one JSON document: doubts go to stderr
    assert printed == json.loads((tmp_path / "out" / "digitize.json").read_text()) and printed["ok"] is True


def test_cli_names_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    assert main(["digitize", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not_an_image.png" in capsys.readouterr().err


def test_wfdb_keeps_gaps_as_nan(tmp_path, record):
    from vizecg.data import read_wfdb, write_wfdb
    from vizecg.errors import DataError

    sig = record.signal[:, :500].copy()
    sig[2, 100:200] = np.nan  # a lead the page did not show for 0.2 s
    gappy = record.with_signal(sig, allow_nan=True)
    hea = write_wfdb(gappy, tmp_path)
    with pytest.raises(DataError, match="NaN"):
        read_wfdb(hea)  # strict by default: a source record with holes is an error
    back = read_wfdb(hea, allow_nan=True)
    assert np.array_equal(np.isnan(back.signal), np.isnan(sig))
    np.testing.assert_allclose(back.signal[~np.isnan(sig)], sig[~np.isnan(sig)], atol=1e-3)


def test_grid_lattice_maps_undo_a_smooth_sheet_warp(clean_page):
    """A waved sheet (lines moved by up to 6 px = 0.8 mm) is flattened back onto the grid's lattice."""
    import cv2

    from vizecg.digitize.page import grid_lattice_maps

    img = clean_page.image
    h, w = img.shape[:2]
    ppm = clean_page.truth.px_per_mm
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    wx = 4.0 * np.sin(2 * np.pi * ys / h)
    wy = 6.0 * np.sin(2 * np.pi * xs / w + 0.5)
    warped = cv2.remap(img, xs + wx, ys + wy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    norm = paper_normalised(warped, ppm)
    ink, _ = ink_mask(norm)
    map_x, map_y, rms, _ = grid_lattice_maps(grid_darkness(warped, norm, ink), ink, ppm, ppm)
    assert rms > 2.0
    # the map points each output pixel at where that lattice point went: the warp undone, up to a whole shift
    inner = (slice(h // 8, -h // 8), slice(w // 8, -w // 8))
    for found, true in ((map_x - xs, -wx), (map_y - ys, -wy)):
        err = (found - true)[inner]
        err = err - np.median(err)
        assert np.percentile(np.abs(err), 95) < 0.6, np.percentile(np.abs(err), 95)


def test_hairline_pen_gives_a_finite_path():
    """A pen under half a pixel wide (thin lines on a 100 dpi page) leaves fit points no column reaches: they
    must be interpolated, not NaN (which crashed the banded solver on a real 100 dpi photo)."""
    from vizecg.digitize.trace import centreline

    xc = np.arange(30, dtype=np.float64)
    mid = 20.0 + 5.0 * np.sin(xc / 4.0)
    x, y = centreline(xc, mid - 0.3, mid + 0.3, radius=0.3, radius_x=0.24)
    assert np.isfinite(y).all() and len(x) == len(y)
    assert np.abs(np.interp(xc, x, y) - mid).max() < 0.5


def test_a_noisy_panel_is_fitted_with_the_pages_pen():
    """A noisy lead's flat stretches wiggle by several pen widths per column, so its own width measure is far
    too fat; fitted with it, a narrow QRS tip is left free (on a real page it shot 12 mm past the ink). The
    page's pen must trace that tip as on the clean panels, and inside the ink."""
    import cv2

    from vizecg.digitize.trace import fit_page, pick_trace

    def panel(noisy: bool):
        img = np.zeros((120, 200), np.uint8)
        ys = np.full(200, 50.0) + (np.where(np.arange(200) % 2 == 0, -6.0, 6.0) if noisy else 0.0)
        ys[100:104] = [60.0, 80.0, 100.0, 80.0]  # a QRS tip a column wide
        pts = np.round(np.c_[np.arange(200.0), ys] * 16).astype(np.int32)
        cv2.polylines(img, [pts], False, 255, 3, cv2.LINE_AA, shift=4)
        dark = img / 255.0
        return pick_trace(dark >= 0.5, 50.0, darkness=dark, level=0.5)

    picks = [panel(False) for _ in range(4)] + [panel(True)]
    assert picks[-1].radius > 2 * picks[0].radius  # the noisy panel's own measure
    _, fits = fit_page(picks)
    clean_tip, noisy_tip = fits[0][1].max(), fits[-1][1].max()
    assert abs(noisy_tip - clean_tip) < 1.0, (noisy_tip, clean_tip)
    assert noisy_tip <= picks[-1].bot_e.max()


def test_a_weak_extra_row_between_even_rows_is_dropped_but_a_strong_one_is_not():
    """A row of deep S waves can show as a weak level of its own between a 3x4+1 page's 4 evenly spaced rows;
    a strong extra row, or rows of a cut page, must still be refused by the layout check."""
    from vizecg.digitize.layout import drop_weak_rows

    rows = np.array([167.0, 296.0, 333.0, 431.0, 550.0])
    assert drop_weak_rows(rows, np.array([70.0, 53.0, 13.0, 48.0, 48.0]), "auto").tolist() == [167, 296, 431, 550]
    assert len(drop_weak_rows(rows, np.array([70.0, 53.0, 40.0, 48.0, 48.0]), "auto")) == 5
    uneven = np.array([100.0, 150.0, 330.0, 460.0, 470.0])
    assert len(drop_weak_rows(uneven, np.array([60.0, 60.0, 60.0, 60.0, 10.0]), "auto")) == 5
    two = np.array([200.0, 330.0])  # half of a 3x4 page: never read as a single strip
    assert len(drop_weak_rows(two, np.array([60.0, 20.0]), "auto")) == 2


def test_page_outline_survives_a_bright_patch_and_a_shadow():
    """A sunlit patch of table touching the sheet and a shadow over another corner moved the bright region's
    hull corners by centimetres (whole phone photos then read at ~0 dB); the straight edges still give them."""
    import cv2

    from vizecg.digitize.page import find_page_quad

    img = np.full((900, 1200, 3), 60, np.uint8)
    true = np.array([[250, 150], [980, 190], [950, 760], [220, 720]], np.float64)
    cv2.fillPoly(img, [true.astype(np.int32)], (235, 235, 235))
    cv2.ellipse(img, (1060, 820), (160, 110), 20, 0, 360, (230, 230, 230), -1)  # bright patch at BR
    shadow = np.array([[240, 140], [420, 140], [240, 330]], np.int32)
    cv2.fillPoly(img, [shadow], (60, 60, 60))  # the TL corner in deep shadow
    quad, why = find_page_quad(img)
    assert quad is not None, why
    assert np.linalg.norm(quad - true, axis=1).max() < 8.0, np.round(quad - true, 1)



def test_page_outline_is_not_cut_by_a_shadow_edge_longer_than_the_side_it_hides():
    """A shadow over a corner leaves a straight edge across the sheet that is longer than what it leaves of the
    side it hides; taken for that side, it cut the page (whole photos read at 0 dB or refused)."""
    import cv2

    from vizecg.digitize.page import find_page_quad

    img = np.full((900, 1200, 3), 60, np.uint8)
    true = np.array([[250, 150], [980, 190], [950, 760], [220, 720]], np.float64)
    cv2.fillPoly(img, [true.astype(np.int32)], (235, 235, 235))
    cv2.fillPoly(img, [np.array([[560, 640], [1100, 540], [1100, 850], [560, 850]], np.int32)], (60, 60, 60))
    quad, why = find_page_quad(img)
    assert quad is not None, why
    assert np.linalg.norm(quad - true, axis=1).max() < 8.0, np.round(quad - true, 1)

def test_colourless_outline_holds_the_sheet_where_a_shadow_darkens_sheet_and_table():
    """A shadow over a third of a sheet on a coloured table: the bright region (and its outline) ends at the
    shadow's edge, and so did the colourless one while colour was measured as chroma, which the shadow lowers on
    the table to the paper's level; saturation (chroma over brightness) does not fall in shadow. (A full-12x1
    phone photo was read at 0 dB on every lead from the cut page; 11.9 dB from the whole.)"""
    import cv2

    from vizecg.digitize.page import find_neutral_quad, find_page_quad

    img = np.empty((900, 1200, 3), np.uint8)
    img[:] = (150, 110, 140)  # a mauve table
    true = np.array([[250, 150], [980, 190], [950, 760], [220, 720]], np.float64)
    cv2.fillPoly(img, [true.astype(np.int32)], (240, 238, 238))
    sheet = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(sheet, [true.astype(np.int32)], 1)
    grid = np.zeros_like(sheet)
    grid[:, ::9], grid[::9, :] = 1, 1
    img[(grid & sheet) > 0] = (236, 200, 205)  # a pink grid
    shade = np.ones(img.shape[:2], np.float32)
    shade[:, 700:] = 0.45  # the shadow's edge straight down the sheet and the table
    img = (img * shade[:, :, None]).astype(np.uint8)
    cut, _ = find_page_quad(img)
    assert cut is not None and cut[:, 0].max() < 760  # the bright outline stops at the shadow
    quad = find_neutral_quad(img)
    assert quad is not None
    assert np.linalg.norm(quad - true, axis=1).max() < 8.0, np.round(quad - true, 1)


def test_grid_outline_is_found_where_the_paper_matches_the_table():
    """White paper on a white table leaves no paper outline; the printed grid's area still gives the corners."""
    import cv2

    from vizecg.digitize.page import find_grid_quad, find_page_quad

    flat = np.full((500, 700, 3), 252, np.uint8)
    flat[:, ::7] = (240, 160, 176)
    flat[::7, :] = (240, 160, 176)
    true = np.array([[250, 200], [950, 230], [930, 720], [230, 690]], np.float64)
    src = np.array([[0, 0], [699, 0], [699, 499], [0, 499]], np.float32)
    hmat = cv2.getPerspectiveTransform(src, true.astype(np.float32))
    img = np.full((900, 1200, 3), 250, np.uint8)
    cv2.warpPerspective(flat, hmat, (1200, 900), dst=img, borderMode=cv2.BORDER_TRANSPARENT)
    img = np.clip(img + np.random.default_rng(0).normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    assert find_page_quad(img)[0] is None
    quad = find_grid_quad(img)
    assert quad is not None
    assert np.linalg.norm(quad - true, axis=1).max() < 8.0, np.round(quad - true, 1)


def test_lattice_homography_recovers_a_perspective_despite_a_patch_off_by_a_millimetre():
    """A perspective the page outline left is one homography; an unwrapping failure (a patch moved by a whole
    grid period) must not pull it."""
    import cv2

    from vizecg.digitize.page import lattice_homography

    h, w, ppm = 600, 800, 6.0
    true = np.array([[1.03, 0.01, -12.0], [0.004, 0.97, 9.0], [2e-5, -1.5e-5, 1.0]])  # page -> lattice
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    src = cv2.perspectiveTransform(np.stack([xs, ys], axis=-1).reshape(-1, 1, 2).astype(np.float64),
                                   np.linalg.inv(true)).reshape(h, w, 2).astype(np.float32)
    map_x, map_y = src[..., 0].copy(), src[..., 1].copy()
    map_x[100:250, 100:350] += ppm
    seen = np.ones((h, w), bool)
    seen[:60] = False
    found = lattice_homography(map_x, map_y, seen, ppm)
    assert found is not None
    pts = np.array([[[0.0, 0.0]], [[799.0, 0.0]], [[799.0, 599.0]], [[0.0, 599.0]], [[400.0, 300.0]]])
    err = cv2.perspectiveTransform(pts, found) - cv2.perspectiveTransform(pts, true)
    assert np.abs(err).max() < 0.5, err


def test_pulse_setting_needs_most_pulses_to_agree():
    """Gain from pulse heights (mm): bent pulses measure any height and must not outvote or drag the true ones."""
    from vizecg.digitize.scale import snap_agreed

    gains = (5.0, 10.0, 20.0)
    assert snap_agreed([9.9, 9.8, 3.6, 9.8], gains) == 10.0
    assert snap_agreed([7.6, 4.9, 2.5], gains) is None  # the median (4.9) would have said 5 mm/mV
    assert snap_agreed([4.8, 6.8], gains) is None
    assert snap_agreed([19.5], gains) == 20.0


def test_pulse_height_ignores_the_foot_of_a_slanted_edge():
    """A flattened phone photo leaves the pulse's edges slanted and its lead-in short: the columns beside an edge
    then hold part of the edge stroke, which pulled the base and top levels inwards (a 10 mm pulse read 5.5)."""
    import cv2

    from vizecg.digitize.layout import find_pulse

    ppm, base, top = 7.0, 150, 80  # a 10 mm pulse
    ink = np.zeros((220, 300), np.uint8)
    pts = [(40, base), (46, base), (50, top), (78, top), (82, base), (89, base)]
    cv2.polylines(ink, [np.array(pts, np.int32)], False, 1, 5)
    cv2.line(ink, (104, base), (250, base), 1, 5)  # the trace, 2 mm on
    pulse = find_pulse(ink.astype(bool), (0, 220), 300, ppm)
    assert pulse is not None
    assert pulse.y_base == pytest.approx(base, abs=1.0) and pulse.y_top == pytest.approx(top, abs=1.0)


def test_rows_whose_baseline_the_ink_lost_between_beats_are_kept_but_a_text_line_is_not():
    """Blur and JPEG wash a thin pen's flat stretches out of the ink, leaving a row's QRS strokes and scraps:
    the outermost rows failed the "one long pen line" test one by one and a readable 3x4+1 page was read as one
    row. A chain of beats is a trace row; a line of header text (short letters, no strokes 5 mm tall) is not.
    Nor is one a row pitch above the first row: a noisy pen's row, broken every 4 mm and without tall beats, is
    kept for ink across most of the width, which the header's words do not cover."""
    from vizecg.digitize.layout import find_rows

    ppm = 4.0
    ink = np.zeros((700, 1100), bool)
    ys = [150, 300, 450, 600]
    for y in ys:
        for x in range(80, 1040, 60):  # a beat every 15 mm: a QRS stroke 8 mm tall and a 6 mm scrap of baseline
            ink[y - 24:y + 8, x:x + 2] = True
            ink[y, x + 20:x + 44] = True
    for x in range(80, 1000, 14):  # header text: 2.5 mm letters with spaces
        ink[40:50, x:x + 7] = True
    rows, _ = find_rows(ink, ppm)
    np.testing.assert_allclose(rows, ys, atol=6)

    noisy = np.zeros((800, 1100), bool)  # a noisy pen breaking every 4 mm, beats too low for strokes
    ys = [190, 340, 490, 640]
    for y in ys:
        for x in range(80, 1040, 24):
            noisy[y - 1:y + 2, x:x + 16] = True
    for x in range(80, 500, 14):  # a header line one row pitch above the first row, over part of the width
        noisy[35:45, x:x + 7] = True
    rows, _ = find_rows(noisy, ppm)
    np.testing.assert_allclose(rows, ys, atol=6)


def test_the_trace_start_is_the_first_piece_of_a_row_the_ink_broke_into_pieces():
    """A faint trace the ink misses in places falls into pieces 4-8 mm apart: the longest piece alone put the
    trace start in the third column (a 3x4+1 page traced only from V1 on)."""
    from vizecg.digitize.layout import trace_extent

    ppm = 3.2
    ink = np.zeros((100, 900), bool)
    for a, b in ((57, 424), (436, 507), (524, 763)):  # 12-17 px gaps
        ink[50, a:b] = True
    ink[50, 20:23] = True  # a speck 11 mm before it, not the trace's start
    ink[50, 790:805] = True  # a pulse at the right end, 8 mm after the trace
    assert trace_extent(ink, (30, 70), ppm) == (57.0, 804.0)
    far = ink.copy()
    far[50, 57:424] = False
    far[50, 100:140] = True  # 90 mm before the rest (another row's scrap): a stretch of its own, with less ink
    assert trace_extent(far, (30, 70), ppm)[0] == 436.0


def test_sheet_rim_is_not_ink_but_traces_are():
    """Where the page shows background around the sheet, its rim reads as ink: a frame that found two extra
    trace rows (6 rows: a 3x4+1 page read as 6x2)."""
    import cv2

    from vizecg.digitize.layout import find_rows, remove_text

    ink = np.zeros((600, 800), np.uint8)
    cv2.rectangle(ink, (20, 15), (780, 585), 1, 3)  # the sheet's rim
    for y in (150, 280, 410, 530):
        xs = np.arange(60, 760)
        cv2.polylines(ink, [np.stack([xs, y + (8 * np.sin(xs / 9.0)).astype(int)], 1).astype(np.int32)], False, 1, 2)
    kept = remove_text(ink.astype(bool), 4.0)
    assert not kept[15].any() and not kept[585].any()
    assert kept[:, 400].sum() >= 4 * 2
    rows, _ = find_rows(kept, 4.0)
    assert np.allclose(rows, [150, 280, 410, 530], atol=6)


def test_a_grid_left_in_perspective_is_still_a_grid():
    """Where the page outline is lost, the grid's outline is checked for a regular grid; the lines of a page
    left in perspective fan out, blurring the whole page's profile, but each strip across them is regular."""
    from vizecg.digitize.digitizer import _shows_grid

    h, w, ppm = 600, 800, 6.0
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    u = (xs - w / 2) * (1 + 0.25 * (ys - h / 2) / h) + w / 2  # vertical lines converge towards the top
    v = ys * (1 + 0.1 * (xs - w / 2) / w)

    def lines(p: np.ndarray) -> np.ndarray:
        return (np.abs((p / ppm + 0.5) % 1.0 - 0.5) * ppm < 0.7).astype(np.float32)

    grid = (0.3 * np.maximum(lines(u), lines(v))).astype(np.float32)
    assert _shows_grid(grid, DigitizeConfig())
    assert not _shows_grid(np.random.default_rng(0).random((h, w)).astype(np.float32), DigitizeConfig())


# --- orientation -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_page(record):
    return render_printout(record, RenderConfig(layout="3x4+1", dpi=120), seed=0)


@pytest.fixture(scope="module")
def small_upright(record, small_page):
    result = digitize(small_page.image, DigitizeConfig(fs=record.fs))
    return result, score_page(result, record, small_page.truth)["snr_db"]


def test_upright_page_is_left_as_it_lies(small_upright):
    result, snr = small_upright
    assert result.found["orientation_deg"] == 0
    assert not any("turned" in w for w in result.warnings)
    assert snr > 12.0


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_a_turned_page_is_turned_upright(record, small_page, small_upright, quarters):
    """A page lying on its side or upside down (np.rot90) is read the right way up: the same signal as the
    upright page, traces drawn where the ink lies in the photo as given. Upside down, every lead was read
    negated and backwards with confidence 0.90 (-2 dB against 23 dB upright)."""
    upright, snr_upright = small_upright
    image = np.rot90(small_page.image, quarters)
    result = digitize(image, DigitizeConfig(fs=record.fs))
    assert result.found["orientation_deg"] == 90 * quarters
    assert any(f"turned by {90 * quarters} degrees" in w for w in result.warnings)
    snr = score_page(result, record, small_page.truth)["snr_db"]
    assert snr == pytest.approx(snr_upright, abs=0.01)  # read again from the photo turned upright: the same page
    # the overlay: the rhythm strip's path in the given photo is the upright one turned the same way
    h, w = small_page.image.shape[:2]
    p = upright.traces["II"][-1].astype(np.float64)
    for _ in range(quarters):  # np.rot90 once: (x, y) -> (y, w - 1 - x), and the width becomes the height
        p = np.stack([p[:, 1], w - 1 - p[:, 0]], axis=1)
        h, w = w, h
    q = result.traces["II"][-1].astype(np.float64)
    along = 0 if quarters % 2 == 0 else 1  # the strip runs along x upright or upside down, along y on its side
    order = np.argsort(p[:, along])
    across = np.interp(q[:, along], p[order, along], p[order, 1 - along])
    assert np.median(np.abs(across - q[:, 1 - along])) < 1.0


def test_a_page_read_again_reuses_its_page_stage_and_reads_the_same(record, small_page, small_upright, monkeypatch):
    """predict_page reads a page again with the lead names its labels show: the page stage (page finding,
    flattening, the trace network) is not run twice for the same pixels, the second reading equals the first, a
    changed pixel is a new page, and the caller's image stays writable."""
    import vizecg.digitize.digitizer as dz

    first, _ = small_upright
    image = small_page.image.copy()
    calls = []
    real = dz._page_stage
    monkeypatch.setattr(dz, "_page_stage", lambda im, cfg: calls.append(1) or real(im, cfg))
    dz._page_cache.clear()
    a = digitize(image, DigitizeConfig(fs=record.fs))
    b = digitize(image, DigitizeConfig(fs=record.fs))
    assert len(calls) == 1
    for r in (a, b):
        np.testing.assert_array_equal(r.record.signal, first.record.signal)
        assert r.confidence == first.confidence and r.found == first.found
    assert image.flags.writeable
    image[0, 0] = 255 - image[0, 0]
    digitize(image, DigitizeConfig(fs=record.fs))
    assert len(calls) == 2
    digitize(image, DigitizeConfig(fs=record.fs, trace_ink="classical"))  # another config: another page stage
    assert len(calls) == 3


def _sine_page() -> np.ndarray:
    """Four rows of a pure sine, no pulse, no grid, no text: a half turn gives the same page (shifted), so no
    cue can tell which way up it lies."""
    import cv2

    img = np.full((850, 1100, 3), 255, np.uint8)
    xs = np.arange(60, 1040, dtype=np.float64)
    for y in (200, 360, 520, 680):
        pts = np.stack([xs, y + 20 * np.sin(2 * np.pi * xs / 90.0)], axis=1)
        cv2.polylines(img, [np.round(pts * 16).astype(np.int32)], False, (0, 0, 0), 2, cv2.LINE_AA, shift=4)
    return img


def test_a_page_that_reads_the_same_both_ways_up_is_refused():
    with pytest.raises(DigitizeError, match="which way up"):
        digitize(_sine_page())


def test_orientation_margins_are_exactly_antisymmetric(small_page):
    """The up cues of a page and of its half turn are each other's negation (measured both ways and halved),
    so a page and its half turn get opposite answers with the same margin."""
    from vizecg.digitize.layout import remove_text
    from vizecg.digitize.orientation import find_orientation

    ppm = small_page.truth.px_per_mm
    ink = remove_text(ink_mask(paper_normalised(small_page.image, ppm))[0], ppm)
    a, b = find_orientation(ink, ppm, 25.0), find_orientation(np.ascontiguousarray(ink[::-1, ::-1]), ppm, 25.0)
    assert (a.degrees, b.degrees) == (0, 180)
    assert a.up == pytest.approx(b.up, abs=0.02) and a.up > 0.3
    assert a.cues["time"] > 0 and a.cues["polarity"] > 0 and a.cues["pulse"] == 1.0


# --- config bounds -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value", [("fs", 1e7), ("fs", 10.0), ("fs", float("nan")), ("speed_mm_s", 0.0),
                                       ("gain_mm_mv", 500.0), ("max_rotation_deg", 90.0), ("ink_threshold", 1.5),
                                       ("max_px_per_mm", 100.0), ("min_confidence", 2.0),
                                       ("max_ink_fraction", 0.0), ("max_gap_s", -1.0), ("jump_weight", -1.0)])
def test_config_numbers_have_bounds(key, value):
    """`digitize --fs 1e7` allocated 24 GB: every number is checked on construction, naming key and range."""
    from vizecg.config import from_dict
    from vizecg.errors import ConfigError

    with pytest.raises(ValueError, match=f"{key}=.*range"):
        DigitizeConfig(**{key: value})
    with pytest.raises(ConfigError, match=key):
        from_dict(DigitizeConfig, {key: value})


def test_config_bounds_hold_their_ends_and_order_the_scale_range():
    DigitizeConfig(fs=50.0)
    DigitizeConfig(fs=2000.0, max_rotation_deg=0.0, min_confidence=1.0, max_gap_s=0.0)
    with pytest.raises(ValueError, match="min_px_per_mm"):
        DigitizeConfig(min_px_per_mm=20.0, max_px_per_mm=10.0)


def test_cli_refuses_an_out_of_range_setting(tmp_path, clean_page, capsys):
    import cv2

    img = tmp_path / "page.png"
    cv2.imwrite(str(img), cv2.cvtColor(clean_page.image, cv2.COLOR_RGB2BGR))
    assert main(["digitize", str(img), "--set", "fs=1e7", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "fs" in err and "Traceback" not in err and len(err.splitlines()) == 1


# --- calibrated confidence and layout honesty ----------------------------------------------------------------
def test_calibration_file_loads_and_holds_plain_numbers():
    import json

    from vizecg.digitize.confidence import CALIBRATION_FILE, lead_vector, load_calibration, page_vector

    raw = json.loads(CALIBRATION_FILE.read_text())  # JSON, not a pickle
    cal = load_calibration()
    assert raw == cal
    assert cal["lead"]["features"] == list(lead_vector({})) and cal["page"]["features"] == list(page_vector({}, [0.5]))
    for model in (cal["lead"], cal["page"]):
        assert all(type(v) in (int, float) for k in ("mean", "scale", "coef") for v in model[k])
        assert all(s > 0 for s in model["scale"])


def test_confidence_is_a_probability_and_drops_on_a_damaged_page(record, small_page, small_upright):
    """Erasing a third of rows 2-3's ink in 12 px stripes (the pen skipped) must lower those leads' confidence."""
    clean, _ = small_upright
    assert all(0.0 <= c <= 1.0 for c in clean.confidence.values()) and 0.0 <= clean.page_confidence <= 1.0
    image = small_page.image.copy()
    for lt in small_page.truth.leads:
        if lt.row in (1, 2) and lt.present and not lt.is_rhythm_strip:
            x0, y0, x1, y1 = (int(v) for v in lt.panel_box.as_list())
            xs = np.arange(x0, x1)
            image[y0:y1, xs[(xs // 12) % 3 == 0]] = 255  # one of every three 12 px columns blanked
    damaged = digitize(image, DigitizeConfig(fs=record.fs))
    hit = [lead for lead in ("aVL", "V2", "V5", "III", "aVF", "V3", "V6") if lead in damaged.confidence]
    assert hit and all(0.0 <= damaged.confidence[k] <= 1.0 for k in damaged.confidence)
    assert np.mean([damaged.confidence[k] for k in hit]) < np.mean([clean.confidence[k] for k in hit]) - 0.1
    assert damaged.page_confidence < clean.page_confidence


def _strip_case(strip_signal: np.ndarray, fs: float = 500.0):
    """_assemble on synthetic traces of a 3x4+1 page: panels hold a simultaneous 12-lead record, the strip what
    it is given."""
    from vizecg.digitize.digitizer import _assemble, _PanelTrace, _TraceContext
    from vizecg.digitize.layout import layout_panels

    rng = np.random.default_rng(0)
    n = int(10 * fs)
    t = np.arange(n) / fs
    i_, ii = np.sin(2 * np.pi * 1.1 * t) + 0.1 * rng.standard_normal(n), np.cos(2 * np.pi * 0.7 * t)
    truth = {"I": i_, "II": ii, "III": ii - i_, "aVR": -(i_ + ii) / 2, "aVL": i_ - ii / 2, "aVF": ii - i_ / 2}
    truth.update({f"V{k}": np.sin(2 * np.pi * (0.3 + 0.37 * k) * t + k) for k in range(1, 7)})
    panels = layout_panels("3x4+1", np.array([100.0, 200, 300, 400]), 50.0, 8.0, 8.0, 25.0, [100.0, 200, 300, 400])
    traced = []
    for p in panels:
        sig = np.full(n, np.nan)
        w = slice(int(p.t_offset_s * fs), int((p.t_offset_s + p.duration_s) * fs))
        sig[w] = (strip_signal if p.is_rhythm_strip else truth[p.lead])[w]
        traced.append(_PanelTrace(p, sig, 1.0, 1.0, None))
    ctx = _TraceContext(ink=np.zeros((2, 2), bool), norm=np.zeros((2, 2)), ppm_x=8.0, ppm_y=8.0, speed=25.0,
                        gain=10.0, thickness=2.0, level=0.5, fs=fs, max_gap_s=0.06, jump_weight=1.0,
                        baseline_weight=0.02, geo=None)  # type: ignore[arg-type]
    warnings: list[str] = []
    return _assemble("3x4+1", traced, ctx, DigitizeConfig(fs=fs), warnings), truth, warnings


def test_a_rhythm_strip_is_named_only_by_the_panel_it_repeats():
    """A V1 strip is V1 (it repeats the V1 panel), never II; a strip repeating no panel stays unnamed."""
    done, truth, _ = _strip_case(np.sin(2 * np.pi * (0.3 + 0.37) * np.arange(5000) / 500.0 + 1))
    assert done.rows[-1] == ["V1"] and np.isfinite(done.signal[done.leads.index("V1")]).mean() > 0.99
    assert np.isfinite(done.signal[done.leads.index("II")]).mean() < 0.3  # II only from its own 2.5 s panel
    assert done.limb < 0.01  # the panels' limb leads obey Einthoven's law
    other, _, warnings = _strip_case(np.random.default_rng(1).standard_normal(5000))
    assert other.rows[-1] == [None] and len(other.unnamed) == 1 and other.unnamed[0]["rhythm_strip"]
    assert np.isfinite(other.signal[other.leads.index("II")]).mean() < 0.3
    assert any("unnamed" in w for w in warnings)


def test_limb_residual_catches_swapped_limb_leads():
    from vizecg.digitize.digitizer import LIMB_AGREE, limb_residual

    done, truth, _ = _strip_case(np.zeros(5000))
    right, _ = limb_residual({k: truth[k] for k in ("I", "II", "III")}, 500.0)
    # a Cabrera 6x2 column (aVL, I, -aVR, II, aVF, III) read in standard order
    cabrera = dict(zip(("I", "II", "III", "aVR", "aVL", "aVF"), (truth["aVL"], truth["I"], -truth["aVR"], truth["II"],
                                                               truth["aVF"], truth["III"])))
    swapped, _ = limb_residual(cabrera, 500.0)
    assert right < 1e-3 and swapped > 5 * LIMB_AGREE


def test_a_row_count_no_layout_prints_is_refused():
    from vizecg.digitize.layout import layout_candidates

    with pytest.raises(DigitizeError, match="fits no known layout"):
        layout_candidates(7, "auto")
    assert layout_candidates(6, "auto")[:2] == ["6x1", "3x4+3"] and layout_candidates(5, "auto") == ["3x4+2"]


def test_a_100_hz_record_is_scored_against_its_own_samples(record):
    """PTB-XL records 501+ exist at 100 Hz only; the renderer draws them from a 500 Hz copy and the truth counts
    that copy's samples. The reference is the record's own 100 Hz samples, where the page shows them."""
    from dataclasses import replace

    from vizecg.digitize.evaluate import page_reference

    assert record.fs == 500
    low = replace(record, signal=np.ascontiguousarray(record.signal[:, ::5]), fs=100.0)
    page = render_printout(low, RenderConfig(layout="3x4+1", dpi=100), seed=0)
    ref = page_reference(low, page.truth, 1000)
    full = page_reference(record, render_printout(record, RenderConfig(layout="3x4+1", dpi=100), seed=0).truth, 5000)
    assert set(ref) == set(full) == set(record.lead_names)
    for lead in ref:
        shown = np.isfinite(ref[lead])
        assert shown.sum() >= 240, lead  # a 2.5 s panel at least (the rhythm strip's II: all 10 s)
        np.testing.assert_array_equal(ref[lead][shown], low.signal[low.lead_names.index(lead)][shown])
        np.testing.assert_array_equal(shown, np.isfinite(full[lead][::5]))  # the same windows as at 500 Hz


def test_a_faint_row_missed_between_evenly_spaced_rows_is_found():
    """12 rows a pitch apart with one drawn in short dashes (a thin pen on a flat lead): find_rows misses it,
    leaving 11 rows (no layout); the gap of two pitches holds it, and it is found there. A gap holding no
    ink stays a gap (the rows are returned as found, for the layout check to refuse)."""
    from vizecg.digitize.layout import fill_row_gaps, find_rows

    ppm = 4.0
    ink = np.zeros((12 * 60 + 60, 1200), bool)
    ys = [40 + 60 * k for k in range(12)]
    for k, y in enumerate(ys):
        if k == 6:
            for x0 in range(150, 1050, 160):  # 100 px (25 mm) dashes
                ink[y, x0:x0 + 100] = True
        else:
            ink[y - 1:y + 2, 50:1150] = True
    rows, strength = find_rows(ink, ppm)
    assert len(rows) == 11 and not np.any(np.abs(rows - ys[6]) < 10)
    filled, st = fill_row_gaps(ink, rows, strength, ppm, "auto")
    np.testing.assert_allclose(filled, ys, atol=2)
    assert len(st) == 12
    ink[ys[6]] = False
    rows, strength = find_rows(ink, ppm)
    kept, _ = fill_row_gaps(ink, rows, strength, ppm, "auto")
    assert len(kept) == 11


def test_page_outline_is_not_cut_at_a_fold_that_shades_half_the_sheet():
    """A fold leaves half the sheet darker: the bright region ended at the fold and the page was read from half
    its width (a limb-lead page found 1 row). On a coloured table the colourless paper's outline is whole."""
    import cv2

    from vizecg.digitize.digitizer import _find_page
    from vizecg.digitize.page import find_page_quad

    img = np.full((900, 1200, 3), (90, 190, 170), np.uint8)  # a teal table, as bright as shaded paper
    true = np.array([[250, 150], [980, 190], [950, 760], [220, 720]], np.float64)
    cv2.fillPoly(img, [true.astype(np.int32)], (240, 240, 240))
    half = np.array([[600, 170], [980, 190], [950, 760], [585, 740]], np.int32)
    cv2.fillPoly(img, [half], (200, 200, 200))  # right of the fold: in its shade
    img = np.clip(img + np.random.default_rng(0).normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    bright, _ = find_page_quad(img)
    assert bright is not None and bright[:, 0].max() < 700  # the bright part alone
    _, _, quad, why, _, _ = _find_page(img, DigitizeConfig())
    assert "colourless" in why
    assert np.linalg.norm(quad - true, axis=1).max() < 8.0, np.round(quad - true, 1)

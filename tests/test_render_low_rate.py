"""Renderer: a record sampled below MIN_DRAW_FS (PTB-XL's 100 Hz copies) is drawn from a resampled copy, and the
page says so; records at 250 Hz and above are drawn as given."""
from __future__ import annotations

import numpy as np
import pytest

from vizecg.data import load_source
from vizecg.render import RenderConfig, paper, render_printout
from vizecg.render.printout import drawing_record

SMALL = RenderConfig(dpi=100)


def test_a_100_hz_record_is_drawn_from_a_500_hz_resampled_copy():
    record = load_source("sample").get("00001")  # real PTB-XL 12-lead, 10 s at 500 Hz
    low = load_source("sample@100").get("00001")  # the same ECG at 100 Hz
    p = render_printout(low, SMALL)
    assert p.truth.warnings == ["drawn from a 100 Hz record resampled to 500 Hz"]
    drawn, note = drawing_record(low)
    assert drawn.fs == 500 and drawn.n_samples == record.n_samples and note == p.truth.warnings[0]
    # The page is (nearly) the page of the 500 Hz original: same panels, traces within a fraction of a mm.
    full = render_printout(record, SMALL)
    for a, b in zip(p.truth.leads, full.truth.leads):
        assert (a.lead, a.sample_start, len(a.trace)) == (b.lead, b.sample_start, len(b.trace))
        assert np.median(np.abs(a.trace[:, 1] - b.trace[:, 1])) < 0.1 * paper.px_per_mm(SMALL.dpi), a.lead
    # Records at 250 Hz and above are drawn as given (PTB-XL 500 Hz, MIT-BIH 360 Hz): no copy, no note.
    same, no_note = drawing_record(record)
    assert same is record and no_note is None and not full.truth.warnings


def test_resampling_for_drawing_keeps_gaps_and_annotated_beats():
    strip_record = load_source("sample:mitdb").get("100")  # real MIT-BIH excerpt with beat annotations
    sig = strip_record.signal[:, ::4].copy()  # 90 Hz
    sig[0, 100:150] = np.nan
    beats = dict(strip_record.meta["beats"], sample=np.asarray(strip_record.meta["beats"]["sample"]) // 4)
    low = strip_record.with_signal(sig, fs=90.0, allow_nan=True, meta=dict(strip_record.meta, beats=beats))
    drawn, note = drawing_record(low)
    assert drawn.fs == pytest.approx(500.0) and note == "drawn from a 90 Hz record resampled to 500 Hz"
    gap = np.isnan(drawn.signal[0])
    t_gap = np.flatnonzero(gap) / drawn.fs
    assert t_gap.min() == pytest.approx(100 / 90, abs=0.01) and t_gap.max() == pytest.approx(150 / 90, abs=0.01)
    assert not np.isnan(drawn.signal[1]).any()
    np.testing.assert_allclose(drawn.meta["beats"]["sample"] / drawn.fs, beats["sample"] / 90.0, atol=1 / 500)

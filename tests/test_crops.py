"""crop_beats: order (lead, then time), shape, letterbox, the per-page budget, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from vizecg.crops import beat_order_keys, crop_beats, select_beats
from vizecg.errors import DataError


@pytest.fixture(scope="module")
def page():
    from vizecg.data import load_source
    from vizecg.render import RenderConfig, render_printout

    src = load_source("sample")
    printout = render_printout(src.get(src.record_ids[0]), RenderConfig(dpi=100))
    beats = [b for b in printout.truth.beats if b.visible]
    boxes = np.asarray([b.box.as_list() for b in beats])
    keys = np.asarray([[b.panel_index, b.r_peak[0]] for b in beats])
    return printout.image, boxes, keys


def test_crops_are_ordered_by_lead_then_time_and_normalised(page):
    image, boxes, keys = page
    perm = np.random.default_rng(0).permutation(len(boxes))  # the caller's order must not matter
    crops, kept = crop_beats(image, boxes[perm], keys[perm], size=(48, 40), max_beats=100)
    assert crops.shape == (len(boxes), 3, 48, 40) and crops.dtype == np.float32
    assert 0.0 <= crops.min() and crops.max() <= 1.0 and crops.min() < 0.5  # ink is dark
    got = keys[perm][kept]
    assert np.all(np.diff(got[:, 0]) >= 0)  # lead index never goes back
    same_lead = np.diff(got[:, 0]) == 0
    assert np.all(np.diff(got[:, 1])[same_lead] > 0)  # time increases within a lead
    # the first crop is the page pixels of the first beat of the first lead, letterboxed
    first = np.lexsort((keys[:, 1], keys[:, 0]))[0]
    assert np.allclose(crops[0], crop_beats(image, boxes[first:first + 1], keys[first:first + 1], (48, 40))[0][0])


def test_letterbox_keeps_aspect_with_white_padding(page):
    image, _, _ = page
    tall = np.array([[100, 100, 110, 160]])  # 10 x 60 px: must be padded left and right, not stretched
    crops, kept = crop_beats(image, tall, None, size=(60, 60))
    assert kept.tolist() == [0]
    assert np.all(crops[0, :, :, :20] == 1.0) and np.all(crops[0, :, :, -20:] == 1.0)


def test_budget_is_spread_evenly_over_leads_and_deterministic(page):
    image, boxes, keys = page
    crops, kept = crop_beats(image, boxes, keys, size=(32, 32), max_beats=13)
    assert len(crops) == 13
    per_lead = np.bincount(keys[kept, 0].astype(int), minlength=int(keys[:, 0].max()) + 1)
    available = np.bincount(keys[:, 0].astype(int), minlength=len(per_lead))
    # every lead with a beat gets one before any lead gets a second one
    assert np.all(per_lead[available > 0] >= 1)
    assert np.array_equal(kept, crop_beats(image, boxes, keys, size=(32, 32), max_beats=13)[1])


def test_select_beats_spreads_in_time_within_a_lead():
    keys = np.stack([np.zeros(10), np.arange(10.0)], 1)
    assert select_beats(keys, 3).tolist() == [0, 5, 9]  # first, middle, last: not the first three
    assert len(set(select_beats(keys, 9).tolist())) == 9


def test_inferred_order_groups_rows(page):
    image, boxes, keys = page
    inferred = beat_order_keys(boxes)
    # boxes of one panel lie in one row, so the inferred row is constant within each true lead
    for lead in np.unique(keys[:, 0]):
        assert len(np.unique(inferred[keys[:, 0] == lead, 0])) == 1


def test_bad_input_is_a_clear_error(page):
    image, boxes, keys = page
    with pytest.raises(DataError, match="uint8"):
        crop_beats(image.astype(np.float32), boxes, keys)
    with pytest.raises(DataError, match="order keys"):
        crop_beats(image, boxes, keys[:-1])
    crops, kept = crop_beats(image, np.zeros((0, 4)), None, size=(16, 16))
    assert crops.shape == (0, 3, 16, 16) and kept.shape == (0,)
    off_page = np.array([[-50.0, -50.0, -10.0, -10.0]])
    assert len(crop_beats(image, off_page, None)[1]) == 0

"""Box maths of the detector: letterbox <-> page pixels, tiles and their clipped labels, merging tile boxes,
lead assignment on the exact truth of a real rendered page, and how evaluation groups pages."""
import numpy as np
import pytest

from detector.config import BEAT, CLASS_NAMES, LEAD_PANEL
from detector.geometry import (boxes_in_window, letterbox, nms, pairwise_iou, tile_windows, unletterbox,
                               weighted_boxes_fusion)
from detector.infer import build_detections


def test_letterbox_maps_boxes_back_to_page_pixels():
    page = np.full((1700, 2200, 3), 255, np.uint8)
    page[400:460, 300:450] = 0  # a dark block where a "beat" is
    padded, gain, (left, top) = letterbox(page, 640)
    assert padded.shape == (640, 640, 3)
    assert gain == pytest.approx(640 / 2200)
    assert left == 0 and top == round((640 - round(1700 * gain)) / 2 - 0.1)  # from the resized height
    ys, xs = np.where(padded[:, :, 0] < 60)  # the block as the network sees it
    back = unletterbox(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]), gain, (left, top), (1700, 2200))
    assert np.abs(back[0] - [300, 400, 450, 460]).max() < 1 / gain + 1  # within one input pixel
    assert padded[0, 0].tolist() == [114, 114, 114]  # the pad band is ultralytics' grey


def test_tiles_cover_the_page_and_clip_labels():
    wins = tile_windows((1700, 2200), 800, 0.25)
    cover = np.zeros((1700, 2200), bool)
    for x0, y0, x1, y1 in wins:
        assert x1 - x0 == 800 and y1 - y0 == 800  # no sliver tiles
        cover[y0:y1, x0:x1] = True
    assert cover.all()
    boxes = np.array([[700.0, 100, 900, 150], [100, 100, 200, 150]])  # first straddles the x=800 tile edge
    clipped, idx = boxes_in_window(boxes, (0, 0, 800, 800), min_visible=0.3)
    assert idx.tolist() == [0, 1] and clipped[0].tolist() == [700, 100, 800, 150]
    clipped, idx = boxes_in_window(boxes, (0, 0, 800, 800), min_visible=0.6)  # only half of box 0 is inside
    assert idx.tolist() == [1]
    x0 = wins[1][0]  # second tile, in its own coordinates
    clipped, idx = boxes_in_window(boxes, wins[1], min_visible=0.6)
    assert idx.tolist() == [0] and clipped[0].tolist() == [700 - x0, 100, 900 - x0, 150]


def test_tile_cut_boxes_merge_into_one():
    whole = [700.0, 100, 900, 150]
    part = [700.0, 100, 800, 150]  # the same beat cut by a tile edge: IoU 0.5 but fully inside
    other = [905.0, 100, 1100, 150]  # the next beat touches it
    boxes = np.array([whole, part, other])
    scores, cls = np.array([0.9, 0.8, 0.85]), np.zeros(3, np.int64)
    keep = nms(boxes, scores, cls, iou=0.6, metric="ios")
    assert sorted(keep.tolist()) == [0, 2]
    assert len(nms(boxes, scores, cls, iou=0.6)) == 3  # plain IoU NMS would keep the partial duplicate
    fused, s, c = weighted_boxes_fusion(boxes, scores, cls, iou=0.6)
    assert len(fused) == 2 and pairwise_iou(fused, np.array([whole])).max() > 0.6
    cls2 = np.array([0, 3, 0])  # different classes never suppress each other
    assert len(nms(boxes, scores, cls2, iou=0.6, metric="ios")) == 3


@pytest.fixture(scope="module")
def sample_truth():
    """The exact truth of a real record (the bundled PTB-XL sample) printed 3x4+1 at 100 dpi."""
    from vizecg.data import load_source
    from vizecg.render import RenderConfig, render_printout

    src = load_source("sample")
    return render_printout(src.get(src.record_ids[0]), RenderConfig(dpi=100), seed=3).truth


def test_lead_assignment_on_real_render_truth(sample_truth):
    from detector.dataset import truth_boxes

    truth = sample_truth
    boxes, cls = truth_boxes(truth)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(boxes))  # detector output comes in no particular order
    det = build_detections(boxes[perm], np.linspace(1, 0.5, len(boxes)), cls[perm], (truth.height, truth.width))
    assert det.layout == "3x4+1"
    assert det.panel_leads == [lt.lead for lt in truth.leads]
    visible = [b for b in truth.beats if b.visible]
    assert int(det.is_beat.sum()) == len(visible)
    by_box = {tuple(np.round(b.box.as_list(), 0)): b for b in visible}
    for box, lead, panel in zip(det.beat_boxes, det.beat_leads, det.panel[det.is_beat]):
        b = by_box[tuple(np.round(box.astype(np.float64), 0))]
        assert lead == b.lead and panel == b.panel_index
    # beats come first, by panel then time; ranks count up from 0 left to right within a panel
    n = int(det.is_beat.sum())
    assert det.is_beat[:n].all()
    for p in range(len(det.panels)):
        sel = det.panel[:n] == p
        assert det.order[:n][sel].tolist() == list(range(int(sel.sum())))
        xs = det.boxes[:n][sel][:, 0]
        assert np.all(np.diff(xs) > 0)
    keys = det.order_keys()
    assert keys.shape == (n, 2) and np.all(np.diff(keys[:, 0]) >= 0)


def test_unknown_layout_keeps_generic_panel_names():
    panels = np.array([[0, 0, 100, 50], [120, 0, 220, 50]], np.float64)  # one row of two panels
    beats = np.array([[130, 10, 160, 40], [10, 10, 40, 40], [50, 10, 80, 40]], np.float64)
    boxes = np.concatenate([panels, beats])
    cls = np.array([LEAD_PANEL, LEAD_PANEL, BEAT, BEAT, BEAT])
    det = build_detections(boxes, np.ones(5), cls, (60, 240))
    assert det.layout == "unknown" and det.panel_leads == ["panel0", "panel1"]
    assert det.beat_leads == ["panel0", "panel0", "panel1"]
    assert det.order[:3].tolist() == [0, 1, 0]
    assert CLASS_NAMES[BEAT] == "beat"


def test_evaluate_reports_each_severity_and_page_group():
    from detector.evaluate import EvalPage, evaluate

    truth = np.array([[10.0, 10, 50, 40], [60, 10, 100, 40]])

    class Finds:  # finds the first beat of every page, misses the second
        conf = 0.5

        def predict_boxes(self, image, conf=None):
            return truth[:1], np.array([0.9]), np.array([0])

    image = np.zeros((64, 128, 3), np.uint8)
    cls = np.zeros(2, np.int64)
    res = evaluate(Finds(), [EvalPage(image, truth, cls, "phone", ("rate>100",)),
                             EvalPage(image, truth, cls, "scan", ("rate<=100",)), EvalPage(image, truth, cls, "scan")],
                   progress=False)
    assert set(res["per_severity"]) == {"phone", "scan"} and res["per_severity"]["scan"]["pages"] == 2
    assert set(res["per_group"]) == {"rate>100", "rate<=100"} and res["per_group"]["rate>100"]["pages"] == 1
    assert res["precision"] == 1.0 and res["recall"] == 0.5
    assert "per_group" not in evaluate(Finds(), [EvalPage(image, truth, cls, "none")], progress=False)


def test_panel_end_beats_are_told_apart_from_interior_ones(sample_truth):
    from detector.dataset import truth_boxes
    from detector.evaluate import EvalPage, at_panel_end, evaluate, panel_ends

    ends = panel_ends(sample_truth)
    assert len(ends) == sum(lt.present for lt in sample_truth.leads)
    boxes, cls = truth_boxes(sample_truth)
    beats = boxes[cls == BEAT]
    end = at_panel_end(beats, ends)
    assert end.sum() <= len(beats) // 4  # complete beats mostly start and end away from the panel ends
    lead = next(lt for lt in sample_truth.leads if lt.present)
    x0, y0 = lead.trace[0]
    px_per_s = lead.mapping.px_per_s
    cut = np.array([[x0, y0 - 50, x0 + 0.5 * px_per_s, y0 + 50]])  # a box from the panel's first sample
    inner = cut + [0.3 * px_per_s, 0, 0.3 * px_per_s, 0]  # the same box 0.3 s later
    assert at_panel_end(cut, ends).all() and not at_panel_end(inner, ends).any()

    class CutBeatToo:  # finds every beat, plus a cut beat at a panel's start (a panel-end false positive)
        conf = 0.5

        def predict_boxes(self, image, conf=None):
            b = np.concatenate([boxes, cut])
            return b, np.full(len(b), 0.9), np.concatenate([cls, [BEAT]])

    image = np.zeros((8, 8, 3), np.uint8)
    res = evaluate(CutBeatToo(), [EvalPage(image, boxes, cls, "none", panel_ends=ends)], progress=False)
    assert res["precision"] < 1.0 and res["recall"] == 1.0
    assert res["away_from_panel_ends"]["precision"] == 1.0 and res["away_from_panel_ends"]["recall"] == 1.0
    unknown = evaluate(CutBeatToo(), [EvalPage(image, boxes, cls, "none")], progress=False)
    assert unknown["away_from_panel_ends"]["precision"] == unknown["precision"]  # no ends known: nothing left out


def test_operating_score_keeps_the_target_precision_with_the_most_recall():
    from detector.evaluate import best_f1_threshold, conf_at_precision

    scores = np.array([0.6, 0.9, 0.7, 0.8])
    hits = np.array([True, True, False, True])  # sorted by score: hit, hit, miss, hit
    cls, gt = np.zeros(4, np.int64), np.zeros(4, np.int64)  # four beats in truth
    assert conf_at_precision(hits, scores, cls, gt, BEAT, 0.95) == {"target": 0.95, "conf": 0.8, "precision": 1.0,
                                                                    "recall": 0.5}
    assert conf_at_precision(hits, scores, cls, gt, BEAT, 0.7)["conf"] == 0.6  # 3 of 4 found at P 0.75
    assert conf_at_precision(~hits, scores, cls, gt, BEAT, 0.95) is None
    assert best_f1_threshold(hits, scores, cls, gt, BEAT) == (0.6, 0.75)


def test_a_panel_inside_a_surer_one_is_a_piece_of_it_not_a_panel():
    from detector.infer import nested

    strip = [137, 1247, 1902, 1642]  # a rhythm strip, and its first quarter scored as a panel of its own
    piece = [139, 1257, 615, 1607]
    neighbour = [1620, 224, 2133, 605]  # abutting panels of a row overlap a little: both stay
    left = [1132, 230, 1631, 579]
    got = nested(np.array([strip, piece, neighbour, left], float), np.array([0.78, 0.63, 0.95, 0.94]))
    assert got.tolist() == [False, True, False, False]
    # only a piece inside a surer box goes: a surer piece inside a weaker strip box stays (and so does the strip)
    assert nested(np.array([strip, piece], float), np.array([0.5, 0.9])).tolist() == [False, False]


def test_a_box_straddling_two_surer_rows_is_dropped_but_a_panel_among_four_neighbours_stays():
    from detector.infer import nested

    # a family page's two rhythm strips and a weak box half over each (boxes of the epoch-1 stage-14 weights)
    upper, lower = [171, 912, 2151, 1164], [169, 1145, 2122, 1425]
    straddle = [169, 1003, 2116, 1248]  # 66 % inside the upper strip, 42 % inside the lower: no single box holds it
    assert nested(np.array([upper, lower, straddle], float), np.array([0.59, 0.72, 0.15])).tolist() == [
        False, False, True]
    # a tilted photo's panel overlapped by a fifth on every side is still a panel of its own
    mid = [500, 500, 1000, 750]
    around = [[100, 500, 600, 750], [900, 500, 1400, 750], [500, 300, 1000, 550], [500, 700, 1000, 950]]
    assert not nested(np.array(around + [mid], float), np.array([0.9, 0.9, 0.9, 0.9, 0.5]))[-1]


def test_a_strip_box_cut_short_and_its_end_scored_as_a_panel_is_one_strip():
    from detector.infer import nested

    strip, end = [149, 1271, 2017, 1624], [1649, 1276, 2125, 1621]  # stage-14 weights on a clean 3x4+1 page
    assert nested(np.array([strip, end], float), np.array([0.68, 0.50])).tolist() == [False, True]


def test_a_strip_scored_as_its_first_column_plus_the_rest_is_merged_back_into_one_strip():
    from detector.infer import merge_split_panels

    # stage-14 weights on the clean sample page: the V1 strip as [its first 2.5 s] and [the rest]
    first, rest, above = [113, 950, 449, 1228], [336, 966, 1597, 1214], [110, 700, 476, 955]
    panels, gone = merge_split_panels(np.array([rest, first, above], float), np.array([0.59, 0.48, 0.9]))
    assert gone.tolist() == [False, True, False]
    assert panels[0].tolist() == [113, 950, 1597, 1228] and panels[2].tolist() == above
    # abutting panels of a tilted photo's row overlap by a fifth: two panels, not one
    a, b = [100, 500, 600, 750], [500, 510, 1000, 760]
    assert not merge_split_panels(np.array([a, b], float), np.array([0.9, 0.8]))[1].any()

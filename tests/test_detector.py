"""The beat detector end to end: a tiny real ultralytics training run offline, the shipped weights on a real
render (beats, the 3x4+1 layout and lead names), ONNX vs PyTorch agreement, crops, non-ECG images (and the
generator of background images trained on), the calibrated operating point, bad inputs and the CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hostile_inputs import text_page

from detector import BeatDetector, DEFAULT_WEIGHTS
from detector.dataset import truth_boxes
from detector.evaluate import Accumulator
from vizecg.data import RenderFolder
from vizecg.errors import DataError, ModelError

needs_weights = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="shipped weights not built yet")


@pytest.fixture(scope="module")
def sample_page():
    """A clean 3x4+1 page of a real PTB-XL record from the embedded sample (seed unused in training)."""
    from vizecg.data import load_source
    from vizecg.render import RenderConfig, render_printout

    src = load_source("sample")
    return render_printout(src.get(src.record_ids[1]), RenderConfig(), seed=777)


@pytest.fixture(scope="module")
def shipped():
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("shipped weights not built yet")
    return BeatDetector()


def test_tiny_training_runs_offline_through_ultralytics(tmp_path):
    from detector.config import DetectorConfig, TrainConfig
    from detector.train import train_detector
    from vizecg.builders.render_job import RenderJob, build_dataset

    build_dataset(RenderJob(source="sample", n=3, seed=11, render=_small()), tmp_path / "r_train", progress=False)
    build_dataset(RenderJob(source="sample", n=2, seed=12, render=_small()), tmp_path / "r_val", progress=False)
    cfg = DetectorConfig(data=[str(tmp_path / "r_train")], val_data=[str(tmp_path / "r_val")],
                         train=TrainConfig(epochs=1, imgsz=64, batch=4, mosaic=0.0, close_mosaic=0))
    summary = train_detector(cfg, tmp_path / "run", progress=False)
    weights = Path(summary["weights"])
    assert weights.is_file() and summary["size_mb"] < 15
    assert (tmp_path / "run" / "config.yaml").is_file() and (tmp_path / "run" / "log.txt").is_file()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["dataset"]["train_images"] > 0
    det = BeatDetector(weights)  # the new checkpoint loads and runs (untrained: any output, but no crash)
    assert det.imgsz == 64
    found = det.detect(np.full((200, 300, 3), 255, np.uint8))
    assert found.boxes.shape[1] == 4


def _small():
    from vizecg.render import RenderConfig

    return RenderConfig(dpi=100)


@needs_weights
def test_shipped_weights_find_beats_on_a_clean_render(shipped, sample_page):
    found = shipped.detect(sample_page.image)
    gt_boxes, gt_cls = truth_boxes(sample_page.truth)
    acc = Accumulator(conf=shipped.conf)
    acc.add(shipped.predict_boxes(sample_page.image, conf=0.001), gt_boxes, gt_cls)
    s = acc.summary()
    # recall is the promise; precision of the shipped (under-trained, see weights/README.md) model is ~0.6-0.7
    assert s["recall"] > 0.8 and s["precision"] > 0.5, s["per_class"]["beat"]
    # beats that got a lead sit in the lead the truth says
    assigned = [i for i, lead in enumerate(found.beat_leads) if lead is not None]
    assert len(assigned) > 0.5 * len(found.beat_boxes)
    truth_leads = []
    for box in found.beat_boxes[assigned]:
        best = max((b for b in sample_page.truth.beats if b.visible),
                   key=lambda b: _iou(box, b.box.as_list()))
        truth_leads.append(best.lead)
    names = [found.beat_leads[i] for i in assigned]
    if found.layout == "3x4+1":  # standard names only when all 13 panels were found
        agree = np.mean([a == b for a, b in zip(names, truth_leads)])
    else:  # generic panel names: check the grouping instead (one truth lead per detected panel)
        groups = {}
        for a, b in zip(names, truth_leads):
            groups.setdefault(a, set()).add(b)
        agree = np.mean([len(v) == 1 for v in groups.values()])
    assert agree > 0.85  # measured 0.88 with the shipped weights (some beats straddle two panels)


def _iou(a, b):
    from detector.geometry import pairwise_iou

    return float(pairwise_iou(np.asarray([a]), np.asarray([b]))[0, 0])


@needs_weights
def test_clean_render_gets_its_3x4_layout_and_lead_names(shipped, sample_page):
    # the calibrated panel bar (sidecar "panel_conf"); at the old 0.05 a spurious edge panel broke the layout
    assert shipped.panel_conf == json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())["panel_conf"]
    found = shipped.detect(sample_page.image)
    assert found.layout == "3x4+1" and len(found.panels) == 13
    assert found.panel_leads == ["I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6", "II"]
    leads = found.beat_leads
    assert sum(lead is not None for lead in leads) > 0.9 * len(leads)


@needs_weights
def test_crops_have_the_promised_shape_and_order(shipped, sample_page):
    found = shipped.detect(sample_page.image)
    crops, kept = shipped.crops(sample_page.image, found, size=(48, 80), max_beats=12)
    assert crops.shape == (min(12, int(found.is_beat.sum())), 3, 48, 80) and crops.dtype == np.float32
    assert 0.0 <= crops.min() and crops.max() <= 1.0
    keys = found.order_keys()[kept]
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    assert order.tolist() == list(range(len(kept)))  # lead first, then time
    assert len(np.unique(keys[:, 0])) >= 6  # the budget is spread over leads, not spent on the first one


def _checkerboard() -> np.ndarray:
    yy, xx = np.mgrid[0:900, 0:1200]
    return np.where((((yy // 40) + (xx // 40)) % 2).astype(bool)[..., None], 255, 0).astype(np.uint8).repeat(3, 2)


def _photo() -> np.ndarray:
    """A real photograph (scikit-image's bundled coffee cup), scaled to a page's size."""
    import cv2
    import skimage.data

    return cv2.resize(skimage.data.coffee(), (1200, 900), interpolation=cv2.INTER_LINEAR)


# The shipped weights (stages 10e and 14) were trained with background images as negatives (detector/negatives.py); the
# stage-9 weights before them found beats on the checkerboard, the photo and the page of text.
@needs_weights
@pytest.mark.parametrize("kind", ["blank", "noise", "checker", "photo", "text"])
def test_non_ecg_images_give_no_beats(shipped, kind):
    rng = np.random.default_rng(0)
    image = {"blank": lambda: np.full((900, 1200, 3), 255, np.uint8), "text": text_page, "checker": _checkerboard,
             "photo": _photo, "noise": lambda: rng.integers(0, 256, (900, 1200, 3), dtype=np.uint8)}[kind]()
    found = shipped.detect(image)
    assert int(found.is_beat.sum()) == 0 and found.layout == "unknown"
    crops, kept = shipped.crops(image, found)
    assert crops.shape == (0, 3, 64, 64) and len(kept) == 0


@needs_weights
def test_onnx_gives_the_same_boxes_as_pytorch(shipped, sample_page, tmp_path):
    from detector.export import export_onnx

    onnx_path = export_onnx(DEFAULT_WEIGHTS, tmp_path / "beats.onnx")
    onnx = BeatDetector(onnx_path, backend="onnx")
    assert onnx.imgsz == shipped.imgsz and onnx.conf == shipped.conf  # the operating point travels with it
    a, b = shipped.detect(sample_page.image), onnx.detect(sample_page.image)
    assert abs(len(a) - len(b)) <= 1
    ab, bb = a.beat_boxes, b.beat_boxes
    assert len(ab) > 10
    from detector.geometry import pairwise_iou

    # ultralytics rounds the letterbox pad differently by up to one input pixel (~3.4 page px at 640)
    best = pairwise_iou(ab, bb).max(1)
    assert np.mean(best > 0.9) > 0.95
    assert np.array_equal(a.panel_leads, b.panel_leads)


def test_negatives_are_seeded_unlabelled_and_train_beside_a_render(tmp_path):
    from detector.dataset import prepare_dataset
    from detector.negatives import KINDS, build_negatives, make_negative
    from vizecg.builders.render_job import RenderJob, build_dataset

    summary = build_negatives(len(KINDS) + 3, seed=5, out=tmp_path / "neg", progress=False)
    assert set(summary["kinds"]) == set(KINDS) and min(summary["kinds"].values()) >= 1
    assert summary["val"] == 1 and summary["train"] == len(KINDS) + 2  # item 9 of every 10 is validation
    labels = sorted((tmp_path / "neg" / "yolo" / "labels").glob("*/*.txt"))
    assert len(labels) == len(KINDS) + 3 and all(f.read_text() == "" for f in labels)  # nothing to detect
    pages = RenderFolder(tmp_path / "neg").pages
    assert all(p.yolo_image.is_file() and p.fold is None for p in pages)
    first = make_negative(5, 0)
    assert first.kind == KINDS[0] and first.image.dtype == np.uint8 and first.image.shape[2] == 3
    assert np.array_equal(first.image, make_negative(5, 0).image)  # same seed, same bytes
    assert not np.array_equal(make_negative(6, 4).image, make_negative(5, 4).image)
    assert make_negative(5, 3, kind="photo").kind == "photo"
    build_dataset(RenderJob(source="sample", n=2, seed=12, render=_small()), tmp_path / "r", progress=False)
    counts = prepare_dataset([str(tmp_path / "r"), str(tmp_path / "neg")], tmp_path / "data")
    assert counts["train_images"] >= len(KINDS) + 2 and counts["val_images"] >= 1
    train = (tmp_path / "data" / "train.txt").read_text()
    assert "neg_5_00000" in train and "neg_5_00009" not in train


def test_panel_calibration_picks_the_middle_of_the_best_plateau():
    from detector.evaluate import PagePanels, layout_found, panel_calibration

    # 13 panels of a 3x4+1 page scored 0.6-0.9 and one spurious edge panel at 0.11: bars in (0.11, 0.6] are right
    xs = [(40 + 300 * c, 40 + 300 * c + 280) for c in range(4)]
    boxes = [[x0, 40 + 200 * r, x1, 220 + 200 * r] for r in range(3) for x0, x1 in xs] + [[40, 640, 1180, 820]]
    scores = list(np.linspace(0.6, 0.9, 13))
    page = PagePanels(np.asarray(boxes + [[1190, 40, 1199, 820]], float), np.asarray(scores + [0.11]), 13,
                      "3x4+1", "none")
    assert not layout_found(page, 0.05) and layout_found(page, 0.3) and not layout_found(page, 0.7)
    blank = PagePanels(np.asarray([[0, 0, 100, 100]], float), np.asarray([0.08]), 0, "none", "none")
    cal = panel_calibration([page, blank])
    assert cal["recognised"] == 1.0 and cal["plateau"] == [0.12, 0.6] and cal["panel_conf"] == 0.36


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="missing.pt"):
        BeatDetector(tmp_path / "missing.pt")
    bad = tmp_path / "page.png"
    bad.write_text("not an image")
    from vizecg.images import read_image

    with pytest.raises(DataError, match="page.png"):
        read_image(bad)
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="fake.pt"):
        BeatDetector(fake)


@needs_weights
def test_operating_point_travels_in_the_sidecar(tmp_path):
    import shutil

    from detector.export import export_onnx

    weights = tmp_path / "w.pt"
    shutil.copyfile(DEFAULT_WEIGHTS, weights)
    plain = BeatDetector(weights)  # no sidecar: the training input size and score 0.25
    assert plain.conf == 0.25 and plain.imgsz == 640
    (tmp_path / "w.json").write_text(json.dumps({"conf": 0.4, "imgsz": 736}))
    det = BeatDetector(weights)
    assert det.conf == 0.4 and det.imgsz == 736
    assert BeatDetector(export_onnx(weights), backend="onnx").conf == 0.4
    assert BeatDetector(weights, imgsz=640, conf=0.3).imgsz == 640  # arguments win
    (tmp_path / "w.json").write_text(json.dumps({"conf": 0.3, "imgsz": 736}))
    assert BeatDetector(export_onnx(weights), backend="onnx").conf == 0.3  # a cached graph takes the newer sidecar
    assert plain.panel_conf == 0.05 and det.panel_conf == 0.05  # no "panel_conf": the old bar
    (tmp_path / "w.json").write_text(json.dumps({"conf": 0.4, "imgsz": 736, "panel_conf": 0.35}))
    assert BeatDetector(weights).panel_conf == 0.35
    assert BeatDetector(weights, panel_conf=0.2).panel_conf == 0.2  # the argument wins
    assert BeatDetector(export_onnx(weights), backend="onnx").panel_conf == 0.35
    for bad, why in [({"conf": 0.4, "imgsz": 700}, "multiple of 32"), ({"imgsz": 736}, "conf"), ("{", "valid JSON"),
                     ({"conf": 0.4, "panel_conf": 1.5}, "panel_conf")]:
        (tmp_path / "w.json").write_text(bad if isinstance(bad, str) else json.dumps(bad))
        with pytest.raises(ModelError, match=why) as err:
            BeatDetector(weights)
        assert "w.json" in str(err.value)


@needs_weights
def test_cli_predict_and_eval(tmp_path, sample_page, capsys):
    import cv2

    from vizecg.cli import main
    from vizecg.builders.render_job import RenderJob, build_dataset

    page = tmp_path / "page.png"
    cv2.imwrite(str(page), cv2.cvtColor(sample_page.image, cv2.COLOR_RGB2BGR))
    assert main(["detector", "predict", str(page), "--out", str(tmp_path / "pred")]) == 0
    out = json.loads((tmp_path / "pred" / "page.json").read_text())
    assert out["n_beats"] > 10 and (tmp_path / "pred" / "page.png").stat().st_size > 1000
    beats = [d for d in out["detections"] if d["class"] == "beat"]
    assert sum(d["lead"] is not None for d in beats) > len(beats) // 2
    build_dataset(RenderJob(source="sample", n=2, seed=13, photo="scan"), tmp_path / "r", progress=False)
    capsys.readouterr()
    assert main(["detector", "eval", "--data", str(tmp_path / "r"), "--json", "--quiet"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["pages"] == 2 and set(res["per_severity"]) == {"scan"}
    assert 0 <= res["recall"] <= 1 and res["per_class"]["beat"]["n_true"] > 20
    assert main(["detector", "eval", "--data", str(tmp_path / "r"), "--data", str(tmp_path / "r"), "--json", "--quiet"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["pages"] == 4 and both["per_class"]["beat"]["n_true"] == 2 * res["per_class"]["beat"]["n_true"]
    assert main(["detector", "eval", "--data", str(tmp_path / "nothing")]) == 2  # clear error, no traceback
    # calibration: the operating point of validation pages goes to the weights' sidecar, never from fold 10
    weights = tmp_path / "w" / "beats.pt"
    weights.parent.mkdir()
    shutil.copy(DEFAULT_WEIGHTS, weights)
    assert main(["detector", "eval", "--weights", str(weights), "--data", str(tmp_path / "r"), "--folds", "10",
                 "--write-sidecar", "--quiet"]) == 2
    assert not weights.with_suffix(".json").exists()
    assert main(["detector", "eval", "--weights", str(weights), "--data", str(tmp_path / "r"), "--conf", "0.1",
                 "--folds", "1,2,3,4,5,6,7,8,9", "--write-sidecar", "--quiet"]) == 0
    sidecar = json.loads(weights.with_suffix(".json").read_text())
    assert 0.1 <= sidecar["conf"] < 1 and sidecar["at_conf"]["precision"] >= 0.95 and sidecar["imgsz"] >= 640
    assert BeatDetector(weights).conf == sidecar["conf"]

"""The ONNX-only runtime (`vizecg predict --backend onnx`): the whole predict path with torch, torchvision, timm and
ultralytics unimportable, the shipped graphs giving the torch path's probabilities and beat boxes, and the release
rule (a graph beside weights it was not exported from is refused as stale)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_predict import photo  # noqa: F401  (the fixture: a phone photo of a rendered PTB-XL page)

from detector.infer import DEFAULT_ONNX, DEFAULT_WEIGHTS
from vizecg.errors import ModelError
from vizecg.predict.classifier import DEFAULT_CLASSIFIER, DEFAULT_ONNX_CLASSIFIER

REPO = Path(__file__).resolve().parents[1]
TORCH_FAMILY = ("torch", "torchvision", "timm", "ultralytics")
shipped = pytest.mark.skipif(not all(p.is_file() for p in (DEFAULT_WEIGHTS, DEFAULT_ONNX, DEFAULT_CLASSIFIER,
                                                           DEFAULT_ONNX_CLASSIFIER)),
                             reason="shipped weights or their ONNX graphs missing")

# Run the real CLI with an import hook that refuses the torch family, as an install without them would.
NO_TORCH = f"""
import importlib.abc, json, sys
BLOCKED = {TORCH_FAMILY!r}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: the ONNX runtime must not need it)")
sys.meta_path.insert(0, Refuse())
from vizecg.cli import main
rc = main(sys.argv[1:])
print("IMPORTED " + json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set(BLOCKED))), file=sys.stderr)
sys.exit(rc)
"""


@pytest.fixture(scope="module")
def detectors():
    from detector.infer import BeatDetector

    return BeatDetector(), BeatDetector(DEFAULT_ONNX, backend="onnx")


@shipped
def test_predict_with_the_onnx_backend_runs_without_torch(photo, tmp_path):
    import cv2

    image = tmp_path / "page.png"
    cv2.imwrite(str(image), np.ascontiguousarray(photo[:, :, ::-1]))
    script = tmp_path / "no_torch.py"
    script.write_text(NO_TORCH)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), "predict", str(image), "--backend", "onnx", "--out", str(out),
                           "--json"], capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "IMPORTED []" in proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads((out / "report.json").read_text()) and (out / "report.html").is_file()
    assert report["status"] == "ok" and set(report["probabilities"]) == {"NORM", "MI", "STTC", "CD", "HYP"}
    assert len(report["beats"]) >= 10 and report["layout"]["detector_layout"] == "3x4+1"
    assert report["models"]["classifier"]["runtime"] == "onnxruntime"
    assert report["models"]["beat_finder"]["backend"] == "onnx"
    if "explanation" in report:  # Grad-CAM is torch-only: the report says why there is none
        assert any(w.startswith("no explanation") for w in report["warnings"])
    assert report["signal"] is not None


@shipped
def test_the_onnx_classifier_gives_the_torch_probabilities_on_the_same_beats(photo, detectors):
    from vizecg.predict.classifier import load_classifier, load_onnx_classifier

    torch_clf, onnx_clf = load_classifier(), load_onnx_classifier()
    assert onnx_clf.classes == torch_clf.classes and onnx_clf.thresholds == torch_clf.thresholds
    assert onnx_clf.calibration == torch_clf.calibration
    assert {k: v for k, v in onnx_clf.info().items() if k not in ("file", "runtime")} == \
        {k: v for k, v in torch_clf.info().items() if k not in ("file", "runtime")}
    found = detectors[0].detect(photo)
    boxes, keys = found.beat_boxes, found.order_keys()
    assert len(boxes) > torch_clf.max_beats  # the crop budget is exercised too
    for b, k in ((boxes, keys), (boxes[:3], keys[:3]), (np.zeros((0, 4)), np.zeros((0, 2)))):
        a, o = torch_clf.probabilities(photo, b, k), onnx_clf.probabilities(photo, b, k)
        assert list(a) == list(o)
        assert max(abs(a[c] - o[c]) for c in a) < 1e-4
    batch = onnx_clf.batch(photo, boxes, keys)
    tensors = torch_clf.inputs(photo, boxes, keys)  # the torch class feeds the same numpy pre-processing
    assert all(np.array_equal(tensors[n].numpy(), batch[n]) for n in batch)


@shipped
def test_the_onnx_beat_finder_gives_the_torch_boxes_scores_and_leads(photo, detectors):
    from vizecg.commands.predict import detector_beat_finder

    torch_det, onnx_det = detectors
    assert (onnx_det.imgsz, onnx_det.conf, onnx_det.panel_conf) == (torch_det.imgsz, torch_det.conf,
                                                                      torch_det.panel_conf)
    a, b = torch_det.detect(photo), onnx_det.detect(photo)
    assert len(a) == len(b) and a.is_beat.sum() >= 10
    assert np.array_equal(a.classes, b.classes)
    assert np.abs(a.boxes - b.boxes).max() < 1.0  # page px
    assert np.abs(a.scores - b.scores).max() < 1e-4
    assert a.layout == b.layout == "3x4+1" and a.panel_leads == b.panel_leads and a.beat_leads == b.beat_leads
    ft, fo = detector_beat_finder(), detector_beat_finder(backend="onnx")
    x, y = ft(photo), fo(photo)
    assert x.leads == y.leads and np.abs(x.boxes - y.boxes).max() < 1.0 and np.abs(x.order_keys - y.order_keys).max() < 1.0


@shipped
def test_the_shipped_graphs_record_the_weights_they_came_from():
    from detector.export import graph_source, sha256_file
    from detector.infer import operating_imgsz

    assert graph_source(DEFAULT_ONNX) == (sha256_file(DEFAULT_WEIGHTS), operating_imgsz(DEFAULT_WEIGHTS))
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(DEFAULT_ONNX_CLASSIFIER)).metadata_props}
    assert meta["vizecg_source_sha256"] == sha256_file(DEFAULT_CLASSIFIER)
    assert json.loads(meta["vizecg_classifier"])["format"] == "vizecg-classifier-1"
    weights = [*DEFAULT_WEIGHTS.parent.glob("beats_yolo.*"), *DEFAULT_CLASSIFIER.parent.glob("student_small.*")]
    assert sum(p.stat().st_size for p in weights) < 30e6  # the release stays well under 60 MB


@shipped
def test_a_stale_graph_beside_other_weights_is_refused(tmp_path):
    from detector.infer import BeatDetector
    from vizecg.predict.classifier import load_onnx_classifier

    shutil.copy(DEFAULT_ONNX_CLASSIFIER, tmp_path / "student_small.onnx")
    assert load_onnx_classifier(tmp_path / "student_small.onnx").classes  # alone: used as given
    (tmp_path / "student_small.pt").write_bytes(DEFAULT_CLASSIFIER.read_bytes() + b"retrained")
    with pytest.raises(ModelError, match="stale classifier graph.*re-export"):
        load_onnx_classifier(tmp_path / "student_small.onnx")
    for name in ("beats_yolo.onnx", "beats_yolo.json"):
        shutil.copy(DEFAULT_WEIGHTS.parent / name, tmp_path / name)
    assert BeatDetector(tmp_path / "beats_yolo.onnx", backend="onnx").imgsz == 736
    (tmp_path / "beats_yolo.pt").write_bytes(b"newer weights")
    with pytest.raises(ModelError, match="stale ONNX graph.*re-export"):
        BeatDetector(tmp_path / "beats_yolo.onnx", backend="onnx")


def test_the_onnx_backend_refuses_pt_files_and_foreign_graphs(tmp_path):
    from vizecg.commands.predict import detector_beat_finder
    from vizecg.predict.classifier import load_onnx_classifier

    with pytest.raises(ModelError, match="not its .pt weights"):
        load_onnx_classifier(DEFAULT_CLASSIFIER)
    with pytest.raises(ModelError, match="not its .pt weights"):
        detector_beat_finder(DEFAULT_WEIGHTS, backend="onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="unreadable classifier ONNX graph"):
        load_onnx_classifier(tmp_path / "junk.onnx")
    if DEFAULT_ONNX.is_file():
        with pytest.raises(ModelError, match="not a VizECG classifier graph"):
            load_onnx_classifier(DEFAULT_ONNX)  # the detector's graph is not a classifier


def test_export_writes_a_graph_that_matches_torch_for_any_number_of_beats(tmp_path):
    import torch

    from vizecg.models import create_model
    from vizecg.predict.classifier import load_classifier, load_onnx_classifier
    from vizecg.predict.export import export_classifier, export_onnx_classifier

    torch.manual_seed(0)
    m = create_model("student_tiny", num_classes=3, multilabel=True)
    pt = export_classifier("student_tiny", m.model_args, m.state_dict(), ["A", "B", "C"],
                           {"page_height": 64, "page_width": 96, "crop_size": 24, "max_beats": 4, "grayscale": True},
                           {"method": "platt", "slopes": [1.5, 0.5, 1.0], "biases": [-1.0, 0.0, 2.0]},
                           {"A": 0.5, "B": 0.4, "C": 0.3},
                           {"name": "tiny"}, tmp_path / "tiny.pt")
    summary = export_onnx_classifier(pt)
    assert Path(summary["out"]) == tmp_path / "tiny.onnx" and summary["max_logit_diff"] < 1e-4
    t, o = load_classifier(pt), load_onnx_classifier(tmp_path / "tiny.onnx")
    assert o.grayscale and o.thresholds == t.thresholds and o.model_name == "student_tiny"
    rng = np.random.default_rng(1)
    page = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    boxes = np.array([[10 + 40 * i, 20, 40 + 40 * i, 80] for i in range(7)], np.float64)
    for n in (0, 2, 7):  # none, under and over max_beats
        a, b = t.logits(page, boxes[:n]), o.logits(page, boxes[:n])
        assert np.abs(a - b).max() < 1e-4

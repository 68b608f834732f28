"""vizecg predict: predict_page on real rendered photos and non-ECG images, the report schema, the CLI's files,
and a folder that resumes. The beat finder is the shipped detector; the classifier a tiny untrained student
written in the shipped file format (its numbers mean nothing: the tests check the path, not the diagnosis)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hostile_inputs import text_page

from detector.infer import DEFAULT_WEIGHTS

needs_detector = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="shipped detector weights missing")
CLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory) -> Path:
    import torch

    from vizecg.models import create_model
    from vizecg.predict.export import export_classifier

    torch.manual_seed(0)
    m = create_model("student_tiny", num_classes=5, multilabel=True)
    path = tmp_path_factory.mktemp("clf") / "tiny.pt"
    export_classifier("student_tiny", m.model_args, m.state_dict(), CLASSES,
                      {"page_height": 96, "page_width": 128, "crop_size": 32, "max_beats": 8, "grayscale": False},
                      {"method": "temperature", "temperature": 2.0, "fitted_on": "test"}, {c: 0.5 for c in CLASSES},
                      {"name": "tiny-untrained", "version": "test"}, path)
    return path


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real PTB-XL record of the embedded sample, printed and photographed with a phone (seeded)."""
    from vizecg.data import load_source
    from vizecg.photo import photograph
    from vizecg.render import RenderConfig, render_printout

    src = load_source("sample")
    page = render_printout(src.get(src.record_ids[2]), RenderConfig(dpi=150), seed=7)
    return photograph(page, "phone", seed=7).image


@pytest.fixture(scope="module")
def readers(tiny_classifier):
    from vizecg.commands.predict import detector_beat_finder
    from vizecg.predict.classifier import load_classifier

    return detector_beat_finder(), load_classifier(tiny_classifier)


@pytest.fixture(scope="module")
def ok_prediction(photo, readers):
    from vizecg.predict import predict_page

    return predict_page(photo, *readers)


@needs_detector
def test_a_photographed_page_is_answered_with_calibrated_probabilities_and_beats(ok_prediction, readers):
    from vizecg.predict.calibration import sigmoid

    pred = ok_prediction
    assert pred.ok and pred.reason is None, pred.reason
    assert list(pred.probabilities) == CLASSES
    p = np.array(list(pred.probabilities.values()))
    assert np.all((p > 0) & (p < 1)) and 0 < p.sum() < len(CLASSES)  # multi-label: independent sigmoids
    _, clf = readers
    upright = pred.upright
    z = clf.logits(upright, np.array([b.box for b in pred.beats]).reshape(-1, 4), None)
    assert pred.calibration["temperature"] == 2.0
    assert len(pred.beats) >= 10
    assert sum(b.lead is not None for b in pred.beats) >= 10, "beats carry the lead of their panel"
    assert pred.quality["is_ecg"] and len(pred.quality["readable_leads"]) >= 3
    assert pred.signal is not None and pred.signal.n_samples > 0
    assert np.allclose(sigmoid(z / 2.0), p, atol=0.02) or len(pred.beats) > clf.max_beats  # same order keys


@needs_detector
@pytest.mark.parametrize("kind", ["text", "noise", "blank"])
def test_non_ecg_images_are_refused_with_a_reason_and_no_probabilities(kind, readers):
    from vizecg.predict import predict_page

    rng = np.random.default_rng(0)
    image = {"text": text_page(), "noise": rng.integers(0, 256, (900, 1200, 3), dtype=np.uint8),
             "blank": np.full((900, 1200, 3), 250, np.uint8)}[kind]
    pred = predict_page(image, *readers)
    assert pred.status == "refused" and pred.reason
    assert pred.probabilities is None and pred.to_json()["probabilities"] is None
    assert {"text": "ECG", "noise": "noise", "blank": "blank"}[kind] in pred.reason


def test_an_ecg_whose_leads_are_all_below_the_floor_is_still_an_ecg_by_einthovens_law(photo):
    """A page the digitizer traces but trusts no lead of (a 12x1 page at an unconfirmed gain) is an ECG when its
    limb leads obey Einthoven's law: answered (no signal, said so), not refused; limb traces that do not obey it
    are no such evidence."""
    from dataclasses import replace

    from vizecg.digitize import DigitizeConfig, digitize
    from vizecg.errors import DigitizeError
    from vizecg.predict import predict_page
    from vizecg.predict.core import FoundBeats
    from vizecg.predict.quality import assess_quality, image_checks

    def unsure(image, printed=None):  # every lead below its floor
        return digitize(image, DigitizeConfig(min_confidence=0.999), printed=printed)

    with pytest.raises(DigitizeError) as err:
        unsure(photo)
    ev = err.value.evidence
    assert ev["traced_leads"] == 12 and ev["limb_residual"] <= ev["limb_agree"]
    pred = predict_page(photo, lambda im: FoundBeats.empty(), None, digitizer=unsure)
    assert pred.status == "ok" and pred.signal is None
    assert any("Einthoven" in f for f in pred.quality["findings"])
    assert any("no lead could be traced" in w for w in pred.warnings)

    from vizecg.predict.quality import Evidence

    base = Evidence(digitized=False, digitize_error="no lead could be traced with enough confidence",
                    limb_residual=ev["limb_residual"], limb_agree=ev["limb_agree"], traced_leads=12)
    checks = image_checks(photo)
    assert assess_quality(checks, base).is_ecg
    # digitized, every lead below what the gate calls readable (0.5): the same evidence
    assert assess_quality(checks, replace(base, digitized=True, digitize_error=None, confidence={"I": 0.3})).is_ecg
    assert not assess_quality(checks, replace(base, limb_residual=0.6)).is_ecg  # random traces: ~2/3 outside
    assert not assess_quality(checks, replace(base, traced_leads=3)).is_ecg


@needs_detector
def test_report_json_follows_the_schema(ok_prediction):
    from vizecg.predict import schema_errors

    report = json.loads(json.dumps(ok_prediction.to_json({"csv": "signal/x.csv"})))
    assert schema_errors(report) == []
    assert report["schema_version"] == "1" and "not a medical device" in report["notice"]
    broken = dict(report, status="maybe")
    del broken["beats"]
    errors = schema_errors(broken)
    assert any("status" in e for e in errors) and any("beats" in e for e in errors)


def test_a_missing_classifier_is_a_clear_refusal(tmp_path):
    from vizecg.errors import ModelError
    from vizecg.predict.classifier import load_classifier

    with pytest.raises(ModelError, match="not found"):
        load_classifier(tmp_path / "none.pt")
    (tmp_path / "ckpt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="unreadable"):
        load_classifier(tmp_path / "ckpt.pt")


def test_temperature_scaling_lowers_calibration_error():
    from vizecg.predict.calibration import expected_calibration_error, fit_temperature, sigmoid

    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, (400, 5))
    y = (rng.random((400, 5)) < sigmoid(z)).astype(float)
    over = 3.0 * z  # an overconfident model
    t = fit_temperature(over, y)
    assert 2.4 < t < 3.6
    assert expected_calibration_error(sigmoid(over / t), y) < expected_calibration_error(sigmoid(over), y)


def test_per_class_platt_scaling_undoes_a_class_weighted_base_rate():
    from vizecg.predict.calibration import (apply_platt, expected_calibration_error, fit_platt, fit_temperature,
                                            sigmoid)

    rng = np.random.default_rng(1)
    z = rng.normal(-1.5, 1.5, (600, 5))  # rare classes
    y = (rng.random((600, 5)) < sigmoid(z)).astype(float)
    shifted = z + np.array([0.5, 1.0, 1.5, 2.0, 2.5])  # class weights in training lift each class's logits
    slopes, biases = fit_platt(shifted[:300], y[:300])
    assert np.allclose(slopes, 1.0, atol=0.3) and np.allclose(biases, -np.array([0.5, 1.0, 1.5, 2.0, 2.5]), atol=0.5)
    t = fit_temperature(shifted[:300], y[:300])  # one temperature cannot move a base rate
    platt = expected_calibration_error(apply_platt(shifted[300:], slopes, biases), y[300:])
    assert platt < 0.05 < expected_calibration_error(sigmoid(shifted[300:] / t), y[300:])


def test_the_shipped_calibration_is_chosen_out_of_fold_and_applied_as_stored():
    from vizecg.predict.calibration import calibrated, expected_calibration_error, fit_calibration, sigmoid

    rng = np.random.default_rng(2)
    z = rng.normal(-1.5, 1.5, (600, 5))
    y = (rng.random((600, 5)) < sigmoid(z)).astype(float)
    shifted = z + np.array([0.5, 1.0, 1.5, 2.0, 2.5])  # base rates lifted per class: only Platt can undo it
    cal = fit_calibration(shifted[:300], y[:300])
    oof = cal["ece_oof"]
    assert cal["method"] == "platt" and oof["platt"] < min(oof["temperature"], oof["none"])
    assert expected_calibration_error(calibrated(shifted[300:], cal), y[300:]) < 0.05
    over = fit_calibration(3.0 * z[:300], y[:300], methods=("none", "temperature"))  # overconfident, no shift
    assert over["method"] == "temperature" and 2.0 < over["temperature"] < 4.0
    assert np.allclose(calibrated(3.0 * z[:2], over), sigmoid(3.0 * z[:2] / over["temperature"]))


@pytest.mark.parametrize("cal, problem", [
    ({"method": "platt", "slopes": [1.0, 1.0], "biases": [0.0, 0.0, 0.0]}, "3 finite slopes"),
    ({"method": "platt", "slopes": [1.0, -0.5, 1.0], "biases": [0.0, 0.0, 0.0]}, "slopes must be > 0"),
    ({"method": "temperature", "temperature": 0.0}, "temperature must be a number > 0"),
    ({"method": "isotonic"}, "unknown calibration method 'isotonic'"),
])
def test_a_classifier_file_with_unusable_calibration_is_refused_naming_the_file(tmp_path, cal, problem):
    import torch

    from vizecg.errors import ModelError
    from vizecg.models import create_model
    from vizecg.predict.classifier import load_classifier
    from vizecg.predict.export import export_classifier

    torch.manual_seed(0)
    m = create_model("student_tiny", num_classes=3, multilabel=True)
    pt = export_classifier("student_tiny", m.model_args, m.state_dict(), ["A", "B", "C"],
                           {"page_height": 64, "page_width": 96, "crop_size": 24, "max_beats": 4}, cal, None,
                           {"name": "tiny"}, tmp_path / "bad.pt")
    with pytest.raises(ModelError, match=problem) as err:
        load_classifier(pt)
    assert "bad.pt" in str(err.value)


def photo_folder(folder: Path, photo: np.ndarray) -> Path:
    """`folder` with ecg.jpg (the photographed page) and blank.png (refused): what the CLI tests read."""
    import cv2

    folder.mkdir()
    cv2.imwrite(str(folder / "ecg.jpg"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "blank.png"), np.full((600, 800, 3), 250, np.uint8))
    return folder


@needs_detector
def test_cli_writes_report_html_json_signal_and_a_folder_resumes(photo, tiny_classifier, tmp_path, capsys):
    from vizecg.cli import main

    folder = photo_folder(tmp_path / "photos", photo)
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--out", str(out), "--classifier", str(tiny_classifier), "--quiet"]) == 0
    first = capsys.readouterr()
    assert "1 ok, 1 refused" in first.out and "blank.png: refused" in first.err  # doubts reach stderr
    report = json.loads((out / "ecg" / "report.json").read_text())
    assert report["status"] == "ok" and report["signal"]["paths"]["wfdb"].endswith(".hea")
    assert (out / "ecg" / report["signal"]["paths"]["csv"]).is_file()
    html = (out / "ecg" / "report.html").read_text()
    assert "not a medical device" in html.lower() and "http" not in html  # self-contained: no external link
    assert "data:image/jpeg;base64," in html and "data:image/png;base64," in html  # photo figures, re-plotted leads
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("image,folder,status") and len(summary) == 3
    mtime = (out / "ecg" / "report.json").stat().st_mtime_ns
    assert main(["predict", str(folder), "--out", str(out), "--classifier", str(tiny_classifier), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)  # --json: stdout is only JSON
    assert again["resumed"] == 2 and again["counts"] == {"ok": 1, "refused": 1, "error": 0}
    assert (out / "ecg" / "report.json").stat().st_mtime_ns == mtime, "a finished page is not redone"


def test_uint8_percentiles_from_the_histogram_equal_numpys():
    from vizecg.predict.quality import percentiles_u8

    rng = np.random.default_rng(3)
    qs = [0, 1, 10, 50, 90, 95, 99, 99.8, 100]
    for image in (rng.integers(0, 256, (37, 53), dtype=np.uint8), np.full((5, 7), 9, np.uint8),
                  rng.integers(100, 103, (1, 2), dtype=np.uint8)):
        np.testing.assert_allclose(percentiles_u8(image, qs), np.percentile(image, qs), rtol=0, atol=1e-9)


@needs_detector
def test_the_report_gives_the_benchmarks_probabilities_for_the_same_page(tiny_classifier, readers, tmp_path):
    """vizecg predict and the benchmark read a page alike: the same batch (page, beat crops at the shipped
    detector's boxes) and the same calibrated probabilities as distill's PageDataset feeding the same model."""
    import torch

    from distill.data import PageDataset, collate
    from experiments.benchmark import detector_boxes
    from vizecg.builders.render_job import RenderJob, build_dataset
    from vizecg.images import read_image
    from vizecg.predict import predict_page
    from vizecg.predict.calibration import calibrated
    from vizecg.predict.classifier import load_classifier

    root = tmp_path / "render"
    build_dataset(RenderJob(source="sample", n=3, photo="phone", seed=4), root, progress=False)
    boxes_fn, tag, _ = detector_boxes("auto")
    clf = load_classifier(tiny_classifier)
    ds = PageDataset(root, fields=("page", "beats"), page_size=clf.page_size, crop_size=(clf.crop_size,) * 2,
                     max_beats=clf.max_beats, boxes_fn=boxes_fn, boxes_tag=tag, cache=False)
    answered = 0
    for i in range(len(ds)):
        bench = collate([ds[i]], clf.max_beats)
        image = read_image(ds.pages[i].image)
        boxes, keys = boxes_fn(image)
        ours = clf.inputs(image, boxes, keys)
        for key in ("page", "beats", "beat_mask"):
            assert np.array_equal(ours[key].numpy(), bench[key].numpy()), key
        with torch.no_grad():
            want = calibrated(clf.model(bench)["logits"].numpy()[0], clf.calibration)
        pred = predict_page(image, *readers)
        if pred.ok:  # an upright phone photo: the report's probabilities are the benchmark's
            assert np.abs(np.array(list(pred.probabilities.values())) - want).max() < 1e-5
            answered += 1
    assert answered >= 2, "the gate refused readable phone photos"

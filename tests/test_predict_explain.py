"""Grad-CAM explanation (vizecg/predict/explain.py): the shipped student on a rendered page with its true beat
boxes. The heat maps are real maps of the page, the beat ranking agrees with what removing a beat does to the
model, the same page gives the same maps, a model it cannot explain gets a reason, and the report carries it."""
from __future__ import annotations

import re

import numpy as np
import pytest

from vizecg.predict.classifier import DEFAULT_CLASSIFIER

pytestmark = pytest.mark.skipif(not DEFAULT_CLASSIFIER.is_file(), reason="shipped classifier weights missing")


@pytest.fixture(scope="module")
def page():
    """A real PTB-XL record of the embedded sample, printed at 100 dpi (seeded), with its true beats."""
    from vizecg.data import load_source
    from vizecg.render import RenderConfig, render_printout

    src = load_source("sample")
    return render_printout(src.get(src.record_ids[2]), RenderConfig(dpi=100), seed=7)


@pytest.fixture(scope="module")
def found(page):
    from vizecg.predict import FoundBeats

    beats = page.truth.beats
    return FoundBeats(boxes=np.array([[b.box.x0, b.box.y0, b.box.x1, b.box.y1] for b in beats]),
                      scores=np.ones(len(beats)), leads=tuple(b.lead for b in beats),
                      order_keys=np.array([[b.panel_index, (b.box.x0 + b.box.x1) / 2] for b in beats]),
                      layout="3x4+1", panel_leads=tuple(lt.lead for lt in page.truth.leads),
                      info={"name": "ground truth"})


@pytest.fixture(scope="module")
def classifier():
    from vizecg.predict.classifier import load_classifier

    return load_classifier()


@pytest.fixture(scope="module")
def explanation(page, found, classifier):
    from vizecg.predict.explain import explain

    return explain(classifier, page.image, found.boxes, found.order_keys, leads=found.leads)


def test_the_page_heat_map_is_a_real_map_of_the_page_for_the_top_classes(page, found, classifier, explanation):
    probs = classifier.probabilities(page.image, found.boxes, found.order_keys)
    assert explanation.reason is None
    assert [c.name for c in explanation.classes] == sorted(probs, key=lambda c: -probs[c])[:2]
    assert explanation.layers == {"page": "image.global_.backbone.layer4", "beats": "image.local.backbone.layer4"}
    top = explanation.classes[0]
    heat = top.page_heat
    assert heat.shape == page.image.shape[:2]
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1
    assert heat.max() - heat.min() > 0.5, "the top class's map is flat"
    for cls in explanation.classes:
        fed = [cls.beat_importance[i] for i in explanation.beat_index]
        assert all(v is not None and 0 <= v <= 1 for v in fed) and max(fed) == 1
        unfed = set(range(len(found.boxes))) - set(explanation.beat_index.tolist())
        assert all(cls.beat_importance[i] is None for i in unfed)  # beats the model never saw are not ranked
        assert cls.beat_heat.shape == (len(explanation.beat_index), classifier.crop_size, classifier.crop_size)
        assert set(cls.leads) <= set(found.leads) and list(cls.leads.values()) == sorted(cls.leads.values())[::-1]


def test_the_beat_ranking_agrees_with_removing_each_beat_from_the_model(page, found, classifier, explanation):
    """Faithfulness: take each fed beat out of the batch (its mask off) and see how far the top class's logit
    falls; Grad-CAM's importance must rank the beats in nearly that order."""
    import torch
    from scipy.stats import spearmanr

    top = explanation.classes[0]
    t = list(classifier.classes).index(top.name)
    batch = classifier.inputs(page.image, found.boxes, found.order_keys)
    with torch.no_grad():
        base = float(classifier.model(batch)["logits"][0, t])
        drops = []
        for j in range(len(explanation.beat_index)):
            mask = batch["beat_mask"].clone()
            mask[0, j] = False
            drops.append(base - float(classifier.model({**batch, "beat_mask": mask})["logits"][0, t]))
    importance = [top.beat_importance[i] for i in explanation.beat_index]
    assert spearmanr(importance, drops)[0] > 0.8
    assert drops[int(np.argmax(importance))] > drops[int(np.argmin(importance))] + 0.1


def test_the_same_page_gives_the_same_maps(page, found, classifier, explanation):
    from vizecg.predict.explain import explain

    again = explain(classifier, page.image, found.boxes, found.order_keys, leads=found.leads)
    for a, b in zip(explanation.classes, again.classes):
        assert np.array_equal(a.page_heat, b.page_heat) and np.array_equal(a.beat_heat, b.beat_heat)
        assert a.beat_importance == b.beat_importance and a.top_beats == b.top_beats


def test_a_classifier_it_cannot_hook_gets_a_reason_not_an_error(page, found, classifier):
    import dataclasses

    from torch import nn

    from vizecg.predict.explain import explain

    class OnnxLike:  # what another backend hands in: probabilities, no torch module
        model = object()

    assert "needs the PyTorch classifier" in explain(OnnxLike(), page.image, found.boxes, found.order_keys).reason
    flat = dataclasses.replace(classifier, model=nn.Sequential(nn.Flatten(), nn.Linear(3, 5)))
    no_conv = explain(flat, page.image, found.boxes, found.order_keys)
    assert no_conv.classes == () and "no convolutional layer" in no_conv.reason
    assert no_conv.to_json()["classes"] == [] and no_conv.to_json()["reason"] == no_conv.reason


def _no_digitizer(image):
    from vizecg.errors import DigitizeError

    raise DigitizeError("not digitized in this test")


def test_report_json_and_html_carry_the_explanation(page, found, classifier):
    from vizecg.predict import predict_page, schema_errors
    from vizecg.predict.html import report_html

    pred = predict_page(page.image, lambda image: found, classifier, digitizer=_no_digitizer)
    assert pred.ok, pred.reason
    report = pred.to_json()
    assert schema_errors(report) == []
    ex = report["explanation"]
    assert ex["method"] == "grad-cam" and ex["library"].startswith("grad-cam ") and ex["reason"] is None
    assert [c["class"] for c in ex["classes"]] == [c.name for c in pred.explanation.classes]
    first = ex["classes"][0]
    assert first["beats"][0]["importance"] == 1.0 and first["beats"][0]["lead"] in found.leads
    page_html = report_html(pred, page.image, report)
    assert "Explanation (Grad-CAM)" in page_html and "http" not in page_html
    for alt in (f"grad-cam {first['class']}", f"beats {first['class']}"):  # the overlays, inlined
        assert re.search(f"<img src='data:image/jpeg;base64,[A-Za-z0-9+/=]{{1000,}}' alt='{alt}'>", page_html), alt

    plain = predict_page(page.image, lambda image: found, classifier, digitizer=_no_digitizer, explain=False)
    assert plain.to_json()["explanation"] is None and "Grad-CAM" not in report_html(plain, page.image, plain.to_json())


def test_a_classifier_without_torch_is_answered_with_a_warning(page, found, classifier):
    from vizecg.predict import predict_page

    class OnnxLike:
        classes, calibration, thresholds = classifier.classes, classifier.calibration, classifier.thresholds
        probabilities = staticmethod(classifier.probabilities)
        info = staticmethod(classifier.info)

    pred = predict_page(page.image, lambda image: found, OnnxLike(), digitizer=_no_digitizer)
    assert pred.ok and pred.probabilities is not None
    assert any(w.startswith("no explanation: explanation needs the PyTorch classifier") for w in pred.warnings)
    assert pred.to_json()["explanation"]["classes"] == []


def test_a_densenet_page_branch_is_hooked_at_its_features(page, found, classifier):
    """The full-size student's page branch is DenseNet121: its tiny twin's last conv block is `features`."""
    import dataclasses

    import torch

    from vizecg.models import create_model
    from vizecg.predict.explain import explain

    torch.manual_seed(0)
    tiny = dataclasses.replace(classifier, model=create_model("student_tiny", num_classes=5).eval())
    ex = explain(tiny, page.image, found.boxes, found.order_keys, top_k=1)
    assert ex.reason is None and ex.layers["page"] == "image.global_.backbone.features"
    assert ex.classes[0].page_heat.shape == page.image.shape[:2]


def test_the_cli_can_skip_the_explanation():
    from vizecg.cli import build_parser

    assert build_parser().parse_args(["predict", "page.png", "--no-explain"]).no_explain
    assert not build_parser().parse_args(["predict", "page.png"]).no_explain

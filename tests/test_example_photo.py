"""The README's first command: `vizecg predict` on the embedded example photo with the shipped weights gives an
answered report (what a newcomer sees first). Record 162 is a PTB-XL test-fold record with MI, CD, HYP and STTC
statements and no NORM; the photo is a rendering, so this checks the shipped path end to end, not accuracy (the
small shipped student calls this page NORM 0.52: see its model card)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from detector.infer import DEFAULT_WEIGHTS
from vizecg.predict.classifier import DEFAULT_CLASSIFIER

EXAMPLE = Path(__file__).resolve().parents[1] / "vizecg" / "sample_data" / "example_photo.jpg"


@pytest.mark.skipif(not (DEFAULT_WEIGHTS.is_file() and DEFAULT_CLASSIFIER.is_file()), reason="no shipped weights")
def test_the_readme_example_is_answered_with_its_layout_leads_and_signal(tmp_path, capsys):
    from vizecg.cli import main

    out = tmp_path / "predict"
    assert main(["predict", str(EXAMPLE), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "ok", report.get("reason")
    assert report["layout"]["name"] == "3x4+1"
    named = {b["lead"] for b in report["beats"] if b["lead"]}
    assert len(report["beats"]) >= 30 and len(named) == 12
    probs = report["probabilities"]
    assert set(probs) == {"NORM", "MI", "STTC", "CD", "HYP"}
    assert all(0.0 < p < 1.0 for p in probs.values())
    assert len(report["signal"]["leads"]) >= 10  # leads read back, of 12
    assert (out / report["signal"]["paths"]["wfdb"]).is_file()
    assert (out / "report.html").stat().st_size > 50_000

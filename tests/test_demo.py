"""`vizecg demo`: the whole path into report.md / report.html (tiny settings here; the real demo is slow)."""
from __future__ import annotations

import json

import pytest
import yaml

from vizecg.cli import main

from test_benchmark import TINY  # tests/ is on sys.path (rootdir-relative test modules)


def test_demo_writes_report_with_table_roc_and_example_photo(tmp_path):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "profile": "demo-test", "pages": 12}))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--config", str(cfg), "--quiet"]) == 0

    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "not claims" in md and "not claims" in html
    assert "| student |" in md and "<table>" in html
    for image in ("benchmark/roc.png", "example_photo.png"):
        assert (out / image).is_file()
        assert f"({image})" in md and f"src='{image}'" in html
    info = json.loads((out / "demo.json").read_text())["example"]
    assert info["truth_beats"] > 0
    if info["detector"] is None:
        assert "beat detector: skipped" in md
    # the digitizer either scored the photo or the report says why not
    assert "Digitizer" in md
    assert json.loads((out / "benchmark" / "results.json").read_text())["source"] == "sample"


@pytest.mark.slow
def test_full_demo_on_the_embedded_sample(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    results = json.loads((tmp_path / "demo" / "benchmark" / "results.json").read_text())
    assert results["tasks"]["superclass"]["truth_crops"]["n_test_records"] == 13

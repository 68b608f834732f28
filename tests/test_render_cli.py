"""`vizecg render`: every output written, YOLO view valid, resumable, independent of the worker count."""
from __future__ import annotations

import csv
import json

import pytest

from vizecg.cli import main


def _run(out, *extra):
    return main(["render", "--source", "sample", "--n", "3", "--dpi", "100", "--seed", "7", "--out", str(out),
                 "--quiet", *extra])


def test_render_writes_all_outputs_and_resumes(tmp_path):
    out = tmp_path / "ds"
    assert _run(out) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert [r["id"] for r in rows] == ["00001_00000", "00002_00001", "00003_00002"]
    for r in rows:
        assert (out / r["image"]).is_file() and r["layout"] == "3x4+1" and r["fold"] and r["NORM"] in "01"
        label = json.loads((out / r["label"]).read_text())
        assert label["record_id"] == r["record_id"] and label["fold"] == int(r["fold"])
        assert "superclasses" in label["labels"] and label["render_config"]["dpi"] == 100
        assert len(label["leads"]) == 13 and label["beats"]
        assert (out / "signals" / f"{r['record_id']}.npz").is_file()
        split = r["split"]
        yolo = (out / "yolo" / "labels" / split / f"{r['id']}.txt").read_text().split("\n")
        boxes = [list(map(float, line.split())) for line in yolo if line]
        assert {int(b[0]) for b in boxes} == {0, 1, 2, 3}
        assert all(0 <= v <= 1 for b in boxes for v in b[1:])
        assert (out / "yolo" / "images" / split / f"{r['id']}.png").resolve() == (out / r["image"]).resolve()
    assert "names" in (out / "yolo" / "data.yaml").read_text()
    assert (out / "config.yaml").is_file() and (out / "log.txt").is_file()
    assert json.loads((out / "summary.json").read_text())["rendered"] == 3
    first = (out / "images" / "00001_00000.png").read_bytes()
    assert _run(out) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rendered"] == 0 and summary["skipped_existing"] == 3
    assert (out / "images" / "00001_00000.png").read_bytes() == first


def test_output_does_not_depend_on_worker_count(tmp_path):
    assert _run(tmp_path / "a", "--style", "random", "--n", "2") == 0
    assert _run(tmp_path / "b", "--style", "random", "--n", "2", "--workers", "2") == 0
    for name in ("00001_00000", "00002_00001"):
        assert (tmp_path / "a" / "images" / f"{name}.png").read_bytes() == \
            (tmp_path / "b" / "images" / f"{name}.png").read_bytes()


def test_mitdb_source_prints_labelled_strips(tmp_path):
    out = tmp_path / "m"
    assert main(["render", "--source", "sample:mitdb", "--n", "2", "--dpi", "100", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert {r["layout"] for r in rows} == {"1x1"}
    label = json.loads((out / rows[0]["label"]).read_text())
    assert label["beats"] and all(b["aami"] in "NSVFQ" for b in label["beats"])


def test_photo_option_writes_a_photographed_jpeg(tmp_path):
    out = tmp_path / "p"
    assert _run(out, "--photo", "phone", "--n", "1") == 0
    label = json.loads((out / "labels" / "00001_00000.json").read_text())
    assert (out / label["image"]).suffix == ".jpg" and label["photo"] == "phone" and label["photo_params"]

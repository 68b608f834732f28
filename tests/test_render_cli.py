"""`vizecg render`: every output written, YOLO view valid, resumable (only under the same settings, one writer),
independent of the worker count."""
from __future__ import annotations

import csv
import json
from pathlib import Path

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
    fingerprint = json.loads((out / "fingerprint.json").read_text())
    assert fingerprint["settings"]["render"]["dpi"] == 100 and "workers" not in fingerprint["settings"]
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


def test_a_custom_photo_config_from_yaml_is_drawn_recorded_and_pinned(tmp_path, capsys):
    cfg = tmp_path / "job.yaml"
    cfg.write_text("photo: custom\nphoto_config:\n  perspective: {p: 1.0, tilt_deg: [10, 12]}\n"
                   "  fingers: {p: 1.0, count: [2, 2]}\n  jpeg: {p: 1.0, quality: [80, 80]}\n")
    out = tmp_path / "c"
    assert _run(out, "--n", "1", "--config", str(cfg)) == 0
    label = json.loads((out / "labels" / "00001_00000.json").read_text())
    params = label["photo_params"]
    assert label["photo"] == "custom" and params["preset"] == "custom" and (out / label["image"]).suffix == ".jpg"
    assert params["config"]["fingers"]["count"] == [2, 2] and len(params["steps"]["fingers"]["fingers"]) == 2
    assert 10 <= params["steps"]["camera"]["tilt_deg"] <= 12 and params["steps"]["jpeg"] == {"quality": 80}
    assert "fingers:" in (out / "config.yaml").read_text()
    assert json.loads((out / "fingerprint.json").read_text())["settings"]["photo_config"]["fingers"]["p"] == 1.0
    capsys.readouterr()
    # A resume with other photo settings would mix two kinds of photo in one folder: refused like any setting.
    assert _run(out, "--n", "1", "--config", str(cfg), "--set", "photo_config.fingers.p=0.5") == 2
    assert "photo_config.fingers.p: 1.0 (in c) vs 0.5 (now)" in capsys.readouterr().err


@pytest.mark.parametrize("override,named", [
    ("photo_config.finger.p=1", "unknown key(s) photo_config.finger"),
    ("photo_config.perspective.p=1.5", "photo_config.perspective.p must lie in [0, 1], got 1.5"),
    ("photo_config.blur.sigma_mm=[0.2,0.1]", "photo_config.blur.sigma_mm must be (low, high) with low <= high"),
    ("photo_config.framing.backgrounds=[marble]", "unknown or empty ['marble']"),
    ("photo_config.folds.angle_deg=[0,50]", "photo_config.folds: folds.angle_deg must be (low, high)"),
])
def test_bad_custom_photo_settings_are_refused_naming_the_key(tmp_path, capsys, override, named):
    assert _run(tmp_path / "c", "--n", "1", "--set", "photo=custom", "--set", override) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_photo_config_needs_photo_custom_and_presets_keep_their_fingerprint(tmp_path, capsys):
    from vizecg.builders.render_job import RenderJob, output_settings

    assert _run(tmp_path / "c", "--n", "1", "--photo", "phone", "--set", "photo_config.fingers.p=1") == 2
    assert "photo_config is used only with photo: custom (photo is phone)" in capsys.readouterr().err
    # folders rendered with a preset before photo_config existed resume: it is not among their settings
    assert "photo_config" not in output_settings(RenderJob(photo="phone"))


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file's bytes (every link's target) under `folder`, hidden ones included."""
    return {str(p.relative_to(folder)): str(p.readlink()) if p.is_symlink() else p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_symlink() or p.is_file()}


@pytest.mark.parametrize("change,named", [(["--dpi", "120"], "render.dpi: 100 (in ds) vs 120 (now)"),
                                          (["--photo", "scan"], 'photo: "none" (in ds) vs "scan" (now)'),
                                          (["--set", "render.grid_color=green"], "render.grid_color"),
                                          (["--seed", "8"], "seed: 7 (in ds) vs 8 (now)")])
def test_resume_with_other_settings_is_refused_and_leaves_the_folder(tmp_path, capsys, change, named):
    out = tmp_path / "ds"
    assert _run(out, "--n", "1") == 0
    before = snapshot(out)
    capsys.readouterr()
    assert _run(out, "--n", "1", *change) == 2
    err = capsys.readouterr().err
    assert named in err and "--overwrite" in err and str(out) in err
    assert snapshot(out) == before


def test_more_pages_extend_the_folder_and_workers_may_change(tmp_path):
    out = tmp_path / "ds"
    assert _run(out, "--n", "1") == 0
    first = (out / "images" / "00001_00000.png").read_bytes()
    assert _run(out, "--n", "2", "--workers", "2") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rendered"], summary["skipped_existing"], summary["complete"]) == (1, 1, 2)
    assert [r["id"] for r in csv.DictReader(open(out / "manifest.csv"))] == ["00001_00000", "00002_00001"]
    assert (out / "images" / "00001_00000.png").read_bytes() == first
    assert json.loads((out / "fingerprint.json").read_text())["settings"]["n"] == 2


def test_overwrite_redoes_the_folder_under_the_new_settings(tmp_path):
    out = tmp_path / "ds"
    assert _run(out, "--n", "2") == 0
    assert _run(out, "--n", "1", "--photo", "scan", "--overwrite") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rendered"], summary["skipped_existing"], summary["complete"]) == (1, 0, 1)
    # Nothing of the clean pages is left: one photo, one label, one YOLO image and one YOLO label.
    assert sorted(p.name for p in (out / "images").iterdir()) == ["00001_00000.jpg"]
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["00001_00000.json"]
    assert len(list((out / "yolo" / "images").rglob("*.*"))) == len(list((out / "yolo" / "labels").rglob("*.txt"))) == 1
    assert json.loads((out / "labels" / "00001_00000.json").read_text())["photo"] == "scan"
    assert json.loads((out / "fingerprint.json").read_text())["settings"]["photo"] == "scan"
    assert "photo: scan" in (out / "config.yaml").read_text()


def test_a_second_writer_is_refused(tmp_path, capsys):
    from vizecg.runs import writer_lock

    out = tmp_path / "ds"
    with writer_lock(out):  # another `vizecg render` into the same folder, still running
        assert _run(out, "--n", "1") == 2
    assert "is writing into this folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == [".lock"]
    assert _run(out, "--n", "1") == 0  # free once the first writer is done


def test_failures_carry_their_reasons_and_resume(tmp_path, monkeypatch):
    import vizecg.builders.render_job as render_job
    from vizecg.errors import RenderError

    real = render_job.render_printout

    def flaky(record, config, seed=None):
        if record.record_id == "00002":
            raise RenderError("record 00002: the printer jammed")
        return real(record, config, seed=seed)

    monkeypatch.setattr(render_job, "render_printout", flaky)
    out = tmp_path / "ds"
    assert _run(out, "--n", "2") == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == 1 and summary["complete"] == 1
    assert summary["failures"] == [{"id": "00002_00001", "record_id": "00002",
                                    "error": "record 00002: the printer jammed"}]
    monkeypatch.setattr(render_job, "render_printout", real)
    assert _run(out, "--n", "2") == 0
    assert json.loads((out / "summary.json").read_text())["rendered"] == 1

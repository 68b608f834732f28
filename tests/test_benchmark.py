"""A tiny real benchmark run (sample records, tiny models, 1 epoch, small pages) through the CLI, then a resume."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from experiments.config import KINDS, BenchmarkConfig, load_benchmark_config, profile_path
from experiments.report import DIGITIZED
from experiments.classical import run_classical
from experiments.summary import archive, compare, merge, summarize
from vizecg.cli import main
from vizecg.config import load_config
from vizecg.errors import ConfigError, DataError

# The sample's first 16 records fall in strat_folds 2-10: 2-6 train (10), 7-8 val (3), 9-10 test (3 records).
TINY_DATA = {"page_height": 48, "page_width": 64, "crop_size": 16, "max_beats": 4, "batch_size": 4}
TINY = {
    "profile": "tiny-test", "source": "sample", "seed": 0, "tasks": ["superclass"], "pages": 16,
    "render": {"layout": "3x4+1", "photo": "mixed", "render": {"dpi": 100}, "workers": 1},
    "train_folds": [1, 2, 3, 4, 5, 6], "val_folds": [7, 8], "test_folds": [9, 10],
    **{kind: {"data": TINY_DATA, "model": {"name": name}, "schedule": {"epochs": 1, "patience": 0}}
       for kind, name in (("signal", "signal_resnet1d_tiny"), ("image", "image_baseline_tiny"),
                          ("teacher", "teacher_tiny"), ("student", "student_tiny"))},
    "bootstrap": 20, "infer_pages": 1, "teacher_init": ["signal", "image"],
}


def tiny_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_tiny_benchmark_writes_all_models_and_resumes(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["benchmark", "--config", str(tiny_config(tmp_path)), "--out", str(out), "--quiet"]) == 0
    assert "student − image baseline" in capsys.readouterr().out

    results = json.loads((out / "results.json").read_text())
    task = results["tasks"]["superclass"]
    assert list(task["models"]) == [*KINDS, DIGITIZED]
    for kind in task["models"]:
        m = task["models"][kind]
        assert m["params"] > 0 and m["train_time_s"] > 0 and m["infer_ms_per_page"] > 0
        e = task["truth_crops"]["models"][kind]
        for metric in ("macro_auroc", "macro_auprc", "macro_f1", "precision", "recall", "accuracy"):
            assert set(e[metric]) >= {"point", "lo", "hi", "n"}
        assert set(e["per_class_auroc"]) == {"NORM", "MI", "STTC", "CD", "HYP"}
    assert task["truth_crops"]["n_test"] == 3  # folds 9-10 among the first 16 sample records
    assert {"macro_auroc:student-image", "macro_auroc:student/signal",
            f"macro_auroc:student-{DIGITIZED}"} <= set(task["truth_crops"]["comparisons"])
    # the digitizer read the photos: at most a 3x4+1 page's 31% of 12 leads x 10 s, and more than nothing
    read = task["models"][DIGITIZED]["digitized_read_fraction"]
    assert 0.05 < read["mean"] <= 0.32 and read["pages_unread"] < 3
    assert results["detector"]["available"] == (task["detector_crops"] is not None)
    teacher_log = (out / "superclass" / "teacher" / "log.txt").read_text()
    assert teacher_log.count("initialised") == 3  # signal ResNet1d, local and global branches
    for kind in task["models"]:  # temperature scaling fitted on val, ECE on test before and after
        cal = task["truth_crops"]["models"][kind]["calibration"]
        assert cal["temperature"] > 0 and 0 <= cal["ece_after"] <= 1 and 0 <= cal["ece_before"] <= 1
        assert sum(b["n"] for b in cal["reliability_after"]) == 3 * 5  # every test page x class
    fam = task["groups"]["truth_crops"]["by_family"]
    assert list(fam) == ["(none)"] and fam["(none)"]["n"] == 3  # a fixed style names no family
    assert sum(r["n"] for r in task["groups"]["truth_crops"]["by_capture"].values()) == 3
    summary = summarize([out], n_resamples=20)
    assert summary["seeds"] == [0] and summary["test_records"] == 3 and summary["records"] == 16
    assert set(summary["macro_auroc"]) >= {"signal", "image_baseline", "teacher", "student", "digitized", "seeds"}
    e = task["truth_crops" if summary["crops"] == "truth" else "detector_crops"]["models"]
    assert summary["macro_auroc"]["student"] == pytest.approx(e["student"]["macro_auroc"]["point"], nan_ok=True)
    assert set(summary["student_minus_image"]) == {"value", "ci95", "resamples"}
    with pytest.raises(DataError, match="same seed"):
        summarize([out, out], n_resamples=20)
    # the classical DWT + PCA + linear row reads the run's split and signal settings; the summary then has it
    classical = run_classical(out)
    assert classical["n_train"] == 10 and classical["chosen_on_val"]["pca"] >= 1 and classical["features"] > 12 * 5
    full = summarize([out], n_resamples=20)
    assert "dwt_pca" in full["macro_auroc"]
    # the archive (results.json and test predictions) summarises as the run folder did, once that folder is gone
    kept = archive(out, tmp_path / "archive")
    assert kept == tmp_path / "archive" / "bench" and not list(kept.rglob("*.pt"))
    assert {k: v for k, v in summarize([kept], n_resamples=20).items() if k != "runs"} == \
        {k: v for k, v in full.items() if k != "runs"}
    # two runs of one seed set side by side: the run against its own archive differs in nothing; another
    # setting is named; a run of another seed is refused
    same = compare(out, kept, n_resamples=20)
    assert same["settings"] == {} and set(same["macro_auroc"]) >= {"signal", "image_baseline", "student"}
    assert all(m["b_minus_a"]["value"] == pytest.approx(0.0, abs=1e-12) for m in same["macro_auroc"].values()
               if np.isfinite(m["a"]))
    changed = json.loads((kept / "results.json").read_text())
    kwargs = changed["config"]["image"]["model"]["kwargs"]
    before, kwargs["global_backbone"] = kwargs.get("global_backbone"), "densenet121_other"
    (kept / "results.json").write_text(json.dumps(changed))
    assert compare(out, kept, n_resamples=20)["settings"] == {
        "image.model.kwargs.global_backbone": [before, "densenet121_other"]}
    changed["seed"] = 1
    (kept / "results.json").write_text(json.dumps(changed))
    with pytest.raises(DataError, match="same seed"):
        compare(out, kept, n_resamples=20)
    # summaries of other seeds merge into one over all of them (means from the per-seed rows; no seed twice)
    other = json.loads(json.dumps(full))
    other["seeds"], other["macro_auroc"]["seeds"][0]["seed"] = [7], 7
    other["macro_auroc"]["seeds"][0]["student"] = full["macro_auroc"]["seeds"][0]["student"] - 0.1
    merged = merge([full, other])
    assert merged["seeds"] == [0, 7] and merged["student_minus_image"]["ci95"] is None and len(merged["parts"]) == 2
    assert merged["macro_auroc"]["student"] == pytest.approx(full["macro_auroc"]["seeds"][0]["student"] - 0.05)
    with pytest.raises(DataError, match="more than one summary"):
        merge([full, full])
    for name in ("results.md", "roc.png", "reliability.png", "config.yaml", "log.txt", "render/manifest.csv"):
        assert (out / name).is_file(), name
    md = (out / "results.md").read_text()
    assert all(label in md for label in ("signal-only", "image baseline", "teacher", "student",
                                         "signal-only, digitized photo"))
    assert load_config(BenchmarkConfig, out / "config.yaml").pages == 16  # the resolved config reloads

    # Resume: every stage is found finished; nothing is rendered, trained or predicted again.
    ckpts = {k: (out / "superclass" / k / "best.pt").stat().st_mtime_ns for k in KINDS}
    preds = (out / "superclass" / "student" / "pred-truth.npz").stat().st_mtime_ns
    log_before = (out / "log.txt").read_text()
    assert main(["benchmark", "--config", str(tiny_config(tmp_path)), "--out", str(out), "--quiet"]) == 0
    new_log = (out / "log.txt").read_text()[len(log_before):]
    assert new_log.count("finished earlier, skipped") == len(KINDS)
    detector_preds = len(KINDS) - 1 if results["detector"]["available"] else 0  # the signal model has no crops
    assert new_log.count("(truth crops): cached") == len(KINDS)
    # The detector's and the digitizer's predictions are cached under their code's hash too: in a checkout where
    # someone edits detector/ or vizecg/digitize/ meanwhile they are redone, once each, and that is the rule.
    assert predicted_once(new_log, "detector crops", 3) == detector_preds
    assert predicted_once(new_log, "digitized photo", 3) == 1
    assert "'rendered': 0" in new_log
    assert {k: (out / "superclass" / k / "best.pt").stat().st_mtime_ns for k in KINDS} == ckpts
    assert (out / "superclass" / "student" / "pred-truth.npz").stat().st_mtime_ns == preds
    again = json.loads((out / "results.json").read_text())
    assert again["tasks"]["superclass"]["truth_crops"] == task["truth_crops"]
    # every results file and stage says what made it: the code (commit where there is one) and the settings
    assert len(results["code"]["source_hash"]) == 16 and "commit" in results["code"]
    assert set(results["stages"]) == {f"superclass/{k}" for k in KINDS}
    assert results["config"]["student"]["optim"]["lr"] == 1e-3 and "root" not in results["config"]["student"]["data"]
    stage = json.loads((out / "superclass" / "teacher" / "stage.json").read_text())
    assert set(stage["inputs"]) == {"render", "signal", "image"}  # teacher_init: started from both models

    # A changed setting retrains that stage (and what is built on it: here nothing), and re-predicts with it.
    log_before = (out / "log.txt").read_text()
    assert main(["benchmark", "--config", str(tiny_config(tmp_path)), "--out", str(out), "--quiet",
                 "--set", "student.optim.lr=0.002"]) == 0
    new_log = (out / "log.txt").read_text()[len(log_before):]
    assert new_log.count("finished earlier, skipped") == len(KINDS) - 1
    assert "train superclass/student: settings.optim.lr: 0.001 -> 0.002; training afresh" in new_log
    now = {k: (out / "superclass" / k / "best.pt").stat().st_mtime_ns for k in KINDS}
    assert {k: v for k, v in now.items() if k != "student"} == {k: v for k, v in ckpts.items() if k != "student"}
    assert now["student"] != ckpts["student"]
    assert new_log.count("(truth crops): cached") == len(KINDS) - 1 and "(truth crops): 3 val" in new_log
    assert predicted_once(new_log, "detector crops", 3) == detector_preds

    # Other detector weights: the detector-crop predictions are redone, nothing else.
    if results["detector"]["available"]:
        from detector.infer import DEFAULT_WEIGHTS

        other = tmp_path / "other_beats.pt"
        shutil.copy(DEFAULT_WEIGHTS, other)
        log_before = (out / "log.txt").read_text()
        assert main(["benchmark", "--config", str(tiny_config(tmp_path)), "--out", str(out), "--quiet",
                     "--set", "student.optim.lr=0.002", "--set", f"detector_weights={other}"]) == 0
        new_log = (out / "log.txt").read_text()[len(log_before):]
        assert new_log.count("(truth crops): cached") == len(KINDS)
        assert new_log.count("(detector crops): 3 val") == len(KINDS) - 1

        # Training on the detector's crops: the image models are trained afresh on them (the signal model reads
        # no crops and is kept), and their stage records name the detector.
        log_before = (out / "log.txt").read_text()
        assert main(["benchmark", "--config", str(tiny_config(tmp_path)), "--out", str(out), "--quiet",
                     "--set", "student.optim.lr=0.002", "--set", "train_crops=detector"]) == 0
        new_log = (out / "log.txt").read_text()[len(log_before):]
        assert new_log.count("finished earlier, skipped") == 1
        assert new_log.count("epoch(s), detector crops") == len(KINDS) - 1
        stage = json.loads((out / "superclass" / "image" / "stage.json").read_text())
        assert stage["inputs"]["crops"].startswith("yolo-beats_yolo-")
        assert json.loads((out / "results.json").read_text())["train_crops"] == "detector"


def predicted_once(log: str, what: str, n_val: int) -> int:
    """How many models' `what` predictions a benchmark log shows, each either cached or predicted."""
    return log.count(f"({what}): cached") + log.count(f"({what}): {n_val} val")


def test_left_out_families_and_detector_crops_are_checked():
    cfg = load_benchmark_config(profile_path("cpu"))
    assert cfg.train_crops == "detector" and cfg.render.style == "families"
    assert set(cfg.left_out_families) == {"export-green", "cabrera-6x2"}
    with pytest.raises(ConfigError, match="left_out_families: unknown family no-such"):
        load_benchmark_config(profile_path("cpu"), ["left_out_families=[no-such]"])
    with pytest.raises(ConfigError, match="needs render.style: families"):
        load_benchmark_config(profile_path("cpu500"), ["left_out_families=[export-green]"])
    with pytest.raises(ConfigError, match="train_crops: detector needs detector_weights"):
        load_benchmark_config(profile_path("cpu"), ["detector_weights=null"])
    with pytest.raises(ConfigError, match="set by the benchmark"):
        load_benchmark_config(profile_path("cpu"), ["image.data.exclude_families=[export-green]"])


def test_profiles_load_and_bad_folds_are_refused():
    for name in ("smoke", "cpu", "cpu500", "full", "demo"):
        cfg = load_benchmark_config(profile_path(name))
        assert cfg.profile == name
    cpu = load_benchmark_config(profile_path("cpu"))
    assert not cpu.by_folds and cpu.selection("test") == {"splits": ["test"]}  # the one fold rule
    assert cpu.source.endswith("ptbxl") and load_benchmark_config(profile_path("cpu500")).source.endswith("@500")
    with pytest.raises(ConfigError, match="overlap"):
        load_config(BenchmarkConfig, None, ["val_folds=[8]", "train_folds=[1,8]", "test_folds=[10]"])
    with pytest.raises(ConfigError, match="give all three"):
        load_config(BenchmarkConfig, None, ["val_folds=[9]", "train_folds=[1,8]"])
    with pytest.raises(ConfigError, match="unknown benchmark profile"):
        profile_path("nope")


def test_stage_configs_compose_and_bad_keys_name_their_place(tmp_path):
    from vizecg.digitize import DigitizeConfig

    cpu = load_benchmark_config(profile_path("cpu"))
    # the digitized route reads configs/digitize.yaml as `vizecg digitize --config` does
    assert cpu.digitize == load_config(DigitizeConfig, profile_path("cpu").parent / "digitize.yaml")
    assert load_benchmark_config(profile_path("cpu"), ["digitize.layout=3x4+1"]).digitize.layout == "3x4+1"
    assert cpu.teacher.data == cpu.student.data == cpu.image.data  # one anchor in the YAML
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({**TINY, "page_height": 48, "layout": "3x4+1"}))
    with pytest.raises(ConfigError, match=r"moved key\(s\): layout is now render\.layout; page_height is now "
                                          r"<stage>\.data\.page_height") as err:
        load_benchmark_config(old)
    assert err.value.path == str(old)
    for override, match in (("image.data.root=/tmp/x", r"image\.data\.root is set by the benchmark"),
                            ("render.source=sample:mitdb", r"render\.source is set by the benchmark \(its source\)"),
                            ("student.data.page_height=64", r"student\.data\.page_height \(64\) differs from "
                                                            r"teacher\.data\.page_height"),
                            ("image.nope=1", r"unknown key\(s\) image\.nope"),
                            ("digitize.fs=5000.0", r"digitize: fs=5000\.0 is outside its allowed range"),
                            ("batch_size=4", r"batch_size is now <stage>\.data\.batch_size")):
        with pytest.raises(ConfigError, match=match):
            load_benchmark_config(profile_path("cpu"), [override])

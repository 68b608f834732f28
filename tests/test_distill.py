"""Training on real renders of the embedded sample: every kind runs, checkpoints are self-describing and
weights_only-loadable, the teacher stays frozen, resume equals an uninterrupted run, bad input is clear."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from distill.data import BeatDataset, PageDataset, collate
from distill.losses import NonFiniteLossError
from distill.train import DataConfig, TrainConfig, freeze, load_checkpoint, model_from_checkpoint, predict, train, TrainStep
from vizecg.config import load_config
from vizecg.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
TINY = {"signal": "signal_resnet1d_tiny", "image": "image_baseline_tiny", "teacher": "teacher_tiny",
        "student": "student_tiny", "beats": "beat_classifier_tiny"}
SMALL = ["data.batch_size=4", "data.crop_size=32", "data.page_height=96", "data.page_width=128", "data.max_beats=8",
         "schedule.epochs=1", "progress=false"]


@pytest.fixture(scope="session")
def renders(tmp_path_factory):
    """10 PTB-XL sample pages (folds 2-10: val = folds 9, 10) and 2 MIT-BIH pages, rendered at 100 dpi."""
    from vizecg.render import RenderConfig
    from vizecg.builders.render_job import RenderJob, build_dataset

    root = tmp_path_factory.mktemp("renders")
    ptb, mit = root / "ptbxl", root / "mitdb"
    for src, n, out in (("sample", 10, ptb), ("sample:mitdb", 2, mit)):
        summary = build_dataset(RenderJob(source=src, n=n, render=RenderConfig(dpi=100)), out, progress=False)
        assert summary["failed"] == 0, summary["failures"]
    return {"ptbxl": ptb, "mitdb": mit}


def _cfg(kind, renders, out, *extra):
    ov = [f"kind={kind}", f"model.name={TINY[kind]}", f"out={out}", *SMALL]
    if kind == "beats":
        ov += [f"data.root={renders['mitdb']}", "data.task=aami", "data.train_records=['100','208']",
               "data.val_records=['208']"]
    else:
        ov += [f"data.root={renders['ptbxl']}", "data.train_folds=[1,2,3,4,5,6,7,8]", "data.val_folds=[9,10]"]
    return load_config(TrainConfig, REPO / "configs" / f"train_{kind}.yaml", ov + list(extra))


@pytest.fixture(scope="session")
def teacher_run(renders, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    return out, train(_cfg("teacher", renders, out))


# --- data ------------------------------------------------------------------------------------------------------
def test_page_dataset_batches_and_cache(renders, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(renders["ptbxl"], root, ignore=shutil.ignore_patterns("cache", "yolo"))
    ds = PageDataset(root, "superclass", page_size=(96, 128), crop_size=(32, 32), max_beats=8, folds=[9, 10])
    assert len(ds) == 3
    batch = collate([ds[0], ds[1]], max_beats=8)
    assert batch["page"].shape == (2, 3, 96, 128) and 0 <= batch["page"].min() and batch["page"].max() <= 1
    assert batch["beats"].shape == (2, 8, 3, 32, 32) and batch["beat_mask"].shape == (2, 8)
    assert batch["beat_mask"].all()  # a 3x4+1 page has far more than 8 visible beats
    assert batch["signal"].shape == (2, 12, 1000) and batch["signal"].abs().max() > 0.1  # mV, not empty
    assert batch["target"].shape == (2, 5) and set(batch["target"].unique().tolist()) <= {0.0, 1.0}
    # Epochs 2+ read the cache: the decoded page survives the PNG's removal, bit for bit.
    item_id = ds.pages[0].id
    ds.pages[0].image.unlink()
    again = ds[0]
    assert torch.equal(again["page"], batch["page"][0]) and torch.equal(again["beats"], batch["beats"][0])
    assert any((root / "cache").glob(f"page-*/{item_id}.npz"))
    normal = PageDataset(root, "normal", fields=("signal",), folds=[9, 10])
    assert normal[0]["target"].shape == (1,) and "page" not in normal[0]


def test_left_out_families_are_dropped_from_a_selection(renders, tmp_path):
    import csv

    root = tmp_path / "families"
    shutil.copytree(renders["ptbxl"], root, ignore=shutil.ignore_patterns("cache", "yolo"))
    with open(root / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):  # name each page's print-style family, as a families render does
        row["family"] = "export-green" if i % 3 == 0 else "thermal-dots"
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    every = PageDataset(root, "superclass", fields=("signal",), folds=list(range(1, 11)))
    kept = PageDataset(root, "superclass", fields=("signal",), folds=list(range(1, 11)),
                       exclude_families=("export-green",))
    assert {p.family for p in kept.pages} == {"thermal-dots"}
    assert len(kept) == len(every) - sum(p.family == "export-green" for p in every.pages) > 0
    with pytest.raises(DataError, match="exclude_families"):
        PageDataset(root, "superclass", fields=("signal",), folds=list(range(1, 11)),
                    exclude_families=("export-green", "thermal-dots"))
    with pytest.raises(ValueError, match="exclude_families: unknown family no-such"):
        DataConfig(exclude_families=["no-such"])


def test_beat_dataset_gives_aami_crops(renders):
    ds = BeatDataset(renders["mitdb"], record_ids=["100", "208"], crop_size=(32, 32))
    assert len(ds) > 10
    item = ds[0]
    assert item["beat"].shape == (3, 32, 32) and item["target"].dtype == torch.long
    counts = ds.class_counts()
    assert counts[0] > 0 and counts.sum() == len(ds)  # N beats exist; every beat has exactly one class
    batch = collate([ds[0], ds[1]])
    assert batch["beat"].shape == (2, 3, 32, 32) and batch["target"].shape == (2,)


def test_train_default_split_never_validates_on_fold_10(renders):
    # `vizecg train` without folds selects by split: fold 10 is the test fold (PTB-XL), so it must not steer early
    # stopping, although render folders file fold 10 pages under val in their YOLO view.
    from distill.train import build_datasets

    manifest = (renders["ptbxl"] / "manifest.csv").read_text()
    assert ",10,val," in manifest  # the fixture holds fold 10 pages, written with the YOLO view's split val
    train_ds, val_ds = build_datasets(TrainConfig(kind="signal", data=DataConfig(root=str(renders["ptbxl"]))))
    assert {p.fold for p in val_ds.pages} == {9}
    assert {p.fold for p in train_ds.pages} <= set(range(1, 9))


def test_bad_render_folder_is_a_clear_error(renders, tmp_path):
    with pytest.raises(DataError, match="manifest.csv"):
        PageDataset(tmp_path, "superclass")
    with pytest.raises(DataError, match="no pages selected"):
        PageDataset(renders["ptbxl"], "superclass", folds=[42])
    with pytest.raises(DataError, match="no superclass label"):  # MIT-BIH pages carry beat labels only
        PageDataset(renders["mitdb"], "superclass")


# --- training ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["signal", "image", "beats"])
def test_one_epoch_of_each_kind(kind, renders, tmp_path):
    summary = train(_cfg(kind, renders, tmp_path))
    assert summary["epochs_run"] == 1 and summary["best_epoch"] == 1
    assert np.isfinite(summary["history"][0]["train"]["loss"])
    assert 0.0 <= summary["best_val"]["macro_auroc"] <= 1.0
    for name in ("config.yaml", "log.txt", "summary.json", "last.pt", "best.pt"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "summary.json").read_text())["kind"] == kind


def test_teacher_run_logs_every_named_term(teacher_run):
    out, summary = teacher_run
    assert set(summary["history"][0]["train"]) == {"task", "task_image", "task_signal", "agreement", "loss"}
    assert "agreement" in (out / "log.txt").read_text()


def test_checkpoint_is_self_describing_and_loads_with_weights_only(teacher_run, renders):
    out, _ = teacher_run
    raw = torch.load(out / "last.pt", map_location="cpu", weights_only=True)  # no pickled code inside
    assert raw["model_name"] == "teacher_tiny" and raw["model_args"]["num_classes"] == 5
    assert raw["config"]["kind"] == "teacher" and "optimizer" in raw and raw["epoch"] == 1
    # the code that made it: the commit where there is one, and the hash of the training sources compared on resume
    assert set(raw["code"]) >= {"commit", "dirty", "source_hash", "vizecg"} and len(raw["code"]["source_hash"]) == 16
    assert json.loads((out / "summary.json").read_text())["code"] == raw["code"]
    model, ckpt = model_from_checkpoint(out / "best.pt")
    ds = PageDataset(renders["ptbxl"], "superclass", page_size=(96, 128), crop_size=(32, 32), max_beats=8,
                     folds=[9, 10])
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=lambda b: collate(b, 8))
    probs, targets = predict(model, loader)
    assert probs.shape == (3, 5) and targets.shape == (3, 5) and ((probs >= 0) & (probs <= 1)).all()
    again, _ = predict(model_from_checkpoint(out / "best.pt")[0], loader)
    assert np.allclose(probs, again)  # the file alone rebuilds the same model


def test_student_distills_from_a_frozen_teacher(teacher_run, renders, tmp_path):
    out, _ = teacher_run
    teacher, _ = model_from_checkpoint(out / "best.pt")
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    cfg = _cfg("student", renders, tmp_path, f"teacher={out / 'best.pt'}")
    from distill.train import _criterion, _make_model, build_datasets

    train_ds, _ = build_datasets(cfg)
    student = _make_model(cfg)
    teacher = freeze(teacher)
    step = TrainStep("student", student, _criterion(cfg, train_ds, student, teacher), teacher)
    step.train()
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    opt = torch.optim.AdamW([p for p in step.parameters() if p.requires_grad], lr=1e-2)
    terms = step(collate([train_ds[0], train_ds[1]], 8))
    assert set(terms) == {"task", "kd", "feat", "loss"}
    terms["loss"].backward()
    opt.step()
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())  # BN stats too
    assert all(p.grad is None for p in teacher.parameters())
    # the full run, through the trainer
    summary = train(cfg)
    assert set(summary["history"][0]["train"]) == {"task", "kd", "feat", "loss"}
    assert summary["teacher"] == str(out / "best.pt")


def test_resume_equals_uninterrupted(renders, tmp_path):
    extra = ["schedule.epochs=2", "schedule.patience=0"]
    full = train(_cfg("signal", renders, tmp_path / "full", *extra))

    def interrupt(epoch, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_cfg("signal", renders, tmp_path / "cut", *extra), on_epoch_end=interrupt)
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 1
    with pytest.raises(ConfigError, match=r"cannot resume: .*settings\.optim\.lr: 0\.001 -> 0\.002") as err:
        train(_cfg("signal", renders, tmp_path / "cut", *extra, "optim.lr=0.002"), resume=True)
    assert err.value.path == str(tmp_path / "cut" / "last.pt")
    resumed = train(_cfg("signal", renders, tmp_path / "cut", *extra), resume=True)
    assert resumed["epochs_run"] == 2
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["train"]["loss"] for h in full["history"]] == [h["train"]["loss"] for h in resumed["history"]]


def test_non_finite_loss_stops_training(renders, tmp_path):
    # an absurd learning rate blows the weights up after the first step; the second step's loss is not finite
    cfg = _cfg("signal", renders, tmp_path, "optim.lr=1.0e+30", "optim.grad_clip=0.0", "schedule.warmup_epochs=0.0",
               "optim.weight_decay=0.0", "data.batch_size=2")
    with pytest.raises(NonFiniteLossError, match=r"loss term '\w+' is .* at step \d+"):
        train(cfg)


def test_cli_train_writes_run_folder(renders, tmp_path):
    from vizecg.cli import main

    out = tmp_path / "cli"
    rc = main(["train", "signal", "--config", str(REPO / "configs" / "train_signal.yaml"), "--data",
               str(renders["ptbxl"]), "--out", str(out), "--no-progress", "--set", "model.name=signal_resnet1d_tiny",
               "--set", "data.train_folds=[1,2,3,4,5,6,7,8]", "--set", "data.val_folds=[9,10]",
               "--set", "schedule.epochs=1", "--set", "data.batch_size=4"])
    assert rc == 0
    assert (out / "summary.json").is_file() and "signal_resnet1d_tiny" in (out / "config.yaml").read_text()
    assert main(["train", "signal", "--data", str(renders["ptbxl"]), "--out", str(out), "--set", "data.nope=1"]) == 2


@pytest.mark.slow
def test_torchrun_two_processes(renders, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
           "-m", "vizecg.cli", "train", "image", "--config", str(REPO / "configs" / "train_image.yaml"),
           "--data", str(renders["ptbxl"]), "--out", str(out), "--no-progress",
           "--set", "model.name=image_baseline_tiny", "--set", "data.train_folds=[1,2,3,4,5,6,7,8]",
           "--set", "data.val_folds=[9,10]", *[f"--set={s}" for s in SMALL if s != "progress=false"]]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs_run"] == 1
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 1


# --- config bounds, devices and checkpoint roles (issue 12) --------------------------------------------------------
@pytest.mark.parametrize("override,match", [
    ("schedule.epochs=-5", r"schedule\.epochs must be >= 1, got -5"),  # else summary.json lists unwritten files
    ("schedule.epochs=0", r"schedule\.epochs must be >= 1"),
    ("optim.lr=-0.001", r"optim\.lr must be > 0"),
    ("optim.lr=0", r"optim\.lr must be > 0"),
    ("data.batch_size=0", r"data\.batch_size must be >= 1, got 0"),
    ("data.num_workers=-1", r"data\.num_workers must be >= 0"),
    ("seed=-1", r"seed must be >= 0"),
    ("optim.beta2=1.5", r"optim\.beta2 must be in \[0, 1\)"),
    ("loss.temperature=0", r"loss\.temperature must be > 0"),
    ("loss.w_kd=-1", r"loss\.w_kd must be >= 0"),
    ("data.bandpass=[40, 0.5]", r"data\.bandpass must be \[low, high\]"),
    ("schedule.max_steps_per_epoch=0", r"schedule\.max_steps_per_epoch must be >= 1"),
    ("device=gpu0", r"device must be a torch device"),
])
def test_out_of_bounds_training_config_is_a_config_error(override, match):
    from vizecg.errors import ConfigError

    path = REPO / "configs" / "train_image.yaml"
    with pytest.raises(ConfigError, match=match) as err:
        load_config(TrainConfig, path, [override])
    assert err.value.path == str(path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device_is_refused_before_a_run_starts(tmp_path):
    from vizecg.errors import ConfigError

    cfg = load_config(TrainConfig, None, [f"out={tmp_path / 'run'}", "device=cuda", f"data.root={tmp_path}"])
    with pytest.raises(ConfigError, match="device 'cuda': CUDA is not available on this machine"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def _fake_checkpoint(path, kind, model_name):
    from distill.train import CHECKPOINT_FORMAT, save_checkpoint
    from vizecg.models import create_model

    model = create_model(model_name, num_classes=5, multilabel=True)
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "kind": kind, "task": "superclass",
                           "model_name": model_name, "model_args": dict(model.model_args),
                           "model": model.state_dict()})
    return path


@pytest.mark.parametrize("kind,model_name,match", [
    ("image", "image_baseline_tiny", "not a teacher checkpoint: it holds a 'image' run's model 'image_baseline_tiny'"),
    ("teacher", "image_baseline_tiny", "not a teacher model: 'image_baseline_tiny' is a"),
])
def test_student_refuses_a_checkpoint_that_is_no_teacher(tmp_path, kind, model_name, match):
    from vizecg.errors import ModelError

    ckpt = _fake_checkpoint(tmp_path / "best.pt", kind, model_name)
    cfg = load_config(TrainConfig, REPO / "configs" / "train_student.yaml",
                      [f"teacher={ckpt}", f"out={tmp_path / 'run'}", f"data.root={tmp_path / 'nowhere'}"])
    with pytest.raises(ModelError, match=match) as err:
        train(cfg)
    assert err.value.path == str(ckpt)
    assert not (tmp_path / "run").exists()  # refused before the run folder or any data


def test_checkpoint_without_its_model_is_refused(tmp_path):
    from distill.train import CHECKPOINT_FORMAT, save_checkpoint
    from vizecg.errors import ModelError

    save_checkpoint(tmp_path / "x.pt", {"format": CHECKPOINT_FORMAT, "kind": "teacher"})
    with pytest.raises(ModelError, match="lacks model_name, model_args, model") as err:
        model_from_checkpoint(tmp_path / "x.pt", kind="teacher")
    assert err.value.path == str(tmp_path / "x.pt")

"""The benchmark's resume rule: a stage is reused only when the settings, code and inputs recorded in its stage.json
are those of this run; otherwise it is trained afresh (never resumed from another run's last.pt), and an interrupted
stage with the same record continues. The trainer itself is replaced by a stub: the rule, not training, is tested
here (tests/test_benchmark.py runs it for real)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import experiments.benchmark as B
from distill.train import DataConfig, OptimConfig, TrainConfig

LOG = logging.getLogger("test.benchmark.resume")


@pytest.fixture
def stub_train(monkeypatch):
    """train(tcfg, resume) that records what it found and writes what a finished run leaves."""
    calls: list[dict] = []

    def train(tcfg, resume=False, boxes_fn=None, boxes_tag=None):
        run = Path(tcfg.out)
        calls.append({"lr": tcfg.optim.lr, "found_last": (run / "last.pt").is_file(), "resume": resume})
        run.mkdir(parents=True, exist_ok=True)
        for name in ("last.pt", "best.pt"):
            (run / name).write_bytes(f"{tcfg.optim.lr}".encode())
        summary = {"kind": tcfg.kind, "lr": tcfg.optim.lr}
        (run / "summary.json").write_text(json.dumps(summary))
        return summary

    monkeypatch.setattr(B, "train", train)
    return calls


def _stage(out: Path, lr: float = 1e-3, render: str = "pages-1") -> tuple[TrainConfig, dict]:
    tcfg = TrainConfig(kind="signal", out=str(out / "superclass" / "signal"), optim=OptimConfig(lr=lr),
                       data=DataConfig(root=str(out / "render")))
    return tcfg, B.stage_record(tcfg, {"render": render}, out)


def test_same_record_is_reused_and_a_changed_setting_retrains(tmp_path, stub_train, caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    tcfg, record = _stage(tmp_path)
    B.train_stage(tcfg, record, LOG)
    assert len(stub_train) == 1
    run = Path(tcfg.out)
    assert json.loads((run / "stage.json").read_text()) == record
    (run / "pred-truth.npz").write_bytes(b"predictions of this model")

    B.train_stage(tcfg, record, LOG)  # same settings, code and inputs: reused
    assert len(stub_train) == 1 and "finished earlier, skipped" in caplog.text
    assert (run / "pred-truth.npz").is_file()

    other, changed = _stage(tmp_path, lr=2e-3)  # a changed setting: trained afresh, its predictions dropped
    B.train_stage(other, changed, LOG)
    assert len(stub_train) == 2 and stub_train[-1] == {"lr": 2e-3, "found_last": False, "resume": True}
    assert "settings.optim.lr: 0.001 -> 0.002; training afresh" in caplog.text
    assert not (run / "pred-truth.npz").exists()
    assert json.loads((run / "stage.json").read_text()) == changed


def test_changed_code_or_inputs_retrain(tmp_path, stub_train, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    tcfg, record = _stage(tmp_path)
    B.train_stage(tcfg, record, LOG)
    _, new_pages = _stage(tmp_path, render="pages-2")  # e.g. the render folder or the teacher's checkpoint changed
    B.train_stage(tcfg, new_pages, LOG)
    assert len(stub_train) == 2 and "inputs.render" in caplog.text
    monkeypatch.setattr(B, "source_hash", lambda *a, **k: "edited-code")  # an edit to distill/ or vizecg/models/
    _, new_code = _stage(tmp_path, render="pages-2")
    assert new_code["code"] == "edited-code" != new_pages["code"]
    B.train_stage(tcfg, new_code, LOG)
    assert len(stub_train) == 3 and stub_train[-1]["found_last"] is False


def test_interrupted_stage_continues_and_unrecorded_outputs_are_not_trusted(tmp_path, stub_train, caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    tcfg, record = _stage(tmp_path)
    run = Path(tcfg.out)
    run.mkdir(parents=True)
    (run / "stage.json").write_text(json.dumps(record))
    (run / "last.pt").write_bytes(b"epoch 3 of 10")  # interrupted: no summary.json yet
    B.train_stage(tcfg, record, LOG)
    assert stub_train[-1]["found_last"] is True  # continued from its own last.pt

    (run / "stage.json").unlink()  # outputs of a benchmark that recorded no stage: retrained, not reused
    B.train_stage(tcfg, record, LOG)
    assert stub_train[-1]["found_last"] is False and "made before stages recorded their code" in caplog.text


def test_records_ignore_where_the_folder_lies(tmp_path):
    (_, a), (_, b) = _stage(tmp_path / "a"), _stage(tmp_path / "b")
    assert a == b and a["settings"]["out"] == "OUT/superclass/signal" and a["settings"]["data"]["root"] == "OUT/render"


def test_render_of_other_code_is_refused_unless_overwrite(tmp_path, monkeypatch):
    from experiments.config import load_benchmark_config, profile_path

    cfg = load_benchmark_config(profile_path("smoke"), ["pages=1", "render.workers=1"])
    out = tmp_path / "bench"
    B.render_stage(cfg, out, False, LOG)
    B.render_stage(cfg, out, False, LOG)  # same code: resumed (nothing to render)
    monkeypatch.setattr(B, "source_hash", lambda *a, **k: "edited-render-code")
    with pytest.raises(B.StaleOutputError, match="other render code .*--overwrite renders them anew"):
        B.render_stage(cfg, out, False, LOG)
    assert B.render_stage(cfg, out, False, LOG, overwrite=True)["rendered"] == 1
    assert json.loads((out / "render.stage.json").read_text())["code"] == "edited-render-code"

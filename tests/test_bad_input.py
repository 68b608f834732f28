"""Bad input at every entry point, run as a user runs it: the real CLI in a subprocess, under a memory limit.

Each case asserts the convention users rely on: exit status 2, a last stderr line naming the file or option and
the problem, no traceback, no marker file from a planted payload, and `--out` left as it was after the refusal.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hostile_inputs import Payload, png_claiming

MEMORY_LIMIT = 4 * 2 ** 30  # address space: torch + ultralytics import well within it; a runaway decode does not
TIMEOUT_S = 120


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]  # {tmp} expands to the case's folder
    message: str  # must appear in the last stderr line
    env: tuple[tuple[str, str], ...] = ()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """One folder of hostile and broken inputs, shared by every case (cases never write into it)."""
    import cv2
    import torch

    d = tmp_path_factory.mktemp("bad_inputs")
    (d / "liar.png").write_bytes(png_claiming(60000, 60000))
    page = np.full((300, 400, 3), 255, np.uint8)
    page[150, :] = 0
    cv2.imwrite(str(d / "page.png"), page)
    (d / "not_an_image.png").write_text("hello")
    (d / "truncated.png").write_bytes((d / "page.png").read_bytes()[:80])
    (d / "a_file").write_text("I am a file")
    cv2.imwrite(str(d / "thin.png"), np.full((10, 2000, 3), 255, np.uint8))
    sample_mitdb = Path(__file__).resolve().parents[1] / "vizecg" / "sample_data" / "mitdb"
    for kind, atr in (("empty_atr", b""), ("truncated_atr", (sample_mitdb / "100.atr").read_bytes()[:90])):
        (d / kind).mkdir()
        for ext in (".hea", ".dat"):
            shutil.copyfile(sample_mitdb / f"100{ext}", d / kind / f"100{ext}")
        (d / kind / "100.atr").write_bytes(atr)
    (d / "manifest_only").mkdir()
    (d / "manifest_only" / "manifest.csv").write_text("id,image\n00001_00000,images/00001_00000.png\n")
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (d / "train.yaml").write_text("schedule:\n  epochs: -5\n")
    torch.save({"model": Payload(str(d / "PWNED"))}, d / "evil.pt")
    torch.save({"model": {"weight": torch.zeros(2)}}, d / "not_yolo.pt")
    return d


WEIGHTS = "{in}/evil.pt"
CASES: dict[str, Case] = {
    # --- code from a weights file (every place that takes detector weights) ------------------------------
    "predict-payload": Case(("detector", "predict", "{in}/page.png", "--weights", WEIGHTS, "--out", "{tmp}/out"),
                            "refused unopened"),
    "predict-onnx-payload": Case(("detector", "predict", "{in}/page.png", "--weights", WEIGHTS, "--backend", "onnx",
                                  "--out", "{tmp}/out"), "refused unopened"),
    "eval-payload": Case(("detector", "eval", "--weights", WEIGHTS, "--data", "{render}"), "refused unopened"),
    "export-payload": Case(("detector", "export", "--weights", WEIGHTS, "--out", "{tmp}/out/m.onnx"),
                           "refused unopened"),
    "train-payload": Case(("detector", "train", "--data", "{render}", "--set", f"train.model={WEIGHTS}",
                           "--out", "{tmp}/out"), "refused unopened"),
    "benchmark-payload": Case(("benchmark", "--profile", "smoke", "--source", "sample", "--out", "{tmp}/out",
                               "--set", f"detector_weights={WEIGHTS}"), "refused unopened"),
    "not-yolo-weights": Case(("detector", "predict", "{in}/page.png", "--weights", "{in}/not_yolo.pt",
                              "--out", "{tmp}/out"), "not_yolo.pt"),
    # --- images that would exhaust the machine, or are not images ----------------------------------------
    "digitize-header-60000": Case(("digitize", "{in}/liar.png", "--out", "{tmp}/out"), "megapixel limit"),
    "predict-header-60000": Case(("detector", "predict", "{in}/liar.png", "--out", "{tmp}/out"), "megapixel limit"),
    "digitize-over-budget": Case(("digitize", "{in}/page.png", "--out", "{tmp}/out"), "VIZECG_MAX_PIXELS",
                                 env=(("VIZECG_MAX_PIXELS", "1000"),)),
    "predict-over-budget": Case(("detector", "predict", "{in}/page.png", "--out", "{tmp}/out"), "VIZECG_MAX_PIXELS",
                                env=(("VIZECG_MAX_PIXELS", "1000"),)),
    "bad-budget-value": Case(("digitize", "{in}/page.png", "--out", "{tmp}/out"), "VIZECG_MAX_PIXELS",
                             env=(("VIZECG_MAX_PIXELS", "lots"),)),
    "not-an-image": Case(("digitize", "{in}/not_an_image.png", "--out", "{tmp}/out"), "not_an_image.png"),
    "truncated-image": Case(("detector", "predict", "{in}/truncated.png", "--out", "{tmp}/out"), "truncated.png"),
    "predict-thin-image": Case(("detector", "predict", "{in}/thin.png", "--out", "{tmp}/out"), "too elongated"),
    "digitize-eval-bad-manifest": Case(("digitize", "eval", "--data", "{in}/manifest_only"), "lacks column(s)"),
    "missing-image": Case(("digitize", "{in}/nope.png", "--out", "{tmp}/out"), "nope.png"),
    # --- numbers out of bounds ---------------------------------------------------------------------------
    "digitize-fs": Case(("digitize", "{in}/page.png", "--fs", "1e7", "--out", "{tmp}/out"), "--fs"),
    "digitize-fs-config": Case(("digitize", "{in}/page.png", "--set", "fs=1e7", "--out", "{tmp}/out"), "fs"),
    "digitize-limit": Case(("digitize", "eval", "--data", "{render}", "--limit", "-1"), "--limit"),
    "eval-imgsz": Case(("detector", "eval", "--data", "{render}", "--imgsz", "31"), "--imgsz"),
    "eval-tile": Case(("detector", "eval", "--data", "{render}", "--tile", "8"), "--tile"),
    "eval-folds": Case(("detector", "eval", "--data", "{render}", "--folds", "99"), "--folds"),
    "eval-no-pages": Case(("detector", "eval", "--data", "{render}", "--folds", "1"), "no pages"),
    "eval-conf": Case(("detector", "eval", "--data", "{render}", "--conf", "2"), "--conf"),
    "render-seed": Case(("render", "--source", "sample", "--n", "1", "--seed", "-1", "--out", "{tmp}/out"),
                        "--seed"),
    "render-n": Case(("render", "--source", "sample", "--n", "0", "--out", "{tmp}/out"), "--n"),
    "render-dpi": Case(("render", "--source", "sample", "--n", "1", "--dpi", "5", "--out", "{tmp}/out"), "--dpi"),
    "render-seed-config": Case(("render", "--source", "sample", "--set", "seed=-1", "--out", "{tmp}/out"), "seed"),
    "detector-train-epochs": Case(("detector", "train", "--data", "{render}", "--set", "train.epochs=0",
                                   "--out", "{tmp}/out"), "epochs"),
    "benchmark-device": Case(("benchmark", "--profile", "smoke", "--set", "device=cuda:7", "--out", "{tmp}/out"),
                             "device"),
    "benchmark-batch": Case(("benchmark", "--profile", "smoke", "--set", "image.data.batch_size=0", "--out",
                                  "{tmp}/out"),
                            "batch_size"),
    "render-gain": Case(("render", "--source", "sample", "--n", "1", "--set", "render.gain_mm_mv=-10",
                         "--out", "{tmp}/out"), "gain"),
    "peaks-empty-atr": Case(("peaks", "eval", "--source", "mitdb:{in}/empty_atr"), "100.atr"),
    "peaks-truncated-atr": Case(("peaks", "eval", "--source", "mitdb:{in}/truncated_atr"), "100.atr"),
    "peaks-tolerance": Case(("peaks", "eval", "--tolerance", "0"), "--tolerance"),
    "train-epochs": Case(("train", "signal", "--config", "{in}/train.yaml", "--out", "{tmp}/out"), "epochs"),
    "train-lr": Case(("train", "signal", "--set", "optim.lr=-1", "--out", "{tmp}/out"), "lr"),
    "train-batch": Case(("train", "signal", "--set", "data.batch_size=0", "--out", "{tmp}/out"), "batch_size"),
    "train-empty-teacher": Case(("train", "student", "--teacher", "{in}/a_file", "--out", "{tmp}/out"), "a_file"),
    "train-binary-config": Case(("train", "signal", "--config", "{in}/binary.yaml", "--out", "{tmp}/out"),
                                "binary.yaml"),
    # --- output paths that cannot be written ---------------------------------------------------------------
    **{f"{name}-out-{kind}": Case(argv + (where,), msg)
       for name, argv in {
           "render": ("render", "--source", "sample", "--n", "1", "--out"),
           "digitize": ("digitize", "{in}/page.png", "--out"),
           "predict": ("detector", "predict", "{in}/page.png", "--out"),
           "eval": ("detector", "eval", "--data", "{render}", "--out"),
           "export": ("detector", "export", "--out"),
           "peaks": ("peaks", "eval", "--out"),
           "train": ("train", "signal", "--out"),
           "benchmark": ("benchmark", "--profile", "smoke", "--out"),
           "demo": ("demo", "--out"),
       }.items()
       for kind, where, msg in (("under-a-file", "{in}/a_file/sub", "is a file"),
                                ("unwritable", "/proc/vizecg-test/out", "cannot create files"))},
    "out-is-a-file": Case(("digitize", "{in}/page.png", "--out", "{in}/a_file"), "is a file, not a folder"),
}


@pytest.fixture(scope="module")
def render_dir(tmp_path_factory) -> Path:
    """A real one-page render folder (sample record 00001, PTB-XL fold 3) for the commands that read one."""
    from vizecg.builders.render_job import RenderJob, build_dataset

    out = tmp_path_factory.mktemp("render")
    build_dataset(RenderJob(source="sample", n=1, seed=3, render=_low_dpi()), out, progress=False)
    return out


def _low_dpi():
    from vizecg.render.printout import RenderConfig

    return RenderConfig(dpi=100)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*")) if ".lock" not in p.name}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_cleanly(name, inputs, render_dir, tmp_path):
    case = CASES[name]
    argv = [a.format(**{"in": inputs, "tmp": tmp_path, "render": render_dir}) for a in case.argv]
    before_inputs, before_render = _snapshot(inputs), _snapshot(render_dir)
    env = {**os.environ, **dict(case.env), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "vizecg.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT_S, preexec_fn=_limit_memory, cwd=tmp_path)
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines and case.message in lines[-1], proc.stderr[-2000:]
    assert "error" in lines[-1]
    assert not (inputs / "PWNED").exists(), "a weights file ran code"
    assert not (tmp_path / "out").exists(), "a refused command wrote its output folder"
    assert _snapshot(inputs) == before_inputs and _snapshot(render_dir) == before_render


def test_json_output_is_only_json_on_a_first_run(render_dir, tmp_path):
    """A fresh ultralytics config dir makes ultralytics announce its settings file: on stderr, never stdout."""
    import json

    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "fresh_yolo")}
    proc = subprocess.run([sys.executable, "-m", "vizecg.cli", "detector", "eval", "--data", str(render_dir),
                           "--json", "--quiet"], capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["pages"] == 1
    assert (tmp_path / "fresh_yolo").is_dir()

"""Bad input to `vizecg predict`, run as a user runs it (the conventions of tests/test_bad_input.py): exit status
2, one last stderr line naming the file or option and the problem, no traceback, no payload run, --out untouched."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hostile_inputs import Payload, png_claiming

TIMEOUT_S = 180
MEMORY_LIMIT = 4 * 2 ** 30  # address space, as tests/test_bad_input.py: a runaway decode does not fit


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    import cv2
    import torch

    d = tmp_path_factory.mktemp("predict_bad")
    (d / "liar.png").write_bytes(png_claiming(60000, 60000))
    (d / "not_an_image.png").write_text("hello")
    cv2.imwrite(str(d / "page.png"), np.full((400, 600, 3), 250, np.uint8))
    (d / "empty").mkdir()
    (d / "a_file").write_text("I am a file")
    torch.save({"model": Payload(str(d / "PWNED"))}, d / "evil.pt")
    return d


CASES = {
    "missing image": (["{in}/nope.png"], "no such file or folder"),
    "not an image": (["{in}/not_an_image.png"], "not a readable image"),
    "header over the pixel budget": (["{in}/liar.png"], "megapixel limit"),
    "folder without images": (["{in}/empty"], "no images"),
    "payload classifier": (["{in}/page.png", "--classifier", "{in}/evil.pt"], "unreadable classifier weights"),
    "out is a file": (["{in}/page.png", "--out", "{in}/a_file"], "is a file, not a folder"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_in_one_line(name, inputs, tmp_path):
    argv, message = CASES[name]
    argv = [a.replace("{in}", str(inputs)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    proc = subprocess.run([sys.executable, "-m", "vizecg.cli", "predict", *argv], capture_output=True, text=True,
                          timeout=TIMEOUT_S, preexec_fn=_limit_memory, env={**os.environ})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines and message in lines[-1] and "error" in lines[-1], proc.stderr[-2000:]
    assert not (inputs / "PWNED").exists(), "a classifier file ran code"
    assert not (tmp_path / "out").exists(), "a refused command wrote its output folder"

"""What VizECG does not trust (docs/SECURITY.md): weights from others, the ONNX cache, image headers, CLI numbers."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hostile_inputs import Payload, png_claiming

from detector.infer import DEFAULT_WEIGHTS, BeatDetector
from vizecg.errors import DataError, ModelError

needs_weights = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="shipped detector weights missing")


def test_weights_holding_a_payload_are_refused_without_running_it(tmp_path, monkeypatch):
    # The user's environment cannot turn the restricted loader off.
    monkeypatch.setenv("ULTRALYTICS_SAFE_LOAD", "0")
    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload(tmp_path / "PWNED"), "ema": None}, evil)
    with pytest.raises(ModelError, match="evil.pt.*refused unopened"):
        BeatDetector(evil)
    from detector.export import export_onnx

    with pytest.raises(ModelError, match="evil.pt"):
        export_onnx(evil, tmp_path / "x.onnx")
    assert not (tmp_path / "PWNED").exists()
    assert not (tmp_path / "x.onnx").exists()


@needs_weights
def test_onnx_cache_is_private_and_checked_against_the_weights(tmp_path, monkeypatch):
    from detector.export import SOURCE_SHA_KEY, export_onnx, graph_source, onnx_cache_dir, sha256_file

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    weights = tmp_path / "w.pt"
    shutil.copyfile(DEFAULT_WEIGHTS, weights)
    (tmp_path / "w.json").write_text(json.dumps({"conf": 0.4, "imgsz": 640}))
    graph = export_onnx(weights)
    assert graph.parent == onnx_cache_dir() == tmp_path / "cache" / "vizecg" / "onnx"
    assert (graph.parent.stat().st_mode & 0o777) == 0o700
    assert graph_source(graph) == (sha256_file(weights), 640)

    # A graph planted under the cached name (or left by other weights) is never used: it is exported anew.
    import onnx

    planted = onnx.load(str(graph))
    for p in planted.metadata_props:
        if p.key == SOURCE_SHA_KEY:
            p.value = "0" * 64
    graph.write_bytes(planted.SerializeToString())
    # A link planted at the sidecar's name is replaced, never written through.
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    sidecar = graph.with_suffix(".json")
    sidecar.unlink()
    sidecar.symlink_to(victim)
    again = export_onnx(weights)
    assert again == graph and graph_source(again)[0] == sha256_file(weights)
    assert victim.read_text() == "keep me"
    assert not sidecar.is_symlink() and json.loads(sidecar.read_text())["conf"] == 0.4

    # A cache folder opened to others is closed again; one that is a link is refused.
    os.chmod(graph.parent, 0o777)
    assert (onnx_cache_dir().stat().st_mode & 0o777) == 0o700
    shutil.rmtree(tmp_path / "cache")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cache" / "vizecg").mkdir(parents=True)
    (tmp_path / "cache" / "vizecg" / "onnx").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ModelError, match="not a real directory"):
        onnx_cache_dir()


def test_image_size_is_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    import cv2

    from vizecg.images import DEFAULT_MAX_PIXELS, read_image

    liar = tmp_path / "liar.png"
    liar.write_bytes(png_claiming(10000, 10000))  # 100 MP claimed by a 70-byte file
    with pytest.raises(DataError, match=r"liar.png.*10000x10000.*60-megapixel limit.*VIZECG_MAX_PIXELS"):
        read_image(liar)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(60000, 60000))  # beyond Pillow's own guard too
    with pytest.raises(DataError, match=r"bomb.png: image of 3600 megapixels exceeds the 60-megapixel limit"):
        read_image(bomb)
    page = tmp_path / "page.png"
    cv2.imwrite(str(page), np.full((300, 400, 3), 200, np.uint8))
    assert read_image(page).shape == (300, 400, 3)
    monkeypatch.setenv("VIZECG_MAX_PIXELS", "100000")
    with pytest.raises(DataError, match="400x300 px"):
        read_image(page)
    monkeypatch.setenv("VIZECG_MAX_PIXELS", str(10000 * 10000 + 1))
    with pytest.raises(DataError, match="liar.png"):  # allowed by the budget, but not a real image
        read_image(liar)
    monkeypatch.setenv("VIZECG_MAX_PIXELS", "-3")
    with pytest.raises(DataError, match="VIZECG_MAX_PIXELS"):
        read_image(page)
    assert DEFAULT_MAX_PIXELS >= 48_000_000  # a 48-megapixel phone photo is an ordinary input


def test_image_header_check_survives_ultralytics_patching_pillow(tmp_path):
    """ultralytics replaces PIL.Image.open with one that tries to install a HEIF plugin on unknown files."""
    from vizecg.offline import import_ultralytics

    import_ultralytics()
    from vizecg.images import read_image

    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="junk.png: not a readable image"):
        read_image(junk)


def test_thin_images_are_refused_by_the_detector():
    from detector.infer import check_image

    with pytest.raises(DataError, match="too elongated"):
        check_image(np.full((10, 10000, 3), 255, np.uint8), "thin.png")
    assert check_image(np.full((100, 800, 3), 255, np.uint8)).shape == (100, 800, 3)  # a strip is fine


@pytest.mark.parametrize("parse, good, bad", [
    ("input_size", ["64", "736"], ["31", "100", "4096", "x"]),
    ("tile_size", ["0", "256", "1024"], ["8", "-1", "100000"]),
    ("seed", ["0", "4294967295"], ["-1", "4294967296", "1.5"]),
])
def test_cli_numbers_have_bounds(parse, good, bad):
    from vizecg.commands import options

    fn = getattr(options, parse)
    for text in good:
        fn(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            fn(text)
    assert options.float_in(50, 2000)("500") == 500.0
    for text in ("1e7", "nan", "inf", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            options.float_in(50, 2000)(text)


def test_out_paths_are_checked_before_any_work(tmp_path):
    from vizecg.commands.options import out_dir, out_file

    (tmp_path / "f").write_text("x")
    assert out_dir(str(tmp_path / "new" / "deeper")) and not (tmp_path / "new").exists()  # nothing created
    assert out_file(str(tmp_path / "r.json"))
    for check, path, why in [(out_dir, tmp_path / "f", "is a file"), (out_dir, tmp_path / "f" / "sub", "is a file"),
                             (out_file, tmp_path, "is a folder"), (out_file, tmp_path / "f" / "r.json", "is a file"),
                             (out_dir, Path("/proc/vizecg-none/x"), "cannot create files")]:
        with pytest.raises(argparse.ArgumentTypeError, match=why):
            check(str(path))

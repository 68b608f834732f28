"""vizecg serve through FastAPI's TestClient: the form, the JSON report of an uploaded photo, the size limit
(413), a non-image (400), the pixel budget, and the defaults (127.0.0.1)."""
from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from test_predict import needs_detector, photo, readers, tiny_classifier  # noqa: E402,F401  (fixtures)


@pytest.fixture(scope="module")
def client(readers):
    from fastapi.testclient import TestClient

    from vizecg.commands.serve import create_app

    return TestClient(create_app(*readers, max_upload_bytes=2_000_000))


def _jpeg(image: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


@needs_detector
def test_form_and_json_report_of_an_uploaded_photo(client, photo):
    from vizecg.predict import schema_errors

    page = client.get("/")
    assert page.status_code == 200 and "type='file' name='file'" in page.text and "not a medical device" in page.text
    r = client.post("/api/predict", files={"file": ("../../etc/passwd", _jpeg(photo), "image/jpeg")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "ok" and schema_errors(report) == []
    html = client.post("/report", files={"file": ("x.jpg", _jpeg(photo), "image/jpeg")})
    assert html.status_code == 200 and "data:image/jpeg;base64," in html.text


@needs_detector
def test_uploads_over_the_limit_non_images_and_pixel_bombs_are_refused(client, monkeypatch):
    big = client.post("/api/predict", files={"file": ("big.jpg", b"\xff" * 3_000_000, "image/jpeg")})
    assert big.status_code == 413
    text = client.post("/api/predict", files={"file": ("a.png", b"hello", "image/png")})
    assert text.status_code == 400 and "not a readable image" in text.json()["error"]
    monkeypatch.setenv("VIZECG_MAX_PIXELS", "1000")
    buf = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (100, 100), "white").save(buf, format="PNG")
    bomb = client.post("/api/predict", files={"file": ("b.png", buf.getvalue(), "image/png")})
    assert bomb.status_code == 400 and "megapixel limit" in bomb.json()["error"]


def test_serve_binds_localhost_by_default():
    from vizecg.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.max_upload_mb == 20.0


@needs_detector
def test_serve_runs_on_the_onnx_backend(photo):
    """`vizecg serve --backend onnx`: the shipped graphs answer an upload, with no Grad-CAM (it needs torch)."""
    from fastapi.testclient import TestClient

    from vizecg.cli import build_parser
    from vizecg.commands.predict import build_readers
    from vizecg.commands.serve import create_app

    assert build_parser().parse_args(["serve", "--backend", "onnx"]).backend == "onnx"
    finder, model, _ = build_readers(backend="onnx")
    client = TestClient(create_app(finder, model, max_upload_bytes=2_000_000))
    r = client.post("/api/predict", files={"file": ("x.jpg", _jpeg(photo), "image/jpeg")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "ok" and set(report["probabilities"]) == {"NORM", "MI", "STTC", "CD", "HYP"}
    assert "needs the PyTorch classifier" in report["explanation"]["reason"]

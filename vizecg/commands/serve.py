"""`vizecg serve`: a local web page for `vizecg predict` (FastAPI + uvicorn).

    vizecg serve [--host 127.0.0.1] [--port 8000] [--max-upload-mb 20] [--backend torch|onnx]

GET /               an upload form (the report opens in the page)
POST /report        multipart field `file` -> the HTML report (self-contained)
POST /api/predict   multipart field `file` -> the report JSON (schema: vizecg/predict/schema.py)
GET /health         {"ok": true, "classifier": ..., "max_upload_bytes": ...}

A PDF upload is read one page per request: form field `page` (1-based, default 1) picks it, the response is that
page's report as for a photo, and the header X-VizECG-PDF-Pages gives the PDF's page count (ask again with
page=2, 3, ... for the others: one request never holds the shared models for a whole document).

Binds 127.0.0.1 unless told otherwise. An upload over --max-upload-mb is refused (413) before it is decoded;
the image's size is checked against the pixel budget (VIZECG_MAX_PIXELS) from its header before its pixels are.
Uploads live in memory only for the request; nothing from a request (file name, fields) is used as a path.
One page is read at a time (the models are shared); other uploads wait their turn.
Research software, not a medical device.
"""
# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations (UploadFile, Request), imported
# inside create_app, as objects.

import argparse
import html
import threading
from typing import Any

import numpy as np

from vizecg.commands.options import float_in, int_in

DEFAULT_MAX_UPLOAD_MB = 20.0

FORM = """<!doctype html>
<html><head><meta charset='utf-8'><title>VizECG</title>
<style>body{font-family:sans-serif;max-width:800px;margin:2em auto;padding:0 1em}.notice{background:#fff4d6;
border:1px solid #e0b000;padding:.6em}</style></head><body>
<h1>VizECG: a photo of a paper ECG</h1>
<p class='notice'><b>Research software, not a medical device.</b> The outputs are not a diagnosis.</p>
<form action='report' method='post' enctype='multipart/form-data'>
<p><input type='file' name='file' accept='image/*,application/pdf' required>
<label>PDF page <input type='number' name='page' value='1' min='1' style='width:4em'></label>
<button type='submit'>Read the ECG</button></p>
</form>
<p>Photos or PDFs up to {limit} MB. The photo is kept only while it is read. JSON: <code>POST /api/predict</code>.</p>
</body></html>
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="a local web page: upload a photo, get the report",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int_in(1, 65535), default=8000)
    p.add_argument("--max-upload-mb", type=float_in(0.0, 1024.0, lo_open=True), default=DEFAULT_MAX_UPLOAD_MB,
                   help=f"largest upload accepted, MB (default {DEFAULT_MAX_UPLOAD_MB:g}; larger: 413)")
    p.add_argument("--classifier", help="classifier file (default: the shipped one)")
    p.add_argument("--detector", help="beat detector weights (default: the shipped ones)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                   help="torch (default) or onnx: the shipped ONNX graphs on onnxruntime, torch never imported "
                        "(no Grad-CAM)")
    p.set_defaults(func=run)


def decode_upload(data: bytes, page: int = 1) -> tuple[np.ndarray, int | None]:
    """Uploaded bytes -> ((H, W, 3) uint8 RGB, the PDF's page count or None for an image); DataError for a
    non-image, a broken/encrypted PDF, a missing page, or an image over the pixel budget (read from the header
    before any pixel is decoded; a PDF page is rendered within it)."""
    from vizecg.errors import DataError
    from vizecg.images import decode_image, is_pdf, pdf_page_count, read_pdf_page

    if is_pdf(data):
        return read_pdf_page(data, page - 1, "the upload"), pdf_page_count(data, "the upload")
    if page != 1:
        raise DataError(f"an image has one page, not page {page}", "the upload")
    return decode_image(data, "the upload"), None


def create_app(beat_finder: Any, model: Any, max_upload_bytes: int) -> Any:
    """The FastAPI app around predict_page with these readers (tests hand in a tiny classifier)."""
    from fastapi import FastAPI, File, Form, Request, UploadFile
    from fastapi.responses import HTMLResponse, JSONResponse

    from vizecg.errors import VizEcgError
    from vizecg.predict import predict_page
    from vizecg.predict.html import report_html

    app = FastAPI(title="VizECG", docs_url=None, redoc_url=None, openapi_url=None)
    lock = threading.Lock()  # one page at a time: the detector and the classifier are shared

    def too_large(request: Request) -> bool:
        try:
            return int(request.headers.get("content-length", "0")) > max_upload_bytes + 64 * 1024  # form overhead
        except ValueError:
            return False

    def read_upload(file: UploadFile) -> bytes | None:
        data = file.file.read(max_upload_bytes + 1)  # never more than the limit in memory
        return None if len(data) > max_upload_bytes else data

    def answer(request: Request, file: UploadFile, page: int) -> tuple[int, Any]:
        if too_large(request):
            return 413, {"error": f"upload larger than {max_upload_bytes / 1e6:g} MB"}
        data = read_upload(file)
        if data is None:
            return 413, {"error": f"upload larger than {max_upload_bytes / 1e6:g} MB"}
        try:
            if page < 1:
                return 400, {"error": f"page {page}: pages are numbered from 1"}
            image, pages = decode_upload(data, page)
            with lock:
                pred = predict_page(image, beat_finder, model)
        except VizEcgError as exc:
            return 400, {"error": exc.problem}
        finally:
            del data
        return 200, (pred, image, pages)

    @app.get("/", response_class=HTMLResponse)
    def form() -> str:
        return FORM.replace("{limit}", f"{max_upload_bytes / 1e6:g}")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "classifier": model.info() if model is not None else None,
                "max_upload_bytes": max_upload_bytes}

    @app.post("/api/predict")
    def api_predict(request: Request, file: UploadFile = File(...), page: int = Form(1)) -> Any:
        status, result = answer(request, file, page)
        if status != 200:
            return JSONResponse(result, status_code=status)
        pred, _, pages = result
        return JSONResponse(pred.to_json(), headers=_pages_header(pages))

    @app.post("/report", response_class=HTMLResponse)
    def report(request: Request, file: UploadFile = File(...), page: int = Form(1)) -> Any:
        status, result = answer(request, file, page)
        if status != 200:
            return HTMLResponse(f"<!doctype html><meta charset='utf-8'><p>Refused ({status}): "
                                f"{html.escape(result['error'])}</p><p><a href='./'>back</a></p>", status_code=status)
        pred, image, pages = result
        title = "VizECG report" if pages is None else f"VizECG report: PDF page {page} of {pages}"
        return HTMLResponse(report_html(pred, image, pred.to_json(), title=title), headers=_pages_header(pages))

    return app


def _pages_header(pages: int | None) -> dict[str, str]:
    return {} if pages is None else {"X-VizECG-PDF-Pages": str(pages)}


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from vizecg.commands.predict import build_readers

    finder, model, _ = build_readers(args.classifier, args.detector, backend=args.backend)
    app = create_app(finder, model, int(args.max_upload_mb * 1e6))
    print(f"vizecg serve: http://{args.host}:{args.port}/ (Ctrl+C stops; research use, not a medical device)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0

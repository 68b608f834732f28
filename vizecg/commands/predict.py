"""`vizecg predict`: a photo (or a folder of photos) of a paper ECG -> quality gate -> report.

    vizecg predict IMAGE [--out DIR] [--json] [--pdf]
    vizecg predict PDF [--out DIR] [--json] [--pdf]
    vizecg predict DIR [--out DIR] [--json] [--pdf]

One image: OUT/report.json (schema: vizecg/predict/schema.py), OUT/report.html (self-contained, opens offline),
the digitized signal as OUT/signal/<name>.hea/.dat (WFDB) and OUT/signal/<name>.csv, in mV; with --pdf also
OUT/report.pdf (printable: answer, doubts, photo with beats; the re-plotted leads on page 2).
A folder: one OUT/<name>/ per image as above, OUT/summary.csv; a re-run skips pages whose report.json (and
with --pdf report.pdf) exists
(the folder must have been made with the same weights: fingerprint.json). Doubts go to stderr as well.
A PDF is read as a folder of its pages: OUT/<name>-p1/, OUT/<name>-p2/, ... and OUT/summary.csv, each page
rendered at 200 dpi (less for a page too large for VIZECG_MAX_PIXELS); at most 50 pages (VIZECG_MAX_PDF_PAGES).
A folder's PDFs are read the same way.
--json prints only JSON on stdout. --backend onnx reads the shipped ONNX graphs (student_small.onnx,
beats_yolo.onnx) with onnxruntime: no torch, torchvision, timm or ultralytics is imported, and there is no
Grad-CAM. Research software, not a medical device.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from vizecg.commands.options import out_dir

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
INPUT_SUFFIXES = (*IMAGE_SUFFIXES, ".pdf")  # a PDF is read page by page (vizecg.images.list_pages)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="a photo of a paper ECG -> quality gate, probabilities, signal, report",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="an image file (PNG/JPEG/TIFF/WebP), a PDF (every page) or a folder of them")
    p.add_argument("--out", type=out_dir, help="output folder (default: runs/predict/<input name>)")
    p.add_argument("--json", action="store_true", help="print only the report JSON on stdout")
    p.add_argument("--classifier", help="classifier file (default: the shipped vizecg/predict/weights/student_small.pt, "
                                        "or its .onnx graph with --backend onnx)")
    p.add_argument("--detector", help="beat detector weights (default: the shipped detector/weights/beats_yolo.pt, "
                                      "or its .onnx graph with --backend onnx)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                   help="torch (default) or onnx: onnxruntime + numpy only, torch is never imported (no Grad-CAM)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-explain", action="store_true", help="skip the Grad-CAM explanation (faster)")
    p.add_argument("--pdf", action="store_true", help="also write report.pdf per page (vizecg/predict/pdf_report.py)")
    p.set_defaults(func=run)


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def detector_beat_finder(weights: str | Path | None = None, backend: str = "torch"):
    """The shipped YOLO beat detector as predict_page's beat finder (FoundBeats on an upright page).
    backend "onnx": the exported graph (default detector/weights/beats_yolo.onnx) with onnxruntime, no torch."""
    import numpy as np

    from detector.infer import BeatDetector
    from vizecg.errors import ModelError
    from vizecg.predict import FoundBeats

    path = _detector_path(weights, backend)
    if backend == "onnx" and path.suffix == ".pt":  # exporting it would need torch and ultralytics
        raise ModelError("the onnx backend reads the detector's .onnx graph, not its .pt weights (export it: "
                         f"`vizecg detector export --weights {path} --out {path.with_suffix('.onnx')}`)", path)
    with contextlib.redirect_stdout(sys.stderr):  # ultralytics' first-run notes never reach --json's stdout
        det = BeatDetector(path, backend=backend)
    info = {"name": "yolo beat detector", "weights": path.name, "sha256": _sha(path), "conf": det.conf,
            "imgsz": det.imgsz, "backend": backend}

    def find(image: np.ndarray) -> FoundBeats:
        with contextlib.redirect_stdout(sys.stderr):
            d = det.detect(image)
        return FoundBeats(boxes=d.beat_boxes.astype(np.float64), scores=d.scores[d.is_beat].astype(np.float64),
                          leads=tuple(d.beat_leads), order_keys=d.order_keys(), layout=d.layout,
                          panel_leads=tuple(d.panel_leads), info=info, printed_rows=read_rows(d.page_layout))

    return find


def read_rows(page_layout: Any) -> tuple[tuple[str | None, ...], ...]:
    """The lead names a detector.layout.PageLayout read from the printed labels (panels whose source is "read";
    a name the template lent is no read), per row top to bottom, each at its panel's column (a panel the detector
    missed leaves a None there, not a shift: detector.layout.column_positions); () where nothing was read."""
    import numpy as np

    from detector.layout import column_positions

    if page_layout is None or not page_layout.n_read:
        return ()
    panels = page_layout.panels
    rows = [sorted((j for j, p in enumerate(panels) if p.row == r), key=lambda j: panels[j].col)
            for r in range(len(page_layout.rows))]
    out = []
    for row, cols in zip(rows, column_positions(np.array([p.box for p in panels]), rows)):
        names: list[str | None] = [None] * (max(cols) + 1 if cols else 0)
        for j, c in zip(row, cols):
            if panels[j].source == "read":
                names[c] = panels[j].lead
        out.append(tuple(names))
    return tuple(out)


def _detector_path(weights: str | Path | None, backend: str) -> Path:
    from detector.infer import DEFAULT_ONNX, DEFAULT_WEIGHTS

    return Path(weights) if weights else DEFAULT_ONNX if backend == "onnx" else DEFAULT_WEIGHTS


def build_readers(classifier: str | None = None, detector: str | None = None, backend: str = "torch"):
    """(beat finder, classifier, settings that shape the outputs): what the CLI and `vizecg serve` hand in.
    backend "onnx": both from their ONNX graphs with onnxruntime; nothing imports torch."""
    from vizecg.predict.classifier import (DEFAULT_CLASSIFIER, DEFAULT_ONNX_CLASSIFIER, load_classifier,
                                           load_onnx_classifier)

    onnx = backend == "onnx"
    # first: a missing or hostile file is refused before anything else
    model = load_onnx_classifier(classifier) if onnx else load_classifier(classifier)
    finder = detector_beat_finder(detector, backend)
    cpath = Path(classifier) if classifier else DEFAULT_ONNX_CLASSIFIER if onnx else DEFAULT_CLASSIFIER
    dpath = _detector_path(detector, backend)
    settings = {"classifier_sha256": _sha(cpath), "detector_sha256": _sha(dpath), "backend": backend,
                "schema_version": __import__("vizecg.predict.schema", fromlist=["SCHEMA_VERSION"]).SCHEMA_VERSION}
    return finder, model, settings


def list_images(folder: Path) -> list[Path]:
    from vizecg.errors import DataError

    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
    if not images:
        raise DataError(f"no images ({', '.join(INPUT_SUFFIXES)}) in this folder", folder)
    return images


def write_page(out: Path, name: str, image: Any, pred: Any, pdf: bool = False) -> dict[str, Any]:
    """report.json, report.html, report.pdf (with `pdf`) and (when read) the signal as WFDB + CSV in OUT;
    returns the report dict."""
    from vizecg.data import write_csv, write_wfdb
    from vizecg.predict.html import report_html
    from vizecg.runs import atomic_write_text, write_json

    paths: dict[str, str] = {}
    if pred.signal is not None:
        rec = pred.signal.with_signal(pred.signal.signal, record_id=name, source="digitized photo")
        hea = write_wfdb(rec, out / "signal")
        csv = write_csv(rec, out / "signal" / f"{name}.csv")
        paths = {"wfdb": str(hea.relative_to(out)), "csv": str(csv.relative_to(out))}
    report = pred.to_json(paths)
    atomic_write_text(out / "report.html", report_html(pred, image, report, title=f"VizECG report: {name}"))
    if pdf:
        from vizecg.predict.pdf_report import write_report_pdf

        write_report_pdf(pred, image, out / "report.pdf", title=f"VizECG report: {name}")
    write_json(out / "report.json", report)  # last: its presence marks the page done (resume)
    return report


def _say_doubts(where: str, pred: Any) -> None:
    if not pred.ok:
        print(f"{where}: refused: {pred.reason}", file=sys.stderr)
    for w in pred.warnings:
        print(f"{where}: warning: {w}", file=sys.stderr)


def _one_line(pred: Any) -> str:
    if not pred.ok:
        return f"refused: {pred.reason}"
    if pred.probabilities is None:
        return "ok (no classifier)"
    return ", ".join(f"{k} {v:.2f}" for k, v in pred.probabilities.items())


def run(args: argparse.Namespace) -> int:
    import json

    from vizecg.commands.digitize import record_name
    from vizecg.errors import DataError, VizEcgError
    from vizecg.images import list_pages, read_image
    from vizecg.predict import predict_page
    from vizecg.runs import claim_run

    src = Path(args.input)
    if not src.exists():
        raise DataError("no such file or folder", src)
    images = list_images(src) if src.is_dir() else [src]
    one_image = not src.is_dir() and list_pages(src)[0].index is None  # a PDF: opened and its pages counted
    if one_image:
        read_image(src)  # a bad image is refused before any model is loaded or anything written
    out = Path(args.out or Path("runs/predict") / record_name(src.stem if src.is_file() else src.name))
    finder, model, settings = build_readers(args.classifier, args.detector, args.backend)
    with claim_run(out, settings):
        if one_image:
            image = read_image(src)
            pred = predict_page(image, finder, model, explain=not args.no_explain)
            report = write_page(out, record_name(src.stem), image, pred, pdf=args.pdf)
            _say_doubts(str(src), pred)
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                print(f"{src}: {_one_line(pred)} -> {out / 'report.html'}")
            return 0
        return _folder(args, images, out, finder, model)


def _folder(args: argparse.Namespace, images: list[Path], out: Path, finder: Any, model: Any) -> int:
    import csv
    import io
    import json

    from tqdm import tqdm

    from vizecg.commands.digitize import record_name
    from vizecg.errors import VizEcgError
    from vizecg.images import list_pages, read_page
    from vizecg.predict import predict_page
    from vizecg.runs import atomic_write_text

    names: dict[str, int] = {}
    rows, reports = [], []
    classes = list(model.classes) if model is not None else []
    done = 0
    pages: list[tuple[Path, Any]] = []  # (file, PageRef, or the error that refused the whole file)
    for path in images:
        try:
            pages += [(path, ref) for ref in list_pages(path)]
        except VizEcgError as exc:
            pages.append((path, exc))
    for path, ref in tqdm(pages, desc="predict", unit="page", disable=args.quiet or args.json, file=sys.stderr):
        if isinstance(ref, VizEcgError):  # a broken or encrypted PDF does not stop the folder
            print(f"{path}: error: {ref.problem}", file=sys.stderr)
            rows.append({"image": path.name, "folder": "", "status": "error", "reason": ref.problem})
            continue
        name = record_name(ref.name)
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:  # a.png and a.jpg: both kept
            name = f"{name}_{names[name]}"
        page_out = out / name
        where = str(path) if ref.index is None else f"{path} page {ref.index + 1}"
        row: dict[str, Any] = {"image": path.name, "folder": name}
        if (page_out / "report.json").is_file() and (not args.pdf or (page_out / "report.pdf").is_file()):
            report = json.loads((page_out / "report.json").read_text())
            done += 1
        else:
            try:
                image = read_page(ref)
                pred = predict_page(image, finder, model, explain=not args.no_explain)
            except VizEcgError as exc:  # one bad file does not stop the folder
                print(f"{where}: error: {exc.problem}", file=sys.stderr)
                rows.append(row | {"status": "error", "reason": exc.problem})
                continue
            report = write_page(page_out, name, image, pred, pdf=args.pdf)
            _say_doubts(where, pred)
        probs = report.get("probabilities") or {}
        rows.append(row | {"status": report["status"], "reason": report["reason"] or "",
                           "warnings": len(report["warnings"]), **{c: probs.get(c, "") for c in classes}})
        reports.append({"image": path.name, "page": None if ref.index is None else ref.index + 1,
                        "report": f"{name}/report.json", "status": report["status"]})
    buf = io.StringIO()
    fields = ["image", "folder", "status", "reason", "warnings", *classes]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "summary.csv", buf.getvalue())
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "refused", "error")}
    if args.json:
        print(json.dumps({"pages": reports, "counts": counts, "resumed": done, "summary": "summary.csv"}, indent=2))
    else:
        print(f"{len(rows)} page(s): {counts['ok']} ok, {counts['refused']} refused, {counts['error']} error(s) "
              f"({done} from an earlier run) -> {out / 'summary.csv'}")
    return 1 if counts["error"] else 0

"""PDF input: `vizecg predict` reads every page of a PDF as its own page (OUT/<name>-p1/, -p2/, summary.csv), a
folder's PDFs too, `vizecg serve` reads the page asked for; broken, encrypted and over-long PDFs are refused in
one line (exit 2, no traceback), and pages are rendered within the pixel budget."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_predict import needs_detector, readers, tiny_classifier  # noqa: F401  (fixtures)

pytest.importorskip("pypdfium2")

RENDER_DPI = 150  # the printout's pixels per inch, and the resolution the PDF records for them
LETTER_IN = (11.0, 8.5)  # the renderer's landscape letter page


def _pdf(pages: list[np.ndarray], dpi: float = RENDER_DPI) -> bytes:
    """A multi-page PDF of RGB images (Pillow: one JPEG-coded image per page, page size = pixels / dpi)."""
    from PIL import Image

    ims = [Image.fromarray(p) for p in pages]
    buf = io.BytesIO()
    ims[0].save(buf, format="PDF", save_all=True, append_images=ims[1:], resolution=dpi)
    return buf.getvalue()


def encrypted_pdf() -> bytes:
    """A one-page PDF whose /Encrypt dictionary needs a user password (the empty one does not open it)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"00" * 32 + b"> /U <" + b"11" * 32 + b"> /P -4 >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (i, obj))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    file_id = b"<0123456789abcdef0123456789abcdef>"
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objs) + 1, file_id, file_id, xref))
    return out.getvalue()


@pytest.fixture(scope="module")
def ecg_pdf(tmp_path_factory) -> Path:
    """Two real PTB-XL records of the embedded sample, printed (as a cardiograph's PDF export) on two pages."""
    from vizecg.data import load_source
    from vizecg.render import RenderConfig, render_printout

    src = load_source("sample")
    pages = [render_printout(src.get(src.record_ids[i]), RenderConfig(dpi=RENDER_DPI), seed=i).image for i in (2, 3)]
    path = tmp_path_factory.mktemp("pdf") / "two pages.pdf"
    path.write_bytes(_pdf(pages))
    return path


@needs_detector
def test_every_page_of_a_pdf_gets_its_own_report(ecg_pdf, tiny_classifier, tmp_path, capsys):
    from vizecg.cli import main

    out = tmp_path / "out"
    argv = ["predict", str(ecg_pdf), "--out", str(out), "--classifier", str(tiny_classifier), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert [p["page"] for p in result["pages"]] == [1, 2] and result["counts"] == {"ok": 2, "refused": 0, "error": 0}
    expected = [round(side * 200) for side in LETTER_IN]  # rendered at 200 dpi, whatever the PDF's own images
    for n in (1, 2):
        report = json.loads((out / f"two_pages-p{n}" / "report.json").read_text())
        assert report["status"] == "ok" and len(report["beats"]) >= 10, report["reason"]
        size = [report["image"]["width"], report["image"]["height"]]
        assert np.allclose(size, expected, atol=2), size
        assert (out / f"two_pages-p{n}" / "report.html").is_file()
    summary = (out / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and summary[1].startswith("two pages.pdf,two_pages-p1,ok")
    assert main(argv) == 0  # a re-run resumes page by page
    assert json.loads(capsys.readouterr().out)["resumed"] == 2


def test_a_folder_reads_its_pdfs_and_one_broken_pdf_does_not_stop_it(tiny_classifier, tmp_path, capsys):
    from vizecg.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "blank.pdf").write_bytes(_pdf([np.full((300, 400, 3), 250, np.uint8)] * 2))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--out", str(out), "--classifier", str(tiny_classifier), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "2 refused, 1 error(s)" in captured.out, captured.out
    assert "blank.pdf page 2: refused" in captured.err and "broken.pdf: error: not a readable PDF" in captured.err
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["blank-p1", "blank-p2"]


def test_pdf_pages_are_rendered_at_200_dpi_or_within_the_pixel_budget(monkeypatch):
    from vizecg.images import pdf_dpi, read_pdf_page

    assert pdf_dpi(612, 792) == 200  # a letter page: 1700x2200 px
    poster = _pdf([np.full((400, 400, 3), 200, np.uint8)], dpi=4)  # a 100x100-inch page: 400 MP at 200 dpi
    monkeypatch.setenv("VIZECG_MAX_PIXELS", "4000000")
    image = read_pdf_page(poster, 0, "poster.pdf")
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert 3_900_000 < image.shape[0] * image.shape[1] <= 4_000_000  # the dpi lowered to fill the budget
    assert abs(int(image[200, 200, 0]) - 200) <= 2


def test_read_pages_gives_one_page_per_image_and_per_pdf_page(tmp_path):
    import cv2

    from vizecg.images import read_pages

    cv2.imwrite(str(tmp_path / "scan.png"), np.full((30, 40, 3), 255, np.uint8))
    (tmp_path / "doc.pdf").write_bytes(_pdf([np.zeros((72, 144, 3), np.uint8), np.full((72, 72, 3), 255, np.uint8)],
                                            dpi=72))
    assert [(n, im.shape) for n, im in read_pages(tmp_path / "scan.png")] == [("scan", (30, 40, 3))]
    pages = read_pages(tmp_path / "doc.pdf")
    assert [n for n, _ in pages] == ["doc-p1", "doc-p2"]
    assert pages[0][1].shape == (200, 400, 3) and pages[1][1].shape == (200, 200, 3)  # 1x2 and 1x1 inch at 200 dpi
    assert pages[0][1].max() < 10 and pages[1][1].min() > 245


@pytest.fixture(scope="module")
def bad_pdfs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad_pdf")
    (d / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    (d / "encrypted.pdf").write_bytes(encrypted_pdf())
    (d / "long.pdf").write_bytes(_pdf([np.full((20, 20, 3), 255, np.uint8)] * 51, dpi=72))
    (d / "short.pdf").write_bytes(_pdf([np.full((20, 20, 3), 255, np.uint8)] * 3, dpi=72))
    return d


BAD_PDFS = {
    "broken": ("broken.pdf", {}, "broken.pdf: not a readable PDF"),
    "encrypted": ("encrypted.pdf", {}, "encrypted.pdf: encrypted PDF (it needs a password)"),
    "too many pages": ("long.pdf", {}, "PDF of 51 pages exceeds the 50-page limit"),
    "over a lowered page limit": ("short.pdf", {"VIZECG_MAX_PDF_PAGES": "2"}, "VIZECG_MAX_PDF_PAGES=N"),
    "page limit not a number": ("short.pdf", {"VIZECG_MAX_PDF_PAGES": "many"}, "must be a positive number"),
}


@pytest.mark.parametrize("case", list(BAD_PDFS))
def test_bad_pdfs_are_refused_in_one_line(case, bad_pdfs, tmp_path):
    from test_predict_bad_input import TIMEOUT_S, _limit_memory

    name, env, message = BAD_PDFS[case]
    proc = subprocess.run([sys.executable, "-m", "vizecg.cli", "predict", str(bad_pdfs / name), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=TIMEOUT_S,
                          preexec_fn=_limit_memory, env={**os.environ, **env})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines and message in lines[-1] and "error" in lines[-1], proc.stderr[-2000:]
    assert not (tmp_path / "out").exists(), "a refused command wrote its output folder"


@needs_detector
def test_serve_reads_the_pdf_page_asked_for(readers, ecg_pdf):
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from vizecg.commands.serve import create_app

    client = TestClient(create_app(*readers, max_upload_bytes=2_000_000))
    data = ecg_pdf.read_bytes()
    assert len(data) < 2_000_000
    first = client.post("/api/predict", files={"file": ("ecg.pdf", data, "application/pdf")})
    assert first.status_code == 200, first.text
    assert first.headers["x-vizecg-pdf-pages"] == "2" and first.json()["status"] == "ok"
    second = client.post("/report", files={"file": ("ecg.pdf", data, "application/pdf")}, data={"page": "2"})
    assert second.status_code == 200 and "PDF page 2 of 2" in second.text
    missing = client.post("/api/predict", files={"file": ("ecg.pdf", data, "application/pdf")}, data={"page": "3"})
    assert missing.status_code == 400 and "no page 3" in missing.json()["error"]
    locked = client.post("/api/predict", files={"file": ("x.pdf", encrypted_pdf(), "application/pdf")})
    assert locked.status_code == 400 and "encrypted PDF" in locked.json()["error"]

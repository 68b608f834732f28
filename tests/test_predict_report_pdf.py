"""vizecg predict --pdf: report.pdf per page (matplotlib PdfPages), read back with pdfium: page count, the text
(class names, the notice, a refusal's reason), the same bytes for the same prediction, and no PDF without --pdf."""
from __future__ import annotations

import json

import numpy as np

from test_predict import (CLASSES, needs_detector, photo, photo_folder, readers,  # noqa: F401  (fixtures)
                          tiny_classifier)


def _pdf_pages(path) -> list[str]:
    """The text of each page of the PDF at `path`, as pdfium extracts it."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        texts = []
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            texts.append(tp.get_text_range())
            tp.close()
            page.close()
        return texts
    finally:
        pdf.close()


@needs_detector
def test_pdf_of_a_photographed_page_and_of_a_refused_image(photo, tiny_classifier, tmp_path, capsys):
    from vizecg.cli import main

    folder = photo_folder(tmp_path / "photos", photo)
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--out", str(out), "--classifier", str(tiny_classifier), "--quiet",
                 "--no-explain", "--pdf"]) == 0
    capsys.readouterr()

    ok = _pdf_pages(out / "ecg" / "report.pdf")
    report = json.loads((out / "ecg" / "report.json").read_text())
    assert report["status"] == "ok" and report["signal"] is not None
    assert len(ok) == 2, "page 1: the answer and the photo; page 2: the digitized leads"
    first = ok[0]
    assert all(c in first for c in CLASSES), first
    assert "not a medical device" in first.lower() and "status: ok" in first.lower()
    assert "threshold" in first and "temperature" in first  # the table's thresholds, the calibration method
    assert all(w[:40] in " ".join(first.split()) for w in report["warnings"]), "every doubt is on page 1"
    for lead in report["signal"]["leads"][:3]:
        assert lead in ok[1]
    assert "mV" in ok[1]

    refused = _pdf_pages(out / "blank" / "report.pdf")
    reason = json.loads((out / "blank" / "report.json").read_text())["reason"]
    assert reason and len(refused) == 1
    text = " ".join(refused[0].split())
    assert "refused" in text.lower() and reason[:40] in text and "not a medical device" in text.lower()


@needs_detector
def test_the_same_prediction_gives_the_same_pdf_bytes(photo, readers, tmp_path):
    from vizecg.predict import predict_page
    from vizecg.predict.pdf_report import report_pdf_bytes, write_report_pdf

    image = photo[::2, ::2].copy()  # small: this test is about the bytes, not the reading
    pred = predict_page(image, *readers, explain=False)
    path = write_report_pdf(pred, image, tmp_path / "a" / "report.pdf")
    assert path.read_bytes() == report_pdf_bytes(pred, image)
    assert b"CreationDate" not in path.read_bytes()
    assert not [p for p in path.parent.iterdir() if p.name != "report.pdf"], "no temp file left behind"


@needs_detector
def test_without_pdf_no_pdf_is_written(tiny_classifier, tmp_path, capsys):
    import cv2

    from vizecg.cli import main

    img = tmp_path / "blank.png"
    cv2.imwrite(str(img), np.full((600, 800, 3), 250, np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(img), "--out", str(out), "--classifier", str(tiny_classifier), "--quiet"]) == 0
    capsys.readouterr()
    assert (out / "report.json").is_file() and (out / "report.html").is_file()
    assert not list(out.rglob("*.pdf"))
    assert main(["predict", str(img), "--out", str(out), "--classifier", str(tiny_classifier), "--pdf"]) == 0
    capsys.readouterr()
    assert len(_pdf_pages(out / "report.pdf")) == 1  # one image, --pdf: OUT/report.pdf

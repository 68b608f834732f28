"""`predict_page(image, beat_finder, model)`: one photographed page -> Prediction. The CLI, the web page and the
benchmark hand in the beat finder and the classifier; the core imports neither detector/ nor distill/.

    image checks (pixels alone) -> digitizer (paper, scale, layout, which way up, signal in mV), beside it the
    beat finder (beats, their leads, lead names read from the printed labels; again if the page was turned)
    -> digitizer again with those names, where they contradict its own -> quality gate (ECG evidence, doubts)
    -> classifier (calibrated probabilities) -> Grad-CAM of the top classes (vizecg/predict/explain.py) -> Prediction

A page the gate refuses gets a reason and no probabilities; nothing after the refusal is run.
"""
from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from vizecg.errors import DataError, DigitizeError
from vizecg.predict.quality import Evidence, Quality, assess_quality, image_checks
from vizecg.predict.schema import Beat, Prediction


@dataclass(frozen=True)
class FoundBeats:
    """What a beat finder returns for one upright page: beats in page pixels, in (lead, time) order."""

    boxes: np.ndarray  # (n, 4) xyxy px
    scores: np.ndarray  # (n,)
    leads: tuple[str | None, ...]  # (n,) lead name of each beat's panel; None: no panel
    order_keys: np.ndarray  # (n, 2) (panel index, x-centre): vizecg.crops.crop_beats's order
    layout: str = "unknown"  # "3x4+1", "3x4" or "unknown"
    panel_leads: tuple[str, ...] = ()
    info: dict[str, Any] | None = None  # the finder's name and version, for the report
    # lead names read from the printed labels, per row top to bottom, left to right by column; None where no
    # label was read (a template's guess is not a read); (): none read
    printed_rows: tuple[tuple[str | None, ...], ...] = ()

    @staticmethod
    def empty() -> "FoundBeats":
        return FoundBeats(np.zeros((0, 4)), np.zeros(0), (), np.zeros((0, 2)))


BeatFinder = Callable[[np.ndarray], FoundBeats]
# image -> vizecg.digitize.DigitizedEcg, or raises DigitizeError; called again as digitizer(image, printed=
# vizecg.digitize.printed.PrintedNames) where the lead names read from the page contradict its own
Digitizer = Callable[..., Any]


def default_digitizer(image: np.ndarray, printed: Any | None = None) -> Any:
    from vizecg.digitize import DigitizeConfig, digitize

    return digitize(image, DigitizeConfig(), printed=printed)


def _check_image(image: Any) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise DataError(f"predict_page needs an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image[:, :, :3])


def _named(lead: str | None) -> bool:
    return bool(lead) and not str(lead).startswith("panel")


def predict_page(image: np.ndarray, beat_finder: BeatFinder, model: Any | None,
                 digitizer: Digitizer = default_digitizer, versions: dict[str, Any] | None = None,
                 explain: bool = True) -> Prediction:
    """Read one page. `model`: a vizecg.predict.classifier.PageClassifier (or anything with `classes`,
    `probabilities(page, boxes, order_keys)`, `calibration`, `thresholds`, `info()`); None: no classifier is
    installed, and an ECG page is answered with beats, signal and quality but no probabilities (a warning
    says so). `versions`: extra model versions for the report (e.g. the detector's weights). `explain`:
    Grad-CAM of the two most probable classes (PyTorch classifier only; else a warning says why not)."""
    from vizecg.runs import code_version

    image = _check_image(image)
    h, w = image.shape[:2]
    models = {"classifier": model.info() if model is not None else None,
              "beat_finder": None, "digitizer": {"name": "vizecg.digitize"}, "vizecg": code_version()}
    models.update(versions or {})
    checks = image_checks(image)
    if checks.refusal:
        quality = assess_quality(checks, None)
        return Prediction(status="refused", reason=quality.reason, quality=quality.to_json(), models=models,
                          image_size=(w, h))

    # --- digitizer: paper, scale, which way up, signal; beats on the page as given meanwhile ------------------
    # Most pages lie upright, so the beat finder reads the image as given on a second core while the digitizer
    # works; where the digitizer turns the page, that reading is dropped and the upright page read instead.
    with ThreadPoolExecutor(max_workers=1) as pool:
        as_given = pool.submit(beat_finder, image)
        digitized, dig_error, dig_evidence = None, None, None
        try:
            digitized = digitizer(image)
        except DigitizeError as exc:
            dig_error, dig_evidence = exc.problem, exc.evidence
        found = digitized.found if digitized is not None else {}
        orientation = found.get("orientation_deg") if digitized is not None else None
        upright = image if not orientation else np.ascontiguousarray(np.rot90(image, -int(orientation) // 90))
        sure = not any("not sure" in w_ for w_ in (digitized.warnings if digitized is not None else []))

        # --- beats on the upright page ------------------------------------------------------------------------
        beats = as_given.result() if upright is image else beat_finder(upright)
    models["beat_finder"] = beats.info

    # --- the lead names read from the page's labels against the digitizer's --------------------------------
    printed_agree, notes = None, []
    if digitized is not None and beats.printed_rows:
        printed_agree, digitized, dig_error, dig_evidence, notes = _check_printed(image, beats.printed_rows,
                                                                                  digitized, digitizer)
        found = digitized.found if digitized is not None else {}
    elif dig_error is not None and beats.printed_rows and _takes_printed(digitizer):
        # refused without the names (a strip or a 3-strip rhythm page names no lead of its own, a layout's
        # template contradicted): the labels may name its leads
        digitized, notes = _read_with_printed(image, beats.printed_rows, dig_error, digitizer)
        if digitized is not None:
            dig_error, dig_evidence = None, None
            found = digitized.found
            orientation = found.get("orientation_deg")
            sure = not any("not sure" in w_ for w_ in digitized.warnings)
    named = [l for l in beats.leads if _named(l)]
    if digitized is not None:  # its leads may all be below what the gate reads as readable: Einthoven still speaks
        from vizecg.digitize.digitizer import LIMB_AGREE

        dig_evidence = {"limb_residual": found.get("limb_residual"), "limb_agree": LIMB_AGREE,
                        "traced_leads": sum(1 for c in digitized.confidence.values() if c > 0)}
    evidence = Evidence(lead_beats=len(named), beat_leads=tuple(sorted(set(named))), beats=len(beats.boxes),
                        beat_score=float(np.median(beats.scores)) if len(beats.scores) else 0.0,
                        layout=beats.layout, digitized=digitized is not None, digitize_error=dig_error,
                        confidence=dict(digitized.confidence) if digitized is not None else {},
                        px_per_mm=(found.get("scale") or {}).get("px_per_mm_x"), orientation_deg=orientation,
                        orientation_sure=sure, digitizer_layout=found.get("layout"),
                        limb_residual=(dig_evidence or {}).get("limb_residual"),
                        limb_agree=(dig_evidence or {}).get("limb_agree"),
                        traced_leads=int((dig_evidence or {}).get("traced_leads", 0)))
    quality = assess_quality(checks, evidence)
    layout = {"name": beats.layout if beats.layout != "unknown" else found.get("layout", "unknown"),
              "detector_layout": beats.layout, "digitizer_layout": found.get("layout"),
              "panel_leads": list(beats.panel_leads), "orientation_deg": orientation,
              "boxes_in": "the upright page" if orientation else "the image as given",
              "printed_rows": [list(row) for row in beats.printed_rows], "printed_agree": printed_agree}
    beat_list = tuple(Beat(box=tuple(float(v) for v in b), lead=l if _named(l) else None, score=float(s))
                      for b, l, s in zip(beats.boxes, beats.leads, beats.scores))
    if not quality.is_ecg:
        return Prediction(status="refused", reason=quality.reason, quality=quality.to_json(), models=models,
                          image_size=(w, h), layout=layout)

    warnings = list(quality.warnings) + notes
    if digitized is not None:
        warnings += [f"digitizer: {m}" for m in digitized.warnings]
    probabilities = calibration = thresholds = explanation = None
    if model is None:
        warnings.insert(0, "no classifier installed: no probabilities (beats, signal and quality only)")
    else:
        probabilities = model.probabilities(upright, beats.boxes, beats.order_keys)
        calibration, thresholds = model.calibration, model.thresholds
        if explain:
            from vizecg.predict.explain import explain as grad_cam

            explanation = grad_cam(model, upright, beats.boxes, beats.order_keys,
                                   leads=[l if _named(l) else None for l in beats.leads])
            if explanation.reason:
                warnings.append(f"no explanation: {explanation.reason}")
    signal = digitized.record if digitized is not None else None
    traces = digitized.traces if digitized is not None else {}
    return Prediction(status="ok", reason=None, quality=quality.to_json(), warnings=tuple(warnings),
                      probabilities=probabilities, calibration=calibration, thresholds=thresholds, layout=layout,
                      beats=beat_list, signal=signal,
                      signal_confidence=dict(digitized.confidence) if digitized is not None else {},
                      models=models, image_size=(w, h), upright=upright, traces=traces, explanation=explanation)


def _check_printed(image: np.ndarray, printed_rows: tuple[tuple[str | None, ...], ...], digitized: Any,
                   digitizer: Digitizer) -> tuple[bool | None, Any, str | None, dict | None, list[str]]:
    """(whether the names read agree with the digitizer's, the digitized page, its error and that error's
    evidence, warnings): where a read name contradicts the digitizer's name at its row and column (or a read
    standard name falls where it named none), the page is digitized again with the names read (`printed=`),
    which picks a layout they agree with, or returns the contradicted leads unnamed. The image as given is read
    again, not the upright page: the digitizer turns it upright the same way, and its traces stay in the image's
    pixels. None: not compared (the names were read on another number of rows than the digitizer found)."""
    from vizecg.digitize.printed import PrintedNames, check_names, describe

    printed = PrintedNames.from_rows(printed_rows)
    rows = digitized.found.get("layout_rows") or []
    check = check_names(printed, rows)
    if not check.compared:
        return None, digitized, None, None, [
            f"lead names read on {len(printed.rows)} printed row(s), the digitizer found {len(rows)}: its lead "
            f"names are not checked against the page's labels"]
    if not check.contradict and not check.fill:
        return True, digitized, None, None, []
    layout = str(digitized.found.get("layout"))
    why = (f"the digitizer's lead names contradict {len(check.contradict)} read from the page's labels "
           f"({describe(check.contradict, layout)})" if check.contradict else
           f"{len(check.fill)} lead name(s) read from the page's labels where the digitizer named none")
    if not _takes_printed(digitizer):
        return not check.contradict, digitized, None, None, [f"{why}; this digitizer takes no printed names: its "
                                                             f"names kept"]
    try:
        again = digitizer(image, printed=printed)
    except DigitizeError as exc:
        return not check.contradict, None, exc.problem, exc.evidence, [
            f"{why}; read again with the printed names, the page could not be digitized: {exc.problem}"]
    return not check.contradict, again, None, None, [f"{why}: page digitized again with the printed names "
                                                     f"(layout {again.found.get('layout')})"]


def _read_with_printed(image: np.ndarray, printed_rows: tuple[tuple[str | None, ...], ...], refusal: str,
                       digitizer: Digitizer) -> tuple[Any, list[str]]:
    """(the page digitized with the lead names read from its labels, or None; a note saying so) for a page the
    digitizer refused without them. A page still refused keeps its first reason; one now found turned is
    dropped too (the names were read on the page as it lies, so they are not its rows)."""
    from vizecg.digitize.printed import PrintedNames

    try:
        again = digitizer(image, printed=PrintedNames.from_rows(printed_rows))
    except DigitizeError:
        return None, []
    if again.found.get("orientation_deg"):  # the names were read on the page as it lies: not this page's
        return None, []
    return again, [f"the digitizer refused the page without its printed lead names ({refusal}); read again with "
                   f"the names read from its labels (layout {again.found.get('layout')})"]


def _takes_printed(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    return any(p.name == "printed" or p.kind is p.VAR_KEYWORD for p in params)


def quality_only(image: np.ndarray, beat_finder: BeatFinder, digitizer: Digitizer = default_digitizer) -> Quality:
    """The gate's verdict alone (what benchmarks/quality_gate.py measures): predict_page without a classifier."""
    pred = predict_page(image, beat_finder, None, digitizer)
    q = pred.quality
    return Quality(is_ecg=q["is_ecg"], reason=q["reason"], scores=q["scores"], orientation_deg=q["orientation_deg"],
                   readable_leads=tuple(q["readable_leads"]), findings=tuple(q["findings"]),
                   warnings=tuple(q.get("warnings", ())))

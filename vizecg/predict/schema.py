"""The Prediction and its JSON form (report.json): one documented, versioned schema.

report.json, schema_version "1":

    schema_version  "1"
    status          "ok" | "refused"
    ok              true when status is "ok"
    reason          why the page was refused (null when ok)
    warnings        doubts, most serious first; the HTML report shows them at the top
    probabilities   {class: probability} (null when refused), after `calibration`
    calibration     {"method": "temperature", "temperature": T, ...}, {"method": "platt", "slopes": [a_c],
                    "biases": [b_c], ...} or {"method": "none"}, each with "fitted_on", "ece_val_before",
                    "ece_val_after", ... (null when refused; vizecg/predict/calibration.py). "platt" added within
                    schema 1
    thresholds      {class: probability at which the class is called, chosen on validation} or null
    findings        classes whose probability reaches its threshold (null when refused or no thresholds)
    quality         the quality gate's findings (see vizecg/predict/quality.py: Quality.to_json)
    layout          {"name", "detector_layout", "digitizer_layout", "panel_leads", "orientation_deg", "boxes_in",
                    "printed_rows", "printed_agree"}: `printed_rows` the lead names the beat finder read from the
                    page's printed labels, rows top to bottom, left to right by column, null where no label was
                    read ([] when none was); `printed_agree` whether they agree with the digitizer's names (true),
                    contradict them (false) or were not compared (null: nothing read, no signal, or another
                    number of rows). On a contradiction, or a read name where the digitizer named no lead, the
                    page is digitized again with the names read and a warning says so. Both added within
                    schema 1: reports written before them lack them.
    beats           [{"box": [x0, y0, x1, y1] px, "lead": name or null, "score"}]: px on the upright page
                    (the image as given when it lay upright; `layout.boxes_in` says which)
    signal          {"leads", "fs", "n_samples", "confidence": {lead: 0..1}, "paths": {"wfdb", "csv"} or {}}
                    or null when the digitizer could not read the page
    models          {"classifier": {...}, "beat_finder": {...}, "digitizer": {...}, "vizecg": version}
    image           {"width", "height"} of the image as given
    explanation     Grad-CAM of the top classes (vizecg/predict/explain.py), or null (refused, no classifier,
                    or `vizecg predict --no-explain`): {"method": "grad-cam", "library", "reason" (why there is
                    none, then "classes" is []), "layers": {"page", "beats"}, "classes": [{"class", "probability",
                    "page_peak": [x, y] px on the upright page or null, "beats": [{"index", "lead", "importance"
                    0..1, "box"}] most important first, "leads": {lead: importance}}]}. The heat maps themselves
                    are in report.html. Added within schema 1 and optional: reports written before it lack it.
    notice          the research-use notice

Nothing in it is a path taken from the input: `signal.paths` are the files the CLI wrote, relative to report.json.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vizecg.predict.calibration import METHODS

if TYPE_CHECKING:
    from vizecg.predict.explain import Explanation

SCHEMA_VERSION = "1"
NOTICE = ("Research software, not a medical device. These outputs are not a diagnosis and must not be used for "
          "clinical decisions; a qualified clinician must read the ECG itself.")


@dataclass(frozen=True)
class Beat:
    box: tuple[float, float, float, float]  # xyxy px on the page as the beat finder saw it (layout.boxes_in)
    lead: str | None  # the lead whose panel holds it (None: no panel, or layout not recognised)
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"box": [round(float(v), 1) for v in self.box], "lead": self.lead, "score": round(float(self.score), 4)}


@dataclass(frozen=True)
class Prediction:
    """What predict_page found on one page. A refused page has a reason and no probabilities."""

    status: str  # "ok" | "refused"
    reason: str | None
    quality: dict[str, Any]
    warnings: tuple[str, ...] = ()
    probabilities: dict[str, float] | None = None
    calibration: dict[str, Any] | None = None
    thresholds: dict[str, float] | None = None
    layout: dict[str, Any] = field(default_factory=dict)
    beats: tuple[Beat, ...] = ()
    signal: Any | None = None  # vizecg.record.EcgRecord in mV (NaN where the page shows nothing), or None
    signal_confidence: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    image_size: tuple[int, int] = (0, 0)  # (width, height)
    upright: Any | None = None  # the page turned upright (H, W, 3) uint8, for the report's figures; not in JSON
    traces: dict[str, list[Any]] = field(default_factory=dict)  # lead -> (n, 2) px in the image as given
    explanation: "Explanation | None" = None  # Grad-CAM of the top classes (heat maps: not in JSON) or None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def findings(self) -> list[str] | None:
        if self.probabilities is None or self.thresholds is None:
            return None
        return [c for c, p in self.probabilities.items() if c in self.thresholds and p >= self.thresholds[c]]

    def to_json(self, signal_paths: dict[str, str] | None = None) -> dict[str, Any]:
        sig = None
        if self.signal is not None:
            sig = {"leads": list(self.signal.lead_names), "fs": float(self.signal.fs),
                   "n_samples": int(self.signal.n_samples),
                   "confidence": {k: round(float(v), 3) for k, v in self.signal_confidence.items()},
                   "paths": dict(signal_paths or {})}
        return {
            "schema_version": SCHEMA_VERSION, "status": self.status, "ok": self.ok, "reason": self.reason,
            "warnings": list(self.warnings),
            "probabilities": None if self.probabilities is None else
            {k: round(float(v), 4) for k, v in self.probabilities.items()},
            "calibration": self.calibration, "thresholds": self.thresholds, "findings": self.findings,
            "quality": self.quality, "layout": self.layout, "beats": [b.to_json() for b in self.beats],
            "signal": sig, "models": self.models,
            "image": {"width": int(self.image_size[0]), "height": int(self.image_size[1])}, "notice": NOTICE,
            "explanation": None if self.explanation is None else self.explanation.to_json(),
        }


# --- the schema as JSON Schema (a subset: type, required, properties, items, enum, additionalProperties) ------
_NUM = {"type": "number"}
_STR_OR_NULL = {"type": ["string", "null"]}
_PROBS = {"type": ["object", "null"], "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "VizECG report",
    "type": "object",
    "required": ["schema_version", "status", "ok", "reason", "warnings", "probabilities", "calibration",
                 "thresholds", "findings", "quality", "layout", "beats", "signal", "models", "image", "notice"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"enum": [SCHEMA_VERSION]},
        "status": {"enum": ["ok", "refused"]},
        "ok": {"type": "boolean"},
        "reason": _STR_OR_NULL,
        "warnings": {"type": "array", "items": {"type": "string"}},
        "probabilities": _PROBS,
        "calibration": {"type": ["object", "null"], "required": ["method"],
                        "properties": {"method": {"enum": list(METHODS)}}},
        "thresholds": _PROBS,
        "findings": {"type": ["array", "null"], "items": {"type": "string"}},
        "quality": {"type": "object", "required": ["is_ecg", "reason", "scores", "orientation_deg",
                                                    "readable_leads", "findings"],
                    "properties": {"is_ecg": {"type": "boolean"}, "reason": _STR_OR_NULL,
                                   "scores": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
                                   "orientation_deg": {"enum": [0, 90, 180, 270, None]},
                                   "readable_leads": {"type": "array", "items": {"type": "string"}},
                                   "findings": {"type": "array", "items": {"type": "string"}}}},
        "layout": {"type": "object"},
        "beats": {"type": "array", "items": {
            "type": "object", "required": ["box", "lead", "score"], "additionalProperties": False,
            "properties": {"box": {"type": "array", "items": _NUM}, "lead": _STR_OR_NULL, "score": _NUM}}},
        "signal": {"type": ["object", "null"], "required": ["leads", "fs", "n_samples", "confidence", "paths"],
                   "properties": {"leads": {"type": "array", "items": {"type": "string"}}, "fs": _NUM,
                                  "n_samples": {"type": "integer"}, "confidence": {"type": "object"},
                                  "paths": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "models": {"type": "object", "required": ["classifier", "beat_finder", "digitizer", "vizecg"]},
        "image": {"type": "object", "required": ["width", "height"],
                  "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}}},
        "notice": {"type": "string"},
        # not in "required": optional within schema 1 (reports written before Grad-CAM lack it)
        "explanation": {"type": ["object", "null"], "required": ["method", "reason", "layers", "classes"],
                        "properties": {"method": {"enum": ["grad-cam"]}, "reason": _STR_OR_NULL,
                                       "classes": {"type": "array", "items": {
                                           "type": "object", "required": ["class", "probability", "page_peak",
                                                                          "beats", "leads"],
                                           "properties": {"probability": {"type": "number", "minimum": 0,
                                                                          "maximum": 1},
                                                          "page_peak": {"type": ["array", "null"], "items": _NUM},
                                                          "beats": {"type": "array"},
                                                          "leads": _PROBS}}}}},
    },
}

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def schema_errors(obj: Any, schema: dict[str, Any] = REPORT_SCHEMA, where: str = "$") -> list[str]:
    """Where `obj` breaks `schema` (the JSON Schema subset above), one line each; [] when it conforms."""
    errors: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(obj, k) for k in kinds):
            return [f"{where}: expected {' or '.join(kinds)}, got {type(obj).__name__}"]
    if "enum" in schema and obj not in schema["enum"]:
        errors.append(f"{where}: {obj!r} is not one of {schema['enum']}")
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        if "minimum" in schema and obj < schema["minimum"]:
            errors.append(f"{where}: {obj} < {schema['minimum']}")
        if "maximum" in schema and obj > schema["maximum"]:
            errors.append(f"{where}: {obj} > {schema['maximum']}")
    if isinstance(obj, dict):
        errors += [f"{where}: missing {k!r}" for k in schema.get("required", ()) if k not in obj]
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for k, v in obj.items():
            if k in props:
                errors += schema_errors(v, props[k], f"{where}.{k}")
            elif extra is False:
                errors.append(f"{where}: unexpected key {k!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(v, extra, f"{where}.{k}")
    if isinstance(obj, list) and "items" in schema:
        for i, v in enumerate(obj):
            errors += schema_errors(v, schema["items"], f"{where}[{i}]")
    return errors

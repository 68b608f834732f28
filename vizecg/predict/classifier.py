"""The page classifier that predict_page is handed: a trained image-only model (the distilled student), its
input sizes, its calibration and its decision thresholds, in one self-describing file.

Shipped file (vizecg/predict/weights/*.pt), read with torch.load(weights_only=True): tensors and plain values
only, nothing that runs code:
    format       CLASSIFIER_FORMAT
    model_name, model_args, model    registry name, its arguments, the state dict (fp16 where it was exported so)
    classes      class names, in logit order
    inputs       {"page_height", "page_width", "crop_size", "max_beats", "grayscale"}: what it was trained on
    calibration  {"method": "none" | "temperature" | "platt", its parameters, "fitted_on", "ece_val_before", ...}
                 (vizecg/predict/calibration.py)
    thresholds   {class: calibrated probability at which the class is called} (F1-optimal on validation) or None
    card         {"name", "version", "trained_on", "test_macro_auroc", "command", ...}: the model card's numbers

Pre-processing is the training data's (distill/data.py PageDataset): the page resized with INTER_AREA to
(page_height, page_width), beat crops by vizecg.crops.crop_beats in (lead, time) order, both in [0, 1]
(`page_batch`, numpy only: the torch and the ONNX classifier share it).

The ONNX graph beside it (`<stem>.onnx`, written by `python -m vizecg.predict.export --onnx <stem>.pt`) runs the
same model with onnxruntime, no torch: inputs page (1, 3, H, W), beats (1, k, 3, c, c), beat_mask (1, k) bool,
k dynamic; output logits (1, C). Its metadata_props hold everything else: ONNX_META_KEY (JSON: the .pt's format,
model_name, model_args, classes, inputs, calibration, thresholds, card) and ONNX_SOURCE_KEY (the SHA-256 of the .pt
it was exported from). Release rule: the .onnx is exported from the .pt it ships with; where both lie side by side
and the hash differs, `load_onnx_classifier` refuses the graph as stale.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vizecg.crops import crop_beats
from vizecg.errors import ModelError, first_line
from vizecg.predict.calibration import calibrated, calibration_problem

CLASSIFIER_FORMAT = "vizecg-classifier-1"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_CLASSIFIER = WEIGHTS_DIR / "student_small.pt"
DEFAULT_ONNX_CLASSIFIER = DEFAULT_CLASSIFIER.with_suffix(".onnx")
ONNX_META_KEY = "vizecg_classifier"  # ONNX metadata_props: the classifier file's fields other than the weights
ONNX_SOURCE_KEY = "vizecg_source_sha256"  # ONNX metadata_props: SHA-256 of the .pt the graph was exported from
ONNX_INPUTS = ("page", "beats", "beat_mask")


def page_batch(page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None, page_size: tuple[int, int],
               crop_size: int, max_beats: int, grayscale: bool = False) -> dict[str, np.ndarray]:
    """The model batch of one page (batch size 1) as numpy, built exactly as the training data was:
    page (1, 3, H, W) float32 in [0, 1], beats (1, k, 3, c, c) float32, beat_mask (1, k) bool,
    k = max(max_beats, crops, 1) with the real crops first."""
    image = np.ascontiguousarray(page[:, :, :3])
    if grayscale:
        image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    h, w = page_size
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    crops, _ = crop_beats(image, boxes, order_keys, (crop_size, crop_size), max_beats)
    crops = np.round(crops * 255).astype(np.uint8).astype(np.float32) / 255.0  # as cached for training
    k = max(max_beats, len(crops), 1)
    beats = np.zeros((1, k, 3, crop_size, crop_size), np.float32)
    mask = np.zeros((1, k), bool)
    beats[0, :len(crops)] = crops
    mask[0, :len(crops)] = True
    return {"page": np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0),
            "beats": beats, "beat_mask": mask}


@dataclass
class _Calibrated:
    """What the torch and the ONNX classifier share: the fields around the model, the batch, calibrated
    probabilities, the report's info. A subclass adds its model and `logits(page, boxes, order_keys)`."""

    classes: tuple[str, ...]
    page_size: tuple[int, int]  # (height, width)
    crop_size: int
    max_beats: int
    grayscale: bool = False
    calibration: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    thresholds: dict[str, float] | None = None
    card: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the file it was read from, for the report's model versions
    runtime = ""  # for the report: what runs the model

    def batch(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None) -> dict[str, np.ndarray]:
        return page_batch(page, boxes, order_keys, self.page_size, self.crop_size, self.max_beats, self.grayscale)

    def logits(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def probabilities(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None = None
                      ) -> dict[str, float]:
        p = calibrated(self.logits(page, boxes, order_keys), self.calibration)
        return {c: float(v) for c, v in zip(self.classes, p)}

    def info(self) -> dict[str, Any]:
        return {"name": self.card.get("name", "classifier"), "version": self.card.get("version"),
                "model_name": self.model_name, "file": Path(self.source).name or None, "runtime": self.runtime,
                "inputs": {"page": list(self.page_size), "crop_size": self.crop_size, "max_beats": self.max_beats},
                "test_macro_auroc": self.card.get("test_macro_auroc"), "model_card": self.card.get("model_card")}


@dataclass
class PageClassifier(_Calibrated):
    """A trained page model with what it needs around it. `probabilities(page, boxes, order_keys)` on the
    upright page (RGB uint8) and beat boxes in its pixels gives calibrated probabilities per class."""

    model: Any = field(kw_only=True)  # torch nn.Module in eval mode, forward(batch) -> {"logits": (b, C)}
    runtime = "torch"

    @property
    def model_name(self) -> str | None:
        return getattr(self.model, "model_name", None)

    def inputs(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None) -> dict[str, Any]:
        """The model batch of one page (batch size 1) as torch tensors (`page_batch`)."""
        import torch

        return {k: torch.from_numpy(v) for k, v in self.batch(page, boxes, order_keys).items()}

    def logits(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None = None) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.model(self.inputs(page, boxes, order_keys))["logits"]
        return out.float().numpy()[0].astype(np.float64)  # (C,)


@dataclass
class OnnxPageClassifier(_Calibrated):
    """The same classifier as an ONNX graph run by onnxruntime (no torch): `load_onnx_classifier`."""

    session: Any = field(kw_only=True)  # onnxruntime.InferenceSession: page, beats, beat_mask -> logits (1, C)
    model_name: str | None = field(default=None, kw_only=True)
    runtime = "onnxruntime"

    def logits(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None = None) -> np.ndarray:
        out = self.session.run(["logits"], self.batch(page, boxes, order_keys))[0]
        return np.asarray(out, np.float64)[0]  # (C,)


def load_classifier(path: str | Path | None = None) -> PageClassifier:
    """The classifier in a shipped file (default: the one in vizecg/predict/weights/). ModelError when the
    file is missing, not a classifier file, or its weights do not fit its model."""
    import torch

    from vizecg.models import create_model

    shipped = path is None
    path = Path(DEFAULT_CLASSIFIER if path is None else path)
    if not path.is_file():
        raise ModelError("classifier weights not found" + (
            " (no shipped weights in this install: train a student and export it, see "
            "vizecg/predict/weights/MODEL_CARD.md)" if shipped else ""), path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types on a foreign or hostile file
        raise ModelError(f"unreadable classifier weights ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else ''})", path) from None
    if not isinstance(blob, dict) or blob.get("format") != CLASSIFIER_FORMAT:
        raise ModelError(f"not a VizECG classifier file (expected format {CLASSIFIER_FORMAT}; a training "
                         "checkpoint is exported with `python -m vizecg.predict.export`)", path)
    missing = [k for k in ("model_name", "model_args", "model", "classes", "inputs") if k not in blob]
    if missing:
        raise ModelError(f"classifier file lacks {', '.join(missing)}", path)
    model = create_model(blob["model_name"], **blob["model_args"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["model"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"weights do not fit {blob['model_name']}: {str(exc)[:300]}", path) from None
    model.eval()
    return PageClassifier(model=model, **_described(blob, path))


def _described(blob: dict[str, Any], path: Path) -> dict[str, Any]:
    """The classifier's fields other than the model, from a .pt blob or an ONNX graph's metadata."""
    inputs = blob["inputs"]
    cal = dict(blob.get("calibration") or {"method": "none"})
    problem = calibration_problem(cal, len(blob["classes"]))
    if problem:
        raise ModelError(f"classifier {problem}", path)
    return dict(classes=tuple(blob["classes"]), page_size=(int(inputs["page_height"]), int(inputs["page_width"])),
                crop_size=int(inputs["crop_size"]), max_beats=int(inputs["max_beats"]),
                grayscale=bool(inputs.get("grayscale", False)), calibration=cal,
                thresholds=blob.get("thresholds"), card=dict(blob.get("card") or {}), source=str(path))


def sha256_file(path: str | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_onnx_classifier(path: str | Path | None = None) -> OnnxPageClassifier:
    """The classifier's ONNX graph (default: the one shipped beside student_small.pt), with onnxruntime only.
    ModelError when the file is missing, not a VizECG classifier graph, or stale: a .pt beside it whose SHA-256
    is not the one the graph records (re-export it: `python -m vizecg.predict.export --onnx <the .pt>`)."""
    import json

    shipped = path is None
    path = Path(DEFAULT_ONNX_CLASSIFIER if path is None else path)
    if path.suffix == ".pt":
        raise ModelError("the onnx backend reads the classifier's .onnx graph, not its .pt weights (export it: "
                         f"`python -m vizecg.predict.export --onnx {path}`)", path)
    if not path.is_file():
        raise ModelError("classifier ONNX graph not found" + (
            " (no shipped graph in this install: see vizecg/predict/weights/MODEL_CARD.md)" if shipped else ""), path)
    try:
        from vizecg.onnx_session import cpu_session

        session = cpu_session(path)
    except Exception as exc:  # onnxruntime raises its own types on a foreign or corrupt file
        raise ModelError(f"unreadable classifier ONNX graph ({first_line(exc, with_type=True)})", path) from None
    meta = session.get_modelmeta().custom_metadata_map
    try:
        blob = json.loads(meta[ONNX_META_KEY])
    except (KeyError, json.JSONDecodeError):
        raise ModelError(f"not a VizECG classifier graph (no {ONNX_META_KEY} metadata; export one with "
                         "`python -m vizecg.predict.export --onnx <classifier .pt>`)", path) from None
    if not isinstance(blob, dict) or blob.get("format") != CLASSIFIER_FORMAT:
        raise ModelError(f"not a VizECG classifier graph (expected format {CLASSIFIER_FORMAT})", path)
    missing = [k for k in ("classes", "inputs") if k not in blob]
    names = sorted(i.name for i in session.get_inputs())
    if missing or names != sorted(ONNX_INPUTS):
        raise ModelError(f"classifier graph lacks {', '.join(missing) or 'the inputs ' + ', '.join(ONNX_INPUTS)}",
                         path)
    weights = path.with_suffix(".pt")
    if weights.is_file() and meta.get(ONNX_SOURCE_KEY) != sha256_file(weights):
        raise ModelError(f"stale classifier graph: it was not exported from the {weights.name} beside it (records "
                         f"sha256 {str(meta.get(ONNX_SOURCE_KEY))[:16]}, the file has {sha256_file(weights)[:16]}); "
                         f"re-export it: `python -m vizecg.predict.export --onnx {weights}`", path)
    return OnnxPageClassifier(session=session, model_name=blob.get("model_name"), **_described(blob, path))

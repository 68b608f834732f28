"""The page classifier that predict_page is handed: a trained image-only model (the distilled student), its
input sizes, its calibration and its decision thresholds, in one self-describing file.

Shipped file (vizecg/predict/weights/*.pt), read with torch.load(weights_only=True): tensors and plain values
only, nothing that runs code:
    format       CLASSIFIER_FORMAT
    model_name, model_args, model    registry name, its arguments, the state dict (fp16 where it was exported so)
    classes      class names, in logit order
    inputs       {"page_height", "page_width", "crop_size", "max_beats", "grayscale"}: what it was trained on
    calibration  {"method": "temperature", "temperature", "fitted_on", "ece_val_before", "ece_val_after", ...}
    thresholds   {class: calibrated probability at which the class is called} (F1-optimal on validation) or None
    card         {"name", "version", "trained_on", "test_macro_auroc", "command", ...}: the model card's numbers

Pre-processing is the training data's (distill/data.py PageDataset): the page resized with INTER_AREA to
(page_height, page_width), beat crops by vizecg.crops.crop_beats in (lead, time) order, both in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vizecg.crops import crop_beats
from vizecg.errors import ModelError
from vizecg.predict.calibration import sigmoid

CLASSIFIER_FORMAT = "vizecg-classifier-1"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_CLASSIFIER = WEIGHTS_DIR / "student_small.pt"


@dataclass
class PageClassifier:
    """A trained page model with what it needs around it. `probabilities(page, boxes, order_keys)` on the
    upright page (RGB uint8) and beat boxes in its pixels gives calibrated probabilities per class."""

    model: Any  # torch nn.Module in eval mode, forward(batch) -> {"logits": (b, C)}
    classes: tuple[str, ...]
    page_size: tuple[int, int]  # (height, width)
    crop_size: int
    max_beats: int
    grayscale: bool = False
    temperature: float = 1.0
    calibration: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    thresholds: dict[str, float] | None = None
    card: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the file it was read from, for the report's model versions

    def inputs(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None) -> dict[str, Any]:
        """The model batch of one page (batch size 1), built exactly as the training data was."""
        import torch

        image = np.ascontiguousarray(page[:, :, :3])
        if self.grayscale:
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        h, w = self.page_size
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        crops, _ = crop_beats(image, boxes, order_keys, (self.crop_size, self.crop_size), self.max_beats)
        crops = np.round(crops * 255).astype(np.uint8).astype(np.float32) / 255.0  # as cached for training
        k = max(self.max_beats, len(crops), 1)
        beats = torch.zeros(1, k, 3, self.crop_size, self.crop_size)
        mask = torch.zeros(1, k, dtype=torch.bool)
        if len(crops):
            beats[0, :len(crops)] = torch.from_numpy(crops)
            mask[0, :len(crops)] = True
        return {"page": torch.from_numpy(small).permute(2, 0, 1).float()[None] / 255.0,  # (1, 3, H, W)
                "beats": beats, "beat_mask": mask}

    def logits(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None = None) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.model(self.inputs(page, boxes, order_keys))["logits"]
        return out.float().numpy()[0].astype(np.float64)  # (C,)

    def probabilities(self, page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None = None
                      ) -> dict[str, float]:
        p = sigmoid(self.logits(page, boxes, order_keys) / self.temperature)
        return {c: float(v) for c, v in zip(self.classes, p)}

    def info(self) -> dict[str, Any]:
        return {"name": self.card.get("name", "classifier"), "version": self.card.get("version"),
                "model_name": getattr(self.model, "model_name", None), "file": Path(self.source).name or None,
                "inputs": {"page": list(self.page_size), "crop_size": self.crop_size, "max_beats": self.max_beats},
                "test_macro_auroc": self.card.get("test_macro_auroc"), "model_card": self.card.get("model_card")}


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
    inputs = blob["inputs"]
    cal = dict(blob.get("calibration") or {"method": "none"})
    temperature = float(cal.get("temperature", 1.0)) if cal.get("method") == "temperature" else 1.0
    if not np.isfinite(temperature) or temperature <= 0:
        raise ModelError(f"classifier calibration temperature must be > 0, got {temperature}", path)
    return PageClassifier(model=model, classes=tuple(blob["classes"]),
                          page_size=(int(inputs["page_height"]), int(inputs["page_width"])),
                          crop_size=int(inputs["crop_size"]), max_beats=int(inputs["max_beats"]),
                          grayscale=bool(inputs.get("grayscale", False)), temperature=temperature, calibration=cal,
                          thresholds=blob.get("thresholds"), card=dict(blob.get("card") or {}), source=str(path))

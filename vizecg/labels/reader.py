"""`LabelReader`: label boxes on a page -> the printed lead names, with calibrated probabilities.

    reader = LabelReader()                      # the shipped weights (vizecg/labels/weights/lead_labels.pt)
    reader = LabelReader(backend="onnx")        # the same model on onnxruntime: no torch imported
    reads = reader.read(image, boxes)           # [LabelRead(name="V1", cls="V1", prob=0.98), ...]

`prob` is the softmax of the logits divided by the temperature fitted on validation crops, so a read at 0.9 is
right about 9 times in 10 on pages like the validation pages (weights/README.md gives the measured reliability).
`name` is None for a crop read as `not_a_label` or below `min_prob`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vizecg.errors import ModelError
from vizecg.labels.crops import crop_labels

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "lead_labels.pt"
DEFAULT_ONNX = DEFAULT_WEIGHTS.with_suffix(".onnx")
NOT_A_LABEL = "not_a_label"
# A read below this calibrated probability is reported as unreadable (None). On the validation pages of the
# shipped weights' training folders (weights/README.md) label reads at >= 0.6 are right 98 % of the time and
# cover 98 % of the labels; on photographed pages of families never trained on, 95 % and 96 %.
MIN_PROB = 0.6


@dataclass(frozen=True)
class LabelRead:
    cls: str  # the most probable class (a lead name as printed, or "not_a_label")
    prob: float  # its calibrated probability
    min_prob: float = MIN_PROB

    @property
    def name(self) -> str | None:
        """The lead name as printed, or None when not a label or not sure enough."""
        return self.cls if self.cls != NOT_A_LABEL and self.prob >= self.min_prob else None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "class": self.cls, "prob": round(self.prob, 4)}


class LabelReader:
    """The lead-label classifier with its temperature. backend "torch" reads the .pt checkpoint; "onnx" the
    exported graph (classes and temperature in its metadata), with onnxruntime only."""

    def __init__(self, weights: str | Path | None = None, backend: Literal["torch", "onnx"] = "torch",
                 min_prob: float = MIN_PROB):
        self.backend, self.min_prob = backend, float(min_prob)
        if backend == "torch":
            import torch

            from vizecg.labels.model import load_checkpoint

            self.weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS
            self._torch = torch
            self._model, info = load_checkpoint(self.weights)
            self.classes: tuple[str, ...] = tuple(info["classes"])
            self.temperature = float(info["temperature"])
            self.meta: dict[str, Any] = info.get("meta", {})
        elif backend == "onnx":
            self.weights = Path(weights) if weights is not None else DEFAULT_ONNX
            self._session, self.classes, self.temperature = _load_onnx(self.weights)
            self.meta = {}
        else:
            raise ModelError(f"unknown backend {backend!r} (torch or onnx)")

    def logits(self, crops: np.ndarray) -> np.ndarray:
        """(n, classes) raw logits of (n, 1, h, w) crops (see vizecg.labels.crops)."""
        crops = np.ascontiguousarray(crops, np.float32)
        if not len(crops):
            return np.zeros((0, len(self.classes)), np.float32)
        if self.backend == "torch":
            with self._torch.inference_mode():
                return self._model(self._torch.from_numpy(crops)).numpy()
        return self._session.run(None, {self._session.get_inputs()[0].name: crops})[0]

    def probs(self, crops: np.ndarray) -> np.ndarray:
        """(n, classes) calibrated probabilities."""
        z = self.logits(crops) / self.temperature
        z = np.exp(z - z.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)

    def read_crops(self, crops: np.ndarray) -> list[LabelRead]:
        p = self.probs(crops)
        best = p.argmax(1) if len(p) else np.zeros(0, np.int64)
        return [LabelRead(self.classes[int(k)], float(p[i, k]), self.min_prob) for i, k in enumerate(best)]

    def read(self, image: np.ndarray, boxes: np.ndarray) -> list[LabelRead]:
        """One LabelRead per xyxy box (page pixels) on an RGB page."""
        return self.read_crops(crop_labels(image, boxes))


def _load_onnx(path: Path) -> tuple[Any, tuple[str, ...], float]:
    from vizecg.onnx_session import cpu_session

    if not path.is_file():
        raise ModelError("lead-label ONNX graph not found", path)
    try:
        session = cpu_session(path, threads=1)  # a page holds ~15 crops: threads cost more than they save
        meta = session.get_modelmeta().custom_metadata_map
        classes, temperature = tuple(json.loads(meta["classes"])), float(meta["temperature"])
    except Exception as exc:
        raise ModelError(f"cannot load lead-label ONNX graph: {str(exc).splitlines()[0][:200]}", path) from None
    return session, classes, temperature


def export_onnx(weights: str | Path, out: str | Path) -> Path:
    """The checkpoint as an ONNX graph (fp32, dynamic batch) with classes and temperature in its metadata."""
    import onnx
    import torch

    from vizecg.labels.crops import CROP_H, CROP_W
    from vizecg.labels.model import load_checkpoint

    model, info = load_checkpoint(weights)
    out = Path(out)
    x = torch.zeros(1, 1, CROP_H, CROP_W)
    kwargs: dict[str, Any] = {"input_names": ["crops"], "output_names": ["logits"],
                              "dynamic_axes": {"crops": {0: "n"}, "logits": {0: "n"}}, "opset_version": 17}
    try:
        torch.onnx.export(model, (x,), str(out), dynamo=False, **kwargs)
    except TypeError:  # torch before 2.5 has no dynamo switch
        torch.onnx.export(model, (x,), str(out), **kwargs)
    graph = onnx.load(str(out))
    for key, value in (("classes", json.dumps(list(info["classes"]))), ("temperature", repr(float(info["temperature"])))):
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(out))
    return out

"""Explanation: Grad-CAM (the `grad-cam` library, pytorch_grad_cam.GradCAM) over the page and over each beat crop,
for the classifier's top classes: where on the page, and which beats, pushed each class's logit up.

    page:  Grad-CAM at the global (page) branch's last convolutional block, the beat crops held fixed; the map
           (model input size) is stretched back onto the upright page's pixels, in [0, 1] per class.
    beats: Grad-CAM at the local (beat) branch's last convolutional block, the page held fixed, all crops the
           model was fed in one pass. A beat's importance is the mean of its un-normalised (ReLU'd) map on one
           scale shared by the page's beats, so beats compare; the most important beats and leads come first.

The model sees at most `max_beats` beats (vizecg.crops.select_beats): the others have no importance (None).
Deterministic: no randomness, the model in eval mode; the same page gives the same maps.
Fails soft: a classifier that is not a PyTorch model (e.g. an ONNX session), or a branch with no convolutional
layer to hook, gives an Explanation with a `reason` and no classes; predict_page turns it into a warning.
Cost (benchmarks/explain_speed.py, 3 phone photos of 1674x1257 px, 2 shared CPU cores): Grad-CAM of two classes
0.17 s CPU a page (0.34 s wall on the busy machine) and report.html's figures 0.2 s CPU more, against 2.7-4.8 s
for the whole predict_page; `vizecg predict --no-explain` skips both.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHOD = "grad-cam"
TOP_BEATS = 6  # beats listed per class in the report


@dataclass(frozen=True)
class ClassExplanation:
    """Grad-CAM for one class on one page."""

    name: str
    probability: float
    page_heat: np.ndarray  # (H, W) float32 in [0, 1], upright page pixels
    beat_heat: np.ndarray  # (k, c, c) float32 in [0, 1] on the crops fed (Explanation.beat_index), shared scale
    beat_importance: tuple[float | None, ...]  # (n,) per beat in the beat finder's order; None: not fed
    top_beats: tuple[int, ...]  # indices into the beats, most important first (importance > 0 only)
    leads: dict[str, float] = field(default_factory=dict)  # lead -> its most important beat, most important first

    @property
    def page_evidence(self) -> bool:
        """False when every part of the page pushes the class down (Grad-CAM's ReLU leaves a map of zeros)."""
        return bool(self.page_heat.max() > 0)

    def to_json(self, leads: Sequence[str | None], boxes: np.ndarray) -> dict[str, Any]:
        peak = np.unravel_index(int(np.argmax(self.page_heat)), self.page_heat.shape)
        return {"class": self.name, "probability": round(float(self.probability), 4),
                # (x, y) px on the upright page; null: no part of the page pushes the class up
                "page_peak": [int(peak[1]), int(peak[0])] if self.page_evidence else None,
                "beats": [{"index": int(i), "lead": leads[i] if i < len(leads) else None,
                           "importance": round(float(self.beat_importance[i]), 4),
                           "box": [round(float(v), 1) for v in boxes[i]]} for i in self.top_beats[:TOP_BEATS]],
                "leads": {k: round(float(v), 4) for k, v in self.leads.items()}}


@dataclass(frozen=True)
class Explanation:
    """Grad-CAM for a page's top classes; `reason` (and no classes) when it could not be made."""

    classes: tuple[ClassExplanation, ...] = ()
    reason: str | None = None
    layers: dict[str, str] = field(default_factory=dict)  # branch -> the hooked module's name in the model
    beat_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (k,) crops fed -> beats
    beat_crops: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 3), np.uint8))  # (k, c, c, 3)
    leads: tuple[str | None, ...] = ()  # (n,) each beat's lead
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # (n, 4) xyxy px, upright page

    @staticmethod
    def unavailable(reason: str) -> "Explanation":
        return Explanation(reason=reason)

    def to_json(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            lib = f"grad-cam {version('grad-cam')}"
        except PackageNotFoundError:
            lib = None
        return {"method": METHOD, "library": lib, "reason": self.reason, "layers": dict(self.layers),
                "classes": [c.to_json(self.leads, self.boxes) for c in self.classes]}


def last_conv_block(backbone: Any) -> tuple[str, Any] | None:
    """The backbone's last child holding a Conv2d (timm ResNet: layer4; DenseNet: features): its output is
    the final feature map, Grad-CAM's usual layer. None when there is no convolution to hook."""
    from torch import nn

    for name, child in reversed(list(backbone.named_children())):
        if any(isinstance(m, nn.Conv2d) for m in child.modules()):
            return name, child
    return None


def _branches(model: Any) -> dict[str, tuple[str, Any]] | str:
    """{"page": (name, module), "beats": (name, module)} or why not."""
    image = getattr(model, "image", None)
    found = {}
    for branch, attr in (("page", "global_"), ("beats", "local")):
        backbone = getattr(getattr(image, attr, None), "backbone", None)
        block = last_conv_block(backbone) if backbone is not None else None
        if block is None:
            return f"the classifier's {branch} branch has no convolutional layer to hook"
        found[branch] = (f"image.{attr}.backbone.{block[0]}", block[1])
    return found


def _cam(wrapper: Any, layer: Any, x: Any, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of `target` over the batch `x`: the library's maps (b, h, w) in [0, 1] each, and the raw
    ReLU'd maps at the layer's resolution (b, h', w') for comparing the batch's images on one scale."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam = GradCAM(model=wrapper, target_layers=[layer])
    targets = [ClassifierOutputTarget(target)]  # the wrapper returns (1, C): one output, one target
    try:
        with torch.enable_grad():
            # requires_grad on the input: the hooked activations need a graph even if the weights are frozen
            maps = cam(input_tensor=x.clone().requires_grad_(True), targets=targets)
            acts = cam.activations_and_grads.activations[0].numpy()
            grads = cam.activations_and_grads.gradients[0].numpy()
            raw = np.maximum(cam.get_cam_image(x, layer, targets, acts, grads), 0)
    finally:
        cam.activations_and_grads.release()
        wrapper.zero_grad(set_to_none=True)
    return maps, raw


def _wrappers(model: Any, batch: dict[str, Any], n: int) -> tuple[Any, Any]:
    """Two tensor -> logits modules over the student, for GradCAM: the page with the beats fixed, and the n
    fed crops (n, 3, c, c) with the page fixed."""
    import torch
    from torch import nn

    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model  # a submodule: GradCAM finds the device in its parameters

    class PageOnly(Fixed):
        def forward(self, page: torch.Tensor) -> torch.Tensor:  # (1, 3, H, W) -> (1, C)
            return self.model({**batch, "page": page})["logits"]

    class BeatsOnly(Fixed):
        def forward(self, crops: torch.Tensor) -> torch.Tensor:  # (n, 3, c, c) -> (1, C)
            beats = torch.cat([crops[None], batch["beats"][:, n:]], dim=1)  # (1, k, 3, c, c)
            return self.model({**batch, "beats": beats})["logits"]

    return PageOnly(), BeatsOnly()


def explain(classifier: Any, upright_page: np.ndarray, boxes: np.ndarray, order_keys: np.ndarray | None,
            classes: Sequence[str] | None = None, top_k: int = 2,
            leads: Sequence[str | None] | None = None) -> Explanation:
    """Grad-CAM of `classes` (default: the `top_k` most probable) on one upright page (RGB uint8) with its beat
    boxes (n, 4) in its pixels, as the classifier sees them. `leads`: each beat's lead name, for the report."""
    if not hasattr(classifier, "inputs"):  # before importing torch: an ONNX-only install has none
        return Explanation.unavailable(f"explanation needs the PyTorch classifier (this one is a "
                                       f"{type(classifier).__name__})")
    import cv2
    import torch

    from vizecg.crops import crop_beats

    model = getattr(classifier, "model", None)
    if not isinstance(model, torch.nn.Module):
        return Explanation.unavailable(f"explanation needs the PyTorch classifier (its model is a "
                                       f"{type(model).__name__})")
    branches = _branches(model)
    if isinstance(branches, str):
        return Explanation.unavailable(branches)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    leads = tuple(leads) if leads is not None else (None,) * len(boxes)
    probs = classifier.probabilities(upright_page, boxes, order_keys)
    names = list(classes) if classes is not None else sorted(probs, key=lambda c: -probs[c])[:max(0, top_k)]
    unknown = [c for c in names if c not in classifier.classes]
    if unknown:
        return Explanation.unavailable(f"unknown class(es) {', '.join(unknown)}")
    batch = classifier.inputs(upright_page, boxes, order_keys)
    c = classifier.crop_size
    _, fed = crop_beats(upright_page[:, :, :3], boxes, order_keys, (c, c), classifier.max_beats)  # crops -> beats
    n = int(batch["beat_mask"][0].sum())
    page_only, beats_only = _wrappers(model, batch, n)
    h, w = upright_page.shape[:2]
    out = []
    for name in names:
        target = list(classifier.classes).index(name)
        page_map, _ = _cam(page_only, branches["page"][1], batch["page"], target)
        page_heat = np.clip(cv2.resize(page_map[0], (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
        importance: list[float | None] = [None] * len(boxes)
        beat_heat = np.zeros((0, c, c), np.float32)
        if n:
            _, raw = _cam(beats_only, branches["beats"][1], batch["beats"][0, :n], target)  # (n, h', w')
            top = float(raw.max())
            scaled = raw / top if top > 0 else raw
            beat_heat = np.stack([cv2.resize(np.float32(m), (c, c), interpolation=cv2.INTER_LINEAR)
                                  for m in scaled]).clip(0, 1)
            score = scaled.mean(axis=(1, 2))
            score = score / score.max() if score.max() > 0 else score
            for j, i in enumerate(fed[:n]):
                importance[int(i)] = float(score[j])
        ranked = sorted((i for i, v in enumerate(importance) if v), key=lambda i: (-importance[i], i))
        by_lead: dict[str, float] = {}
        for i in ranked:
            if leads[i] and leads[i] not in by_lead:
                by_lead[leads[i]] = importance[i]
        out.append(ClassExplanation(name=name, probability=float(probs[name]), page_heat=page_heat.astype(np.float32),
                                    beat_heat=beat_heat.astype(np.float32), beat_importance=tuple(importance),
                                    top_beats=tuple(ranked), leads=by_lead))
    crops = (batch["beats"][0, :n].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return Explanation(classes=tuple(out), layers={k: v[0] for k, v in branches.items()},
                       beat_index=np.asarray(fed[:n], np.int64), beat_crops=crops, leads=leads, boxes=boxes)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The RGB uint8 image with a [0, 1] heat map blended over it (JET: blue cold, red hot)."""
    import cv2

    colour = cv2.cvtColor(cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET),
                          cv2.COLOR_BGR2RGB)
    return np.uint8(np.clip((1 - alpha) * image[:, :, :3].astype(np.float32) + alpha * colour, 0, 255))

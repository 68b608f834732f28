"""Losses as modules returning dicts of NAMED terms plus "loss" (their weighted sum), detectron2-style.

The trainer logs every term by name, so a dead KD term or an exploding agreement term shows in the log.
Multi-label tasks use sigmoid/BCE, multi-class tasks softmax/CE, everywhere in this file.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vizecg.errors import VizEcgError


class NonFiniteLossError(VizEcgError):
    """A loss term became NaN/inf: training stops (DINO-style) instead of silently corrupting the weights."""


def check_finite(terms: dict[str, torch.Tensor], step: int | None = None, where: str = "") -> None:
    """Raise NonFiniteLossError naming the first non-finite term (and the step) if there is one."""
    for name, value in terms.items():
        if torch.is_tensor(value) and not torch.isfinite(value.detach()).all():
            at = f" at step {step}" if step is not None else ""
            raise NonFiniteLossError(f"loss term {name!r} is {value.detach().flatten()[0].item()}{at}"
                                     f"{' (' + where + ')' if where else ''}; "
                                     "lower the learning rate or check the inputs for NaN")


def _as_buffer(x: torch.Tensor | list[float] | None) -> torch.Tensor | None:
    return None if x is None else torch.as_tensor(x, dtype=torch.float32)


class TaskLoss(nn.Module):
    """BCE-with-logits (multi-label, optional pos_weight per class) or CE (multi-class, optional class weights)."""

    def __init__(self, multilabel: bool, pos_weight: torch.Tensor | list[float] | None = None,
                 class_weight: torch.Tensor | list[float] | None = None, name: str = "task"):
        super().__init__()
        self.multilabel = multilabel
        self.name = name
        # Buffers: they follow .to(device) and are saved with the loss' state.
        self.register_buffer("pos_weight", _as_buffer(pos_weight) if multilabel else None)
        self.register_buffer("class_weight", None if multilabel else _as_buffer(class_weight))

    def term(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype).view_as(logits),
                                                      pos_weight=self.pos_weight)
        return F.cross_entropy(logits, target.long(), weight=self.class_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        value = self.term(logits, target)
        return {self.name: value, "loss": value}


def probabilities(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, multilabel: bool,
            temperature: float = 1.0) -> torch.Tensor:
    """KL(teacher || student) of temperature-softened predictions: exactly 0 when the logits are equal.

    Multi-label: per-class Bernoulli KL = BCE(student, soft teacher targets) - entropy(teacher); the entropy
    has no gradient w.r.t. the student, so this is the usual soft-BCE KD, shifted to be 0 at agreement.
    Multi-class: KL of the softmaxes (batch mean). Both are multiplied by T^2 (Hinton et al.) so the gradient
    scale does not depend on the temperature.
    """
    T = float(temperature)
    s, t = student_logits / T, teacher_logits / T
    if multilabel:
        p = torch.sigmoid(t)
        kl = (F.binary_cross_entropy_with_logits(s, p, reduction="none")
              - F.binary_cross_entropy_with_logits(t, p, reduction="none"))
        return kl.mean() * T * T
    return F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean") * T * T


def agreement(a_logits: torch.Tensor, b_logits: torch.Tensor, multilabel: bool, kind: str = "kl") -> torch.Tensor:
    """How much two heads disagree: symmetric KL or MSE of probabilities (VizECGNet's modality agreement)."""
    if kind == "kl":
        return 0.5 * (soft_kl(a_logits, b_logits, multilabel) + soft_kl(b_logits, a_logits, multilabel))
    if kind == "mse":
        return F.mse_loss(probabilities(a_logits, multilabel), probabilities(b_logits, multilabel))
    raise ValueError(f"agreement kind must be 'kl' or 'mse', got {kind!r}")


class TeacherLoss(nn.Module):
    """Fused task loss + per-modality task losses + agreement between the image and signal heads."""

    def __init__(self, multilabel: bool, pos_weight=None, class_weight=None, w_task: float = 1.0,
                 w_image: float = 0.5, w_signal: float = 0.5, w_agreement: float = 0.1, agreement_kind: str = "kl"):
        super().__init__()
        self.task = TaskLoss(multilabel, pos_weight, class_weight)
        self.multilabel = multilabel
        self.weights = {"task": w_task, "task_image": w_image, "task_signal": w_signal, "agreement": w_agreement}
        self.agreement_kind = agreement_kind
        agreement(torch.zeros(1, 2), torch.zeros(1, 2), multilabel, agreement_kind)  # fail early on a bad kind

    def forward(self, out: dict[str, torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = {
            "task": self.task.term(out["logits"], target),
            "task_image": self.task.term(out["logits_image"], target),
            "task_signal": self.task.term(out["logits_signal"], target),
            # Both heads get the gradient: each modality learns from the other (mutual learning).
            "agreement": agreement(out["logits_image"], out["logits_signal"], self.multilabel, self.agreement_kind),
        }
        terms["loss"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms


class DistillationLoss(nn.Module):
    """Student task loss + logit KD from the frozen teacher + feature KD through a learnable projector.

    The projector maps the student's image_features (b, d_s) to the teacher's (b, d_t); it is trained with
    the student (its parameters belong to this module, which the trainer hands to the optimizer) and
    thrown away after training.
    """

    def __init__(self, multilabel: bool, student_dim: int, teacher_dim: int, temperature: float = 4.0,
                 w_task: float = 1.0, w_kd: float = 1.0, w_feat: float = 1.0, feature_loss: str = "cosine",
                 pos_weight=None, class_weight=None):
        super().__init__()
        if feature_loss not in ("mse", "cosine"):
            raise ValueError(f"feature_loss must be 'mse' or 'cosine', got {feature_loss!r}")
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a positive number, got {temperature}")
        self.task = TaskLoss(multilabel, pos_weight, class_weight)
        self.multilabel = multilabel
        self.temperature = float(temperature)
        self.weights = {"task": w_task, "kd": w_kd, "feat": w_feat}
        self.feature_loss = feature_loss
        self.projector = nn.Linear(student_dim, teacher_dim)
        if w_feat <= 0:
            self.projector.requires_grad_(False)  # unused: keep it out of the optimizer and of DDP's reducer

    def feature_term(self, student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
        z = self.projector(student_features)  # (b, d_t)
        t = teacher_features.detach()
        if self.feature_loss == "mse":
            return F.mse_loss(z, t)
        return (1.0 - F.cosine_similarity(z, t, dim=-1)).mean()

    def forward(self, student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor],
                target: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = {
            "task": self.task.term(student["logits"], target),
            "kd": soft_kl(student["logits"], teacher["logits"].detach(), self.multilabel, self.temperature),
        }
        if self.weights["feat"] > 0:
            terms["feat"] = self.feature_term(student["image_features"], teacher["image_features"])
        terms["loss"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms

"""Losses: named terms, KD vanishes at agreement, agreement term, feature projector, non-finite guard."""
from __future__ import annotations

import math

import pytest
import torch

from distill.losses import (DistillationLoss, NonFiniteLossError, TaskLoss, TeacherLoss, agreement, check_finite,
                            soft_kl)


@pytest.mark.parametrize("multilabel", [True, False])
def test_kd_is_zero_when_student_equals_teacher_and_positive_otherwise(multilabel):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=g) * 3
    for T in (1.0, 4.0):
        assert abs(float(soft_kl(logits, logits.clone(), multilabel, T))) < 1e-5
    student = torch.randn(6, 5, generator=g, requires_grad=True)
    kd = soft_kl(student, logits, multilabel, 4.0)
    assert float(kd.detach()) > 1e-3
    kd.backward()
    assert student.grad.abs().sum() > 0


def test_distillation_loss_terms_and_sum():
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(0)
    loss = DistillationLoss(True, student_dim=8, teacher_dim=12, temperature=2.0, w_task=1.0, w_kd=0.5, w_feat=2.0,
                            feature_loss="mse")
    logits = torch.randn(4, 5, generator=g)
    student = {"logits": logits.clone().requires_grad_(True), "image_features": torch.randn(4, 8, generator=g)}
    teacher = {"logits": logits.clone(), "image_features": torch.randn(4, 12, generator=g)}
    target = (torch.rand(4, 5, generator=g) > 0.5).float()
    terms = loss(student, teacher, target)
    assert set(terms) == {"task", "kd", "feat", "loss"}
    assert abs(float(terms["kd"].detach())) < 1e-5  # same logits: nothing to distil
    assert math.isclose(float(terms["loss"].detach()), float((terms["task"] + 0.5 * terms["kd"] + 2.0 * terms["feat"]).detach()),
                        rel_tol=1e-6)
    terms["loss"].backward()
    assert loss.projector.weight.grad is not None and loss.projector.weight.grad.abs().sum() > 0  # trainable
    cos = DistillationLoss(False, 8, 8, feature_loss="cosine")
    f = torch.randn(3, 8, generator=g)
    assert float(cos.feature_term(f, cos.projector(f).detach()).detach()) < 1e-5  # aligned features: 0


def test_teacher_loss_names_every_term_and_agreement_vanishes_when_heads_agree():
    g = torch.Generator().manual_seed(2)
    loss = TeacherLoss(True, w_task=1.0, w_image=0.5, w_signal=0.25, w_agreement=0.1)
    same = torch.randn(4, 5, generator=g)
    out = {"logits": torch.randn(4, 5, generator=g), "logits_image": same, "logits_signal": same.clone()}
    target = (torch.rand(4, 5, generator=g) > 0.5).float()
    terms = loss(out, target)
    assert set(terms) == {"task", "task_image", "task_signal", "agreement", "loss"}
    assert abs(float(terms["agreement"])) < 1e-5
    assert math.isclose(float(terms["loss"]), float(terms["task"] + 0.5 * terms["task_image"]
                                                    + 0.25 * terms["task_signal"]), rel_tol=1e-5)
    other = torch.randn(4, 5, generator=g)
    for kind in ("kl", "mse"):
        assert float(agreement(same, other, True, kind)) > 0
        # symmetric: which head is "first" does not matter
        assert math.isclose(float(agreement(same, other, True, kind)), float(agreement(other, same, True, kind)),
                            rel_tol=1e-5)


def test_task_loss_weights_matter():
    logits = torch.zeros(4, 2)
    target = torch.tensor([[1.0, 0.0]] * 4)
    plain = float(TaskLoss(True)(logits, target)["loss"])
    weighted = float(TaskLoss(True, pos_weight=[3.0, 1.0])(logits, target)["task"])
    assert weighted > plain
    ce = TaskLoss(False, class_weight=[1.0, 0.0])  # class 1 weighted out
    assert float(ce(torch.tensor([[0.0, 5.0]]), torch.tensor([0]))["loss"]) > 4.0


def test_non_finite_loss_names_the_term_and_step():
    terms = {"task": torch.tensor(0.3), "kd": torch.tensor(float("nan")), "loss": torch.tensor(float("nan"))}
    with pytest.raises(NonFiniteLossError, match=r"'kd'.*step 17"):
        check_finite(terms, step=17)
    check_finite({"loss": torch.tensor(1.0)}, step=0)  # finite: silent

"""Behaviour of the VizECG models, on the tiny variants (same code path, small widths)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vizecg.errors import ModelError
from vizecg.models import create_model, list_models, load_local_branch, morlet_scalogram
from vizecg.models.backbones import load_submodule
from vizecg.models.cwt import morlet_frequencies


def make_batch(b: int = 2, k: int = 3, mask=None, seed: int = 0, signal: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    if mask is None:
        mask = [[True, True, False], [True, False, False]]  # rows with 2 and 1 real crops, padding in both
    batch = {
        "page": torch.rand(b, 3, 64, 96, generator=g),  # (b, 3, H, W)
        "beats": torch.rand(b, k, 3, 64, 64, generator=g),  # 64 px: the last ResNet stage keeps 2x2 for BN
        "beat_mask": torch.tensor(mask, dtype=torch.bool),  # (b, k)
    }
    if signal:
        batch["signal"] = torch.randn(b, 12, 400, generator=g)  # (b, 12, t) mV
    return batch


def logits_loss(out: dict[str, torch.Tensor]) -> torch.Tensor:
    # only logits: every parameter must reach them (features are inputs of the heads)
    return sum(F.binary_cross_entropy_with_logits(v, torch.ones_like(v)) for k, v in out.items()
               if k.startswith("logits"))


GRAD_CASES = [
    ("teacher_tiny", dict(local_pool="sum", signal_encoder="resnet1d")),
    ("teacher_tiny", dict(local_pool="attention", signal_encoder="both", cmam_depth=2)),
    ("teacher_tiny", dict(local_pool="attention", signal_encoder="scalogram")),
    ("student_tiny", dict(local_pool="sum")),
    ("student_tiny", dict(local_pool="attention", image_smam_depth=1)),
    ("signal_resnet1d_tiny", dict(signal_encoder="both", signal_smam_depth=1)),
]


@pytest.mark.parametrize("name,kwargs", GRAD_CASES)
def test_every_parameter_gets_a_finite_gradient(name, kwargs):
    torch.manual_seed(0)
    model = create_model(name, **kwargs).train()
    logits_loss(model(make_batch())).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None]
    assert not dead, f"parameters without gradient (dead branch): {dead[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    for child_name, child in model.named_children():  # each branch really contributes, not just zeros
        grads = [p.grad.abs().sum() for p in child.parameters()]
        assert not grads or sum(grads) > 0, child_name  # (sum pooling has no parameters)


def test_beat_classifier_gradients_and_input():
    model = create_model("beat_classifier_tiny").train()
    out = model({"beat": torch.rand(4, 3, 64, 64)})
    assert out["logits"].shape == (4, 5) and not model.multilabel
    F.cross_entropy(out["logits"], torch.tensor([0, 1, 2, 3])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_student_needs_no_signal_but_teacher_does():
    batch = make_batch(signal=False)
    out = create_model("student_tiny").eval()(batch)
    assert out["logits"].shape == (2, 5) and out["image_features"].shape == (2, 64)
    with pytest.raises(ModelError, match="signal"):
        create_model("teacher_tiny").eval()(batch)


@pytest.mark.parametrize("name,kwargs", [("student_tiny", dict(local_pool="attention", image_smam_depth=1)),
                                         ("student_tiny", dict(local_pool="sum")),
                                         ("teacher_tiny", dict(local_pool="attention"))])
@pytest.mark.parametrize("train", [False, True])
def test_zero_real_crops_give_finite_outputs(name, kwargs, train):
    model = create_model(name, **kwargs).train(train)
    batch = make_batch(mask=[[False] * 3, [False] * 3])
    out = model(batch)
    assert all(torch.isfinite(v).all() for v in out.values())
    logits_loss(out).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    if "image_features" in out and name.startswith("student"):
        d = model.cfg.d_model
        assert torch.equal(out["image_features"][:, :d], torch.zeros(2, d))  # no beats -> empty local part


@pytest.mark.parametrize("name,kwargs", [("student_tiny", dict(local_pool="attention", image_smam_depth=1)),
                                         ("teacher_tiny", dict(local_pool="attention"))])
@pytest.mark.parametrize("train", [False, True])
def test_masked_crops_do_not_change_outputs(name, kwargs, train):
    model = create_model(name, **kwargs).train(train)
    batch = make_batch()
    changed = dict(batch, beats=batch["beats"].clone())
    changed["beats"][~batch["beat_mask"]] = 1.0 - changed["beats"][~batch["beat_mask"]]  # only padding slots
    torch.manual_seed(1)  # same dropout masks for both calls
    a = model(batch)
    torch.manual_seed(1)
    b = model(changed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    changed["beats"][0, 0] = 1.0 - changed["beats"][0, 0]  # a real crop does matter
    torch.manual_seed(1)
    assert not torch.allclose(model(changed)["logits"], a["logits"])


@pytest.mark.parametrize("name,kwargs", [("teacher_tiny", dict(signal_encoder="both", local_pool="attention",
                                                               num_classes=7, multilabel=False)),
                                         ("student_tiny", dict(image_smam_depth=1)),
                                         ("signal_resnet1d_tiny", dict(signal_encoder="scalogram")),
                                         ("beat_classifier_tiny", {})])
def test_checkpoint_rebuilds_the_same_model(tmp_path, name, kwargs):
    torch.manual_seed(0)
    model = create_model(name, **kwargs).eval()
    path = tmp_path / "ckpt.pt"
    torch.save({"model_name": model.model_name, "model_args": model.model_args, "model": model.state_dict()}, path)
    ckpt = torch.load(path, weights_only=True)  # model_args are primitives: the safe loader accepts them
    torch.manual_seed(123)  # a different init, so equality below comes from the state dict
    rebuilt = create_model(ckpt["model_name"], **ckpt["model_args"]).eval()
    rebuilt.load_state_dict(ckpt["model"], strict=True)
    assert rebuilt.model_args == model.model_args
    batch = {"beat": torch.rand(2, 3, 64, 64)} if name.startswith("beat") else make_batch()
    with torch.no_grad():
        a, b = model(batch), rebuilt(batch)
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("name", list_models())
def test_every_registered_name_builds(name):
    model = create_model(name, num_classes=3, multilabel=False)
    assert model.model_name == name and model.num_classes == 3 and model.multilabel is False
    assert all(isinstance(v, (int, float, str, bool)) for v in model.model_args.values())
    assert model.model_args["num_classes"] == 3


def test_bad_names_and_arguments_raise_model_error():
    with pytest.raises(ModelError, match="student_tiny") as exc:
        create_model("studnet")
    assert "teacher" in str(exc.value)
    with pytest.raises(ModelError, match="unknown argument"):
        create_model("student_tiny", n_classes=3)
    with pytest.raises(ModelError, match="local_pool"):
        create_model("student_tiny", local_pool="max")
    with pytest.raises(ModelError, match="signal_encoder"):
        create_model("teacher_tiny", signal_encoder="fft")
    with pytest.raises(ModelError, match="backbone"):
        create_model("student_tiny", global_backbone="vit_huge")
    with pytest.raises(ModelError, match="local_weights"):
        create_model("student_tiny", weights="x.pt")  # two backbones: `weights` would be ambiguous


def test_local_backbone_weights_file(tmp_path):
    torch.manual_seed(0)
    donor = create_model("beat_classifier_tiny").local.backbone
    state = {k: v + 0.5 if v.is_floating_point() else v for k, v in donor.state_dict().items()}
    state["fc.weight"] = torch.zeros(10, donor.num_features)  # an ImageNet-style file carries a classifier
    good = tmp_path / "resnet18_tiny.pth"
    torch.save(state, good)
    model = create_model("student_tiny", local_weights=str(good))
    assert torch.equal(model.local.backbone.conv1.weight, state["conv1.weight"])
    assert "local_weights" not in model.model_args  # initialisation, not architecture
    beat = create_model("beat_classifier_tiny", weights=str(good))
    assert torch.equal(beat.local.backbone.conv1.weight, state["conv1.weight"])

    dense = tmp_path / "densenet_tiny.pth"
    torch.save(model.image.global_.backbone.state_dict(), dense)
    create_model("teacher_tiny", global_weights=str(dense))  # the right file for the global branch loads
    with pytest.raises(ModelError, match="do not match local backbone") as exc:
        create_model("student_tiny", local_weights=str(dense))
    assert str(dense) in str(exc.value)
    with pytest.raises(ModelError, match="does not exist"):
        create_model("student_tiny", global_weights=str(tmp_path / "missing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(ModelError, match="cannot read"):
        create_model("student_tiny", local_weights=str(junk))


def test_beat_classifier_local_branch_loads_into_student(tmp_path):
    torch.manual_seed(0)
    beat = create_model("beat_classifier_tiny").eval()
    path = tmp_path / "beat.pt"
    torch.save({"model_name": beat.model_name, "model_args": beat.model_args, "model": beat.state_dict()}, path)
    torch.manual_seed(1)
    student = create_model("student_tiny", local_pool="attention").eval()
    crop = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = student.local(crop.unsqueeze(1), torch.ones(1, 1, dtype=torch.bool))
        load_local_branch(student, path)
        after = student.local(crop.unsqueeze(1), torch.ones(1, 1, dtype=torch.bool))[:, 0]
        assert not torch.allclose(before[:, 0], after)
        torch.testing.assert_close(after, beat({"beat": crop})["beat_features"])
    load_local_branch(create_model("teacher_tiny"), beat.local.state_dict())  # a bare LocalBranch dict too
    with pytest.raises(ModelError, match="wrong shape"):
        load_local_branch(create_model("student_tiny", d_model=16), path)


def test_morlet_scalogram_finds_a_sinusoid_and_matches_the_model_path():
    fs, t = 100.0, torch.arange(1000) / 100.0
    signal = (0.8 * torch.sin(2 * math.pi * 10.0 * t)).repeat(2, 12, 1)  # (2, 12, 1000)
    scal = morlet_scalogram(signal, fs, n_scales=32, hop=4)
    assert scal.shape == (2, 12, 32, 250)
    profile = scal[0, 0, :, 50:200].mean(dim=-1)  # away from the edges
    freqs = morlet_frequencies(32, 1.0, 40.0)
    assert abs(freqs[profile.argmax()].item() - 10.0) < 1.0
    assert abs(profile.max().item() - 0.8) < 0.08  # filters normalised: |W| ~ amplitude in mV
    model = create_model("signal_resnet1d_tiny", signal_encoder="scalogram").eval()
    given = morlet_scalogram(signal, fs, n_scales=model.cfg.scalogram_scales)
    with torch.no_grad():
        a = model({"signal": signal})["logits"]
        b = model({"scalogram": given})["logits"]  # precomputed by the dataset: no signal needed
    torch.testing.assert_close(a, b)


def test_teacher_streams_start_from_single_modality_models(tmp_path):
    torch.manual_seed(0)
    signal = create_model("signal_resnet1d_tiny", num_classes=5)
    path = tmp_path / "signal.pt"
    torch.save({"model": signal.state_dict()}, path)
    teacher = create_model("teacher_tiny", num_classes=5)
    load_submodule(teacher, "signal.resnet1d", path, "encoder.resnet1d")
    for k, v in teacher.signal.resnet1d.state_dict().items():
        torch.testing.assert_close(v, signal.encoder.resnet1d.state_dict()[k])
    with pytest.raises(ModelError, match="missing"):  # the teacher's signal SMAM has no counterpart
        load_submodule(teacher, "signal", path, "encoder")
    with pytest.raises(ModelError, match="no submodule 'image'"):
        load_submodule(teacher, "image", path, "image")
    with pytest.raises(ModelError, match="no submodule 'nothere'"):
        load_submodule(teacher, "nothere", path, "encoder")

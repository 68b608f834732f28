"""The image stream and the image-only models: student (= image_baseline) and the beat classifier.

local branch:  ResNet18 over each beat crop -> beat tokens (b, k, d)            (LocalBranch)
global branch: DenseNet121 over the page -> feature map -> tokens (b, h'w', d)   (GlobalBranch)
student:       pool(beat tokens) ++ mean(global tokens) -> patent fusion head; optional SMAM over all tokens.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vizecg.errors import ModelError
from vizecg.models.backbones import (check_backbone_name, create_backbone, load_backbone_weights, load_strict,
                                     read_state_dict)
from vizecg.models.layers import POOLS, BeatPool, FusionHead, SelfAttentionBlock, sincos_1d, sincos_2d
from vizecg.models.registry import config_args, make_config, register_model

# Backbones were designed for ImageNet statistics; batches arrive in [0, 1] and are normalised here.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ImageConfig:
    num_classes: int = 5  # PTB-XL superclasses by default
    multilabel: bool = True  # stored for the loss and metrics (sigmoid vs softmax); the model emits logits
    local_backbone: str = "resnet18"  # timm, over each beat crop
    global_backbone: str = "densenet121"  # timm, over the whole page
    d_model: int = 256  # token width; image_features are 2 * d_model (local ++ global)
    num_heads: int = 4
    local_pool: str = "sum"  # "sum" (patent: masked sum) or "attention" (masked attention pooling)
    head_hidden: int = 256
    dropout: float = 0.5  # patent's head dropout
    image_smam_depth: int = 0  # SMAM blocks over global + beat tokens (0 = the patent's plain student)

    def __post_init__(self) -> None:
        check_backbone_name(self.local_backbone, "local_backbone")
        check_backbone_name(self.global_backbone, "global_backbone")
        if self.local_pool not in POOLS:
            raise ModelError(f"unknown local_pool {self.local_pool!r} (known: {', '.join(POOLS)})")
        if self.d_model % self.num_heads:
            raise ModelError(f"d_model={self.d_model} is not divisible by num_heads={self.num_heads}")


class Normalize(nn.Module):
    def __init__(self):
        super().__init__()
        # not persistent: constants, so they never make a state dict mismatch
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., 3, h, w) in [0, 1]
        return (x - self.mean) / self.std


class LocalBranch(nn.Module):
    """Beat crops (b, k, 3, h, w) + mask (b, k) -> beat tokens (b, k, d); masked slots are zeros.

    Only the real crops go through the CNN: cheaper, and BatchNorm batch statistics never see padding.
    Its state dict is what beat-level pretraining hands to the student (`load_local_branch`).
    """

    def __init__(self, backbone: str, d_model: int):
        super().__init__()
        self.norm = Normalize()
        self.backbone = create_backbone(backbone)
        self.proj = nn.Linear(self.backbone.num_features, d_model)
        self.d_model = d_model

    def forward(self, beats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, k = mask.shape
        flat_mask = mask.reshape(b * k)
        idx = flat_mask.nonzero().squeeze(1)  # (n_real,)
        out = beats.new_zeros(b * k, self.d_model)  # (b*k, d)
        if idx.numel():
            crops = beats.reshape(b * k, *beats.shape[2:])[idx]  # (n_real, 3, h, w)
            feats = self.proj(self.backbone(self.norm(crops)))  # (n_real, d)
            out = out.index_copy(0, idx, feats)
        return out.view(b, k, self.d_model)  # (b, k, d)


class GlobalBranch(nn.Module):
    """Page (b, 3, H, W) -> feature-map tokens (b, h'*w', d) and the map's (h', w')."""

    def __init__(self, backbone: str, d_model: int):
        super().__init__()
        self.norm = Normalize()
        self.backbone = create_backbone(backbone)
        self.proj = nn.Linear(self.backbone.num_features, d_model)

    def forward(self, page: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        fmap = self.backbone.forward_features(self.norm(page))  # (b, c, h', w')
        tokens = self.proj(fmap.flatten(2).transpose(1, 2))  # (b, h'w', d)
        return tokens, (fmap.shape[2], fmap.shape[3])


def _need(batch: Mapping[str, torch.Tensor], *keys: str) -> None:
    missing = [k for k in keys if k not in batch]
    if missing:
        raise ModelError(f"batch lacks {', '.join(missing)} (got keys {sorted(batch)})")


class ImageEncoder(nn.Module):
    """Local + global branches and the optional image SMAM. Returns global tokens, beat tokens, beat mask."""

    def __init__(self, cfg: ImageConfig):
        super().__init__()
        d = cfg.d_model
        self.local = LocalBranch(cfg.local_backbone, d)
        self.global_ = GlobalBranch(cfg.global_backbone, d)
        self.type_embed = nn.Parameter(torch.zeros(2, d)) if cfg.image_smam_depth else None  # 0 global, 1 beat
        self.smam = nn.ModuleList(SelfAttentionBlock(d, cfg.num_heads) for _ in range(cfg.image_smam_depth))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _need(batch, "page", "beats", "beat_mask")
        mask = batch["beat_mask"].bool()  # (b, k)
        beat_tokens = self.local(batch["beats"], mask)  # (b, k, d)
        global_tokens, (h, w) = self.global_(batch["page"])  # (b, n, d)
        if len(self.smam):
            b, n, d = global_tokens.shape
            k = beat_tokens.shape[1]
            x = torch.cat([global_tokens + sincos_2d(h, w, d, global_tokens.device) + self.type_embed[0],
                           beat_tokens + sincos_1d(k, d, beat_tokens.device) + self.type_embed[1]], dim=1)
            # global tokens are never padding, so no row is fully masked (that would give NaN)
            pad = torch.cat([mask.new_zeros(b, n), ~mask], dim=1)  # (b, n + k)
            for block in self.smam:
                x = block(x, pad)
            global_tokens, beat_tokens = x[:, :n], x[:, n:]
        return global_tokens, beat_tokens, mask


class Student(nn.Module):
    """Image-only model (also `image_baseline`: same architecture, trained without distillation).

    forward(batch with page, beats, beat_mask; no signal needed) ->
        {"logits" (b, C), "image_features" (b, 2d) = pooled local ++ pooled global, the fusion head's input}
    """

    def __init__(self, cfg: ImageConfig):
        super().__init__()
        self.cfg = cfg
        self.model_args = config_args(cfg)
        self.num_classes, self.multilabel = cfg.num_classes, cfg.multilabel
        self.feature_dim = 2 * cfg.d_model
        self.image = ImageEncoder(cfg)
        self.beat_pool = BeatPool(cfg.local_pool, cfg.d_model)
        self.head = FusionHead(self.feature_dim, cfg.head_hidden, cfg.num_classes, cfg.dropout)

    @property
    def local(self) -> LocalBranch:
        return self.image.local

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        global_tokens, beat_tokens, mask = self.image(batch)
        feats = torch.cat([self.beat_pool(beat_tokens, mask), global_tokens.mean(dim=1)], dim=1)  # (b, 2d)
        return {"logits": self.head(feats), "image_features": feats}


@dataclass
class BeatConfig:
    num_classes: int = 5  # AAMI beat classes N, S, V, F, Q
    multilabel: bool = False
    local_backbone: str = "resnet18"
    d_model: int = 256  # must equal the student's d_model for load_local_branch

    def __post_init__(self) -> None:
        check_backbone_name(self.local_backbone, "local_backbone")


class BeatClassifier(nn.Module):
    """Local branch + linear head over ONE beat crop, for MIT-BIH AAMI pretraining of the local branch.

    forward({"beat": (b, 3, h, w) in [0, 1]}) -> {"logits" (b, C), "beat_features" (b, d)}.
    """

    def __init__(self, cfg: BeatConfig):
        super().__init__()
        self.cfg = cfg
        self.model_args = config_args(cfg)
        self.num_classes, self.multilabel = cfg.num_classes, cfg.multilabel
        self.feature_dim = cfg.d_model
        self.local = LocalBranch(cfg.local_backbone, cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.num_classes)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        _need(batch, "beat")
        beat = batch["beat"]  # (b, 3, h, w)
        mask = torch.ones(beat.shape[0], 1, dtype=torch.bool, device=beat.device)
        feats = self.local(beat.unsqueeze(1), mask)[:, 0]  # (b, d)
        return {"logits": self.head(feats), "beat_features": feats}


def load_local_branch(model: nn.Module, path_or_state: str | Path | Mapping[str, torch.Tensor]) -> None:
    """Load a pretrained local branch into `model` (student, image_baseline, teacher or beat_classifier).

    Accepts a file or a state dict of: a LocalBranch, a whole beat_classifier (keys 'local.*'), or either
    wrapped as {'model'|'state_dict'|'model_state': ...}. Backbone and d_model must match, else ModelError.
    """
    where = str(path_or_state) if isinstance(path_or_state, (str, Path)) else None
    state = read_state_dict(path_or_state)
    if any(k.startswith("local.") for k in state):
        state = {k[len("local."):]: v for k, v in state.items() if k.startswith("local.")}
    local = getattr(model, "local", None)
    if not isinstance(local, LocalBranch):
        raise ModelError(f"{type(model).__name__} has no local branch to load into")
    load_strict(local, state, "the local branch", where)


def _image_model(cls: type, cfg_cls: type, name: str, defaults: dict, kwargs: dict) -> nn.Module:
    """Build, then load local backbone weights files (they are initialisation, so not kept in model_args)."""
    local_w = kwargs.pop("local_weights", None)
    global_w = kwargs.pop("global_weights", None)
    weights = kwargs.pop("weights", None)
    if weights is not None:
        if cfg_cls is BeatConfig:
            local_w = local_w or weights  # one backbone: `weights` is unambiguous
        else:
            raise ModelError(f"model {name!r} has two backbones: pass local_weights= and/or global_weights=")
    model = cls(make_config(cfg_cls, name, defaults, kwargs))
    model.model_name = name
    if local_w is not None:
        load_backbone_weights(model.local.backbone, local_w, f"local backbone {model.cfg.local_backbone}")
    if global_w is not None:
        if cfg_cls is BeatConfig:
            raise ModelError(f"model {name!r} has no global backbone")
        load_backbone_weights(model.image.global_.backbone, global_w, f"global backbone {model.cfg.global_backbone}")
    return model


IMAGE_TINY = dict(local_backbone="resnet18_tiny", global_backbone="densenet121_tiny", d_model=32, num_heads=2,
                  head_hidden=32)


@register_model
def student(**kwargs) -> Student:
    return _image_model(Student, ImageConfig, "student", {}, kwargs)


@register_model
def student_tiny(**kwargs) -> Student:
    return _image_model(Student, ImageConfig, "student_tiny", IMAGE_TINY, kwargs)


@register_model
def image_baseline(**kwargs) -> Student:
    return _image_model(Student, ImageConfig, "image_baseline", {}, kwargs)


@register_model
def image_baseline_tiny(**kwargs) -> Student:
    return _image_model(Student, ImageConfig, "image_baseline_tiny", IMAGE_TINY, kwargs)


@register_model
def beat_classifier(**kwargs) -> BeatClassifier:
    return _image_model(BeatClassifier, BeatConfig, "beat_classifier", {}, kwargs)


@register_model
def beat_classifier_tiny(**kwargs) -> BeatClassifier:
    return _image_model(BeatClassifier, BeatConfig, "beat_classifier_tiny",
                        dict(local_backbone="resnet18_tiny", d_model=32), kwargs)

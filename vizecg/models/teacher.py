"""The teacher: image stream + signal stream, self-attention within each (SMAM), cross-attention (CMAM).

image tokens  = global feature-map tokens ++ beat tokens (type + position embeddings), SMAM, key padding for
                missing beats (global tokens always unmasked, so no all-masked row -> no NaN)
signal tokens = 1-D ResNet and/or scalogram time tokens, SMAM
CMAM          = image->signal and signal->image cross-attention, both from the same inputs, `cmam_depth` times
heads         = patent fusion head over image ++ signal, plus one linear head per modality
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from vizecg.models.image import IMAGE_TINY, ImageConfig, ImageEncoder, LocalBranch, _image_model
from vizecg.models.layers import BeatPool, CrossAttentionBlock, FusionHead
from vizecg.models.registry import config_args, register_model
from vizecg.models.signal import _SIGNAL_TINY, SignalConfig, SignalEncoder


@dataclass
class TeacherConfig(ImageConfig, SignalConfig):
    image_smam_depth: int = 1
    signal_smam_depth: int = 1
    cmam_depth: int = 1  # layers of (image->signal, signal->image) cross-attention

    def __post_init__(self) -> None:
        ImageConfig.__post_init__(self)
        SignalConfig.__post_init__(self)


class Teacher(nn.Module):
    """forward(batch with page, beats, beat_mask, signal[, scalogram]) -> {
        "logits" (b, C) fused, "logits_image" (b, C), "logits_signal" (b, C),
        "image_features" (b, 2d) = cross-attended beat tokens pooled ++ global tokens mean (the student's
                                   image_features layout, so feature distillation needs no projector when
                                   d_model matches),
        "signal_features" (b, d) = cross-attended signal tokens mean }
    """

    def __init__(self, cfg: TeacherConfig):
        super().__init__()
        self.cfg = cfg
        self.model_args = config_args(cfg)
        self.num_classes, self.multilabel = cfg.num_classes, cfg.multilabel
        d = cfg.d_model
        self.feature_dim = self.image_feature_dim = 2 * d
        self.signal_feature_dim = d
        self.image = ImageEncoder(cfg)
        self.signal = SignalEncoder(cfg)
        self.img_from_sig = nn.ModuleList(CrossAttentionBlock(d, cfg.num_heads) for _ in range(cfg.cmam_depth))
        self.sig_from_img = nn.ModuleList(CrossAttentionBlock(d, cfg.num_heads) for _ in range(cfg.cmam_depth))
        self.beat_pool = BeatPool(cfg.local_pool, d)
        self.head = FusionHead(3 * d, cfg.head_hidden, cfg.num_classes, cfg.dropout)
        self.head_image = nn.Linear(2 * d, cfg.num_classes)
        self.head_signal = nn.Linear(d, cfg.num_classes)

    @property
    def local(self) -> LocalBranch:
        return self.image.local

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        global_tokens, beat_tokens, mask = self.image(batch)  # (b, n, d), (b, k, d), (b, k)
        sig, _ = self.signal(batch)  # (b, m, d)
        b, n, _ = global_tokens.shape
        img = torch.cat([global_tokens, beat_tokens], dim=1)  # (b, n + k, d)
        img_pad = torch.cat([mask.new_zeros(b, n), ~mask], dim=1)  # (b, n + k); global tokens never masked
        for to_img, to_sig in zip(self.img_from_sig, self.sig_from_img):
            img, sig = to_img(img, sig), to_sig(sig, img, img_pad)
        image_features = torch.cat([self.beat_pool(img[:, n:], mask), img[:, :n].mean(dim=1)], dim=1)  # (b, 2d)
        signal_features = sig.mean(dim=1)  # (b, d)
        return {
            "logits": self.head(torch.cat([image_features, signal_features], dim=1)),
            "logits_image": self.head_image(image_features),
            "logits_signal": self.head_signal(signal_features),
            "image_features": image_features,
            "signal_features": signal_features,
        }


@register_model
def teacher(**kwargs) -> Teacher:
    return _image_model(Teacher, TeacherConfig, "teacher", {}, kwargs)


@register_model
def teacher_tiny(**kwargs) -> Teacher:
    return _image_model(Teacher, TeacherConfig, "teacher_tiny", {**IMAGE_TINY, **_SIGNAL_TINY}, kwargs)

"""The signal stream: a 1-D ResNet over the 12-lead signal and/or a 2-D CNN over its Morlet scalogram.

Both give time tokens (b, t', d) and a pooled vector (b, d); `signal_encoder` picks "resnet1d", "scalogram"
or "both" (tokens concatenated along time with a type embedding). The registered `signal_resnet1d` model is
the signal-only classifier; the teacher reuses `SignalEncoder`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vizecg.errors import ModelError
from vizecg.models.cwt import morlet_scalogram
from vizecg.models.layers import FusionHead, SelfAttentionBlock, sincos_1d
from vizecg.models.registry import config_args, make_config, register_model
from vizecg.record import STANDARD_LEADS

SIGNAL_ENCODERS = ("resnet1d", "scalogram", "both")
N_LEADS = len(STANDARD_LEADS)  # the dataset fills absent leads with zeros; the channel order is STANDARD_LEADS


@dataclass
class SignalConfig:
    num_classes: int = 5  # PTB-XL superclasses by default
    multilabel: bool = True  # stored for the loss and metrics (sigmoid vs softmax); the model emits logits
    d_model: int = 256  # token width of every stream
    num_heads: int = 4
    head_hidden: int = 256
    dropout: float = 0.5  # patent's head dropout
    signal_encoder: str = "resnet1d"
    signal_fs: float = 100.0  # Hz of batch["signal"]; sets the CWT frequencies
    signal_width: int = 64  # 1-D ResNet stage widths w, 2w, 4w
    signal_blocks: int = 2  # basic blocks per stage
    scalogram_scales: int = 32
    scalogram_width: int = 32  # 2-D CNN widths w, 2w, 4w
    signal_smam_depth: int = 0  # SMAM blocks over the signal tokens (the teacher uses >= 1)

    def __post_init__(self) -> None:
        if self.signal_encoder not in SIGNAL_ENCODERS:
            raise ModelError(f"unknown signal_encoder {self.signal_encoder!r} (known: {', '.join(SIGNAL_ENCODERS)})")
        if self.d_model % self.num_heads:
            raise ModelError(f"d_model={self.d_model} is not divisible by num_heads={self.num_heads}")


class _Block1d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 7, stride, 3, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, 7, 1, 3, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.act = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv1d(cin, cout, 1, stride, bias=False), nn.BatchNorm1d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.down is None else self.down(x)
        x = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(x)) + skip)


class ResNet1d(nn.Module):
    """(b, 12, t) -> tokens (b, t/16, d): stem /4, then three stages (the last two stride 2)."""

    def __init__(self, width: int, blocks: int, d_model: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(N_LEADS, width, 15, 2, 7, bias=False), nn.BatchNorm1d(width),
                                  nn.ReLU(inplace=True), nn.MaxPool1d(3, 2, 1))
        layers, cin = [], width
        for i, cout in enumerate((width, 2 * width, 4 * width)):
            for j in range(blocks):
                layers.append(_Block1d(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
        self.stages = nn.Sequential(*layers)
        self.proj = nn.Linear(cin, d_model)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(signal))  # (b, 4w, t')
        return self.proj(x.transpose(1, 2))  # (b, t', d)


class ScalogramCNN(nn.Module):
    """(b, 12, s, t') scalogram -> tokens (b, t'/8, d): three stride-2 conv layers, then mean over scales."""

    def __init__(self, width: int, d_model: int):
        super().__init__()
        layers, cin = [], N_LEADS
        for cout in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.net = nn.Sequential(*layers)
        self.proj = nn.Linear(cin, d_model)

    def forward(self, scalogram: torch.Tensor) -> torch.Tensor:
        x = self.net(scalogram).mean(dim=2)  # (b, 4w, t'')  scales pooled: tokens run over time only
        return self.proj(x.transpose(1, 2))  # (b, t'', d)


class SignalEncoder(nn.Module):
    """Signal stream: encoder(s) -> time tokens -> optional SMAM. Returns tokens (b, n, d) and pooled (b, d)."""

    def __init__(self, cfg: SignalConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.resnet1d = ResNet1d(cfg.signal_width, cfg.signal_blocks, d) if cfg.signal_encoder != "scalogram" else None
        self.scalogram = ScalogramCNN(cfg.scalogram_width, d) if cfg.signal_encoder != "resnet1d" else None
        self.type_embed = nn.Parameter(torch.zeros(2, d)) if cfg.signal_encoder == "both" else None
        self.smam = nn.ModuleList(SelfAttentionBlock(d, cfg.num_heads) for _ in range(cfg.signal_smam_depth))

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if "signal" not in batch and not (self.resnet1d is None and "scalogram" in batch):
            raise ModelError(f"this model needs batch['signal'] (b, {N_LEADS}, t); got keys {sorted(batch)}")
        parts = []
        if self.resnet1d is not None:
            parts.append(self.resnet1d(batch["signal"]))  # (b, t1, d)
        if self.scalogram is not None:
            scal = batch.get("scalogram")
            if scal is None:
                scal = morlet_scalogram(batch["signal"], self.cfg.signal_fs, self.cfg.scalogram_scales)
            parts.append(self.scalogram(scal))  # (b, t2, d)
        if self.type_embed is not None:
            parts = [p + self.type_embed[i] for i, p in enumerate(parts)]
        tokens = torch.cat(parts, dim=1)  # (b, n, d)
        if len(self.smam):
            # positions restart per encoder: both sequences run over the same 10 s
            tokens = tokens + torch.cat([sincos_1d(p.shape[1], p.shape[2], p.device) for p in parts])
            for block in self.smam:
                tokens = block(tokens)
        return tokens, tokens.mean(dim=1)  # (b, n, d), (b, d)


class SignalModel(nn.Module):
    """Signal-only classifier. forward(batch) -> {"logits" (b, C), "signal_features" (b, d)}."""

    def __init__(self, cfg: SignalConfig):
        super().__init__()
        self.cfg = cfg
        self.model_args = config_args(cfg)
        self.num_classes, self.multilabel = cfg.num_classes, cfg.multilabel
        self.feature_dim = cfg.d_model
        self.encoder = SignalEncoder(cfg)
        self.head = FusionHead(cfg.d_model, cfg.head_hidden, cfg.num_classes, cfg.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        _, pooled = self.encoder(batch)  # (b, d)
        return {"logits": self.head(pooled), "signal_features": pooled}


_SIGNAL_TINY = dict(d_model=32, num_heads=2, head_hidden=32, signal_width=8, signal_blocks=1,
                    scalogram_scales=8, scalogram_width=8)


def _signal_model(name: str, defaults: dict, kwargs: dict) -> SignalModel:
    if kwargs.pop("weights", None) is not None:
        raise ModelError(f"model {name!r} has no pretrained backbone; load a checkpoint with load_state_dict")
    model = SignalModel(make_config(SignalConfig, name, defaults, kwargs))
    model.model_name = name
    return model


@register_model
def signal_resnet1d(**kwargs) -> SignalModel:
    return _signal_model("signal_resnet1d", {}, kwargs)


@register_model
def signal_resnet1d_tiny(**kwargs) -> SignalModel:
    return _signal_model("signal_resnet1d_tiny", _SIGNAL_TINY, kwargs)

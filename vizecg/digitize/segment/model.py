"""The trace segmenter: a U-Net (segmentation-models-pytorch) over a timm encoder, built from scratch.

Created by name (`create_segmenter("trace_unet")`), timm-style, with a tiny variant registered beside the real
ones so tests run the real code path in milliseconds. This is a registry of its own, not vizecg.models': those
models share one contract (num_classes, multilabel, a batch dict in, a dict of logits out) that an image-in,
mask-out network does not fit. A checkpoint carries its model name and arguments, so loading needs only the file:
`create_segmenter(ckpt["model_name"], **ckpt["model_args"])`.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from vizecg.errors import ModelError
from vizecg.runs import atomic_write_bytes


@dataclass
class SegmenterConfig:
    encoder: str = "tu-mobilenetv3_large_100"  # smp encoder name ("tu-" = any timm model); never pretrained
    decoder_channels: tuple[int, ...] = (64, 48, 32, 24, 16)  # one per encoder stage; narrow: the CPU budget
    # The scale the network sees pages at (see masks.py): part of what the weights mean, so it travels with them.
    px_per_mm: float = 4.0

    def __post_init__(self) -> None:
        self.decoder_channels = tuple(int(c) for c in self.decoder_channels)  # a checkpoint's list reads back
        if len(self.decoder_channels) != 5:
            raise ModelError(f"decoder_channels needs 5 widths (one per encoder stage), got {self.decoder_channels}")
        if not 1.0 <= self.px_per_mm <= 20.0:
            raise ModelError(f"px_per_mm={self.px_per_mm:g} is outside [1, 20]")


class TraceSegmenter(nn.Module):
    """(b, 3, h, w) RGB in [0, 1], h and w multiples of `stride` -> (b, 1, h, w) logits that a pixel is trace ink."""

    stride = 32  # five stride-2 encoder stages

    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        import segmentation_models_pytorch as smp

        self.cfg = cfg
        self.model_args = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
        self.net = smp.Unet(cfg.encoder, encoder_weights=None, encoder_depth=5,
                            decoder_channels=cfg.decoder_channels, in_channels=3, classes=1)

    @property
    def px_per_mm(self) -> float:
        return self.cfg.px_per_mm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # centred and scaled here, so the ONNX graph takes the same [0, 1] input as the torch path
        return self.net((x - 0.5) * 4.0)  # (b, 1, h, w)


_SEGMENTERS: dict[str, Callable[..., TraceSegmenter]] = {}


def register_segmenter(fn: Callable[..., TraceSegmenter]) -> Callable[..., TraceSegmenter]:
    if fn.__name__ in _SEGMENTERS:
        raise ModelError(f"segmenter {fn.__name__!r} registered twice")
    _SEGMENTERS[fn.__name__] = fn
    return fn


def list_segmenters() -> list[str]:
    return sorted(_SEGMENTERS)


def create_segmenter(name: str, **kwargs: Any) -> TraceSegmenter:
    """Build a registered segmenter; unknown names and arguments raise ModelError."""
    if name not in _SEGMENTERS:
        raise ModelError(f"unknown segmenter {name!r} (known: {', '.join(list_segmenters())})")
    model = _SEGMENTERS[name](**kwargs)
    model.model_name = name
    return model


def _build(defaults: dict[str, Any], kwargs: dict[str, Any]) -> TraceSegmenter:
    known = {f.name for f in dataclasses.fields(SegmenterConfig)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ModelError(f"unknown segmenter argument(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return TraceSegmenter(SegmenterConfig(**{**defaults, **kwargs}))


@register_segmenter
def trace_unet(**kwargs: Any) -> TraceSegmenter:
    """MobileNetV3-large encoder, 3.7 M parameters: about 1 s a letter page at 4 px/mm on one CPU thread."""
    return _build({}, kwargs)


@register_segmenter
def trace_unet_small(**kwargs: Any) -> TraceSegmenter:
    """MobileNetV3-small encoder, 1.4 M parameters: about 0.6 s a page, for the tightest CPU budget."""
    return _build(dict(encoder="tu-mobilenetv3_small_100", decoder_channels=(64, 32, 24, 16, 16)), kwargs)


@register_segmenter
def trace_unet_resnet18(**kwargs: Any) -> TraceSegmenter:
    """ResNet18 encoder, 12.5 M parameters: the size to train where a GPU is available (3x the CPU time)."""
    return _build(dict(encoder="resnet18", decoder_channels=(128, 64, 32, 16, 16)), kwargs)


@register_segmenter
def trace_unet_tiny(**kwargs: Any) -> TraceSegmenter:
    """For tests: the real code path at 0.3 M parameters."""
    return _build(dict(encoder="tu-mobilenetv3_small_050", decoder_channels=(16, 16, 8, 8, 8)), kwargs)


# --- self-describing weights ------------------------------------------------------------------------------------
def save_segmenter(model: TraceSegmenter, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write the weights with what rebuilds them (name, arguments) and `meta` (JSON-able), atomically."""
    buf = io.BytesIO()
    torch.save({"model_name": model.model_name, "model_args": model.model_args,
                "model": model.state_dict(), "meta": meta or {}}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def load_segmenter(path: str | Path) -> TraceSegmenter:
    """A segmenter from `save_segmenter`'s file (or a training checkpoint, which holds the same keys), in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("segmenter weights not found", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = create_segmenter(ckpt["model_name"], **ckpt["model_args"])
        model.load_state_dict(ckpt["model"], strict=True)
    except (KeyError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelError(f"not a trace segmenter's weights ({type(exc).__name__}: {str(exc)[:200]})", path) from None
    return model.eval()

"""timm backbones by name, always `pretrained=False`; weights come only from local state-dict files.

Tiny variants are the same timm classes (ResNet, DenseNet) with small widths, so tests run the real code path.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Callable

import timm
import torch
from timm.models.densenet import DenseNet
from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from vizecg.errors import ModelError, first_line

# num_classes=0: timm drops the classifier; forward() gives the pooled vector, forward_features() the map.
BACKBONES: dict[str, Callable[[], nn.Module]] = {
    "resnet18": lambda: timm.create_model("resnet18", pretrained=False, num_classes=0),
    "resnet18_tiny": lambda: ResNet(BasicBlock, layers=(1, 1, 1, 1), channels=(8, 16, 32, 64), stem_width=8,
                                    num_classes=0),
    "densenet121": lambda: timm.create_model("densenet121", pretrained=False, num_classes=0),
    "densenet121_tiny": lambda: DenseNet(growth_rate=8, block_config=(1, 1, 1, 1), num_classes=0),
}
# Classifier prefixes of the full timm models: an ImageNet state dict carries them, our headless backbone not.
_HEAD_PREFIXES = ("fc.", "classifier.", "head.")


def check_backbone_name(name: str, what: str) -> None:
    if name not in BACKBONES:
        raise ModelError(f"{what}: unknown backbone {name!r} (known: {', '.join(sorted(BACKBONES))})")


def create_backbone(name: str) -> nn.Module:
    check_backbone_name(name, "backbone")
    return BACKBONES[name]()


def read_state_dict(path_or_state: str | Path | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict from a local file (or given directly); unwraps {'state_dict'|'model'|'model_state': ...}."""
    where = None
    state = path_or_state
    if isinstance(path_or_state, (str, Path)):
        where = str(path_or_state)
        if not Path(where).is_file():
            raise ModelError("weights file does not exist", where)
        try:
            state = torch.load(where, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a non-checkpoint file
            raise ModelError(f"cannot read weights: {first_line(exc, with_type=True)}",
                             where) from None  # torch's messages run to many lines; the CLI prints one
    if isinstance(state, Mapping):
        for key in ("state_dict", "model", "model_state"):
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError("weights are not a state dict (a mapping of names to tensors)", where)
    return dict(state)


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], what: str, where: str | None) -> None:
    """load_state_dict(strict=True) with a readable ModelError naming the first mismatching keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise ModelError(f"weights do not match {what}: {'; '.join(parts)}", where)
    module.load_state_dict(state, strict=True)


def load_submodule(model: nn.Module, target: str, path_or_state: str | Path | Mapping[str, torch.Tensor],
                   source: str = "") -> None:
    """Initialise `model.<target>` from the `<source>.*` weights of a checkpoint or state dict, strictly.

    E.g. a teacher's signal stream from a trained signal model: target "signal", source "encoder". Empty prefixes
    mean the whole model / the whole state dict.
    """
    where = str(path_or_state) if isinstance(path_or_state, (str, Path)) else None
    state = read_state_dict(path_or_state)
    if source:
        state = {k[len(source) + 1:]: v for k, v in state.items() if k.startswith(source + ".")}
        if not state:
            raise ModelError(f"weights hold no submodule {source!r}", where)
    try:
        module = model.get_submodule(target) if target else model
    except AttributeError:
        raise ModelError(f"{type(model).__name__} has no submodule {target!r} to initialise") from None
    load_strict(module, state, f"{type(model).__name__}.{target or '(whole model)'}", where)


def load_backbone_weights(backbone: nn.Module, path: str | Path, what: str) -> None:
    """Load a local timm state dict (e.g. ImageNet resnet18) into a headless backbone; classifier keys dropped."""
    state = read_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith(_HEAD_PREFIXES)}
    load_strict(backbone, state, what, str(path))

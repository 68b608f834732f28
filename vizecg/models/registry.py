"""One registry, timm-style: a model is created by name; the name plus `model.model_args` rebuild it.

A checkpoint therefore needs nothing but itself:
    model = create_model(ckpt["model_name"], **ckpt["model_args"])
"""
from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any, Callable

from torch import nn

from vizecg.errors import ModelError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register `fn` under its own name; the function builds the model from keyword arguments."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ModelError(f"model {name!r} registered twice")
    _REGISTRY[name] = fn
    return fn


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted; `pattern` is a shell-style filter ('*_tiny')."""
    names = sorted(_REGISTRY)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model. Unknown names and unknown arguments raise ModelError."""
    if name not in _REGISTRY:
        raise ModelError(f"unknown model {name!r} (known: {', '.join(list_models())})")
    model = _REGISTRY[name](**kwargs)
    model.model_name = name
    return model


def make_config(cls: type, name: str, defaults: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    """cls(**defaults | kwargs) with unknown keys reported as ModelError (not a bare TypeError)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ModelError(f"model {name!r}: unknown argument(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return cls(**{**defaults, **kwargs})


def config_args(cfg: Any) -> dict[str, Any]:
    """The config as a dict of primitives: what goes into `model.model_args` and the checkpoint."""
    return dataclasses.asdict(cfg)

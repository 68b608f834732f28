"""Typed configs: one dataclass per stage, YAML mapped onto it one-to-one, `--set a.b=value` overrides.

Unknown keys and values of the wrong type are errors (ConfigError naming the file and the key), so a typo in a
config never silently falls back to a default. Each run writes its resolved config beside its outputs.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from vizecg.errors import ConfigError

T = TypeVar("T")


def _coerce(value: Any, tp: Any, key: str, where: str | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key, where)
            except ConfigError as exc:
                errors.append(exc.problem)
        raise ConfigError(f"{key}: {value!r} matches none of {tp}", where)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}", where)
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}", where)
        return from_dict(tp, value, where=where, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}", where)
        inner = args[0] if args else Any
        items = [_coerce(v, inner, f"{key}[{i}]", where) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}", where)
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}", where)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}", where)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}", where)
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}", where)
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str | None = None, prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping; unknown keys and wrong types raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(prefix + k for k in unknown)} "
                          f"(known: {', '.join(sorted(fields))})", where)
    kwargs = {name: _coerce(value, hints[name], prefix + name, where) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        # A __post_init__ bound that starts with its field's name ("lr must be > 0", "folds.p must ...") gets the
        # full key in front.
        text = str(exc)
        if text.split(" ", 1)[0].rstrip(":").split(".", 1)[0] in fields:
            raise ConfigError(f"{prefix}{text}", where) from None
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {text}", where) from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain YAML-able mapping of a config dataclass (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        return v
    return plain(dataclasses.asdict(cfg))


def parse_override(text: str) -> tuple[list[str], Any]:
    """'train.lr=1e-3' -> (['train', 'lr'], 0.001); the value is parsed as YAML (numbers, bools, lists)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override {text!r} has no key")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply `a.b=value` overrides to a nested mapping (a copy is returned)."""
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {k} is not a section")
        node[keys[-1]] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A config file's top-level mapping; a missing, binary or malformed file is a ConfigError naming it."""
    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError("config file not found", where)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a text (UTF-8) file: byte {exc.object[exc.start]:#04x} at offset {exc.start} "
                          "(a binary file given as --config?)", where) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file ({exc.strerror or exc})", where) from None
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {' '.join(str(exc).split())}", where) from None  # one line
    if not isinstance(loaded, dict):
        raise ConfigError("top level must be a mapping of keys to values", where)
    return loaded


def _section_type(tp: Any) -> type | None:
    """The config dataclass a field holds (also through `X | None`), else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) == 1 and dataclasses.is_dataclass(inner[0]):
            return inner[0]
    return None


def _read_sections(cls: type, data: dict[str, Any], where: str | None, prefix: str = "") -> dict[str, Any]:
    """`data` with every section given as a file name replaced by that file's mapping (recursively).

    A config that holds another stage's config (the benchmark's `digitize:`) may name that stage's own YAML, e.g.
    `digitize: digitize.yaml`, read as `vizecg digitize --config` reads it; a relative name is taken from the
    folder of the file that names it (from the working folder for --set)."""
    if not dataclasses.is_dataclass(cls):
        return data
    hints = typing.get_type_hints(cls)
    out = dict(data)
    for name, value in data.items():
        tp = _section_type(hints.get(name))
        if tp is None:
            continue
        if isinstance(value, str):
            path = Path(value).expanduser()
            if not path.is_absolute() and where not in (None, "--set"):
                path = Path(where).parent / path
            try:
                section = read_yaml(path)
            except ConfigError as exc:
                raise ConfigError(f"{prefix}{name}: {value!r}: {exc.problem}", exc.path or where) from None
            out[name] = _read_sections(tp, section, str(path), f"{prefix}{name}.")
        elif isinstance(value, dict):
            out[name] = _read_sections(tp, value, where, f"{prefix}{name}.")
    return out


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Defaults of `cls`, then the YAML file (if any), then the overrides: the resolved config. A section may be
    given as the name of its own YAML file (see _read_sections)."""
    data: dict[str, Any] = {}
    where = None
    if path is not None:
        where = str(path)
        data = _read_sections(cls, read_yaml(path), where)
    # Overrides merge onto the file's values, and onto defaults for sections the file does not mention.
    base = to_dict(cls()) if _all_defaults(cls) else {}
    merged = _deep_merge(base, data)
    merged = _read_sections(cls, apply_overrides(merged, overrides), "--set")
    return from_dict(cls, merged, where=where or "--set")


def _all_defaults(cls: type) -> bool:
    return all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
               for f in dataclasses.fields(cls) if f.init)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def dump_config(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)

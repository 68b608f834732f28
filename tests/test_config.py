"""Typed configs: YAML maps one-to-one onto dataclasses, unknown keys and wrong types are errors."""
from dataclasses import dataclass, field

import pytest

from vizecg.config import dump_config, load_config
from vizecg.errors import ConfigError


@dataclass
class OptimConfig:
    lr: float = 1e-3  # AdamW learning rate
    epochs: int = 3


@dataclass
class StageConfig:
    name: str = "student"
    optim: OptimConfig = field(default_factory=OptimConfig)
    folds: list[int] = field(default_factory=lambda: [1, 2])
    teacher: str | None = None


def test_yaml_and_overrides_resolve(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lr: 0.01\nfolds: [3]\n")
    cfg = load_config(StageConfig, p, ["optim.epochs=7", "teacher=runs/t/best.pt"])
    assert cfg.optim.lr == 0.01 and cfg.optim.epochs == 7
    assert cfg.folds == [3] and cfg.teacher == "runs/t/best.pt" and cfg.name == "student"
    # the dump of the resolved config loads back to the same config
    q = tmp_path / "resolved.yaml"
    q.write_text(dump_config(cfg))
    assert load_config(StageConfig, q) == cfg


def test_unknown_key_names_file_and_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  learning_rate: 0.01\n")
    with pytest.raises(ConfigError) as e:
        load_config(StageConfig, p)
    assert "optim.learning_rate" in str(e.value) and str(p) in str(e.value)


def test_wrong_type_and_bad_override():
    with pytest.raises(ConfigError, match="optim.epochs"):
        load_config(StageConfig, None, ["optim.epochs=three"])
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(StageConfig, None, ["optim.epochs"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(StageConfig, "/nonexistent/cfg.yaml")

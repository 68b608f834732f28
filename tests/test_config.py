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


def test_binary_config_file_is_a_config_error(tmp_path):
    p = tmp_path / "weights.pt"
    p.write_bytes(b"\x80\x02\xff\xfe binary \x00\x01")
    with pytest.raises(ConfigError, match="not a text") as e:
        load_config(StageConfig, p)
    assert e.value.path == str(p)


@dataclass
class BoundedConfig:
    epochs: int = 3

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")


@dataclass
class OuterConfig:
    schedule: BoundedConfig = field(default_factory=BoundedConfig)


def test_post_init_bound_names_the_full_key_and_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("schedule:\n  epochs: -5\n")
    with pytest.raises(ConfigError, match=r"schedule\.epochs must be >= 1, got -5") as e:
        load_config(OuterConfig, p)
    assert e.value.path == str(p)


@pytest.mark.parametrize("override,match", [
    ("gain_mm_mv=-10", r"gain_mm_mv: gain -10.0 mm/mV not offered"),  # never an inverted ECG
    ("gain_mm_mv=0", "gain_mm_mv: gain 0.0"),
    ("dpi=0", "dpi 0 outside the supported range"),
    ("dpi=5000", "dpi 5000 outside"),
    ("line_width_mm=-1", "line_width_mm -1.0 must lie in"),
    ("start_s=-3", "start_s -3.0 must be >= 0"),
])
def test_render_config_bounds_are_config_errors(override, match):
    from vizecg.render import RenderConfig

    with pytest.raises(ConfigError, match=match):
        load_config(RenderConfig, None, [override])
    assert load_config(RenderConfig, None, ["gain_mm_mv=20", "dpi=300"]).gain_mm_mv == 20.0


@dataclass
class WithSection:
    name: str = "bench"
    optim: OptimConfig = field(default_factory=OptimConfig)
    maybe: OptimConfig | None = None


def test_a_section_may_name_its_own_yaml_file(tmp_path):
    (tmp_path / "optim.yaml").write_text("lr: 0.02\n")
    (tmp_path / "sub").mkdir()
    top = tmp_path / "sub" / "top.yaml"
    top.write_text("optim: ../optim.yaml\nmaybe: ../optim.yaml\n")  # relative to the file that names it
    cfg = load_config(WithSection, top, ["optim.epochs=9"])
    assert cfg.optim == OptimConfig(lr=0.02, epochs=9) and cfg.maybe == OptimConfig(lr=0.02)
    assert load_config(WithSection, None, [f"optim={tmp_path / 'optim.yaml'}"]).optim.lr == 0.02
    # the resolved config holds the section's values, not the file name: it reloads without the file
    (tmp_path / "resolved.yaml").write_text(dump_config(cfg))
    (tmp_path / "optim.yaml").unlink()
    assert load_config(WithSection, tmp_path / "resolved.yaml") == cfg
    with pytest.raises(ConfigError, match=r"optim: '\.\./optim\.yaml': config file not found") as err:
        load_config(WithSection, top)
    assert err.value.path.endswith("optim.yaml")
    (tmp_path / "optim.yaml").write_text("lr: 0.02\nnope: 1\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) optim\.nope"):
        load_config(WithSection, top)

"""BenchmarkConfig: the benchmark as the stages' own configs, composed; profiles in configs/benchmark_<name>.yaml.

    cfg = load_benchmark_config(profile_path("cpu"), ["seed=1"])

A benchmark is one render job (vizecg.builders.render_job.RenderJob, as `vizecg render --config` reads it), four
training runs (distill.train's DataConfig, ModelConfig, OptimConfig, ScheduleConfig and LossConfig, the sections of
configs/train_<kind>.yaml) and the digitizer (DigitizeConfig, e.g. `digitize: digitize.yaml`, read as
`vizecg digitize --config` reads it). What makes the four models comparable is the benchmark's to set, not theirs:
the source, seed, page count, split, output folders, teacher and device; a stage config that sets one of them is a
ConfigError naming the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from distill.train import DataConfig, LossConfig, ModelConfig, OptimConfig, ScheduleConfig
from vizecg.builders.render_job import RenderJob
from vizecg.config import load_config, parse_override, read_yaml, to_dict
from vizecg.digitize.config import DigitizeConfig
from vizecg.errors import ConfigError
from vizecg.render.printout import RenderConfig

PROFILES_DIR = Path(__file__).resolve().parents[1] / "configs"
KINDS = ("signal", "image", "teacher", "student")  # training order: the student needs the teacher
SPLITS = ("train", "val", "test")

# Set by the benchmark for every stage, with where the value comes from.
OWNED_DATA = {"root": "OUT/render", "task": "each of tasks", "train_folds": "train_folds or the split rule",
              "val_folds": "val_folds or the split rule", "train_split": "the split rule",
              "val_split": "the split rule", "train_records": "the split", "val_records": "the split",
              "exclude_families": "left_out_families"}
OWNED_RENDER = {"source": "source", "n": "pages", "seed": "seed"}
# What every model that reads them must read alike: the frozen teacher reads the student's batches, the teacher's
# streams start from the signal and image models, and the image baseline is the student's control.
PAGE_INPUTS = ("page_height", "page_width", "grayscale", "crop_size", "max_beats")
SIGNAL_INPUTS = ("signal_fs", "signal_seconds", "bandpass")
READS = {"signal": SIGNAL_INPUTS, "image": PAGE_INPUTS, "teacher": PAGE_INPUTS + SIGNAL_INPUTS,
         "student": PAGE_INPUTS + SIGNAL_INPUTS}
# Keys of the older flat format, and where they live now (so that an old profile fails with a pointer).
MOVED = {"page_height": "<stage>.data.page_height", "page_width": "<stage>.data.page_width",
         "crop_size": "<stage>.data.crop_size", "max_beats": "<stage>.data.max_beats",
         "grayscale": "<stage>.data.grayscale", "num_workers": "<stage>.data.num_workers",
         "loss": "teacher.loss / student.loss", "layout": "render.layout", "photo": "render.photo",
         "render_workers": "render.workers", "batch_size": "<stage>.data.batch_size"}


@dataclass
class StageConfig:
    """One of the four models, in distill.train's config types (the sections of configs/train_<kind>.yaml).

    The benchmark sets its kind, seed, output folder, teacher, device and the data keys in OWNED_DATA."""

    data: DataConfig = field(default_factory=DataConfig)  # pages, crops, signal, batch size, loader
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(epochs=1, patience=0))
    loss: LossConfig = field(default_factory=LossConfig)  # the teacher's and the student's terms and weights

    def __post_init__(self) -> None:
        default = DataConfig()
        for key, source in OWNED_DATA.items():
            if getattr(self.data, key) != getattr(default, key):
                raise ValueError(f"data.{key} is set by the benchmark ({source}): leave it out")


def _stage(name: str, lr: float = 1e-3, batch_size: int = 8) -> StageConfig:
    return StageConfig(data=DataConfig(batch_size=batch_size), model=ModelConfig(name=name), optim=OptimConfig(lr=lr))


def _render_job() -> RenderJob:
    return RenderJob(layout="3x4+1", photo="mixed", workers=2, render=RenderConfig(dpi=100))  # pages are shrunk


@dataclass
class BenchmarkConfig:
    """`vizecg benchmark`: written resolved to OUT/config.yaml. Profiles live in configs/benchmark_<name>.yaml."""

    profile: str = "custom"  # a label for the report
    source: str = "sample"  # load_source spec
    seed: int = 0  # rendering, training, bootstrap
    tasks: list[Literal["superclass", "normal"]] = field(default_factory=lambda: ["superclass"])
    pages: int | None = None  # pages to render (item k prints record k mod len); None: one per record
    # The pages: layout, photo, print styles, dpi, workers (source, n and seed are the benchmark's, above).
    render: RenderJob = field(default_factory=_render_job)
    # Splits: by default the one fold rule (vizecg.data.splits.split_of): PTB-XL strat_fold 1-8 train, 9 val,
    # 10 test, and a record without a fold (PTB-XL 501-1999) the split its source gives. Folds given here regroup
    # the folds instead (the 60-record sample has too few fold 9/10 records to score); all three or none.
    train_folds: list[int] | None = None
    val_folds: list[int] | None = None  # early stopping and F1 thresholds
    test_folds: list[int] | None = None  # reported; never seen in training
    signal: StageConfig = field(default_factory=lambda: _stage("signal_resnet1d_tiny", 3e-3, 16))
    image: StageConfig = field(default_factory=lambda: _stage("image_baseline_tiny"))
    teacher: StageConfig = field(default_factory=lambda: _stage("teacher_tiny"))
    student: StageConfig = field(default_factory=lambda: _stage("student_tiny"))
    # Teacher streams started from the trained single-modality models (signal: the signal model's encoder,
    # image: the image baseline's encoder) instead of from scratch; the student always starts from scratch.
    teacher_init: list[Literal["signal", "image"]] = field(default_factory=list)
    # The digitizer of the route photo -> digitizer -> signal model (`digitize: digitize.yaml` reads
    # configs/digitize.yaml as `vizecg digitize --config` does).
    digitize: DigitizeConfig = field(default_factory=DigitizeConfig)
    bootstrap: int = 1000  # resamples of the test records
    ci_level: float = 0.95
    infer_pages: int = 16  # test pages timed one by one for the CPU ms/page column
    detector_weights: str | None = "auto"  # "auto": the detector's shipped weights if present; None: off
    # The beat crops the image models train and validate on: "truth" (the pages' ground-truth beat boxes) or
    # "detector" (the beat detector's boxes, what inference sees; needs detector_weights). Both are evaluated.
    train_crops: Literal["truth", "detector"] = "truth"
    # Print-style families (render.style: families) no model trains or validates on: their test pages measure how
    # the models read print styles never seen; the report scores them apart.
    left_out_families: list[str] = field(default_factory=list)
    # Also score the route photo -> digitizer -> signal model (the signal model trained on true signals reads
    # what the digitizer recovers from each val/test photo), beside the image-only student.
    digitized_route: bool = True
    torch_threads: int | None = None  # None: torch's default
    device: str = "cpu"  # training and prediction ("cuda" for the full profile); ms/page is always timed on CPU

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError("tasks: give at least one of superclass, normal")
        folds = [self.train_folds, self.val_folds, self.test_folds]
        if any(f is not None for f in folds):
            if any(not f for f in folds):
                raise ValueError("train_folds, val_folds and test_folds: give all three (each naming at least one "
                                  "fold), or none to split by the one fold rule")
            sets = [set(f) for f in folds]
            if sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]:
                raise ValueError("train_folds, val_folds and test_folds must not overlap")
        if self.bootstrap < 1:
            raise ValueError(f"bootstrap must be >= 1, got {self.bootstrap}")
        if not 0 <= self.seed < 2 ** 32:
            raise ValueError(f"seed must lie in [0, 2**32 - 1], got {self.seed}")
        if self.train_crops == "detector" and self.detector_weights is None:
            raise ValueError("train_crops: detector needs detector_weights (auto or a path), not null")
        if self.left_out_families:
            if self.render.style != "families":
                raise ValueError(f"left_out_families needs render.style: families (it is {self.render.style})")
            from vizecg.errors import RenderError
            from vizecg.render.style import check_families

            try:
                check_families(self.left_out_families, "left_out_families")
            except RenderError as exc:
                raise ValueError(exc.problem) from None
        if self.pages is not None and self.pages < 1:
            raise ValueError(f"pages must be >= 1 (or null: one per record), got {self.pages}")
        default = RenderJob()
        for key, source in OWNED_RENDER.items():
            if getattr(self.render, key) != getattr(default, key):
                raise ValueError(f"render.{key} is set by the benchmark (its {source}): leave it out")
        for a, b in (("image", "teacher"), ("teacher", "student"), ("signal", "teacher")):
            for key in set(READS[a]) & set(READS[b]):
                va, vb = getattr(getattr(self, a).data, key), getattr(getattr(self, b).data, key)
                if va != vb:
                    raise ValueError(f"{b}.data.{key} ({vb!r}) differs from {a}.data.{key} ({va!r}): the models "
                                      "must read the same inputs (the teacher reads the student's batches and "
                                      "starts from the signal and image models)")

    @property
    def by_folds(self) -> bool:
        return self.train_folds is not None

    def selection(self, split: str) -> dict[str, Any]:
        """The pages of `split` ('train', 'val' or 'test') as RenderFolder.select / PageDataset keywords."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if self.by_folds:
            return {"folds": list(getattr(self, f"{split}_folds"))}
        return {"splits": [split]}


def profile_path(name: str) -> Path:
    path = PROFILES_DIR / f"benchmark_{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem[len("benchmark_"):] for p in PROFILES_DIR.glob("benchmark_*.yaml"))
        raise ConfigError(f"unknown benchmark profile {name!r} (known: {', '.join(known)})", path)
    return path


def load_benchmark_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> BenchmarkConfig:
    """Defaults, the YAML file, then the `key=value` overrides (vizecg.config.load_config); a key of the older flat
    format (page_height, loss, layout...) is a ConfigError saying where it lives now."""
    where = None if path is None else str(path)
    keys = list(read_yaml(path) if path is not None else {}) + [parse_override(t)[0][0] for t in overrides]
    moved = list(dict.fromkeys(k for k in keys if k in MOVED))
    if moved:
        raise ConfigError("moved key(s): " + "; ".join(f"{k} is now {MOVED[k]}" for k in moved)
                          + f" (stages: {', '.join(KINDS)})", where)
    return load_config(BenchmarkConfig, path, overrides)


def resolved(cfg: BenchmarkConfig) -> dict[str, Any]:
    """The config as OUT/config.yaml and results.json hold it: without the keys the benchmark sets in each stage
    (they are in each stage's own OUT/<task>/<kind>/config.yaml), so that it reloads as it reads."""
    plain = to_dict(cfg)
    for kind in KINDS:
        for key in OWNED_DATA:
            plain[kind]["data"].pop(key, None)
    for key in OWNED_RENDER:
        plain["render"].pop(key, None)
    return plain

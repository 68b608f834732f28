"""One trainer for every stage: signal, image (baseline), teacher, student (distilled), beats (AAMI crops).

    cfg = load_config(TrainConfig, "configs/train_student.yaml", ["teacher=runs/teacher/best.pt"])
    summary = train(cfg)            # writes OUT/{config.yaml, log.txt, last.pt, best.pt, summary.json}

Runs in one process or under `torchrun --nproc_per_node=N` (gloo on CPU, DistributedSampler, rank 0 writes
and validates). Every epoch is a function of (config, epoch, state at its start): data order and dropout are
seeded from (seed, epoch, rank), so resuming from last.pt reproduces the uninterrupted run exactly.
"""
from __future__ import annotations

import io
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from distill.data import MULTILABEL, TASK_CLASSES, BeatDataset, PageDataset, collate
from distill.losses import DistillationLoss, NonFiniteLossError, TaskLoss, TeacherLoss, check_finite
from vizecg.config import to_dict
from vizecg.errors import ConfigError, ModelError, first_line
from vizecg.metrics import classification_metrics
from vizecg.runs import atomic_write_bytes, code_stamp, start_run, write_json

Kind = Literal["signal", "image", "teacher", "student", "beats"]
# What each kind reads from a page (the student also needs the signal: its frozen teacher sees both).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "signal": ("signal",), "image": ("page", "beats"), "teacher": ("page", "beats", "signal"),
    "student": ("page", "beats", "signal"),
}
CHECKPOINT_FORMAT = "vizecg-train-1"
# The code a trained model depends on (vizecg.runs.source_hash patterns, from the folder holding the packages) and
# the libraries that compute it: recorded in every checkpoint and summary, and compared on --resume.
TRAIN_CODE = ("distill/*.py", "vizecg/models/**/*.py", "vizecg/crops.py", "vizecg/images.py", "vizecg/signal/*.py",
              "vizecg/data/render_folder.py", "vizecg/data/splits.py", "vizecg/data/files.py", "vizecg/metrics.py",
              "vizecg/record.py")
TRAIN_LIBRARIES = ("torch", "torchvision", "timm", "numpy", "opencv-python-headless")
# Config keys that do not change what is trained (a resume may differ in them).
PER_INVOCATION = ("progress", "device")


def _require(ok: bool, field_name: str, rule: str, value: Any) -> None:
    """A config bound; the ValueError becomes a ConfigError naming the file and key (vizecg.config.from_dict)."""
    if not ok:
        raise ValueError(f"{field_name} must be {rule}, got {value!r}")


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@dataclass
class DataConfig:
    root: str = "runs/render"  # a `vizecg render` output folder
    task: Literal["superclass", "normal", "aami"] = "superclass"
    train_folds: list[int] | None = None  # PTB-XL: [1..8]; None: select by split
    val_folds: list[int] | None = None  # PTB-XL: [9] (10 stays untouched for the benchmark)
    # used when no folds/records are given: the one fold rule's split (vizecg.data.splits: PTB-XL folds 1-8 train,
    # 9 val, 10 test; pages without a fold, e.g. MIT-BIH, the split their render gave)
    train_split: str = "train"
    val_split: str = "val"
    train_records: list[str] | None = None  # explicit record ids instead of folds/splits
    val_records: list[str] | None = None
    # print-style families (vizecg.render.style) left out of training and validation: their pages stay unseen
    exclude_families: list[str] = field(default_factory=list)
    page_height: int = 192  # pages are resized (not cropped): the global branch sees the whole sheet
    page_width: int = 256
    grayscale: bool = False  # grey pages remove colour casts of photos and grid colours
    crop_size: int = 64  # beat crops are crop_size x crop_size, letterboxed
    max_beats: int = 24  # beats per page (spread over leads when more are visible)
    signal_fs: float = 100.0  # Hz; the signal branch sees (12, signal_fs * signal_seconds)
    signal_seconds: float = 10.0
    bandpass: list[float] | None = field(default_factory=lambda: [0.5, 40.0])  # Hz; None: raw
    batch_size: int = 16
    num_workers: int = 0  # 2-core machines: loading in the main process is often fastest after caching
    cache: bool = True  # decoded/resized tensors under ROOT/cache (epochs 2+ skip PNG decoding)

    def __post_init__(self) -> None:
        # The smallest tiny models and tests use 96x128 pages and 32 px crops; below these the backbones'
        # down-sampling leaves nothing.
        _require(self.page_height >= 32, "page_height", ">= 32 (pixels)", self.page_height)
        _require(self.page_width >= 32, "page_width", ">= 32 (pixels)", self.page_width)
        _require(self.crop_size >= 8, "crop_size", ">= 8 (pixels)", self.crop_size)
        _require(self.max_beats >= 1, "max_beats", ">= 1", self.max_beats)
        _require(_finite(self.signal_fs) and self.signal_fs > 0, "signal_fs", "> 0 (Hz)", self.signal_fs)
        _require(_finite(self.signal_seconds) and self.signal_seconds > 0, "signal_seconds", "> 0", self.signal_seconds)
        _require(self.signal_fs * self.signal_seconds >= 1, "signal_fs * signal_seconds", ">= 1 sample",
                 self.signal_fs * self.signal_seconds)
        if self.bandpass is not None:
            _require(len(self.bandpass) == 2 and all(_finite(f) for f in self.bandpass)
                     and 0 < self.bandpass[0] < self.bandpass[1], "bandpass", "[low, high] Hz with 0 < low < high "
                     "(or null: raw)", self.bandpass)
        _require(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)
        if self.exclude_families:
            from vizecg.errors import RenderError
            from vizecg.render.style import check_families

            try:
                check_families(self.exclude_families, "exclude_families")
            except RenderError as exc:
                raise ValueError(exc.problem) from None
        _require(self.num_workers >= 0, "num_workers", ">= 0 (0: load in the main process)", self.num_workers)


@dataclass
class InitConfig:
    """Start a submodule from trained weights: model.<target> <- <source>.* of checkpoint (strict shapes)."""

    checkpoint: str
    target: str = ""  # e.g. "signal" (a teacher's signal stream); "" = the whole model
    source: str = ""  # e.g. "encoder" (a signal model's encoder); "" = the whole state dict

    def __post_init__(self) -> None:
        _require(bool(self.checkpoint.strip()), "checkpoint", "a checkpoint path", self.checkpoint)


@dataclass
class ModelConfig:
    name: str = "student_tiny"  # a vizecg.models registry name
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra constructor args (num_classes/multilabel come from the task)
    init: list[InitConfig] = field(default_factory=list)  # applied before training (a resumed run loads last.pt)


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.05  # on weight matrices/kernels only, not on norms and biases
    beta1: float = 0.9
    beta2: float = 0.999
    grad_clip: float = 1.0  # max global grad norm; 0 = off

    def __post_init__(self) -> None:
        _require(_finite(self.lr) and self.lr > 0, "lr", "> 0", self.lr)
        _require(_finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        for name in ("beta1", "beta2"):  # AdamW's own bounds
            _require(_finite(getattr(self, name)) and 0 <= getattr(self, name) < 1, name, "in [0, 1)",
                     getattr(self, name))
        _require(_finite(self.grad_clip) and self.grad_clip >= 0, "grad_clip", ">= 0 (0: off)", self.grad_clip)


@dataclass
class ScheduleConfig:
    epochs: int = 20
    warmup_epochs: float = 1.0  # linear warm-up, then cosine to min_lr_ratio * lr
    min_lr_ratio: float = 0.01
    patience: int = 5  # epochs without a better val macro AUROC before stopping; 0 = never stop early
    max_steps_per_epoch: int | None = None  # cap for smoke runs

    def __post_init__(self) -> None:
        # epochs <= 0 would "finish" without a checkpoint while the summary lists best.pt and last.pt.
        _require(self.epochs >= 1, "epochs", ">= 1", self.epochs)
        _require(_finite(self.warmup_epochs) and self.warmup_epochs >= 0, "warmup_epochs", ">= 0", self.warmup_epochs)
        _require(_finite(self.min_lr_ratio) and 0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "in [0, 1]",
                 self.min_lr_ratio)
        _require(self.patience >= 0, "patience", ">= 0 (0: never stop early)", self.patience)
        _require(self.max_steps_per_epoch is None or self.max_steps_per_epoch >= 1, "max_steps_per_epoch",
                 ">= 1 (or null: no cap)", self.max_steps_per_epoch)


@dataclass
class LossConfig:
    balance: bool = True  # pos_weight (multi-label) / class weights (multi-class) from train counts
    max_weight: float = 10.0  # cap on those weights: a class with 2 positives must not dominate
    w_task: float = 1.0
    # teacher
    w_image: float = 0.5  # per-modality heads
    w_signal: float = 0.5
    w_agreement: float = 0.1
    agreement: Literal["kl", "mse"] = "kl"
    # student
    temperature: float = 4.0
    w_kd: float = 1.0
    w_feat: float = 1.0
    feature_loss: Literal["mse", "cosine"] = "cosine"

    def __post_init__(self) -> None:
        _require(_finite(self.max_weight) and self.max_weight > 0, "max_weight", "> 0", self.max_weight)
        for name in ("w_task", "w_image", "w_signal", "w_agreement", "w_kd", "w_feat"):
            # a negative weight would train the model to get that term wrong
            _require(_finite(getattr(self, name)) and getattr(self, name) >= 0, name, ">= 0", getattr(self, name))
        _require(_finite(self.temperature) and self.temperature > 0, "temperature", "> 0", self.temperature)


@dataclass
class TrainConfig:
    kind: Kind = "image"
    seed: int = 0
    out: str = "runs/train"
    teacher: str | None = None  # teacher checkpoint (kind=student)
    device: str = "cpu"
    progress: bool = True  # tqdm bars (rank 0)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        _require(self.seed >= 0, "seed", ">= 0 (numpy's SeedSequence takes no negative seeds)", self.seed)
        _require(bool(str(self.out).strip()), "out", "an output folder", self.out)
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be a torch device such as cpu, cuda or cuda:1, got {self.device!r}") \
                from None


def check_device(name: str) -> torch.device:
    """The configured device, if this machine has it (else ConfigError before any run folder is written)."""
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}: CUDA is not available on this machine "
                              "(torch.cuda.is_available() is False); use device=cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    try:
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:  # e.g. mps on Linux, a build without that backend
        raise ConfigError(f"device {name!r} is not usable here ({first_line(exc)}); "
                          "use device=cpu") from None
    return device


# --- checkpoints ---------------------------------------------------------------------------------------------
def save_checkpoint(path: str | Path, ckpt: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write_bytes(path, buf.getvalue())  # a crash mid-save keeps the previous last.pt intact


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint, read with weights_only=True (tensors and primitives only: no pickle code)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("checkpoint not found", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError... on bad files
        raise ModelError(f"unreadable checkpoint ({first_line(exc, with_type=True)})",
                         path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"not a VizECG training checkpoint (expected format {CHECKPOINT_FORMAT})", path)
    missing = [k for k in ("kind", "model_name", "model_args", "model") if k not in ckpt]
    if missing:
        raise ModelError(f"training checkpoint lacks {', '.join(missing)} (an incomplete or hand-made file)", path)
    return ckpt


def model_from_checkpoint(path: str | Path, kind: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from the checkpoint alone (nanoGPT-style) and load its weights; eval mode.

    kind: the role the caller needs (e.g. "teacher"); a checkpoint trained as another kind is a ModelError
    naming the file and what it holds, checked before any model is built."""
    from vizecg.models import create_model

    ckpt = load_checkpoint(path)
    if kind is not None and ckpt.get("kind") != kind:
        raise ModelError(f"not a {kind} checkpoint: it holds a {ckpt.get('kind')!r} run's model "
                         f"{ckpt.get('model_name')!r} (a {kind} comes from `vizecg train {kind}`)", path)
    model = create_model(ckpt["model_name"], **ckpt["model_args"])
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise ModelError(f"weights do not fit {ckpt['model_name']}: {str(exc)[:300]}", path) from None
    return model.eval(), ckpt


def check_resumable(ckpt: dict[str, Any], cfg: TrainConfig, code: dict[str, Any], path: str | Path) -> None:
    """Refuse (ConfigError naming what differs) to continue a checkpoint made with other settings or other code:
    its epochs would be mixed with epochs of another run."""
    from vizecg.runs import describe_changes

    then = {k: v for k, v in (ckpt.get("config") or {}).items() if k not in PER_INVOCATION}
    changes = describe_changes({"settings": then, "code": (ckpt.get("code") or {}).get("source_hash")},
                               {"settings": run_settings(cfg), "code": code["source_hash"]})
    if changes:
        raise ConfigError(f"cannot resume: it was made with other settings or code ({changes}); train without "
                          "--resume to start again, or use a new --out", path)


def freeze(model: nn.Module) -> nn.Module:
    """DINO-style frozen teacher: no gradients, eval mode (dropout off, BN statistics fixed)."""
    model.requires_grad_(False)
    return model.eval()


# --- evaluation ----------------------------------------------------------------------------------------------
def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


@torch.no_grad()
def predict(model: nn.Module, loader: Any, device: str | torch.device | None = None,
            multilabel: bool | None = None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (n, C) (sigmoid if multi-label, softmax if not) and targets, over a loader of batches."""
    from tqdm import tqdm

    model = _unwrap(model)
    if multilabel is None:
        multilabel = bool(getattr(model, "multilabel", getattr(model, "model_args", {}).get("multilabel", True)))
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs, targets = [], []
    for batch in tqdm(loader, desc="predict", leave=False, disable=not progress):
        logits = model(_to(batch, device))["logits"].float()
        probs.append((torch.sigmoid(logits) if multilabel else torch.softmax(logits, -1)).cpu().numpy())
        targets.append(batch["target"].cpu().numpy())
    model.train(was_training)
    return np.concatenate(probs), np.concatenate(targets)


def _val_loss(probs: np.ndarray, targets: np.ndarray, multilabel: bool) -> float:
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    if multilabel:
        return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p)))
    return float(-np.mean(np.log(p[np.arange(len(targets)), targets.astype(np.int64)])))


# --- training ------------------------------------------------------------------------------------------------
class _EpochSampler(Sampler[int]):
    """Single-process shuffling seeded by (seed, epoch), with DistributedSampler's set_epoch interface."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(_seed(self.seed, self.epoch, 0))
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


class TrainStep(nn.Module):
    """model + criterion (+ frozen teacher) as ONE module: DDP then also averages the gradients of the loss'
    own parameters (the feature-KD projector), and `.train()` can never wake the teacher up."""

    def __init__(self, kind: str, model: nn.Module, criterion: nn.Module, teacher: nn.Module | None = None):
        super().__init__()
        self.kind, self.model, self.criterion, self.teacher = kind, model, criterion, teacher

    def train(self, mode: bool = True) -> "TrainStep":
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out = self.model(batch)
        if self.kind == "teacher":
            return self.criterion(out, batch["target"])
        if self.kind == "student":
            with torch.no_grad():
                teacher_out = self.teacher(batch)
            return self.criterion(out, teacher_out, batch["target"])
        return self.criterion(out["logits"], batch["target"])


def lr_lambda(total_steps: int, warmup_steps: int, min_ratio: float) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    return f


def class_weights(counts: np.ndarray, n: int, multilabel: bool, cap: float) -> list[float]:
    """pos_weight = negatives / positives per class (multi-label), or n / (C * count) (multi-class); capped."""
    counts = np.asarray(counts, np.float64)
    if multilabel:
        w = np.where(counts > 0, (n - counts) / np.maximum(counts, 1), cap)
    else:
        w = np.where(counts > 0, n / (len(counts) * np.maximum(counts, 1)), 0.0)
    return np.clip(w, 0.0, cap).tolist()


def page_dataset(d: DataConfig, fields: tuple[str, ...], **kwargs: Any) -> PageDataset:
    """The PageDataset that `d` describes, reading `fields`; kwargs select pages (folds, splits, record_ids) and
    may give boxes_fn / boxes_tag, signal_from and digitize (distill.data.PageDataset)."""
    kwargs.setdefault("crop_size", (d.crop_size, d.crop_size))
    kwargs.setdefault("cache", d.cache)
    return PageDataset(d.root, task=d.task, fields=fields, page_size=(d.page_height, d.page_width),
                       grayscale=d.grayscale, max_beats=d.max_beats, signal_fs=d.signal_fs,
                       signal_samples=int(round(d.signal_fs * d.signal_seconds)),
                       bandpass=None if d.bandpass is None else tuple(d.bandpass), **kwargs)


def run_settings(cfg: TrainConfig) -> dict[str, Any]:
    """What a run's weights depend on: the config less its per-invocation keys."""
    return {k: v for k, v in to_dict(cfg).items() if k not in PER_INVOCATION}


def train_code() -> dict[str, Any]:
    """The code stamp (vizecg.runs.code_stamp) every checkpoint and summary records."""
    return code_stamp(TRAIN_CODE, libraries=TRAIN_LIBRARIES)


def build_datasets(cfg: TrainConfig, boxes_fn=None, boxes_tag: str | None = None):
    d = cfg.data
    if (cfg.kind == "beats") != (d.task == "aami"):
        raise ConfigError(f"kind {cfg.kind} with task {d.task}: the beats kind trains the aami task, "
                          "and only it")
    common = dict(crop_size=(d.crop_size, d.crop_size), cache=d.cache, boxes_fn=boxes_fn, boxes_tag=boxes_tag,
                  exclude_families=tuple(d.exclude_families))
    if cfg.kind == "beats":
        common.pop("boxes_fn"), common.pop("boxes_tag")
        make = lambda **sel: BeatDataset(d.root, **sel, **common)  # noqa: E731
    else:
        make = lambda **sel: page_dataset(d, KIND_FIELDS[cfg.kind], **sel, **common)  # noqa: E731
    if d.train_records is not None or d.val_records is not None:
        if d.train_records is None or d.val_records is None:
            raise ConfigError("give both data.train_records and data.val_records (or neither)")
        return make(record_ids=d.train_records), make(record_ids=d.val_records)
    if d.train_folds is not None or d.val_folds is not None:
        if d.train_folds is None or d.val_folds is None:
            raise ConfigError("give both data.train_folds and data.val_folds (or neither, to use splits)")
        if set(d.train_folds) & set(d.val_folds):
            raise ConfigError(f"train and val folds overlap: {sorted(set(d.train_folds) & set(d.val_folds))}")
        return make(folds=d.train_folds), make(folds=d.val_folds)
    return make(splits=[d.train_split]), make(splits=[d.val_split])


def _make_model(cfg: TrainConfig) -> nn.Module:
    from vizecg.models import create_model

    clash = {"num_classes", "multilabel"} & set(cfg.model.kwargs)
    if clash:
        raise ConfigError(f"model.kwargs must not set {sorted(clash)}: they follow data.task")
    from vizecg.models.backbones import load_submodule

    model = create_model(cfg.model.name, num_classes=len(TASK_CLASSES[cfg.data.task]),
                         multilabel=MULTILABEL[cfg.data.task], **cfg.model.kwargs)
    for init in cfg.model.init:
        load_submodule(model, init.target, init.checkpoint, init.source)
    return model


def _load_teacher(cfg: TrainConfig) -> tuple[nn.Module, dict[str, Any]]:
    if not cfg.teacher:
        raise ConfigError("kind student needs a teacher checkpoint (--teacher PATH or teacher: in the config)")
    from vizecg.models.teacher import Teacher

    teacher, ckpt = model_from_checkpoint(cfg.teacher, kind="teacher")
    if not isinstance(teacher, Teacher):  # a teacher run of a non-teacher model cannot feed the student's losses
        raise ModelError(f"not a teacher model: {ckpt['model_name']!r} is a {type(teacher).__name__}", cfg.teacher)
    if ckpt.get("task") != cfg.data.task:
        raise ModelError(f"teacher was trained on task {ckpt.get('task')!r}, the student on {cfg.data.task!r}",
                         cfg.teacher)
    return freeze(teacher), ckpt


def _feature_dim(model: nn.Module, attrs: tuple[str, ...], who: str) -> int:
    for a in attrs:
        if isinstance(getattr(model, a, None), int):
            return int(getattr(model, a))
    raise ModelError(f"{who} {getattr(model, 'model_name', type(model).__name__)} does not say its image feature "
                     f"size (attribute {' or '.join(attrs)})")


def _criterion(cfg: TrainConfig, train_ds: Any, model: nn.Module, teacher: nn.Module | None) -> nn.Module:
    multilabel = MULTILABEL[cfg.data.task]
    L = cfg.loss
    weights = None
    if L.balance:
        weights = class_weights(train_ds.class_counts(), len(train_ds), multilabel, L.max_weight)
    wkw = dict(pos_weight=weights) if multilabel else dict(class_weight=weights)
    if cfg.kind == "teacher":
        return TeacherLoss(multilabel, w_task=L.w_task, w_image=L.w_image, w_signal=L.w_signal,
                           w_agreement=L.w_agreement, agreement_kind=L.agreement, **wkw)
    if cfg.kind == "student":
        return DistillationLoss(multilabel, _feature_dim(model, ("image_feature_dim", "feature_dim"), "student"),
                                _feature_dim(teacher, ("image_feature_dim", "feature_dim"), "teacher"),
                                temperature=L.temperature, w_task=L.w_task, w_kd=L.w_kd, w_feat=L.w_feat,
                                feature_loss=L.feature_loss, **wkw)
    return TaskLoss(multilabel, **wkw)


def _param_groups(modules: list[nn.Module], weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for m in modules:
        for p in m.parameters():
            if p.requires_grad:
                (decay if p.ndim >= 2 else no_decay).append(p)  # nanoGPT: no decay on norms and biases
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train(cfg: TrainConfig, resume: bool = False,
          on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
          boxes_fn=None, boxes_tag: str | None = None) -> dict[str, Any]:
    """Train one stage as `cfg` says; returns the summary also written to OUT/summary.json (rank 0).

    resume: continue from OUT/last.pt if it exists. on_epoch_end(epoch, record) runs after each epoch's
    checkpoint is written (tests use it to simulate an interruption). boxes_fn: detector boxes instead of the
    ground-truth beat boxes (see distill.data.BoxesFn).
    """
    from tqdm import tqdm

    check_device(cfg.device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    own_group = world > 1 and not dist.is_initialized()
    if own_group:
        dist.init_process_group("gloo" if cfg.device == "cpu" else "nccl")
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    main = rank == 0
    try:
        return _train(cfg, resume, on_epoch_end, boxes_fn, boxes_tag, rank, world, main, tqdm)
    finally:
        _close_log(Path(cfg.out) / "log.txt")  # else a later run in this process would also log into this file
        if own_group:
            dist.destroy_process_group()


def _close_log(path: Path) -> None:
    import logging

    logger = logging.getLogger("vizecg.train")
    for h in list(logger.handlers):
        if isinstance(h, logging.FileHandler) and h.baseFilename == str(path.resolve()):
            logger.removeHandler(h)
            h.close()


def _train(cfg, resume, on_epoch_end, boxes_fn, boxes_tag, rank, world, main, tqdm) -> dict[str, Any]:
    out = Path(cfg.out)
    device = torch.device(cfg.device)
    # The teacher first: a wrong --teacher is refused before a run folder is written or data is read.
    teacher, teacher_ckpt = _load_teacher(cfg) if cfg.kind == "student" else (None, None)
    last_path, best_path = out / "last.pt", out / "best.pt"
    code = train_code()
    resumed = None
    if resume and last_path.is_file():  # refused before the run folder's config.yaml is rewritten
        resumed = load_checkpoint(last_path)
        if resumed["model_name"] != cfg.model.name or resumed["kind"] != cfg.kind:
            raise ConfigError(f"cannot resume: {last_path} holds a {resumed['kind']} {resumed['model_name']} run, "
                              f"the config asks for {cfg.kind} {cfg.model.name}")
        check_resumable(resumed, cfg, code, last_path)
    logger = start_run(out, cfg, name="vizecg.train") if main else None
    log = (lambda msg, *a: logger.info(msg, *a)) if main else (lambda *a: None)

    torch.manual_seed(cfg.seed)
    train_ds, val_ds = build_datasets(cfg, boxes_fn, boxes_tag)
    model = _make_model(cfg).to(device)
    for init in cfg.model.init:
        log("initialised %s from %s of %s", init.target or "the model", init.source or "all", init.checkpoint)
    if teacher is not None:
        teacher = teacher.to(device)
    criterion = _criterion(cfg, train_ds, model, teacher).to(device)
    step_module = TrainStep(cfg.kind, model, criterion, teacher).to(device)
    ddp = step_module
    if world > 1:
        # find_unused_parameters: a stage may legitimately leave a branch idle (e.g. a head with weight 0).
        ddp = nn.parallel.DistributedDataParallel(step_module, find_unused_parameters=True)

    sampler = (DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
               if world > 1 else _EpochSampler(len(train_ds), cfg.seed))
    bs = cfg.data.batch_size
    max_beats = cfg.data.max_beats if cfg.kind != "beats" else None
    coll = lambda items: collate(items, max_beats)  # noqa: E731
    # drop_last when possible: a batch of 1 breaks BatchNorm in training mode.
    train_loader = DataLoader(train_ds, batch_size=bs, sampler=sampler, collate_fn=coll,
                              num_workers=cfg.data.num_workers, drop_last=len(sampler) > bs)
    val_loader = DataLoader(val_ds, batch_size=bs, shuffle=False, collate_fn=coll, num_workers=cfg.data.num_workers)
    steps_per_epoch = len(train_loader)
    if cfg.schedule.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.schedule.max_steps_per_epoch)
    total = cfg.schedule.epochs * steps_per_epoch
    warm = min(total, int(round(cfg.schedule.warmup_epochs * steps_per_epoch)))

    optim = torch.optim.AdamW(_param_groups([model, criterion], cfg.optim.weight_decay), lr=cfg.optim.lr,
                              betas=(cfg.optim.beta1, cfg.optim.beta2))
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_lambda(total, warm, cfg.schedule.min_lr_ratio))

    multilabel = MULTILABEL[cfg.data.task]
    class_names = list(TASK_CLASSES[cfg.data.task])
    n_params = sum(p.numel() for p in model.parameters())
    state = {"epoch": 0, "step": 0, "best_epoch": -1, "best_score": -math.inf, "bad_epochs": 0, "history": [],
             "train_time_s": 0.0, "finished": False, "stopped_early": False}
    if resumed is not None:
        ck = resumed
        model.load_state_dict(ck["model"])
        criterion.load_state_dict(ck["criterion"])
        optim.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        state.update(ck["state"])
        log("resumed from %s at epoch %d", last_path, state["epoch"])
    elif resume:
        log("--resume: no %s yet, starting fresh", last_path)
    log("%s: %s (%d params) on %d train / %d val items, %d step(s)/epoch, world %d", cfg.kind, cfg.model.name,
        n_params, len(train_ds), len(val_ds), steps_per_epoch, world)

    def checkpoint(metrics: dict[str, Any], with_optim: bool = True) -> dict[str, Any]:
        ck = {"format": CHECKPOINT_FORMAT, "kind": cfg.kind, "task": cfg.data.task, "class_names": class_names,
              "multilabel": multilabel, "model_name": cfg.model.name,
              "model_args": dict(getattr(model, "model_args", {})), "model": model.state_dict(),
              "criterion": criterion.state_dict(), "config": to_dict(cfg), "code": code, "epoch": state["epoch"],
              "metrics": metrics, "state": dict(state), "params": n_params,
              "teacher": None if teacher_ckpt is None else {
                  "path": str(cfg.teacher), "model_name": teacher_ckpt["model_name"],
                  "model_args": teacher_ckpt["model_args"]}}
        if with_optim:
            ck["optimizer"], ck["scheduler"] = optim.state_dict(), sched.state_dict()
        return ck

    while state["epoch"] < cfg.schedule.epochs and not state["finished"]:
        epoch = state["epoch"]
        t0 = time.perf_counter()
        torch.manual_seed(_seed(cfg.seed, epoch, rank))  # dropout etc.: a function of (seed, epoch, rank)
        sampler.set_epoch(epoch)
        ddp.train()
        sums: dict[str, float] = {}
        n = 0
        bar = tqdm(train_loader, total=steps_per_epoch, desc=f"{cfg.kind} epoch {epoch + 1}/{cfg.schedule.epochs}",
                   leave=False, disable=not (main and cfg.progress))
        for i, batch in enumerate(bar):
            if i >= steps_per_epoch:
                break
            terms = ddp(_to(batch, device))
            check_finite(terms, state["step"], f"{cfg.kind} epoch {epoch + 1}")
            optim.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if cfg.optim.grad_clip > 0:
                nn.utils.clip_grad_norm_([p for g in optim.param_groups for p in g["params"]], cfg.optim.grad_clip)
            optim.step()
            sched.step()
            state["step"] += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            n += 1
            bar.set_postfix(loss=f"{sums['loss'] / n:.4f}")
        bar.close()
        train_terms = {k: v / max(n, 1) for k, v in sums.items()}
        state["train_time_s"] += time.perf_counter() - t0

        # Validation on rank 0 with the bare model; the stop decision is broadcast to the other ranks.
        record: dict[str, Any] = {"epoch": epoch + 1, "train": train_terms, "lr": sched.get_last_lr()[0]}
        stop = torch.zeros(1)
        if main:
            probs, targets = predict(model, val_loader, device, multilabel)
            if not np.isfinite(probs).all():
                raise NonFiniteLossError(f"validation predictions are not finite after epoch {epoch + 1} "
                                         f"(step {state['step']}); lower the learning rate")
            metrics = classification_metrics(probs, targets, class_names)
            metrics["loss"] = _val_loss(probs, targets, multilabel)
            # AUROC is the criterion; on a val set with no class present (tiny runs) fall back to -loss.
            score = metrics["macro_auroc"] if math.isfinite(metrics["macro_auroc"]) else -metrics["loss"]
            record["val"] = metrics
            state["epoch"] = epoch + 1
            improved = score > state["best_score"] + 1e-6
            if improved:
                state.update(best_epoch=epoch + 1, best_score=score, bad_epochs=0)
            else:
                state["bad_epochs"] += 1
            if cfg.schedule.patience > 0 and state["bad_epochs"] >= cfg.schedule.patience:
                state["stopped_early"] = True
            state["history"].append(record)
            state["finished"] = state["stopped_early"] or state["epoch"] >= cfg.schedule.epochs
            if improved:
                save_checkpoint(best_path, checkpoint(metrics, with_optim=False))
            save_checkpoint(last_path, checkpoint(metrics))
            log("epoch %d: train %s | val macro AUROC %.4f loss %.4f%s", epoch + 1,
                " ".join(f"{k} {v:.4f}" for k, v in train_terms.items()), metrics["macro_auroc"], metrics["loss"],
                " (best)" if improved else "")
            if cfg.progress:
                tqdm.write(f"{cfg.kind} epoch {epoch + 1}: loss {train_terms.get('loss', float('nan')):.4f} "
                           f"val AUROC {metrics['macro_auroc']:.4f}{' *' if improved else ''}")
            stop[0] = float(state["stopped_early"])
        else:
            state["epoch"] = epoch + 1
        if world > 1:
            dist.broadcast(stop, src=0)
            state["stopped_early"] = bool(stop[0])
            state["finished"] = state["stopped_early"] or state["epoch"] >= cfg.schedule.epochs
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, record)

    if not main:
        return {}
    best = next((h for h in state["history"] if h["epoch"] == state["best_epoch"]), None)
    summary = {
        "kind": cfg.kind, "task": cfg.data.task, "model_name": cfg.model.name, "class_names": class_names,
        "params": n_params, "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "n_train": len(train_ds), "n_val": len(val_ds), "world_size": world, "epochs_run": state["epoch"],
        "stopped_early": state["stopped_early"], "best_epoch": state["best_epoch"],
        "best_val": None if best is None else best["val"], "train_time_s": round(state["train_time_s"], 3),
        "checkpoints": {"best": str(best_path), "last": str(last_path)},
        "teacher": None if teacher_ckpt is None else str(cfg.teacher), "config": to_dict(cfg), "code": code,
        "history": state["history"],
    }
    write_json(out / "summary.json", summary)
    log("done: best epoch %d, val macro AUROC %s", state["best_epoch"],
        None if best is None else round(best["val"]["macro_auroc"], 4))
    return summary

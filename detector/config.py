"""Typed config of the beat detector: training recipe, tiling and inference settings (configs/detector.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CLASS_NAMES: tuple[str, ...] = ("beat", "lead_label", "calibration_pulse", "lead_panel")  # = render's YOLO view
BEAT, LEAD_LABEL, CAL_PULSE, LEAD_PANEL = range(4)


@dataclass
class TileConfig:
    size: int = 0  # tile side in page pixels; 0 = no tiling (the whole page is letterboxed to imgsz)
    overlap: float = 0.25  # fraction of the tile shared with its neighbour; >= one beat width keeps each beat whole once
    min_visible: float = 0.6  # a label cut by a tile edge is kept only if this fraction of its area is inside


@dataclass
class TrainConfig:
    model: str = "yolo11.yaml"  # yaml: detector/cfg/<name> first, then ultralytics' (yolo11.yaml); or a .pt to fine-tune
    scale: Literal["n", "s", "m"] = "n"  # compound scale; n keeps the shipped weights ~5 MB and a page ~0.1 s
    imgsz: int = 640  # network input side; a letter page at 640 px shows a beat ~45x30 px
    epochs: int = 20
    batch: int = 8
    patience: int = 100
    seed: int = 0
    workers: int = 0  # dataloader processes; the CPU is shared, 0 keeps it to the main process
    optimizer: str = "auto"
    lr0: float = 0.01
    cos_lr: bool = False
    warmup_epochs: float = 3.0  # a fine-tuning stage from trained weights needs little or none
    mosaic: float = 1.0  # mixes 4 pages at random scales: beats at many sizes from few pages
    close_mosaic: int = 3  # last epochs on whole pages, as inference sees them
    scale_aug: float = 0.3  # random zoom +-; photos already vary the page scale
    translate: float = 0.1
    degrees: float = 0.0  # the photo simulator rotates and warps with exact labels; no need here
    fliplr: float = 0.0  # a mirrored ECG runs backwards in time and its lead labels read mirrored
    hsv_h: float = 0.015
    hsv_s: float = 0.5
    hsv_v: float = 0.4
    cache: bool | Literal["ram", "disk"] = False  # "ram": decoded, resized pages (~1 MB each at 640) skip JPEG decoding
    val: bool = True

    def __post_init__(self) -> None:  # ValueError -> ConfigError naming the key (vizecg.config.from_dict)
        checks = [(self.imgsz % 32 == 0 and 64 <= self.imgsz <= 2048, "imgsz", "a multiple of 32 in [64, 2048]"),
                  (self.epochs >= 1, "epochs", ">= 1"), (self.batch >= 1, "batch", ">= 1"),
                  (0 <= self.seed < 2 ** 32, "seed", "in [0, 2**32 - 1]"), (self.workers >= 0, "workers", ">= 0"),
                  (self.lr0 > 0, "lr0", "> 0"), (self.patience >= 0, "patience", ">= 0")]
        for ok, key, rule in checks:
            if not ok:
                raise ValueError(f"{key} must be {rule}, got {getattr(self, key)!r}")


@dataclass
class InferConfig:
    imgsz: int = 640
    conf: float = 0.25  # operating point: precision/recall in `eval` are reported at this score
    iou: float = 0.6  # NMS IoU; neighbouring beats touch but overlap little
    max_det: int = 300

    def __post_init__(self) -> None:
        if not (self.imgsz % 32 == 0 and 64 <= self.imgsz <= 2048):
            raise ValueError(f"imgsz must be a multiple of 32 in [64, 2048], got {self.imgsz}")
        for key in ("conf", "iou"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"{key} must lie in [0, 1], got {getattr(self, key)}")
        if not 1 <= self.max_det <= 10000:
            raise ValueError(f"max_det must lie in [1, 10000], got {self.max_det}")


@dataclass
class DetectorConfig:
    data: list[str] = field(default_factory=list)  # render output folders (their yolo/ view) or a data.yaml
    val_data: list[str] = field(default_factory=list)  # folders used only for validation; empty: each folder's val split
    train: TrainConfig = field(default_factory=TrainConfig)
    tile: TileConfig = field(default_factory=TileConfig)
    infer: InferConfig = field(default_factory=InferConfig)

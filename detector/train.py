"""Train the beat detector with ultralytics (CPU, offline, built from a yaml: nothing is downloaded)."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from detector.config import CLASS_NAMES, DetectorConfig
from vizecg.config import to_dict
from vizecg.errors import ConfigError, ModelError
from vizecg.runs import atomic_write_text, start_run, write_json

CFG_DIR = Path(__file__).resolve().parent / "cfg"


def model_yaml(cfg: DetectorConfig, run_dir: Path) -> str:
    """Resolve train.model + train.scale to a yaml ultralytics can build ('yolo11n.yaml' or a copied own yaml),
    or to a .pt checkpoint to fine-tune (its architecture wins over train.scale)."""
    name, scale = cfg.train.model, cfg.train.scale
    if name.endswith(".pt"):  # continue from trained weights (a second, fine-tuning stage)
        if not Path(name).is_file():
            raise ConfigError(f"train.model {name!r}: weights file not found")
        return str(Path(name).resolve())
    own = CFG_DIR / name if not Path(name).is_file() else Path(name)
    if own.is_file():
        # ultralytics reads the scale from the file name (yolo11n-p2.yaml -> n): copy under such a name.
        stem = own.stem
        scaled = stem.replace("yolo11", f"yolo11{scale}", 1) if stem.startswith("yolo11") else f"yolo11{scale}-{stem}"
        target = run_dir / f"{scaled}.yaml"
        atomic_write_text(target, own.read_text())
        return str(target)
    if name in ("yolo11.yaml", "yolov8.yaml"):
        return name.replace(".yaml", f"{scale}.yaml")
    raise ConfigError(f"train.model {name!r}: not a yaml in {CFG_DIR} nor a known ultralytics family "
                      "(yolo11.yaml, yolov8.yaml)")


def ultralytics_args(cfg: DetectorConfig, data_yaml: str, run_dir: Path) -> dict[str, Any]:
    t = cfg.train
    return dict(
        data=data_yaml, epochs=t.epochs, imgsz=t.imgsz, batch=t.batch, patience=t.patience, seed=t.seed,
        deterministic=True, workers=t.workers, optimizer=t.optimizer, lr0=t.lr0, cos_lr=t.cos_lr,
        warmup_epochs=t.warmup_epochs, mosaic=t.mosaic,
        close_mosaic=t.close_mosaic, scale=t.scale_aug, translate=t.translate, degrees=t.degrees, fliplr=t.fliplr,
        hsv_h=t.hsv_h, hsv_s=t.hsv_s, hsv_v=t.hsv_v, cache=t.cache, val=t.val,
        # offline and CPU: nothing downloaded, no AMP check (it downloads yolo11n.pt), no plots (font)
        # pretrained: False builds from the yaml; a .pt model (fine-tuning stage) must keep its weights.
        pretrained=cfg.train.model.endswith(".pt"), amp=False, plots=False, device="cpu", project=str(run_dir),
        name="ultralytics",
        exist_ok=True, verbose=False, max_det=cfg.infer.max_det, iou=0.7,
    )


def train_detector(cfg: DetectorConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Prepare data, train, copy the best (EMA, fp16, optimizer-stripped) checkpoint to out/beats_yolo.pt."""
    from detector.dataset import prepare_dataset
    from detector.infer import load_yolo, load_error_reason
    from vizecg.offline import import_ultralytics

    ultralytics = import_ultralytics()  # a .pt to fine-tune goes through the restricted loader too
    if cfg.train.model.endswith(".pt") and Path(cfg.train.model).is_file():
        load_yolo(Path(cfg.train.model))  # refused before anything is written or rendered
    run_dir = Path(out).resolve()
    logger = start_run(run_dir, cfg, name="vizecg.detector")
    data = prepare_dataset(cfg.data, run_dir / "data", cfg.val_data, cfg.tile)
    logger.info("dataset: %s", data)
    ultralytics.settings.update({"sync": False})
    yaml_path = model_yaml(cfg, run_dir)
    try:
        model = ultralytics.YOLO(yaml_path, task="detect")
    except Exception as exc:
        raise ModelError(f"cannot load YOLO weights: {load_error_reason(exc)}", yaml_path) from None
    args = ultralytics_args(cfg, data["data_yaml"], run_dir)
    logger.info("ultralytics args: %s", args)
    t0 = time.perf_counter()
    model.train(**args)
    wall = time.perf_counter() - t0
    trainer = model.trainer
    best = Path(trainer.best if Path(trainer.best).is_file() else trainer.last)
    if not best.is_file():
        raise ModelError("training produced no checkpoint", best)
    target = run_dir / "beats_yolo.pt"
    tmp = target.with_name(".beats_yolo.pt.tmp")
    shutil.copyfile(best, tmp)
    tmp.replace(target)
    metrics = {k: round(float(v), 4) for k, v in (trainer.metrics or {}).items() if isinstance(v, (int, float))}
    summary = {"weights": str(target), "size_mb": round(target.stat().st_size / 2 ** 20, 2), "model": yaml_path,
               "classes": list(CLASS_NAMES), "train_seconds": round(wall, 1), "epochs": cfg.train.epochs,
               "best_epoch": int(getattr(trainer, "best_fitness_epoch", -1) or -1), "dataset": data,
               "val_metrics_last_epoch": metrics, "config": to_dict(cfg)}
    write_json(run_dir / "summary.json", summary)
    logger.info("summary: %s", summary)
    return summary

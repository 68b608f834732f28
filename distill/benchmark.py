"""Image vs signal benchmark: the same patient-grouped folds, four models side by side, bootstrap intervals.

    cfg = load_config(BenchmarkConfig, "configs/benchmark_cpu.yaml", ["source=ptbxl:/data/ptbxl"])
    results = run_benchmark(cfg, "runs/benchmark_cpu")

Stages, each skipped on a re-run once finished (so an interrupted run resumes where it stopped):
  1. render    photographed printouts (`mixed` severities) of every record: OUT/render (vizecg.builders.render_job)
  2. train     per task: signal-only model (true signal), image baseline (no distillation), teacher
               (image + signal), student (distilled from the teacher, image only): OUT/<task>/<kind>/
               (distill.train; ground-truth beat boxes give the training crops)
  3. predict   val + test probabilities with ground-truth crops and, when the beat detector's weights exist,
               with detector crops: OUT/<task>/<kind>/pred-<crops>.npz (+ CPU inference ms per page)
  4. report    metrics on the test folds with seeded bootstrap 95% intervals (resampling test records) and
               paired comparisons on the same resamples: OUT/results.json, results.md, roc.png
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import yaml

from distill.data import MULTILABEL, TASK_CLASSES, PageDataset, collate, digitizer_version
from distill.train import (DataConfig, InitConfig, LossConfig, ModelConfig, OptimConfig, ScheduleConfig,
                           TrainConfig, check_device, model_from_checkpoint, predict, train)
from vizecg.config import to_dict
from vizecg.errors import ConfigError, DataError, ModelError
from vizecg.render.printout import RenderConfig
from vizecg.runs import atomic_write_bytes, atomic_write_text, start_run, write_json

PROFILES_DIR = Path(__file__).resolve().parents[1] / "configs"
KINDS = ("signal", "image", "teacher", "student")  # training order: the student needs the teacher
# "digitized": no model of its own but a route: the signal model reading the photo through the digitizer.
DIGITIZED = "digitized"
LABELS = {"signal": "signal-only", "image": "image baseline", "teacher": "teacher", "student": "student",
          DIGITIZED: "signal-only, digitized photo"}
INPUTS = {"signal": "true signal", "image": "photo", "teacher": "photo + true signal", "student": "photo",
          DIGITIZED: "photo -> digitizer"}
# What each model reads at evaluation (the student's training also reads the signal, for its frozen teacher).
EVAL_FIELDS = {"signal": ("signal",), "image": ("page", "beats"), "teacher": ("page", "beats", "signal"),
               "student": ("page", "beats")}
PAIRS = (("student", "image", "diff"), ("student", "signal", "ratio"), ("student", DIGITIZED, "diff"))
CROPS = ("truth", "detector")
# teacher_init: (teacher submodule, same submodule in the single-modality model); the teacher's SMAM/CMAM
# layers have no counterpart there and start fresh.
TEACHER_INIT = {"signal": [("signal.resnet1d", "encoder.resnet1d")],
                "image": [("image.local", "image.local"), ("image.global_", "image.global_")]}


@dataclass
class StageConfig:
    """How one of the four models is built and trained (distill.train's own config types)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(epochs=1, patience=0))
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def _stage(name: str, lr: float = 1e-3, batch_size: int = 8) -> StageConfig:
    return StageConfig(model=ModelConfig(name=name), optim=OptimConfig(lr=lr), batch_size=batch_size)


@dataclass
class BenchmarkConfig:
    """`vizecg benchmark`: written resolved to OUT/config.yaml. Profiles live in configs/benchmark_<name>.yaml."""

    profile: str = "custom"  # a label for the report
    source: str = "sample"  # load_source spec
    seed: int = 0  # rendering, training, bootstrap
    tasks: list[Literal["superclass", "normal"]] = field(default_factory=lambda: ["superclass"])
    pages: int | None = None  # pages to render (item k prints record k mod len); None: one per record
    photo: Literal["none", "scan", "phone", "screen", "mixed"] = "mixed"  # mixed: all severities
    layout: str = "3x4+1"  # the layout the detector assigns leads on
    render: RenderConfig = field(default_factory=lambda: RenderConfig(dpi=100))  # pages are shrunk anyway
    render_workers: int = 2
    # Patient-grouped folds (PTB-XL strat_fold keeps a patient in one fold): 1-8 train, 9 val, 10 test.
    train_folds: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7, 8])
    val_folds: list[int] = field(default_factory=lambda: [9])  # early stopping and F1 thresholds
    test_folds: list[int] = field(default_factory=lambda: [10])  # reported; never seen in training
    page_height: int = 144  # global branch input (the whole page, resized)
    page_width: int = 192
    crop_size: int = 48  # beat crops, square, letterboxed
    max_beats: int = 16  # crops per page, spread over leads
    grayscale: bool = False
    num_workers: int = 0  # data loader workers (after the first epoch everything comes from the cache)
    signal: StageConfig = field(default_factory=lambda: _stage("signal_resnet1d_tiny", 3e-3, 16))
    image: StageConfig = field(default_factory=lambda: _stage("image_baseline_tiny"))
    teacher: StageConfig = field(default_factory=lambda: _stage("teacher_tiny"))
    student: StageConfig = field(default_factory=lambda: _stage("student_tiny"))
    loss: LossConfig = field(default_factory=LossConfig)  # teacher and distillation weights
    # Teacher streams started from the trained single-modality models (signal: the signal model's encoder,
    # image: the image baseline's encoder) instead of from scratch; the student always starts from scratch.
    teacher_init: list[Literal["signal", "image"]] = field(default_factory=list)
    bootstrap: int = 1000  # resamples of the test records
    ci_level: float = 0.95
    infer_pages: int = 16  # test pages timed one by one for the CPU ms/page column
    detector_weights: str | None = "auto"  # "auto": the detector's shipped weights if present; None: off
    # Also score the route photo -> digitizer -> signal model (the signal model trained on true signals reads
    # what `vizecg digitize` recovers from each val/test photo), beside the image-only student.
    digitized_route: bool = True
    torch_threads: int | None = None  # None: torch's default
    device: str = "cpu"  # training and prediction ("cuda" for the full profile); ms/page is always timed on CPU

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ConfigError("tasks: give at least one of superclass, normal")
        folds = [set(self.train_folds), set(self.val_folds), set(self.test_folds)]
        if any(not f for f in folds):
            raise ConfigError("train_folds, val_folds and test_folds must each name at least one fold")
        if folds[0] & folds[1] or folds[0] & folds[2] or folds[1] & folds[2]:
            raise ConfigError("train_folds, val_folds and test_folds must not overlap")
        if self.bootstrap < 1:
            raise ConfigError(f"bootstrap must be >= 1, got {self.bootstrap}")
        if not 0 <= self.seed < 2 ** 32:
            raise ConfigError(f"seed must lie in [0, 2**32 - 1], got {self.seed}")


def profile_path(name: str) -> Path:
    path = PROFILES_DIR / f"benchmark_{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem[len("benchmark_"):] for p in PROFILES_DIR.glob("benchmark_*.yaml"))
        raise ConfigError(f"unknown benchmark profile {name!r} (known: {', '.join(known)})", path)
    return path


# --- stage 1: render ------------------------------------------------------------------------------------------
def render_stage(cfg: BenchmarkConfig, out: Path, progress: bool, log: logging.Logger,
                 overwrite: bool = False) -> dict[str, Any]:
    from vizecg.data import load_source
    from vizecg.builders.render_job import RenderJob, build_dataset

    n = cfg.pages or len(load_source(cfg.source).record_ids)
    job = RenderJob(source=cfg.source, n=n, layout=cfg.layout, photo=cfg.photo, seed=cfg.seed,
                    workers=cfg.render_workers, render=cfg.render)
    summary = build_dataset(job, out, progress=progress, overwrite=overwrite)
    log.info("render: %s", {k: summary[k] for k in ("items", "rendered", "skipped_existing", "failed")})
    if summary["failed"]:
        raise DataError(f"{summary['failed']} page(s) failed to render (see {out / 'log.txt'}); "
                        f"first: {summary['failures'][0]}", out)
    return summary


# --- stage 2: train ---------------------------------------------------------------------------------------------
def train_config(cfg: BenchmarkConfig, task: str, kind: str, render_dir: Path, out: Path) -> TrainConfig:
    stage: StageConfig = getattr(cfg, kind)
    data = DataConfig(root=str(render_dir), task=task, train_folds=list(cfg.train_folds),
                      val_folds=list(cfg.val_folds), page_height=cfg.page_height, page_width=cfg.page_width,
                      grayscale=cfg.grayscale, crop_size=cfg.crop_size, max_beats=cfg.max_beats,
                      batch_size=stage.batch_size, num_workers=cfg.num_workers)
    model = stage.model
    if kind == "teacher" and cfg.teacher_init:
        model = dataclasses.replace(model, init=list(model.init) + [
            InitConfig(checkpoint=str(out / task / stream / "best.pt"), target=target, source=source)
            for stream in cfg.teacher_init for target, source in TEACHER_INIT[stream]])
    return TrainConfig(kind=kind, seed=cfg.seed, out=str(out / task / kind), progress=False, device=cfg.device,
                       teacher=str(out / task / "teacher" / "best.pt") if kind == "student" else None,
                       data=data, model=model, optim=stage.optim, schedule=stage.schedule, loss=cfg.loss)


def stage_dependencies(cfg: BenchmarkConfig, task: str, kind: str, out: Path) -> list[Path]:
    """The runs a stage is built from: retrained when any of them is newer. The render folder's fingerprint changes
    only when its pages were redone with other settings (its summary.json is rewritten by every resume)."""
    kinds = ["teacher"] if kind == "student" else list(cfg.teacher_init) if kind == "teacher" else []
    return [out / "render" / "fingerprint.json"] + [out / task / k / "summary.json" for k in kinds]


def _stage_done(tcfg: TrainConfig, depends_on: list[Path]) -> bool:
    """Finished with this very config, and newer than the runs it was built from (stage_dependencies)."""
    run = Path(tcfg.out)
    summary, config, best = run / "summary.json", run / "config.yaml", run / "best.pt"
    if not (summary.is_file() and config.is_file() and best.is_file()):
        return False
    if yaml.safe_load(config.read_text()) != to_dict(tcfg):
        return False
    return all(not d.exists() or d.stat().st_mtime_ns <= summary.stat().st_mtime_ns for d in depends_on)


def train_stage(tcfg: TrainConfig, depends_on: list[Path], log: logging.Logger) -> dict[str, Any]:
    run = Path(tcfg.out)
    if _stage_done(tcfg, depends_on):
        log.info("train %s/%s: finished earlier, skipped", tcfg.data.task, tcfg.kind)
        return json.loads((run / "summary.json").read_text())
    config = run / "config.yaml"
    if (run / "summary.json").is_file() or (config.is_file() and yaml.safe_load(config.read_text()) != to_dict(tcfg)):
        # Another config (or an older teacher) made these: they must not be resumed from.
        for name in ("last.pt", "best.pt", "summary.json"):
            (run / name).unlink(missing_ok=True)
        log.info("train %s/%s: config or teacher changed, training afresh", tcfg.data.task, tcfg.kind)
    log.info("train %s/%s: %s, %d epoch(s)", tcfg.data.task, tcfg.kind, tcfg.model.name, tcfg.schedule.epochs)
    return train(tcfg, resume=True)


# --- stage 3: predict ----------------------------------------------------------------------------------------------
BoxesFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def detector_boxes(weights: str | None) -> tuple[BoxesFn | None, str, str]:
    """(boxes_fn, tag, note): the YOLO beat detector as a distill.data boxes function, or None with the reason."""
    if weights is None:
        return None, "", "detector crops: off in this config"
    from detector.infer import DEFAULT_WEIGHTS, BeatDetector

    path = Path(DEFAULT_WEIGHTS if weights == "auto" else weights)
    if not path.is_file():
        if weights != "auto":  # weights the user named must exist: never a silent "n/a"
            raise ModelError("detector_weights: file not found", path)
        return None, "", f"detector crops: n/a (no detector weights at {path})"
    det = BeatDetector(path)

    def boxes_fn(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = det.detect(image)
        return d.beat_boxes, d.order_keys()

    st = path.stat()
    return boxes_fn, f"yolo-{path.stem}-{st.st_size}-{st.st_mtime_ns}", f"detector crops: {path}"


def _dataset(cfg: BenchmarkConfig, render_dir: Path, task: str, kind: str, folds: list[int],
             boxes_fn: BoxesFn | None = None, boxes_tag: str | None = None,
             signal_from: str = "record") -> PageDataset:
    return PageDataset(render_dir, task=task, fields=EVAL_FIELDS[kind], page_size=(cfg.page_height, cfg.page_width),
                       grayscale=cfg.grayscale, max_beats=cfg.max_beats, folds=folds,
                       crop_size=(cfg.crop_size, cfg.crop_size), boxes_fn=boxes_fn, boxes_tag=boxes_tag,
                       signal_from=signal_from)


def _loader(ds: PageDataset, cfg: BenchmarkConfig, batch_size: int):
    from torch.utils.data import DataLoader

    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=cfg.num_workers,
                      collate_fn=lambda items: collate(items, cfg.max_beats))


def time_inference(model: Any, ds: PageDataset, cfg: BenchmarkConfig, n_pages: int) -> float:
    """Median CPU milliseconds of one model forward per page (batch 1, inputs already decoded and cropped)."""
    import torch

    n = min(n_pages, len(ds))
    if n == 0:
        return float("nan")
    times = []
    with torch.no_grad():
        for i in range(-1, n):  # one warm-up call
            batch = collate([ds[max(i, 0)]], cfg.max_beats)
            t0 = time.perf_counter()
            model(batch)
            if i >= 0:
                times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def time_digitizer(ds: PageDataset, n_pages: int) -> float:
    """Median CPU milliseconds the digitizer takes to read one page photo into the model's signal."""
    from distill.data import digitized_signal
    from vizecg.images import read_image

    times = []
    for i in range(min(n_pages, len(ds))):
        path = ds.pages[i].image
        image = read_image(path)
        t0 = time.perf_counter()
        digitized_signal(image, ds.signal_fs, ds.signal_samples, ds.band, where=str(path))
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)) if times else float("nan")


def predict_stage(cfg: BenchmarkConfig, render_dir: Path, task: str, kind: str, run: Path, crops: str,
                  boxes_fn: BoxesFn | None, boxes_tag: str, log: logging.Logger) -> dict[str, np.ndarray]:
    """Val and test probabilities of OUT/<task>/<kind>/best.pt (+ inference ms), cached in pred-<crops>.npz.

    crops "digitized" (the signal model only): the signal comes from the digitizer reading each photo;
    ms/page then includes the digitizer, and `read` is the fraction of each test signal it recovered."""
    ckpt = run / "best.pt"
    path = run / f"pred-{crops}.npz"
    what = "digitized photo" if crops == DIGITIZED else f"{crops} crops"
    # what the cached predictions were made from: the checkpoint, and the detector or digitizer that read the photo
    source = boxes_tag if crops == "detector" else digitizer_version() if crops == DIGITIZED else ""
    stamp = np.array([ckpt.stat().st_mtime_ns, ckpt.stat().st_size,
                      int(hashlib.sha1(source.encode()).hexdigest()[:15], 16)], np.int64)
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            cached = {k: z[k] for k in z.files}
        if np.array_equal(cached.get("stamp"), stamp):
            log.info("predict %s/%s (%s): cached", task, kind, what)
            return cached
    model, _ = model_from_checkpoint(ckpt)
    model = model.to(cfg.device)
    multilabel = MULTILABEL[task]
    bs = getattr(cfg, kind).batch_size
    out: dict[str, np.ndarray] = {"stamp": stamp}
    signal_from = "digitized" if crops == DIGITIZED else "record"
    for split, folds in (("val", cfg.val_folds), ("test", cfg.test_folds)):
        ds = _dataset(cfg, render_dir, task, kind, folds, boxes_fn, boxes_tag if boxes_fn else None, signal_from)
        probs, targets = predict(model, _loader(ds, cfg, bs), cfg.device, multilabel)
        out[f"{split}_probs"], out[f"{split}_targets"] = probs, targets
        out[f"{split}_ids"] = np.asarray([p.id for p in ds.pages], dtype=str)
        out[f"{split}_records"] = np.asarray([p.record_id for p in ds.pages], dtype=str)
        if split == "test":
            ms = time_inference(model.cpu(), ds, cfg, cfg.infer_pages)
            if signal_from == "digitized":
                ms += time_digitizer(ds, cfg.infer_pages)
                out["read"] = np.array([ds.signal_read_fraction(i) for i in range(len(ds))], np.float32)
            out["infer_ms"] = np.array(ms)
    import io

    buf = io.BytesIO()
    np.savez(buf, **out)
    atomic_write_bytes(path, buf.getvalue())
    log.info("predict %s/%s (%s): %d val, %d test pages, %.1f ms/page", task, kind, what,
             len(out["val_probs"]), len(out["test_probs"]), float(out["infer_ms"]))
    return out


# --- stage 4: metrics and report ------------------------------------------------------------------------------------
def evaluate(preds: dict[str, dict[str, np.ndarray]], class_names: list[str], n_resamples: int, seed: int,
             level: float = 0.95) -> dict[str, Any]:
    """Test metrics of every model with bootstrap intervals and paired comparisons on the same resamples.

    preds: {kind: {"val_probs", "val_targets", "test_probs", "test_targets", "test_records", ...}}; all kinds
    must hold the same test pages in the same order. F1/precision/recall/accuracy use per-class thresholds
    chosen on that model's validation predictions (F1-optimal), then applied unchanged to the test split.
    """
    from vizecg import metrics as M

    kinds = list(preds)
    ref = preds[kinds[0]]
    for k in kinds[1:]:
        if not np.array_equal(preds[k]["test_records"], ref["test_records"]):
            raise DataError(f"models {kinds[0]} and {k} were tested on different pages; cannot pair them")
    targets = ref["test_targets"]
    groups = ref["test_records"]
    probs = {k: preds[k]["test_probs"] for k in kinds}
    thresholds = {k: M.choose_thresholds(preds[k]["val_probs"], preds[k]["val_targets"]) for k in kinds}
    pairs = [p for p in PAIRS if p[0] in preds and p[1] in preds]
    boot = dict(n_resamples=n_resamples, seed=seed, groups=groups, level=level)
    stats = {
        "macro_auroc": M.bootstrap_metric(M.fast_macro_auroc, targets, probs, pairs, **boot),
        "macro_auprc": M.bootstrap_metric(M.fast_macro_auprc, targets, probs, pairs, **boot),
    }
    for name in ("macro_f1", "precision", "recall", "accuracy"):
        fns = {k: (lambda p, t, thr=thresholds[k], name=name: M.fast_thresholded_metrics(p, t, thr)[name])
               for k in kinds}
        stats[name] = M.bootstrap_metric(fns, targets, probs, (), **boot)
    models = {}
    for k in kinds:
        models[k] = {m: stats[m]["models"][k] for m in stats}
        models[k]["per_class_auroc"] = dict(zip(class_names, M.per_class_auroc(probs[k], targets).tolist()))
        models[k]["thresholds"] = dict(zip(class_names, thresholds[k].tolist()))
        # scikit-learn cross-check of the headline (the bootstrap uses exact numpy twins)
        models[k]["macro_auroc"]["sklearn"] = M.macro_auroc(probs[k], targets)
    comparisons = {f"{m}:{name}": v for m in ("macro_auroc", "macro_auprc") for name, v in stats[m]["pairs"].items()}
    return {"n_test": int(len(targets)), "n_test_records": int(len(np.unique(groups))),
            "positives": dict(zip(class_names, np.asarray(targets).reshape(len(targets), -1).sum(0).astype(int).tolist())),
            "models": models, "comparisons": comparisons}


def run_benchmark(cfg: BenchmarkConfig, out: str | Path, progress: bool = True, overwrite: bool = False
                  ) -> dict[str, Any]:
    """Run (or resume) every stage into `out`; returns the results also written to OUT/results.json."""
    import torch

    out = Path(out).resolve()
    check_device(cfg.device)  # an unavailable device, like bad weights, is refused before any work
    boxes_fn, boxes_tag, det_note = detector_boxes(cfg.detector_weights)
    log = start_run(out, cfg, name="vizecg.benchmark")
    log.info(det_note)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    render_dir = out / "render"
    t0 = time.perf_counter()
    render_summary = render_stage(cfg, render_dir, progress, log, overwrite)
    timings["render_s"] = time.perf_counter() - t0

    results: dict[str, Any] = {
        "profile": cfg.profile, "source": cfg.source, "seed": cfg.seed, "config": to_dict(cfg),
        "detector": {"available": boxes_fn is not None, "note": det_note},
        "render": {k: render_summary[k] for k in ("items", "complete", "rendered", "skipped_existing")},
        "tasks": {},
    }
    from tqdm import tqdm

    steps = [(task, kind) for task in cfg.tasks for kind in KINDS]
    bar = tqdm(steps, desc="benchmark", unit="model", disable=not progress)
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    for task, kind in bar:
        bar.set_postfix_str(f"{task}/{kind}")
        tcfg = train_config(cfg, task, kind, render_dir, out)
        deps = stage_dependencies(cfg, task, kind, out)
        t0 = time.perf_counter()
        summaries[task, kind] = train_stage(tcfg, deps, log)
        timings[f"train_{task}_{kind}_s"] = time.perf_counter() - t0
    bar.close()

    for task in cfg.tasks:
        class_names = list(TASK_CLASSES[task])
        t0 = time.perf_counter()
        by_crops: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        for crops in CROPS:
            if crops == "detector" and boxes_fn is None:
                continue
            by_crops[crops] = {}
            for kind in KINDS:
                if crops == "detector" and kind == "signal":
                    by_crops[crops][kind] = by_crops["truth"][kind]  # no crops involved
                    continue
                by_crops[crops][kind] = predict_stage(cfg, render_dir, task, kind, out / task / kind, crops,
                                                      boxes_fn if crops == "detector" else None, boxes_tag, log)
            if cfg.digitized_route:
                by_crops[crops][DIGITIZED] = by_crops["truth"][DIGITIZED] if crops == "detector" else \
                    predict_stage(cfg, render_dir, task, "signal", out / task / "signal", DIGITIZED, None, "", log)
        timings[f"predict_{task}_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        evals = {crops: evaluate(p, class_names, cfg.bootstrap, cfg.seed, cfg.ci_level) for crops, p in by_crops.items()}
        timings[f"bootstrap_{task}_s"] = time.perf_counter() - t0
        models = {}
        rows = list(by_crops["truth"])  # KINDS, then the digitized route
        for kind in rows:
            s = summaries[task, "signal" if kind == DIGITIZED else kind]
            models[kind] = {
                "label": LABELS[kind], "inputs": INPUTS[kind], "model_name": s["model_name"], "params": s["params"],
                "train_time_s": s["train_time_s"], "epochs_run": s["epochs_run"], "best_epoch": s["best_epoch"],
                "val_macro_auroc": (s.get("best_val") or {}).get("macro_auroc"),
                "infer_ms_per_page": float(by_crops["truth"][kind]["infer_ms"]),
            }
            if kind == DIGITIZED:
                read = by_crops["truth"][kind]["read"]
                models[kind]["digitized_read_fraction"] = {"mean": float(np.mean(read)),
                                                           "pages_unread": int(np.sum(read == 0))}
        results["tasks"][task] = {
            "classes": class_names, "multilabel": MULTILABEL[task], "models": models,
            "truth_crops": evals["truth"], "detector_crops": evals.get("detector"),
            "n_train": summaries[task, "image"]["n_train"], "n_val": summaries[task, "image"]["n_val"],
        }
        curves = [(c if task == "superclass" else f"{task} (binary)" if len(class_names) == 1 else f"{task}: {c}",
                   {LABELS[k]: (np.asarray(by_crops["truth"][k]["test_targets"]).reshape(-1, len(class_names))[:, j],
                                by_crops["truth"][k]["test_probs"][:, j]) for k in rows})
                  for j, c in enumerate(class_names)]
        results["tasks"][task]["_curves"] = curves
    timings["total_s"] = time.perf_counter() - t_start
    results["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    write_outputs(results, out)
    log.info("done in %.1f s: %s", timings["total_s"], out / "results.md")
    return results


def write_outputs(results: dict[str, Any], out: Path) -> None:
    """results.json, results.md and roc.png (every class of every task: one panel each, one line per model)."""
    from vizecg.report import plot_roc, to_markdown

    panels = [p for t in results["tasks"].values() for p in t.pop("_curves", [])]
    plot_roc(panels, out / "roc.png", title=f"ROC on the test folds ({results['profile']} profile, "
                                             "ground-truth beat crops)")
    write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", to_markdown(results_blocks(results)))


def results_blocks(results: dict[str, Any], heading: str = "h2") -> list[tuple]:
    """The results as report blocks (vizecg.report): one table per task, comparisons, per-class AUROC."""
    from vizecg.report import fmt, fmt_ci

    sub = "h4" if heading == "h3" else "h3"
    blocks: list[tuple] = []
    det = results["detector"]
    for task, t in results["tasks"].items():
        ev, dv = t["truth_crops"], t["detector_crops"]
        binary = len(t["classes"]) == 1
        title = ("superclass (5-class multi-label)" if task == "superclass" else f"{task} (binary screening)")
        blocks.append((heading, f"Task: {title}"))
        blocks.append(("p", f"Test folds: {ev['n_test']} pages of {ev['n_test_records']} records "
                            f"(positives: {', '.join(f'{k} {v}' for k, v in ev['positives'].items())}); "
                            f"train {t['n_train']}, val {t['n_val']} pages. Intervals: bootstrap "
                            f"{results['config']['ci_level']:.0%} over test records, "
                            f"{results['config']['bootstrap']} seeded resamples."))
        header = ["model", "input", "macro AUROC [95% CI]", "macro AUPRC [95% CI]", "macro F1 [95% CI]"]
        if binary:
            header += ["precision", "recall", "accuracy"]
        header += ["AUROC, detector crops", "params", "train s", "CPU ms/page"]
        rows = []
        for kind, m in t["models"].items():
            e = ev["models"][kind]
            row = [m["label"], m["inputs"], fmt_ci(e["macro_auroc"]), fmt_ci(e["macro_auprc"]), fmt_ci(e["macro_f1"])]
            if binary:
                row += [fmt_ci(e["precision"]), fmt_ci(e["recall"]), fmt_ci(e["accuracy"])]
            if kind in ("signal", DIGITIZED):
                row.append("(no crops)")
            else:
                row.append(fmt_ci(dv["models"][kind]["macro_auroc"]) if dv else "n/a")
            row += [f"{m['params'] / 1e6:.2f} M", f"{m['train_time_s']:.0f}", fmt(m["infer_ms_per_page"], 1)]
            rows.append(row)
        blocks.append(("table", header, rows))
        comp = ev["comparisons"]
        lines = []
        for key, text in (("macro_auroc:student-image", "student − image baseline, macro AUROC"),
                          ("macro_auroc:student/signal", "student / signal-only, macro AUROC"),
                          ("macro_auprc:student-image", "student − image baseline, macro AUPRC"),
                          (f"macro_auroc:student-{DIGITIZED}", "student − signal-only on digitized photo, macro AUROC")):
            if key in comp:
                lines.append([text, fmt_ci(comp[key], signed="-" in key),
                              fmt_ci(dv["comparisons"].get(key), signed="-" in key) if dv else "n/a"])
        blocks.append(("table", ["paired comparison (same resamples)", "ground-truth crops", "detector crops"],
                       lines))
        if DIGITIZED in t["models"]:
            read = t["models"][DIGITIZED]["digitized_read_fraction"]
            most = (" (a 3x4+1 page shows 2.5 s of 11 leads and 10 s of lead II: 31% at most)"
                    if results["config"]["layout"] == "3x4+1" else "")
            blocks.append(("p", f"Digitized route: the signal-only model (trained on true signals) reads what the "
                                f"digitizer recovers from each photo; it recovered {read['mean']:.0%} of the "
                                f"12 leads x 10 s on average{most}; {read['pages_unread']} test page(s) "
                                "rejected. Its CPU ms/page includes the digitizer."))
        if not binary:
            blocks.append((sub, "Per-class AUROC (ground-truth crops)"))
            blocks.append(("table", ["model", *t["classes"]],
                           [[t["models"][k]["label"], *(fmt(v) for v in ev["models"][k]["per_class_auroc"].values())]
                            for k in t["models"]]))
    blocks.append(("p", f"Beat crops at evaluation: ground truth (as in training); {det['note']}. Macro F1, "
                        "precision, recall and accuracy use per-class thresholds chosen (F1-optimal) on the "
                        "validation folds and applied unchanged to the test folds; accuracy is exact-match. "
                        "CPU ms/page: median model forward, batch 1, inputs already decoded."))
    return blocks

"""Image vs signal benchmark: the same patient-wise split, four models side by side, bootstrap intervals.

    cfg = load_benchmark_config(profile_path("cpu"), ["source=ptbxl:/data/ptbxl"])
    results = run_benchmark(cfg, "runs/benchmark_cpu")

Stages, in the order of the data flow:
  1. render    photographed printouts of every record: OUT/render (vizecg.builders.render_job); each page's split
               from the one fold rule (vizecg.data.splits.split_of), or from the config's folds
  2. train     per task: signal-only model (true signal), image baseline (no distillation), teacher (image + signal),
               student (distilled from the teacher, image only): OUT/<task>/<kind>/ (distill.train; the
               training crops from the ground-truth beat boxes, or from the beat detector: train_crops)
  3. predict   val + test probabilities with ground-truth crops, with detector crops when the beat detector's
               weights exist, and through the digitizer (photo -> vizecg.digitize.route -> signal model):
               OUT/<task>/<kind>/pred-<crops>.npz (+ CPU inference ms per page)
  4. report    metrics on the test split with seeded bootstrap intervals and paired comparisons (experiments.report):
               OUT/results.json, results.md, roc.png

The resume rule: a stage's outputs are reused only if they were made by the same code, settings and inputs. Each
trained stage writes OUT/<task>/<kind>/stage.json before it trains: its resolved training config, the hash of the
code that trains it (distill.train.TRAIN_CODE, vizecg.runs.source_hash) and the identity of its inputs (the render
folder; the checkpoints it starts from or distils). A stage whose record differs is trained afresh (its checkpoints,
summary and predictions deleted first), and so is everything built on it, since its new checkpoint is their input;
an interrupted stage with the same record resumes from its last.pt. Predictions carry the same kind of stamp. The
render folder is refused, unless --overwrite, when its settings (its fingerprint) or its code (OUT/render.stage.json)
differ: re-rendering is the user's call. The git commit is recorded everywhere and compared nowhere: a commit that
changes no code a stage runs redoes nothing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from distill.data import MULTILABEL, TASK_CLASSES, PageDataset, collate
from distill.train import (TRAIN_CODE, TRAIN_LIBRARIES, DataConfig, InitConfig, TrainConfig, check_device,
                           model_from_checkpoint, page_dataset, predict, run_settings, train)
from experiments.config import KINDS, SPLITS, BenchmarkConfig, resolved
from experiments.report import DIGITIZED, INPUTS, LABELS, evaluate, evaluate_groups, page_groups, write_outputs
from vizecg.config import to_dict
from vizecg.errors import ConfigError, DataError, ModelError
from vizecg.runs import (StaleOutputError, atomic_write_bytes, atomic_write_text, code_stamp, describe_changes,
                         file_hash, read_fingerprint, source_hash, start_run, write_json)

# What each model reads at evaluation (the student's training also reads the signal, for its frozen teacher).
EVAL_FIELDS = {"signal": ("signal",), "image": ("page", "beats"), "teacher": ("page", "beats", "signal"),
               "student": ("page", "beats")}
CROPS = ("truth", "detector")
# teacher_init: (teacher submodule, same submodule in the single-modality model); the teacher's SMAM/CMAM
# layers have no counterpart there and start fresh.
TEACHER_INIT = {"signal": [("signal.resnet1d", "encoder.resnet1d")],
                "image": [("image.local", "image.local"), ("image.global_", "image.global_")]}
# The code the pages depend on (the render folder's fingerprint holds their settings, not this).
RENDER_CODE = ("vizecg/render/**/*.py", "vizecg/photo/**/*.py", "vizecg/builders/render_job.py", "vizecg/record.py",
               "vizecg/signal/filters.py", "vizecg/data/ptbxl.py", "vizecg/data/mitdb.py", "vizecg/data/sources.py",
               "vizecg/data/source.py", "vizecg/data/wfdb_io.py", "vizecg/data/files.py", "vizecg/data/splits.py")
RENDER_LIBRARIES = ("numpy", "scipy", "opencv-python-headless")
# Predictions: the models' code, and this module's (the datasets and the loop that feed them).
PREDICT_CODE = TRAIN_CODE + ("experiments/benchmark.py", "experiments/config.py")
DETECTOR_CODE = ("detector/*.py",)
# Everything results.json can depend on, for the stamp it records.
ALL_CODE = ("experiments/*.py", "distill/*.py", "detector/*.py", "vizecg/**/*.py")
TRAIN_OUTPUTS = ("last.pt", "best.pt", "summary.json")

BoxesFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _out_relative(obj: Any, out: Path) -> Any:
    """Paths under OUT written as OUT/...: a stage record must not change when the folder is moved."""
    if isinstance(obj, dict):
        return {k: _out_relative(v, out) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_out_relative(v, out) for v in obj]
    if isinstance(obj, str) and obj.startswith(str(out)):
        return "OUT" + obj[len(str(out)):]
    return obj


# --- the split ------------------------------------------------------------------------------------------------------
def planned_splits(cfg: BenchmarkConfig) -> dict[str, list[str]]:
    """The record ids of each split the benchmark's pages will print ('train', 'val', 'test'; 'none': neither fold
    nor split known), from the source's metadata alone (nothing is rendered or read beyond its tables)."""
    from vizecg.data import load_source
    from vizecg.data.splits import record_fold, split_of

    src = load_source(cfg.source)
    meta = src.metadata
    ids = source_records(cfg, src)
    records = list(dict.fromkeys(ids[k % len(ids)] for k in range(cfg.pages or len(ids))))
    folds = {s: set(cfg.selection(s)["folds"]) for s in SPLITS} if cfg.by_folds else None
    out: dict[str, list[str]] = {s: [] for s in (*SPLITS, "none")}
    for rid in records:
        row = meta.loc[rid] if rid in meta.index else None
        fold, given = record_fold(row)
        if folds is not None:
            name = next((s for s in SPLITS if fold in folds[s]), "none")
        else:
            name = split_of(fold, given, where=f"record {rid}") or "none"
        out[name].append(str(rid))
    return out


def check_split(cfg: BenchmarkConfig, render_dir: Path) -> dict[str, int]:
    """Pages per split in the render folder; a config that selects by folds where pages have none is refused."""
    from vizecg.data import RenderFolder

    folder = RenderFolder(render_dir, require=("record_id",))
    if cfg.by_folds:
        foldless = [p for p in folder.pages if p.fold is None]
        if foldless:
            raise DataError(f"{len(foldless)} page(s) have no PTB-XL fold (e.g. record {foldless[0].record_id}: "
                            "PTB-XL 501-1999 hold only a split): leave train_folds, val_folds and test_folds out to "
                            "split by the one fold rule, or use the source ptbxl:PATH@500", folder.manifest)
    counts = {s: len(folder.select(**cfg.selection(s))) for s in SPLITS}
    empty = [s for s in SPLITS if counts[s] == 0]
    if empty:
        raise DataError(f"no {' or '.join(empty)} pages ({counts}): a benchmark needs all three splits",
                        folder.manifest)
    return counts


# --- stage 1: render ------------------------------------------------------------------------------------------
def source_records(cfg: BenchmarkConfig, src: Any = None) -> list[str]:
    """The source's record ids the pages print (render.records, when given, keeps only those)."""
    from vizecg.builders.render_job import select_records
    from vizecg.data import load_source

    src = src if src is not None else load_source(cfg.source)
    return select_records(list(src.record_ids), tuple(cfg.render.records), cfg.source)


def render_job(cfg: BenchmarkConfig):
    """The render job of the benchmark's pages: one per record unless `pages` says how many."""
    n = cfg.pages or len(source_records(cfg))
    return dataclasses.replace(cfg.render, source=cfg.source, n=n, seed=cfg.seed)


def render_record() -> dict[str, Any]:
    """What OUT/render.stage.json holds: the code the pages were made by (their settings: the folder's fingerprint)."""
    return {"code": source_hash(RENDER_CODE, libraries=RENDER_LIBRARIES)}


def render_stage(cfg: BenchmarkConfig, out: Path, progress: bool, log: logging.Logger,
                 overwrite: bool = False) -> dict[str, Any]:
    """Render (or resume) OUT/render; refused when it holds pages of other render code, unless `overwrite`."""
    from vizecg.builders.render_job import build_dataset

    job = render_job(cfg)
    render_dir = out / "render"
    record_path = out / "render.stage.json"
    record = render_record()
    if not overwrite and read_fingerprint(render_dir) is not None and _read_json(record_path) != record:
        old = _read_json(record_path)
        why = (f"other render code ({describe_changes(old, record)})" if old else
               "code that recorded no hash (an older benchmark)")
        raise StaleOutputError(f"holds pages made by {why}: --overwrite renders them anew, or use a new --out",
                               render_dir)
    write_json(record_path, record)
    summary = build_dataset(job, render_dir, progress=progress, overwrite=overwrite)
    log.info("render: %s", {k: summary[k] for k in ("items", "rendered", "skipped_existing", "failed")})
    if summary["failed"]:
        raise DataError(f"{summary['failed']} page(s) failed to render (see {render_dir / 'log.txt'}); "
                        f"first: {summary['failures'][0]}", render_dir)
    return summary


def render_identity(out: Path) -> dict[str, Any]:
    """What the trained stages are built from: the render folder's settings, code and page list."""
    render_dir = out / "render"
    fp = read_fingerprint(render_dir) or {}
    return {"settings": fp.get("hash"), "code": (_read_json(out / "render.stage.json") or {}).get("code"),
            "manifest": file_hash(render_dir / "manifest.csv")}


# --- stage 2: train ---------------------------------------------------------------------------------------------
def train_config(cfg: BenchmarkConfig, task: str, kind: str, render_dir: Path, out: Path) -> TrainConfig:
    stage = getattr(cfg, kind)
    split = ({"train_folds": list(cfg.train_folds), "val_folds": list(cfg.val_folds)} if cfg.by_folds else
             {"train_split": "train", "val_split": "val"})
    data = dataclasses.replace(stage.data, root=str(render_dir), task=task,
                               exclude_families=list(cfg.left_out_families), **split)
    model = stage.model
    if kind == "teacher" and cfg.teacher_init:
        model = dataclasses.replace(model, init=list(model.init) + [
            InitConfig(checkpoint=str(out / task / stream / "best.pt"), target=target, source=source)
            for stream in cfg.teacher_init for target, source in TEACHER_INIT[stream]])
    return TrainConfig(kind=kind, seed=cfg.seed, out=str(out / task / kind), progress=False, device=cfg.device,
                       teacher=str(out / task / "teacher" / "best.pt") if kind == "student" else None,
                       data=data, model=model, optim=stage.optim, schedule=stage.schedule, loss=stage.loss)


def trains_on_detector(cfg: BenchmarkConfig, kind: str) -> bool:
    """Whether the stage of `kind` reads the beat detector's crops in training (the signal model reads no crops)."""
    return cfg.train_crops == "detector" and kind != "signal"


def stage_inputs(cfg: BenchmarkConfig, task: str, kind: str, out: Path, boxes_tag: str = "") -> dict[str, Any]:
    """The identity of what a stage is built from: the render folder, the beat detector whose crops it trains on
    (its weights' and code's hashes), and the checkpoints it starts from or distils."""
    inputs: dict[str, Any] = {"render": render_identity(out)}
    if trains_on_detector(cfg, kind):
        inputs["crops"] = boxes_tag
    upstream = ["teacher"] if kind == "student" else list(cfg.teacher_init) if kind == "teacher" else []
    for k in upstream:
        inputs[k] = file_hash(out / task / k / "best.pt")
    return inputs


def stage_record(tcfg: TrainConfig, inputs: dict[str, Any], out: Path) -> dict[str, Any]:
    """What OUT/<task>/<kind>/stage.json holds: the settings, code and inputs that make the stage's outputs."""
    return {"settings": _out_relative(run_settings(tcfg), out),
            "code": source_hash(TRAIN_CODE, libraries=TRAIN_LIBRARIES), "inputs": inputs}


def train_stage(tcfg: TrainConfig, record: dict[str, Any], log: logging.Logger, boxes_fn: BoxesFn | None = None,
                boxes_tag: str | None = None) -> dict[str, Any]:
    """Train a stage, continue it, or reuse it: reused only if stage.json holds this very record. boxes_fn: the
    detector's beat boxes replace the ground-truth ones in training and validation (boxes_tag names them)."""
    run = Path(tcfg.out)
    what = f"train {tcfg.data.task}/{tcfg.kind}"
    old = _read_json(run / "stage.json")
    if old == record and all((run / n).is_file() for n in ("summary.json", "best.pt")):
        log.info("%s: finished earlier, skipped", what)
        return json.loads((run / "summary.json").read_text())
    if old != record:
        stale = [p for p in (*(run / n for n in TRAIN_OUTPUTS), *run.glob("pred-*.npz")) if p.is_file()]
        if stale:  # made by other settings, code or inputs: never resumed from, never reused
            why = describe_changes(old, record) if old else "made before stages recorded their code"
            log.info("%s: %s; training afresh", what, why)
            for p in stale:
                p.unlink()
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "stage.json", record)
    log.info("%s: %s, %d epoch(s), %s crops", what, tcfg.model.name, tcfg.schedule.epochs,
             "detector" if boxes_fn is not None else "ground-truth")
    return train(tcfg, resume=True, boxes_fn=boxes_fn, boxes_tag=boxes_tag)


# --- stage 3: predict ----------------------------------------------------------------------------------------------
def detector_boxes(weights: str | None) -> tuple[BoxesFn | None, str, str]:
    """(boxes_fn, tag, note): the YOLO beat detector as a distill.data boxes function, or None with the reason.
    The tag names the weights' and the detector code's hashes: crops cached or predicted under it are redone when
    either changes."""
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

    tag = f"yolo-{path.stem}-{file_hash(path)}-{source_hash(DETECTOR_CODE, libraries=('ultralytics',))}"
    return boxes_fn, tag, f"detector crops: {path}"


def eval_dataset(cfg: BenchmarkConfig, tcfg: TrainConfig, kind: str, split: str, boxes_fn: BoxesFn | None = None,
                 boxes_tag: str | None = None, signal_from: str = "record") -> PageDataset:
    """The pages of `split` as the model of `tcfg` was trained to read them (its own data settings); the val
    pages without the left-out families (as in training), the test pages with them."""
    held_out = tuple(tcfg.data.exclude_families) if split == "val" else ()
    return page_dataset(tcfg.data, EVAL_FIELDS[kind], **cfg.selection(split), exclude_families=held_out,
                        boxes_fn=boxes_fn,
                        boxes_tag=boxes_tag, signal_from=signal_from, digitize=cfg.digitize)


def _loader(ds: PageDataset, data: DataConfig):
    from torch.utils.data import DataLoader

    return DataLoader(ds, batch_size=data.batch_size, shuffle=False, num_workers=data.num_workers,
                      collate_fn=lambda items: collate(items, data.max_beats))


def time_inference(model: Any, ds: PageDataset, max_beats: int, n_pages: int) -> float:
    """Median CPU milliseconds of one model forward per page (batch 1, inputs already decoded and cropped)."""
    import torch

    n = min(n_pages, len(ds))
    if n == 0:
        return float("nan")
    times = []
    with torch.no_grad():
        for i in range(-1, n):  # one warm-up call
            batch = collate([ds[max(i, 0)]], max_beats)
            t0 = time.perf_counter()
            model(batch)
            if i >= 0:
                times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def time_digitizer(ds: PageDataset, n_pages: int) -> float:
    """Median CPU milliseconds the digitizer takes to read one page photo into the model's signal."""
    from vizecg.digitize.route import digitized_signal
    from vizecg.images import read_image

    times = []
    for i in range(min(n_pages, len(ds))):
        path = ds.pages[i].image
        image = read_image(path)
        t0 = time.perf_counter()
        digitized_signal(image, ds.digitize, ds.signal_fs, ds.signal_samples, ds.band, where=str(path))
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)) if times else float("nan")


def predict_provenance(cfg: BenchmarkConfig, tcfg: TrainConfig, crops: str, boxes_tag: str) -> dict[str, Any]:
    """What a pred-<crops>.npz is made from: the checkpoint, the code, the pages and the reader of the photo."""
    from vizecg.digitize.route import digitizer_version

    reader = boxes_tag if crops == "detector" else digitizer_version(cfg.digitize) if crops == DIGITIZED else "truth"
    return {"checkpoint": file_hash(Path(tcfg.out) / "best.pt"), "code": source_hash(PREDICT_CODE),
            "data": _out_relative(to_dict(tcfg.data), Path(tcfg.data.root).parent),
            "splits": {s: cfg.selection(s) for s in ("val", "test")}, "reader": reader,
            "infer_pages": cfg.infer_pages}


def predict_stage(cfg: BenchmarkConfig, tcfg: TrainConfig, kind: str, crops: str, boxes_fn: BoxesFn | None,
                  boxes_tag: str, log: logging.Logger) -> dict[str, np.ndarray]:
    """Val and test probabilities of OUT/<task>/<kind>/best.pt (+ inference ms), cached in pred-<crops>.npz.

    crops "digitized" (the signal model only): the signal comes from the digitizer reading each photo;
    ms/page then includes the digitizer, and `read` is the fraction of each test signal it recovered."""
    run, task = Path(tcfg.out), tcfg.data.task
    path = run / f"pred-{crops}.npz"
    what = "digitized photo" if crops == DIGITIZED else f"{crops} crops"
    provenance = predict_provenance(cfg, tcfg, crops, boxes_tag)
    stamp = _digest(provenance)
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            cached = {k: z[k] for k in z.files}
        if str(cached.get("stamp", "")) == stamp:
            log.info("predict %s/%s (%s): cached", task, kind, what)
            return cached
    model, _ = model_from_checkpoint(run / "best.pt")
    model = model.to(cfg.device)
    out: dict[str, np.ndarray] = {"stamp": np.array(stamp), "provenance": np.array(json.dumps(provenance))}
    signal_from = "digitized" if crops == DIGITIZED else "record"
    for split in ("val", "test"):
        ds = eval_dataset(cfg, tcfg, kind, split, boxes_fn, boxes_tag if boxes_fn else None, signal_from)
        probs, targets = predict(model, _loader(ds, tcfg.data), cfg.device, MULTILABEL[task])
        out[f"{split}_probs"], out[f"{split}_targets"] = probs, targets
        out[f"{split}_ids"] = np.asarray([p.id for p in ds.pages], dtype=str)
        out[f"{split}_records"] = np.asarray([p.record_id for p in ds.pages], dtype=str)
        if split == "test":
            ms = time_inference(model.cpu(), ds, tcfg.data.max_beats, cfg.infer_pages)
            model.to(cfg.device)
            if signal_from == "digitized":
                ms += time_digitizer(ds, cfg.infer_pages)
                out["read"] = np.array([ds.signal_read_fraction(i) for i in range(len(ds))], np.float32)
            out["infer_ms"] = np.array(ms)
    buf = io.BytesIO()
    np.savez(buf, **out)
    atomic_write_bytes(path, buf.getvalue())
    log.info("predict %s/%s (%s): %d val, %d test pages, %.1f ms/page", task, kind, what,
             len(out["val_probs"]), len(out["test_probs"]), float(out["infer_ms"]))
    return out


# --- the run --------------------------------------------------------------------------------------------------------
def run_benchmark(cfg: BenchmarkConfig, out: str | Path, progress: bool = True, overwrite: bool = False
                  ) -> dict[str, Any]:
    """Run (or resume) every stage into `out`; returns the results also written to OUT/results.json."""
    import torch
    from tqdm import tqdm

    out = Path(out).resolve()
    check_device(cfg.device)  # an unavailable device, like bad weights, is refused before any work
    boxes_fn, boxes_tag, det_note = detector_boxes(cfg.detector_weights)
    if cfg.train_crops == "detector" and boxes_fn is None:  # refused before any work
        raise ConfigError(f"train_crops: detector, but {det_note}")
    log = start_run(out, None, name="vizecg.benchmark")
    atomic_write_text(out / "config.yaml", _yaml(resolved(cfg)))
    log.info(det_note)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    plan = planned_splits(cfg)
    log.info("records by split: %s", {s: len(v) for s, v in plan.items() if v})
    t0 = time.perf_counter()
    render_summary = render_stage(cfg, out, progress, log, overwrite)
    timings["render_s"] = time.perf_counter() - t0
    render_dir = out / "render"
    split_pages = check_split(cfg, render_dir)
    log.info("pages by split: %s (%s)", split_pages, "the config's folds" if cfg.by_folds else "the one fold rule")

    results: dict[str, Any] = {
        "profile": cfg.profile, "source": cfg.source, "seed": cfg.seed, "config": resolved(cfg),
        "code": code_stamp(ALL_CODE), "split": {"rule": "folds" if cfg.by_folds else "split_of",
                                                "pages": split_pages},
        "detector": {"available": boxes_fn is not None, "note": det_note}, "train_crops": cfg.train_crops,
        "render": {k: render_summary[k] for k in ("items", "complete", "rendered", "skipped_existing")},
        "stages": {}, "tasks": {},
    }
    steps = [(task, kind) for task in cfg.tasks for kind in KINDS]
    bar = tqdm(steps, desc="benchmark", unit="model", disable=not progress)
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    tcfgs: dict[tuple[str, str], TrainConfig] = {}
    for task, kind in bar:
        bar.set_postfix_str(f"{task}/{kind}")
        tcfg = tcfgs[task, kind] = train_config(cfg, task, kind, render_dir, out)
        on_detector = trains_on_detector(cfg, kind)
        record = stage_record(tcfg, stage_inputs(cfg, task, kind, out, boxes_tag), out)
        t0 = time.perf_counter()
        summaries[task, kind] = train_stage(tcfg, record, log, boxes_fn if on_detector else None,
                                            boxes_tag if on_detector else None)
        timings[f"train_{task}_{kind}_s"] = time.perf_counter() - t0
        results["stages"][f"{task}/{kind}"] = {"record": _digest(record), "code": record["code"],
                                               "checkpoint": file_hash(Path(tcfg.out) / "best.pt")}
    bar.close()

    for task in cfg.tasks:
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
                by_crops[crops][kind] = predict_stage(cfg, tcfgs[task, kind], kind, crops,
                                                      boxes_fn if crops == "detector" else None, boxes_tag, log)
            if cfg.digitized_route:
                by_crops[crops][DIGITIZED] = by_crops["truth"][DIGITIZED] if crops == "detector" else \
                    predict_stage(cfg, tcfgs[task, "signal"], "signal", DIGITIZED, None, "", log)
        timings[f"predict_{task}_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        results["tasks"][task] = task_results(cfg, task, by_crops, summaries, render_dir)
        timings[f"bootstrap_{task}_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    results["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    write_outputs(results, out)
    log.info("done in %.1f s: %s", timings["total_s"], out / "results.md")
    return results


def task_results(cfg: BenchmarkConfig, task: str, by_crops: dict[str, dict[str, dict[str, np.ndarray]]],
                 summaries: dict[tuple[str, str], dict[str, Any]], render_dir: Path) -> dict[str, Any]:
    """One task's block of results.json: the models' rows, the evaluations per crops (with calibration), the
    scores per print-style family and capture condition (seen vs left-out families), the ROC curves."""
    class_names = list(TASK_CLASSES[task])
    evals = {crops: evaluate(p, class_names, cfg.bootstrap, cfg.seed, cfg.ci_level) for crops, p in by_crops.items()}
    groups = page_groups(render_dir, by_crops["truth"]["signal"]["test_ids"])
    by_group = {crops: evaluate_groups(p, class_names, groups, list(cfg.left_out_families), cfg.bootstrap, cfg.seed,
                                       cfg.ci_level) for crops, p in by_crops.items()}
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
    curves = [(c if task == "superclass" else f"{task} (binary)" if len(class_names) == 1 else f"{task}: {c}",
               {LABELS[kind]: (np.asarray(by_crops["truth"][kind]["test_targets"]).reshape(-1, len(class_names))[:, j],
                       by_crops["truth"][kind]["test_probs"][:, j]) for kind in rows})
              for j, c in enumerate(class_names)]
    return {"classes": class_names, "multilabel": MULTILABEL[task], "models": models,
            "truth_crops": evals["truth"], "detector_crops": evals.get("detector"),
            "groups": {f"{crops}_crops": g for crops, g in by_group.items()},
            "n_train": summaries[task, "image"]["n_train"], "n_val": summaries[task, "image"]["n_val"],
            "_curves": curves}


def _yaml(plain: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(plain, sort_keys=False)

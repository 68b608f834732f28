"""`vizecg render`: build a render folder from a data source: pages + labels + paired signals + manifest + a YOLO view.

It prints (vizecg.render) and photographs (vizecg.photo) each page, so it lives above both; vizecg.data.RenderFolder
reads what it writes.

Each item k is planned up front from (seed, k) alone — record k mod len, style, window, photo seed — so the
output does not depend on the number of workers, and a re-run skips every item whose label JSON exists. That
is only sound under the same settings: DIR/fingerprint.json records them, a re-run with others is refused
(or redone from scratch with `overwrite`), a larger n extends the folder, and a lock refuses a second writer.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from vizecg.config import to_dict
from vizecg.data import SUPERCLASSES, MitdbDataset, load_source, write_npz
from vizecg.data.splits import cell, record_fold, split_of
from vizecg.errors import RenderError, VizEcgError
from vizecg.photo import PhotoConfig, photograph
from vizecg.render.layout import LAYOUTS
from vizecg.render.printout import RenderConfig, random_render_config, render_print_style, render_printout
from vizecg.render.style import PrintStyle, as_strip, check_families, draw_print_style, list_families
from vizecg.render.truth import Box, PageTruth, Printout
from vizecg.runs import atomic_write_bytes, atomic_write_text, claim_run, start_run, write_json

PHOTO_PRESETS = ("none", "scan", "phone", "screen", "mixed", "phone-hard", "photocopy", "lowres", "screen-moire",
                 "mixed-all")
YOLO_NAMES = ("beat", "lead_label", "calibration_pulse", "lead_panel")
_TWELVE_LEAD_LAYOUTS = ("3x4+1", "3x4", "6x2", "12x1")
_LAYOUT_WEIGHTS = (0.55, 0.15, 0.2, 0.1)
MITDB_WINDOW_S = 10.0
# What a render folder holds (log.txt stays: it is the folder's history); `overwrite` deletes these first.
OUTPUTS = ("labels", "images", "yolo", "signals", "manifest.csv", "summary.json", "config.yaml")


@dataclass(frozen=True)
class RenderJob:
    """`vizecg render`: which pages to make. Written resolved to DIR/config.yaml."""

    source: str = "sample"  # load_source spec
    n: int = 10  # pages; item k prints record k mod len(source)
    records: tuple[str, ...] = ()  # only these records of the source, in the source's order (empty: all)
    layout: str = "auto"  # a layout name, "mixed" (drawn per item), "auto" (1x1 for MIT-BIH, else 3x4+1)
    photo: Literal["none", "scan", "phone", "screen", "mixed", "phone-hard", "photocopy", "lowres", "screen-moire",
                   "mixed-all", "custom"] = "none"  # a preset (vizecg.photo), or custom: photo_config as written
    # photo: custom: every effect of the photo (vizecg/photo/config.py; all off unless set), e.g. a `photo_config:`
    # mapping in the YAML or --set photo_config.fingers.p=1; part of the fingerprint only then
    photo_config: PhotoConfig = field(default_factory=PhotoConfig)
    style: Literal["fixed", "random", "families"] = "fixed"  # random: random_render_config per item;
    # families: a PrintStyle per item drawn from the print-style families (render/style.py); render.dpi and
    # render.start_s still apply, the style decides the rest
    families: tuple[str, ...] = ()  # style families: draw only from these (empty: every family, by share)
    exclude_families: tuple[str, ...] = ()  # style families: never these (a held-out family for a benchmark)
    fast_paper_share: float = 0.1  # style random: the share of pages printed at 50 mm/s (else 25 mm/s)
    seed: int = 0
    workers: int = 1  # not part of the fingerprint: the pages do not depend on it
    val_fraction: float = 0.2  # YOLO val share (by patient) for sources without strat_fold
    render: RenderConfig = field(default_factory=RenderConfig)

    def __post_init__(self) -> None:  # ValueError -> ConfigError naming the key (vizecg.config.from_dict)
        if not 1 <= self.n <= 1_000_000:
            raise ValueError(f"n must lie in [1, 1000000], got {self.n}")
        if not 0 <= self.seed < 2 ** 32:  # numpy's SeedSequence takes no negative seeds
            raise ValueError(f"seed must lie in [0, 2**32 - 1], got {self.seed}")
        if not 1 <= self.workers <= 64:
            raise ValueError(f"workers must lie in [1, 64], got {self.workers}")
        if not 0.0 <= self.val_fraction <= 1.0:
            raise ValueError(f"val_fraction must lie in [0, 1], got {self.val_fraction}")
        try:
            check_families(self.families, "families")
            check_families(self.exclude_families, "exclude_families")
        except RenderError as exc:
            raise ValueError(exc.problem) from None
        if self.photo != "custom" and self.photo_config != PhotoConfig():
            raise ValueError(f"photo_config is used only with photo: custom (photo is {self.photo}): set photo: "
                             "custom to photograph with it, or leave photo_config out to use the preset")
        if (self.families or self.exclude_families) and self.style != "families":
            raise ValueError(f"families/exclude_families need style: families (style is {self.style})")
        if self.style == "families" and not set(self.families or _all_families()) - set(self.exclude_families):
            raise ValueError("exclude_families leaves no family to draw from")


@dataclass(frozen=True)
class ItemPlan:
    item_id: str
    k: int
    record_id: str
    render_seed: int
    photo_seed: int
    config: RenderConfig
    photo: str  # a preset name, or "custom" (then photo_config)
    split: str  # "train" / "val" ("test": a source's test record that has no fold; fold 10 is filed under val)
    ext: str  # png (clean) or jpg (photos)
    style: PrintStyle | None = None  # style families: the page's print style (config then gives dpi and window)
    photo_config: PhotoConfig | None = None  # photo custom: the effects to draw


def _is_mitdb(src: Any) -> bool:
    return isinstance(src, MitdbDataset)


def _split_of(meta_row: Any, seed: int, val_fraction: float) -> str:
    """The page's split as the manifest records it, which is also its folder in the YOLO view: the fold rule's
    (vizecg.data.splits.split_of), the source's own split for a record without a fold, else a draw by patient.
    Fold 10 is filed under val, as in every folder made so far: a resume must not move its pages, and readers take
    the split from the fold (RenderFolder: fold 10 is test)."""
    fold, given = record_fold(meta_row)
    split = split_of(fold, given, where=f"record {meta_row.name}" if meta_row is not None else None)
    if split is not None:
        return "val" if fold is not None and split == "test" else split
    patient = str(cell(meta_row.get("patient_id")) or "") if meta_row is not None else ""
    u = zlib.crc32(f"{seed}:{patient}".encode()) / 2 ** 32  # by patient, stable across runs and machines
    return "val" if u < val_fraction else "train"


def select_records(ids: list[str], wanted: tuple[str, ...], source: str) -> list[str]:
    """The source's record ids restricted to `wanted` (matched as text, or as numbers: 103 finds '00103')."""
    if not wanted:
        return ids

    def key(rid: Any) -> str:
        text = str(rid).strip()
        return str(int(text)) if text.isdigit() else text

    have = {key(r) for r in ids}
    unknown = [w for w in wanted if key(w) not in have]
    if unknown:
        raise RenderError(f"records not in source {source}: {', '.join(map(str, unknown[:10]))}"
                          + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""))
    keep = {key(w) for w in wanted}
    return [r for r in ids if key(r) in keep]


def plan_items(job: RenderJob, src: Any) -> list[ItemPlan]:
    if job.photo not in (*PHOTO_PRESETS, "custom"):
        raise RenderError(f"unknown photo preset {job.photo!r} (known: {', '.join(PHOTO_PRESETS)}, custom)")
    if job.layout not in (*LAYOUTS, "auto", "mixed"):
        raise RenderError(f"unknown layout {job.layout!r} (known: {', '.join(LAYOUTS)}, auto, mixed)")
    if not 0.0 <= job.fast_paper_share <= 1.0:
        raise RenderError(f"fast_paper_share must lie in [0, 1], got {job.fast_paper_share}")
    ids = select_records(list(src.record_ids), job.records, job.source)
    if not ids:
        raise RenderError(f"source {job.source} holds no records")
    mitdb = _is_mitdb(src)
    meta = src.metadata
    plans = []
    for k in range(job.n):
        record_id = ids[k % len(ids)]
        style_seed, render_seed, photo_seed = (int(v) for v in np.random.SeedSequence([job.seed, k]).generate_state(3))
        rng = np.random.default_rng(style_seed)
        if job.layout == "mixed":
            layout = "1x1" if mitdb else str(rng.choice(_TWELVE_LEAD_LAYOUTS, p=_LAYOUT_WEIGHTS))
        elif job.layout == "auto":
            layout = "1x1" if mitdb else "3x4+1"
        else:
            layout = job.layout
        cfg = replace(job.render, layout=layout)
        if mitdb:
            cfg = replace(cfg, start_s=None)  # a seeded 10 s window of the half-hour record
        style = None
        if job.style == "random":
            cfg = random_render_config(rng, cfg, job.fast_paper_share)
        elif job.style == "families":
            style = draw_print_style(rng, include=job.families, exclude=job.exclude_families)
            if mitdb:  # a two-lead record prints as a strip in the family's look
                style = as_strip(style, cfg.rhythm_lead)
        photo = job.photo
        row = meta.loc[record_id] if record_id in meta.index else None
        split = _split_of(row, job.seed, job.val_fraction)
        plans.append(ItemPlan(f"{record_id}_{k:05d}", k, record_id, render_seed, photo_seed, cfg, photo, split,
                              "png" if photo == "none" else "jpg", style,
                              job.photo_config if photo == "custom" else None))
    return plans


def _all_families() -> tuple[str, ...]:
    return tuple(list_families())


def render_plan(record: Any, plan: ItemPlan) -> Printout:
    """The clean page of one planned item."""
    if plan.style is not None:
        return render_print_style(record, plan.style, plan.config.dpi, plan.config.start_s, seed=plan.render_seed)
    return render_printout(record, plan.config, seed=plan.render_seed)


# --- one item (runs in a worker) ------------------------------------------------------------------------------
_WORKER_SOURCES: dict[str, Any] = {}


def _source(spec: str) -> Any:
    if spec not in _WORKER_SOURCES:
        _WORKER_SOURCES[spec] = load_source(spec)
    return _WORKER_SOURCES[spec]


def yolo_lines(truth: PageTruth) -> list[str]:
    """YOLO rows (class cx cy w h, normalised) of every box that is visible in the image."""
    w, h = truth.width, truth.height
    boxes: list[tuple[int, Box]] = [(0, b.box) for b in truth.beats if b.visible]
    for lt in truth.leads:
        if lt.present:
            if lt.label_box is not None:
                boxes.append((1, lt.label_box))
            boxes.append((3, lt.panel_box))
    boxes += [(2, b) for b in truth.calibration_boxes]
    out = []
    for cls, box in boxes:
        b = box.clip(w, h)
        if b.width <= 1 or b.height <= 1:
            continue
        out.append(f"{cls} {(b.x0 + b.x1) / 2 / w:.6f} {(b.y0 + b.y1) / 2 / h:.6f} {b.width / w:.6f} "
                   f"{b.height / h:.6f}")
    return out


def render_item(out: str, source_spec: str, plan: ItemPlan) -> dict[str, Any]:
    """Render (and photograph) one page and write image, YOLO label, paired signal, then the label JSON."""
    t0 = time.perf_counter()
    out_dir = Path(out)
    src = _source(source_spec)
    record = src.get(plan.record_id)
    printout: Printout = render_plan(record, plan)
    if plan.photo != "none":
        printout = photograph(printout, plan.photo_config or plan.photo, seed=plan.photo_seed)
    bgr = cv2.cvtColor(np.ascontiguousarray(printout.image), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if plan.ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, encoded = cv2.imencode(f".{plan.ext}", bgr, params)
    if not ok:
        raise RenderError(f"could not encode {plan.item_id}.{plan.ext}")
    image_path = out_dir / "images" / f"{plan.item_id}.{plan.ext}"
    atomic_write_bytes(image_path, encoded.tobytes())

    signal_path = out_dir / "signals" / f"{plan.record_id}.npz"
    if not signal_path.exists():
        write_npz(record, signal_path)

    truth = printout.truth
    atomic_write_text(out_dir / "yolo" / "labels" / plan.split / f"{plan.item_id}.txt",
                      "\n".join(yolo_lines(truth)) + "\n")
    link = out_dir / "yolo" / "images" / plan.split / image_path.name
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        os.symlink(os.path.relpath(image_path, link.parent), link)

    meta = src.metadata
    row = meta.loc[plan.record_id] if plan.record_id in meta.index else None
    fold, _ = record_fold(row)
    label = truth.to_json() | {
        "id": plan.item_id, "record_id": plan.record_id, "patient_id": record.patient_id,
        "labels": record.labels, "fold": fold, "split": plan.split, "image": f"images/{image_path.name}",
        "source": source_spec, "seed": plan.render_seed, "photo_seed": plan.photo_seed, "photo": plan.photo,
        "render_config": to_dict(plan.config), "fs": record.fs, "lead_names": list(record.lead_names),
    }
    if plan.style is not None:
        label |= {"print_style": to_dict(plan.style), "family": plan.style.family}
    # Compact (a page holds ~20k trace points); written last: its existence marks the item done.
    atomic_write_text(out_dir / "labels" / f"{plan.item_id}.json",
                      json.dumps(label, separators=(",", ":"), default=_json_plain))
    return {"id": plan.item_id, "seconds": time.perf_counter() - t0, "beats": len(truth.beats),
            "warnings": len(truth.warnings)}


def _json_plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _render_item_safe(args: tuple[str, str, ItemPlan]) -> dict[str, Any]:
    out, spec, plan = args
    try:
        return render_item(out, spec, plan)
    except VizEcgError as exc:
        return {"id": plan.item_id, "record_id": plan.record_id, "error": str(exc)}


def _worker_init() -> None:
    cv2.setNumThreads(1)


# --- the whole job ------------------------------------------------------------------------------------------
def output_settings(job: RenderJob) -> dict[str, Any]:
    """The settings that determine the pages (the fingerprint of a render folder): all but `workers`."""
    settings = to_dict(job)
    del settings["workers"]
    if job.style != "families":  # folders made before the style families existed keep their fingerprint
        del settings["families"], settings["exclude_families"]
    if job.photo != "custom":  # likewise for folders made before photo_config, which presets leave unused
        del settings["photo_config"]
    return settings


def build_dataset(job: RenderJob, out: str | Path, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Render job.n pages into `out`; returns the summary also written to summary.json.

    A re-run resumes (only the missing items are rendered; n may grow) if `out` was made with the same settings,
    and is refused (StaleOutputError naming the differing settings) otherwise; `overwrite` deletes the previous
    items and renders all afresh. Another process writing into `out` is refused (FolderLockedError)."""
    from tqdm import tqdm

    out_dir = Path(out).resolve()
    src = _source(job.source)
    plans = plan_items(job, src)  # bad settings are refused before the folder is touched
    with claim_run(out_dir, output_settings(job), overwrite=overwrite, grows=("n",), outputs=OUTPUTS):
        logger = start_run(out_dir, job, name="vizecg.render")
        if overwrite:
            logger.info("overwrite: previous items deleted")
        _write_data_yaml(out_dir)
        todo = [p for p in plans if not (out_dir / "labels" / f"{p.item_id}.json").exists()]
        logger.info("render %d items from %s (%d already done) with %d worker(s)", len(plans), job.source,
                    len(plans) - len(todo), job.workers)
        t0 = time.perf_counter()
        results: list[dict[str, Any]] = []
        args = [(str(out_dir), job.source, p) for p in todo]
        bar = tqdm(total=len(todo), desc="render", unit="page", disable=not progress)
        if job.workers > 1 and len(todo) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(job.workers, initializer=_worker_init) as pool:
                for res in pool.imap_unordered(_render_item_safe, args):
                    results.append(res)
                    bar.update(1)
        else:
            for a in args:
                results.append(_render_item_safe(a))
                bar.update(1)
        bar.close()
        order = {p.item_id: p.k for p in plans}
        failed = sorted((r for r in results if "error" in r), key=lambda r: order[r["id"]])
        for r in failed:
            logger.error("%s: %s", r["id"], r["error"])
        done = [p for p in plans if (out_dir / "labels" / f"{p.item_id}.json").exists()]
        _write_manifest(out_dir / "manifest.csv", done, src)
        rendered = [r for r in results if "error" not in r]
        summary = {
            "items": len(plans), "rendered": len(rendered), "skipped_existing": len(plans) - len(todo),
            # Each failure with its reason ({"id", "record_id", "error"}), in item order; the first 50.
            "failed": len(failed), "failures": failed[:50], "complete": len(done),
            "wall_seconds": round(time.perf_counter() - t0, 3),
            "mean_seconds_per_item": round(float(np.mean([r["seconds"] for r in rendered])), 4) if rendered else None,
            "beats": int(sum(r["beats"] for r in rendered)),
            "train": sum(p.split == "train" for p in done), "val": sum(p.split == "val" for p in done),
            "test": sum(p.split == "test" for p in done),
        }
        write_json(out_dir / "summary.json", summary)
        logger.info("summary: %s", summary)
    return summary


def _write_data_yaml(out_dir: Path) -> None:
    import yaml

    root = out_dir / "yolo"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    data = {"path": str(root), "train": "images/train", "val": "images/val",
            "names": {i: n for i, n in enumerate(YOLO_NAMES)}}
    atomic_write_text(root / "data.yaml", yaml.safe_dump(data, sort_keys=False))


def _write_manifest(path: Path, plans: list[ItemPlan], src: Any) -> None:
    meta = src.metadata
    cols = ["id", "record_id", "patient_id", "image", "label", "fold", "split", "layout", "photo", "seed",
            *SUPERCLASSES, "normal", "family"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for p in plans:
        row = meta.loc[p.record_id] if p.record_id in meta.index else None
        fold, _ = record_fold(row)
        rec = {"id": p.item_id, "record_id": p.record_id,
               "patient_id": "" if row is None else cell(row.get("patient_id")) or "",
               "image": f"images/{p.item_id}.{p.ext}", "label": f"labels/{p.item_id}.json",
               "fold": "" if fold is None else fold, "split": p.split,
               "layout": p.config.layout if p.style is None else p.style.leads.name,
               "photo": p.photo, "seed": p.render_seed,
               "family": "" if p.style is None else p.style.family}
        for c in (*SUPERCLASSES, "normal"):
            v = None if row is None else row.get(c)
            rec[c] = "" if v is None or (isinstance(v, float) and np.isnan(v)) else int(v)
        writer.writerow(rec)
    atomic_write_text(path, buf.getvalue())


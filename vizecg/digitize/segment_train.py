"""Train the trace segmenter on render folders: pages of folds 1-8 train, fold 9 validates, fold 10 is never read.

    OMP_NUM_THREADS=1 .venv/bin/python -m vizecg.digitize.segment_train --folders runs/labels/train_ex3 \
        --out runs/segment/smoke --minutes 4 --epochs 1

Each step reads `pages_per_step` pages (in a seeded order per epoch), resamples them to the network's scale and
cuts `tiles_per_page` random tiles from each (seeded by seed, epoch and step, so a resumed run cuts the tiles an
uninterrupted one would have). Loss: BCE + soft Dice, named (the log shows both), an error on a non-finite one.
AdamW, linear warm-up then cosine, as a function of the step (nothing to restore). After each epoch the fold-9
pages are segmented whole (ink_probability) and scored per family and photo condition; the best epoch's weights
are model.pt.

RUN_DIR holds config.yaml (resolved), fingerprint.json (the settings a resume must match: the config less
minutes/steps/threads, the code's hash and the pages of each split), log.txt, checkpoint.pt (model, optimizer,
position; atomic, every `checkpoint_every` steps, at each epoch's end and when --minutes/--steps stop the run),
model.pt (best weights, self-describing) and summary.json. `--resume` continues from checkpoint.pt and refuses
a folder whose settings or code differ.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vizecg.digitize.segment.data import SegPage, TileConfig, cut_tiles, load_page, pages_fingerprint, split_pages
from vizecg.errors import VizEcgError

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
SUMMARY = "summary.json"
OUTPUTS = (CHECKPOINT, MODEL, SUMMARY, "config.yaml", "log.txt")  # what --overwrite deletes
# The sources that decide the weights: a resumed run must be trained by the same code (evaluation code is not here)
_CODE = ("segment/masks.py", "segment/model.py", "segment/data.py", "segment_train.py")
# Settings of one invocation, not of the run: they may change between a run and its resume
PER_INVOCATION = ("minutes", "steps", "threads", "progress")


class ResumeError(VizEcgError):
    """A checkpoint cannot be continued with these settings (or there is none to continue)."""


@dataclass(frozen=True)
class SegTrainConfig:
    folders: tuple[str, ...] = ()  # render folders (vizecg render); their fold-9 pages validate
    model: str = "trace_unet"  # a registered segmenter (segment.model)
    px_per_mm: float = 4.0  # the network's scale (masks.py says why 4)
    tiles: TileConfig = field(default_factory=TileConfig)
    tiles_per_page: int = 4  # tiles cut from each page read: reading a page costs about what one tile's step does
    pages_per_step: int = 4  # a batch is pages_per_step x tiles_per_page tiles, from different pages
    epochs: int = 20  # an epoch reads every training page once
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50  # linear warm-up, then cosine down to lr / 20 at the last step
    bce_weight: float = 1.0
    dice_weight: float = 1.0  # Dice counters the imbalance: trace is a few percent of a tile's pixels
    checkpoint_every: int = 25  # steps (and at every epoch's end)
    val_pages: int = 0  # fold-9 pages scored after each epoch (the first n by folder and id); 0: all
    seed: int = 0  # weights' initialisation, page order and tiles: the same seed gives the same weights
    threads: int = 1  # torch / OpenCV threads (the machine's 2 cores are shared)
    minutes: float = 0.0  # stop this invocation after about this long (checkpointed; --resume goes on); 0: none
    steps: int = 0  # stop this invocation after this many steps (checkpointed); 0: none
    progress: bool = True  # tqdm bar on stderr

    def __post_init__(self) -> None:
        for key in ("tiles_per_page", "pages_per_step", "epochs", "checkpoint_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0 or self.weight_decay < 0 or self.minutes < 0 or self.steps < 0 or self.val_pages < 0:
            raise ValueError("lr must be > 0; weight_decay, minutes, steps and val_pages >= 0")
        if self.tiles.size % 32:
            raise ValueError(f"tiles.size must be a multiple of 32 (the U-Net's stride), got {self.tiles.size}")


def code_hash() -> str:
    """SHA-256 (16 hex) of the training code and the versions of the libraries that build and run the net."""
    from importlib.metadata import version

    here = Path(__file__).parent
    h = hashlib.sha256()
    for rel in _CODE:
        h.update(rel.encode() + b"\0" + (here / rel).read_bytes() + b"\0")
    for pkg in ("torch", "timm", "segmentation-models-pytorch"):
        h.update(f"{pkg}=={version(pkg)}".encode())
    return h.hexdigest()[:16]


def run_settings(cfg: SegTrainConfig, pages: dict[str, list[SegPage]]) -> dict[str, Any]:
    """What a run's outputs depend on: the config less its per-invocation keys, the code and the data."""
    from vizecg.config import to_dict

    settings = {k: v for k, v in to_dict(cfg).items() if k not in PER_INVOCATION}
    settings["code"] = code_hash()
    settings["pages"] = {"train": len(pages["train"]), "val": len(pages["val"]), "hash": pages_fingerprint(pages)}
    return settings


def settings_hash(settings: dict[str, Any]) -> str:
    import json

    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


# --- loss ---------------------------------------------------------------------------------------------------------
def segmentation_loss(logits, target, weight, bce_weight: float = 1.0, dice_weight: float = 1.0) -> dict[str, Any]:
    """Named losses of logits (b, 1, h, w) against 0/1 targets, over pixels of weight 1 (hidden ones left out):
    "bce" (mean over those pixels) and "dice" (1 - soft Dice over the batch), each times its weight."""
    import torch
    from torch.nn import functional as F

    n = weight.sum().clamp(min=1.0)
    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).sum() / n
    p = torch.sigmoid(logits) * weight
    t = target * weight
    dice = 1.0 - (2.0 * (p * t).sum() + 1.0) / (p.sum() + t.sum() + 1.0)
    return {"bce": bce_weight * bce, "dice": dice_weight * dice}


def lr_at(step: int, total: int, cfg: SegTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0))))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng(np.random.SeedSequence([seed, epoch])).permutation(n)


def step_batch(pages: list[SegPage], cfg: SegTrainConfig, epoch: int, step: int, order: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tiles of one step: its pages from the epoch's order, tiles seeded by (seed, epoch, step)."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, epoch, step, 1]))
    idx = order[step * cfg.pages_per_step:(step + 1) * cfg.pages_per_step]
    parts = [cut_tiles(load_page(pages[i], cfg.px_per_mm), cfg.tiles_per_page, cfg.tiles, rng) for i in idx]
    return tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[return-value]


# --- validation ----------------------------------------------------------------------------------------------
def validate(model: Any, pages: list[SegPage], px_per_mm: float, progress: bool = False) -> dict[str, Any]:
    """Pixel scores of the fold-9 pages at the network's scale (threshold 0.5): all, per family and per photo
    condition, strict and within 1 px (`metrics.pixel_counts`)."""
    from tqdm import tqdm

    from vizecg.digitize.segment.data import photo_condition
    from vizecg.digitize.segment.infer import ink_probability
    from vizecg.digitize.segment.masks import image_px_per_mm, page_region, page_window, resample, trace_mask
    from vizecg.digitize.segment.metrics import add_counts, pixel_counts, scores
    from vizecg.images import read_image

    totals: dict[str, dict[str, dict[str, int]]] = {"strict": {}, "tol1": {}}
    for page in tqdm(pages, desc="val", disable=not progress, leave=False):
        truth = page.truth()
        groups = ("all", f"family:{page.family or '(none)'}", f"photo:{photo_condition(truth, page.photo)}")
        scale = px_per_mm / image_px_per_mm(truth)
        small = resample(read_image(page.image), scale)
        rows, cols = page_window(truth, scale)  # scores count inside the sheet only
        pred = np.zeros(small.shape[:2], bool)
        pred[rows, cols] = ink_probability(np.ascontiguousarray(small[rows, cols]), px_per_mm, model) >= 0.5
        mask = trace_mask(truth, scale)
        region = page_region(truth, scale)
        for tol, name in ((0, "strict"), (1, "tol1")):
            c = pixel_counts(pred, mask, region, tol)
            for key in groups:
                add_counts(totals[name].setdefault(key, {}), c)
    out: dict[str, Any] = {"pages": len(pages)}
    for name, by in totals.items():
        out[name] = {key: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores(c).items()}
                     for key, c in sorted(by.items())}
    return out


# --- training ---------------------------------------------------------------------------------------------------
def _save(path: Path, obj: dict[str, Any]) -> None:
    import torch

    from vizecg.runs import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def train(cfg: SegTrainConfig, out: str | Path, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train (or continue, with `resume`) into `out`; returns the summary written to summary.json. `overwrite`
    deletes the folder's earlier outputs first (only those: --out may hold other things)."""
    import torch
    import cv2
    from tqdm import tqdm

    from vizecg.config import to_dict
    from vizecg.digitize.segment.model import create_segmenter, save_segmenter
    from vizecg.runs import claim_run, start_run, write_json

    out = Path(out)
    if not cfg.folders:
        raise ResumeError("no --folders given")
    pages = split_pages(list(cfg.folders))
    if not pages["train"]:
        raise ResumeError(f"no training pages (folds 1-8 or split 'train') in {', '.join(cfg.folders)}")
    settings = run_settings(cfg, pages)
    digest = settings_hash(settings)
    ckpt_path = out / CHECKPOINT
    if resume and overwrite:
        raise ResumeError("--resume and --overwrite exclude each other")
    if resume and not ckpt_path.is_file():
        raise ResumeError(f"--resume: no {CHECKPOINT} to continue from", out)
    if not resume and not overwrite and ckpt_path.is_file():
        raise ResumeError(f"already holds a {CHECKPOINT}: pass --resume to continue it, --overwrite to start "
                          f"again, or use a new --out", out)
    # refuses other settings (naming each one that differs) and a second writer
    with claim_run(out, settings, overwrite=overwrite, outputs=OUTPUTS):
        log = start_run(out, cfg, name="vizecg.segment")
        torch.set_num_threads(cfg.threads)
        cv2.setNumThreads(cfg.threads)
        torch.manual_seed(cfg.seed)
        model = create_segmenter(cfg.model, px_per_mm=cfg.px_per_mm)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        n_train = len(pages["train"])
        per_epoch = -(-n_train // cfg.pages_per_step)
        total = cfg.epochs * per_epoch
        state = {"epoch": 0, "step": 0, "global_step": 0, "sums": {}, "history": [], "best": None,
                 "train_seconds": 0.0}
        if resume:
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            if ckpt.get("settings_hash") != digest:
                then, now = ckpt.get("settings", {}), settings
                diffs = [f"{k}: {then.get(k)!r} vs {now.get(k)!r}" for k in sorted(set(then) | set(now))
                         if then.get(k) != now.get(k)]
                raise ResumeError(f"{CHECKPOINT} was made with other settings or code ({'; '.join(diffs)}): "
                                  f"use a new --out", out)
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            state = ckpt["state"]
            log.info(f"resumed at epoch {state['epoch']} step {state['step']} (global step {state['global_step']})")
        val_pages = pages["val"][:cfg.val_pages] if cfg.val_pages else pages["val"]
        log.info(f"pages: train {n_train}, val {len(val_pages)} of {len(pages['val'])}; {per_epoch} steps an epoch "
                 f"of {cfg.pages_per_step * cfg.tiles_per_page} tiles; model {cfg.model}; code {settings['code']}")

        def checkpoint() -> None:
            _save(ckpt_path, {"model_name": model.model_name, "model_args": model.model_args,
                              "model": model.state_dict(), "optimizer": opt.state_dict(), "state": state,
                              "settings": settings, "settings_hash": digest})

        def summary(status: str) -> dict[str, Any]:
            done = [h for h in state["history"] if "train_seconds" in h]
            s = {"status": status, "config": to_dict(cfg), "settings_hash": digest, "code": settings["code"],
                 "pages": {"train": n_train, "val": len(val_pages)}, "steps_per_epoch": per_epoch,
                 "epoch": state["epoch"], "global_step": state["global_step"], "total_steps": total,
                 "seconds_per_epoch": float(np.mean([h["train_seconds"] for h in done])) if done else None,
                 "seconds_per_step": state["train_seconds"] / max(1, state["global_step"]),
                 "best": state["best"], "history": state["history"]}
            write_json(out / SUMMARY, s)
            return s

        t_start = time.perf_counter()
        steps_here = 0
        bar = tqdm(total=total, initial=state["global_step"], desc="segment train", disable=not cfg.progress,
                   file=sys.stderr, dynamic_ncols=True)
        try:
            while state["epoch"] < cfg.epochs:
                epoch = state["epoch"]
                order = epoch_order(cfg.seed, epoch, n_train)
                model.train()
                while state["step"] < per_epoch:
                    if (cfg.minutes and time.perf_counter() - t_start > 60 * cfg.minutes) or \
                            (cfg.steps and steps_here >= cfg.steps):
                        checkpoint()
                        log.info(f"stopped at epoch {epoch} step {state['step']} (--minutes/--steps): "
                                 f"--resume continues")
                        return summary("paused")
                    t0 = time.perf_counter()
                    x, y, w = step_batch(pages["train"], cfg, epoch, state["step"], order)
                    for g in opt.param_groups:
                        g["lr"] = lr_at(state["global_step"], total, cfg)
                    logits = model(torch.from_numpy(x).float() / 255.0)
                    losses = segmentation_loss(logits, torch.from_numpy(y).float(), torch.from_numpy(w).float(),
                                               cfg.bce_weight, cfg.dice_weight)
                    loss = sum(losses.values())
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"non-finite loss at epoch {epoch} step {state['step']}: "
                                                 f"{ {k: float(v.detach()) for k, v in losses.items()} }")
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    values = {k: float(v.detach()) for k, v in losses.items()}
                    for k, v in values.items():
                        state["sums"][k] = state["sums"].get(k, 0.0) + v
                    state["sums"]["n"] = state["sums"].get("n", 0) + 1
                    state["step"] += 1
                    state["global_step"] += 1
                    state["train_seconds"] += time.perf_counter() - t0
                    state["sums"]["seconds"] = state["sums"].get("seconds", 0.0) + time.perf_counter() - t0
                    steps_here += 1
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
                    if state["global_step"] % 10 == 0:
                        log.info(f"epoch {epoch} step {state['step']}/{per_epoch}: "
                                 + " ".join(f"{k} {v:.4f}" for k, v in values.items())
                                 + f" lr {opt.param_groups[0]['lr']:.2e}")
                    if state["step"] % cfg.checkpoint_every == 0 and state["step"] < per_epoch:
                        checkpoint()
                # epoch end: score fold 9, keep the best weights, then move the position on
                n = max(1, state["sums"].get("n", 1))
                entry: dict[str, Any] = {"epoch": epoch, "train_seconds": round(state["sums"].get("seconds", 0.0), 1),
                                         **{k: state["sums"][k] / n for k in ("bce", "dice") if k in state["sums"]}}
                if val_pages:
                    t0 = time.perf_counter()
                    model.eval()
                    entry["val"] = validate(model, val_pages, cfg.px_per_mm, cfg.progress)
                    entry["val_seconds"] = round(time.perf_counter() - t0, 1)
                    dice = entry["val"]["strict"]["all"]["f1"]
                    if state["best"] is None or (np.isfinite(dice) and dice > state["best"]["val_dice"]):
                        state["best"] = {"epoch": epoch, "val_dice": dice,
                                         "val_iou": entry["val"]["strict"]["all"]["iou"]}
                        save_segmenter(model, out / MODEL, {"epoch": epoch, "val": entry["val"],
                                                            "settings": settings})
                else:  # nothing to choose by: the latest weights
                    state["best"] = {"epoch": epoch, "val_dice": None, "val_iou": None}
                    save_segmenter(model, out / MODEL, {"epoch": epoch, "settings": settings})
                state["history"].append(entry)
                log.info(f"epoch {epoch} done: "
                         + " ".join(f"{k} {entry[k]:.4f}" for k in ("bce", "dice") if k in entry)
                         + (f" val Dice {entry['val']['strict']['all']['f1']:.4f} (within 1 px F1 "
                            f"{entry['val']['tol1']['all']['f1']:.4f})" if "val" in entry else "")
                         + f" ({entry['train_seconds']:.0f} s training)")
                state["epoch"] += 1
                state["step"] = 0
                state["sums"] = {}
                checkpoint()
        finally:
            bar.close()
        return summary("done")


def main(argv: list[str] | None = None) -> int:
    d = SegTrainConfig()
    t = TileConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folders", nargs="+", required=True, help="render folders (vizecg render)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (same settings and code)")
    p.add_argument("--overwrite", action="store_true", help="delete --out's earlier run first")
    p.add_argument("--model", default=d.model)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--minutes", type=float, default=d.minutes, help="stop after about this long (0: no limit)")
    p.add_argument("--steps", type=int, default=d.steps, help="stop after this many steps (0: no limit)")
    p.add_argument("--tile", type=int, default=t.size)
    p.add_argument("--tiles-per-page", type=int, default=d.tiles_per_page)
    p.add_argument("--pages-per-step", type=int, default=d.pages_per_step)
    p.add_argument("--px-per-mm", type=float, default=d.px_per_mm)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--val-pages", type=int, default=d.val_pages, help="fold-9 pages scored each epoch (0: all)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    try:
        cfg = SegTrainConfig(folders=tuple(a.folders), model=a.model, px_per_mm=a.px_per_mm,
                             tiles=dataclasses.replace(t, size=a.tile), tiles_per_page=a.tiles_per_page,
                             pages_per_step=a.pages_per_step, epochs=a.epochs, lr=a.lr, warmup_steps=a.warmup_steps,
                             checkpoint_every=a.checkpoint_every, val_pages=a.val_pages, seed=a.seed,
                             threads=a.threads, minutes=a.minutes, steps=a.steps, progress=not a.no_progress)
        s = train(cfg, a.out, resume=a.resume, overwrite=a.overwrite)
    except (VizEcgError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    best = s["best"] or {}
    print(f"{s['status']}: epoch {s['epoch']}/{cfg.epochs}, step {s['global_step']}/{s['total_steps']}, "
          f"{s['seconds_per_step']:.2f} s a step; best val Dice {best.get('val_dice')} (epoch {best.get('epoch')}); "
          f"{Path(a.out) / SUMMARY}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train and measure the lead-label reader on render folders (`vizecg render --style families ...`).

Crops come from each page's truth: every printed label (`LeadTruth.label_box`, `label`), cut a few times with the
box jittered the way a detector box misses, plus `not_a_label` windows of label size drawn at random on the page
(grid, traces, calibration pulses) and on the header/footer text. Each page's split is the one fold rule's
(vizecg.data.splits.split_of: PTB-XL folds 1-8 train, 9 val, 10 test; a page without a fold keeps its render's
split): the val pages pick the epoch and fit the temperature, test pages are never read for training.

    .venv/bin/python -m vizecg.labels.train --folders runs/labels/train_ex3 runs/labels/train_15 \
        --out vizecg/labels/weights/lead_labels.pt --minutes 12
    .venv/bin/python -m vizecg.labels.train --evaluate vizecg/labels/weights/lead_labels.pt --folders runs/labels/test
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vizecg.data.render_folder import photo_condition
from vizecg.data.splits import split_of
from vizecg.errors import DataError
from vizecg.labels.crops import crop_label, jitter_box, label_window, to_grey
from vizecg.labels.model import CLASSES, NOT_A_LABEL

CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}


@dataclass(frozen=True)
class CropConfig:
    jitter_copies: int = 2  # crops per printed label, each with the box moved/resized (detector boxes miss)
    # plus this many cut as the layout's probe windows are (detector.layout.probe_boxes): a box of a standard
    # name's width at the label's left edge, of about its height, wherever the name is narrow or wide
    probe_copies: int = 1
    # not_a_label windows at the probe places where this page prints no label (a QRS at a trace start reads
    # like "I" otherwise): at most this many per page
    probe_negatives: int = 12
    negatives_per_page: int = 16  # not_a_label windows per page: half at random, half on text and pulses
    min_label_px: float = 3.0  # labels smaller than this (cut by the frame, warped away) are not used
    seed: int = 0


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    minutes: float = 12.0  # stop after this much training time (2 shared CPU cores): the best epoch is kept
    batch: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    width: int = 12  # LabelNet width
    threads: int = 1
    seed: int = 0


# --- crops from render folders --------------------------------------------------------------------------------
def page_crops(image: np.ndarray, truth: dict[str, Any], rng: np.random.Generator, cfg: CropConfig
               ) -> tuple[list[np.ndarray], list[int]]:
    """Crops and class indices of one page (its label JSON as written by `vizecg render`)."""
    grey = to_grey(image)
    h, w = grey.shape
    xs, ys = [], []
    labels = [(np.asarray(ld["label_box"], float), ld.get("label") or ld["lead"]) for ld in truth["leads"]
              if ld.get("present", True) and ld.get("label_box") is not None]
    labels = [(b, name) for b, name in labels if min(b[2] - b[0], b[3] - b[1]) >= cfg.min_label_px
              and b[0] >= 0 and b[1] >= 0 and b[2] <= w and b[3] <= h]
    for box, name in labels:
        if name not in CLASS_INDEX:
            raise DataError(f"printed label {name!r} is not a class of the reader ({', '.join(CLASSES)})")
        for k in range(cfg.jitter_copies):
            xs.append(crop_label(grey, box if k == 0 else jitter_box(box, rng)))
            ys.append(CLASS_INDEX[name])
        for _ in range(cfg.probe_copies):
            xs.append(crop_label(grey, probe_like(box, rng)))
            ys.append(CLASS_INDEX[name])
    if not labels:
        return xs, ys
    sizes = np.array([b[2:] - b[:2] for b, _ in labels])
    label_boxes = np.array([b for b, _ in labels])
    anchors = [np.asarray(t["box"], float) for t in truth.get("texts", []) if t.get("kind") != "redaction"]
    anchors += [np.asarray(p["box"], float) for p in truth.get("pulses", [])]
    page = truth.get("page_box") or [0, 0, w, h]
    xs_neg, ys_neg = _probe_negatives(grey, truth, label_boxes, rng, cfg.probe_negatives)
    xs += xs_neg
    ys += ys_neg
    tries = 0
    n = 0
    while n < cfg.negatives_per_page and tries < 20 * cfg.negatives_per_page:
        tries += 1
        bw, bh = sizes[rng.integers(len(sizes))] * np.exp(rng.uniform(-0.3, 0.3, 2))
        if anchors and n % 2 == 1:  # on printed text / a pulse: what a false label box most often sits on
            a = anchors[rng.integers(len(anchors))]
            cx, cy = rng.uniform(a[0], a[2]), rng.uniform(a[1], a[3])
        else:
            cx, cy = rng.uniform(page[0], page[2]), rng.uniform(page[1], page[3])
        box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        if _holds_a_label(box, label_boxes):
            continue
        xs.append(crop_label(grey, box))
        ys.append(CLASS_INDEX[NOT_A_LABEL])
        n += 1
    return xs, ys


def probe_like(box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A probe window's box for this label: left edge near the label's, height off by up to 30 %, the width of a
    standard 3-letter name (PROBE_ASPECT x height), centre a quarter of a height up or down."""
    from vizecg.labels.crops import PROBE_ASPECT

    x0, y0, x1, y1 = (float(v) for v in box)
    h = max(y1 - y0, 1.0)
    ph = h * float(np.exp(rng.uniform(-0.3, 0.3)))
    cy = (y0 + y1) / 2 + rng.uniform(-0.25, 0.25) * h
    px0 = x0 + rng.uniform(-0.3, 0.3) * h
    return np.array([px0, cy - ph / 2, px0 + PROBE_ASPECT * ph, cy + ph / 2])


def _probe_negatives(grey: np.ndarray, truth: dict[str, Any], label_boxes: np.ndarray, rng: np.random.Generator,
                     k: int) -> tuple[list[np.ndarray], list[int]]:
    """not_a_label crops at the places the layout probes (crops.probe_boxes) that hold none of the labels."""
    from vizecg.labels.crops import probe_boxes

    leads = [ld for ld in truth["leads"] if ld.get("present", True)]
    if not k or not leads:
        return [], []
    spans: dict[int, list[float]] = {}
    for ld in leads:
        b = ld["panel_box"]
        lo, hi = spans.get(ld.get("row", 0), [b[0], b[2]])
        spans[ld.get("row", 0)] = [min(lo, b[0]), max(hi, b[2])]
    mm = max(hi - lo for lo, hi in spans.values()) / 250.0  # rows span the 250 mm trace width
    cand = np.concatenate([probe_boxes(np.asarray(ld["panel_box"], float), mm) for ld in leads])
    cand = [b for b in cand if not _holds_a_label(b, label_boxes, 0.05)]
    pick = rng.permutation(len(cand))[:k]
    return [crop_label(grey, cand[i]) for i in pick], [CLASS_INDEX[NOT_A_LABEL]] * len(pick)


def _holds_a_label(box: np.ndarray, label_boxes: np.ndarray, share: float = 0.33) -> bool:
    """The window around `box` shows over `share` of some printed label: that crop is not a non-label."""
    wx0, wy0, wx1, wy1 = label_window(box)
    ix = np.minimum(label_boxes[:, 2], wx1) - np.maximum(label_boxes[:, 0], wx0)
    iy = np.minimum(label_boxes[:, 3], wy1) - np.maximum(label_boxes[:, 1], wy0)
    area = np.maximum((label_boxes[:, 2] - label_boxes[:, 0]) * (label_boxes[:, 3] - label_boxes[:, 1]), 1e-6)
    return bool(((ix.clip(0) * iy.clip(0)) / area > share).any())


def folder_pages(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    pages = sorted((folder / "labels").glob("*.json"))
    if not pages:
        raise DataError("no labels/*.json in this render folder", folder)
    return pages


def load_crops(folders: list[str | Path], cfg: CropConfig = CropConfig(), split: str | None = None
               ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """(crops (n, 1, 32, 96), classes (n,), per-crop info {page, family, photo, split}) over the folders' pages
    (only those of `split` when given)."""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    info: list[dict[str, Any]] = []
    for folder in folders:
        for k, label_path in enumerate(folder_pages(folder)):
            truth = json.loads(label_path.read_text())
            page_split = split_of(truth.get("fold"), truth.get("split"), label_path)
            if split is not None and page_split != split:
                continue
            image = cv2.imread(str(Path(folder) / truth["image"]), cv2.IMREAD_COLOR)
            if image is None:
                raise DataError("unreadable page image", Path(folder) / truth["image"])
            rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, k, len(str(folder))]))
            cx, cy = page_crops(image[:, :, ::-1], truth, rng, cfg)
            meta = {"page": truth.get("id", label_path.stem), "family": truth.get("family", ""),
                    "photo": photo_condition(truth.get("photo_params"), str(truth.get("photo") or "")),
                    "split": page_split or ""}
            xs += cx
            ys += cy
            info += [meta] * len(cx)
    if not xs:
        raise DataError(f"no label crops in {', '.join(map(str, folders))}" + (f" (split {split})" if split else ""))
    return np.stack(xs)[:, None].astype(np.float32), np.asarray(ys, np.int64), info


# --- training ---------------------------------------------------------------------------------------------
def train_reader(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], cfg: TrainConfig,
                 log=print, init: str | Path | None = None) -> tuple[Any, float, dict[str, Any]]:
    """(model with the best validation epoch's weights, fitted temperature, history)."""
    import torch
    from torch.nn import functional as F

    from vizecg.labels.model import LabelNet

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    x, y = torch.from_numpy(train[0]), torch.from_numpy(train[1])
    model = LabelNet(width=cfg.width)
    if init is not None:  # fine-tune: start from a checkpoint's weights (same width)
        from vizecg.labels.model import load_checkpoint

        model.load_state_dict(load_checkpoint(init)[0].state_dict())
    counts = np.bincount(train[1], minlength=len(CLASSES)).astype(np.float64)
    # Rare names (-aVR, V4R, V8, V9) are a few percent of the crops: weight classes by 1/sqrt(count).
    weight = torch.tensor(np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0), dtype=torch.float32)
    weight *= len(CLASSES) / weight.sum()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil(len(x) / cfg.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_state, history = -1.0, None, []
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), cfg.batch):
            idx = perm[i:i + cfg.batch]
            xb = x[idx]
            # Contrast and polarity of the ink vary with paper, photo and printer: random gain per crop.
            xb = xb * torch.empty(len(xb), 1, 1, 1).uniform_(0.7, 1.3, generator=gen)
            loss = F.cross_entropy(model(xb), y[idx], weight=weight, label_smoothing=0.05)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at epoch {epoch}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        logits = predict_logits(model, val[0])
        acc = float((logits.argmax(1) == val[1]).mean())
        history.append({"epoch": epoch, "loss": total / len(x), "val_acc": acc,
                        "minutes": (time.perf_counter() - t0) / 60})
        log(f"epoch {epoch}: loss {total / len(x):.4f} val top-1 {acc:.4f} ({history[-1]['minutes']:.1f} min)")
        if acc >= best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
        if (time.perf_counter() - t0) / 60 > cfg.minutes:
            log(f"time budget of {cfg.minutes} min spent after epoch {epoch}")
            break
    model.load_state_dict(best_state)
    model.eval()
    temperature = fit_temperature(predict_logits(model, val[0]), val[1])
    return model, temperature, {"history": history, "best_val_acc": best}


def predict_logits(model: Any, crops: np.ndarray, batch: int = 512) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            out.append(model(torch.from_numpy(crops[i:i + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising validation NLL (a 1-D search over log T; no optimiser state to get wrong)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 161))
    nll = [-np.log(softmax(logits / t)[np.arange(len(y)), y] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


# --- measurement --------------------------------------------------------------------------------------------
def reliability(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top class (equal-width bins): |accuracy - confidence| weighted by count."""
    conf, right = probs.max(1), probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(right[m].mean() - conf[m].mean())
    return float(ece)


def score_reads(probs: np.ndarray, y: np.ndarray, min_prob: float) -> dict[str, Any]:
    """top-1 accuracy, accuracy and coverage of the reads at >= min_prob, ECE; over all crops, labels only and
    not_a_label only."""
    pred = probs.argmax(1)
    conf = probs.max(1)
    is_label = y != CLASS_INDEX[NOT_A_LABEL]
    sure = conf >= min_prob
    out = {"n": int(len(y)), "n_labels": int(is_label.sum()), "top1": float((pred == y).mean()),
           "top1_labels": float((pred == y)[is_label].mean()) if is_label.any() else None,
           "not_a_label_right": float((pred == y)[~is_label].mean()) if (~is_label).any() else None,
           f"coverage_at_{min_prob:g}": float(sure.mean()),
           f"acc_at_{min_prob:g}": float((pred == y)[sure].mean()) if sure.any() else None,
           f"labels_coverage_at_{min_prob:g}": float(sure[is_label].mean()) if is_label.any() else None,
           f"labels_acc_at_{min_prob:g}": float((pred == y)[sure & is_label].mean()) if (sure & is_label).any() else None,
           "ece": reliability(probs, y)}
    return out


def evaluate(reader: Any, folders: list[str | Path], min_prob: float,
             cfg: CropConfig = CropConfig(jitter_copies=1, probe_copies=0), split: str | None = None,
             ) -> dict[str, Any]:
    """Scores of `reader` (a LabelReader) over the folders' crops (the truth label boxes as printed, and
    not_a_label windows): all, per family, per photo condition, per class, and by confidence bar."""
    x, y, info = load_crops(folders, cfg, split=split)
    probs = reader.probs(x)
    report = {"all": score_reads(probs, y, min_prob), "families": {}, "photo": {}}
    is_label, right, conf = y != CLASS_INDEX[NOT_A_LABEL], probs.argmax(1) == y, probs.max(1)
    report["labels_by_bar"] = {f"{t:g}": {"coverage": float((conf >= t)[is_label].mean()),
                                         "acc": float(right[is_label & (conf >= t)].mean())
                                         if (is_label & (conf >= t)).any() else None}
                               for t in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)}
    for key, field in (("families", "family"), ("photo", "photo")):
        for value in sorted({m[field] for m in info}):
            m = np.array([i[field] == value for i in info])
            report[key][value] = score_reads(probs[m], y[m], min_prob)
    names = sorted({CLASSES[c] for c in y})
    report["per_class_top1"] = {n: float((probs.argmax(1) == y)[y == CLASS_INDEX[n]].mean()) for n in names}
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folders", nargs="+", required=True, help="render folders (vizecg render --style families)")
    p.add_argument("--out", help="checkpoint to write (train)")
    p.add_argument("--evaluate", help="a checkpoint to measure on --folders instead of training")
    p.add_argument("--minutes", type=float, default=TrainConfig.minutes)
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--width", type=int, default=TrainConfig.width)
    p.add_argument("--min-prob", type=float, default=None, help="confidence threshold (default: the reader's)")
    p.add_argument("--json", help="write the report here too")
    p.add_argument("--init", help="train: start from this checkpoint's weights (fine-tune)")
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--split", choices=("train", "val", "test"), help="--evaluate: only the pages of this split")
    args = p.parse_args(argv)
    from vizecg.labels.reader import MIN_PROB, LabelReader

    min_prob = MIN_PROB if args.min_prob is None else args.min_prob
    if args.evaluate:
        import torch

        torch.set_num_threads(1)
        report = evaluate(LabelReader(args.evaluate), args.folders, min_prob, split=args.split)
    else:
        from vizecg.labels.model import LabelNetArgs, save_checkpoint

        t0 = time.perf_counter()
        crop_cfg = CropConfig()
        tr = load_crops(args.folders, crop_cfg, split="train")
        va = load_crops(args.folders, CropConfig(jitter_copies=1, seed=1), split="val")
        print(f"crops: train {len(tr[1])} val {len(va[1])} ({time.perf_counter() - t0:.0f} s)")
        cfg = TrainConfig(epochs=args.epochs, minutes=args.minutes, width=args.width, lr=args.lr)
        model, temperature, hist = train_reader(tr[:2], va[:2], cfg, init=args.init)
        val_probs = softmax(predict_logits(model, va[0]) / temperature)
        report = {"temperature": temperature, "val": score_reads(val_probs, va[1], min_prob), **hist,
                  "train_crops": int(len(tr[1])), "val_crops": int(len(va[1])),
                  "train_class_counts": {c: int(n) for c, n in zip(CLASSES, np.bincount(tr[1], minlength=len(CLASSES)))}}
        meta = {"folders": [str(f) for f in args.folders], "train": asdict(cfg), "crops": asdict(crop_cfg),
                "init": args.init,
                "val": report["val"], "families": sorted({i["family"] for i in tr[2]})}
        save_checkpoint(model, LabelNetArgs(width=cfg.width), temperature, args.out, meta=meta)
        print(f"wrote {args.out} (T = {temperature:.3f})")
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

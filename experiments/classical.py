"""A classical row beside the benchmark's networks: discrete wavelet features of the true 12-lead signal, PCA and a
linear classifier (one logistic regression per class), on the benchmark run's own split and signal preparation.

    .venv/bin/python -m experiments.classical runs/bench_cpu_s0

Reads RUN/render (the pages' records and split) and RUN/<task>/signal/config.yaml (the signal model's data
settings: sampling rate, window, band-pass), so the features see exactly the signal the 1-D ResNet reads. Features
per lead and DWT band (db4, 4 levels: the approximation and four details), six statistics of the coefficients
that do not move with the beats' positions (dwt_features). The PCA size and the regularisation are chosen on the validation split (macro AUROC),
then refitted on the training split alone; the test split is scored once. Writes
RUN/<task>/dwt_pca/pred-truth.npz (the benchmark's prediction format: experiments.summary reads it as the
`dwt_pca` row) and summary.json.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vizecg.errors import DataError, VizEcgError

WAVELET, LEVEL = "db4", 4
PCA_SIZES = (16, 32, 64, 128, 256)
C_VALUES = (0.001, 0.003, 0.01, 0.1, 1.0)
KIND = "dwt_pca"


def dwt_features(signal: np.ndarray) -> np.ndarray:
    """(12, n) signal in mV -> one feature row: per lead and DWT band (approximation and every detail), statistics
    of its coefficients that do not move with the beats' positions in the window: mean |c|, standard deviation,
    log energy, largest |c|, skewness and kurtosis."""
    import pywt
    from scipy.stats import kurtosis, skew

    feats = []
    for lead in np.asarray(signal, np.float64):
        for c in pywt.wavedec(lead, WAVELET, level=LEVEL):  # [cA4, cD4, cD3, cD2, cD1]
            feats += [np.mean(np.abs(c)), np.std(c), np.log1p(np.sum(c * c)), np.max(np.abs(c)),
                      float(skew(c)) if np.std(c) > 0 else 0.0, float(kurtosis(c)) if np.std(c) > 0 else 0.0]
    return np.nan_to_num(np.asarray(feats, np.float32))


def _split_signals(cfg: Any, data: Any, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features (n, f), targets (n, C), page ids, record ids) of one split, as the run's signal model read it:
    its data settings `data`, and train/val without the left-out print-style families (as every stage trained)."""
    from distill.train import page_dataset

    held_out = () if split == "test" else tuple(data.exclude_families)
    ds = page_dataset(data, ("signal",), **cfg.selection(split), exclude_families=held_out)
    X = np.stack([dwt_features(ds[i]["signal"].numpy()) for i in range(len(ds))])
    return (X, ds.targets, np.asarray([p.id for p in ds.pages], dtype=str),
            np.asarray([p.record_id for p in ds.pages], dtype=str))


def _model(n_components: int, c: float, seed: int):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), PCA(n_components=n_components, random_state=seed),
                         OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, class_weight="balanced")))


def run_classical(run: str | Path, task: str = "superclass") -> dict[str, Any]:
    from vizecg import metrics as M
    from vizecg.runs import atomic_write_bytes, code_stamp, write_json

    run = Path(run)
    if not (run / task / "signal" / "config.yaml").is_file():
        raise DataError("not a benchmark run with a trained signal stage (no superclass/signal/config.yaml)", run)
    from distill.train import TrainConfig
    from experiments.config import load_benchmark_config
    from vizecg.config import load_config

    cfg = load_benchmark_config(run / "config.yaml")
    signal_data = load_config(TrainConfig, run / task / "signal" / "config.yaml").data
    seed = cfg.seed
    t0 = time.perf_counter()
    data = {s: _split_signals(cfg, signal_data, s) for s in ("train", "val", "test")}
    t_features = time.perf_counter() - t0
    Xtr, ytr = data["train"][:2]
    grid = []
    sizes = [n for n in PCA_SIZES if n < min(Xtr.shape)] or [max(1, min(Xtr.shape) - 1)]  # tiny runs: fewer pages
    for n in sizes:
        for c in C_VALUES:
            model = _model(n, c, seed).fit(Xtr, ytr)
            grid.append({"pca": n, "C": c, "val_macro_auroc": M.fast_macro_auroc(model.predict_proba(data["val"][0]),
                                                                                  data["val"][1])})
    best = max(grid, key=lambda g: g["val_macro_auroc"])
    t1 = time.perf_counter()
    model = _model(best["pca"], best["C"], seed).fit(Xtr, ytr)
    train_s = time.perf_counter() - t1
    out: dict[str, np.ndarray] = {}
    for split in ("val", "test"):
        X, y, ids, recs = data[split]
        out[f"{split}_probs"] = model.predict_proba(X).astype(np.float32)
        out[f"{split}_targets"], out[f"{split}_ids"], out[f"{split}_records"] = y, ids, recs
    t2 = time.perf_counter()
    for i in range(min(16, len(data["test"][0]))):
        model.predict_proba(data["test"][0][i:i + 1])
    out["infer_ms"] = np.array((time.perf_counter() - t2) / max(min(16, len(data["test"][0])), 1) * 1e3)
    folder = run / task / KIND
    buf = io.BytesIO()
    np.savez(buf, **out)
    atomic_write_bytes(folder / "pred-truth.npz", buf.getvalue())
    summary = {"kind": KIND, "model": f"DWT ({WAVELET}, {LEVEL} levels) + PCA + logistic regression per class",
               "chosen_on_val": best, "grid": grid, "n_train": int(len(Xtr)), "features": int(Xtr.shape[1]),
               "test_macro_auroc": M.fast_macro_auroc(out["test_probs"], out["test_targets"]),
               "feature_s": round(t_features, 1), "train_time_s": round(train_s, 2),
               "code": code_stamp(("experiments/classical.py", "vizecg/signal/*.py", "distill/data.py"))}
    write_json(folder / "summary.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a vizecg benchmark output folder whose signal stage has trained")
    ap.add_argument("--task", default="superclass")
    args = ap.parse_args(argv)
    try:
        summary = run_classical(args.run, args.task)
    except VizEcgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Export a trained student as the shipped classifier file, calibrated on the validation fold.

    python -m vizecg.predict.export --run runs/student_small --out vizecg/predict/weights/student_small.pt

From a benchmark folder (`vizecg benchmark`): <task>/student/best.pt (the weights), <task>/student/pred-<crops>.npz
(validation and test probabilities, on detector crops when they exist: what `vizecg predict` feeds it),
results.json (test macro AUROC with its interval, and the inputs the model was trained on). The calibration (one
temperature or per-class Platt scaling, whichever has the lower out-of-fold ECE inside validation) is fitted on the
validation probabilities only; ECE is reported on validation (before/after) and test (before/after).
Thresholds: F1-optimal per class on the calibrated validation probabilities (vizecg.metrics.choose_thresholds).
Read with torch.load(weights_only=True); written in fp16 unless --fp32 (checked: the fp16 model's logits on
the validation pages must match the fp32 model's, else export stops). The ONNX graph for the torch-free runtime
(`vizecg predict --backend onnx`) is written beside it, <out stem>.onnx; for a classifier file alone:

    python -m vizecg.predict.export --onnx vizecg/predict/weights/student_small.pt

The graph (torch.onnx.export, fp32, the number of beats k dynamic) carries the classifier's metadata and the .pt's
SHA-256 (see vizecg/predict/classifier.py); export stops unless onnxruntime's logits match torch's within 1e-4
on random pages with 0, 1, some and max_beats beats.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from vizecg.errors import DataError, ModelError
from vizecg.predict.calibration import calibrated, expected_calibration_error, fit_calibration, logit
from vizecg.predict.classifier import (CLASSIFIER_FORMAT, ONNX_INPUTS, ONNX_META_KEY, ONNX_SOURCE_KEY,
                                       load_classifier, sha256_file)

ONNX_TOLERANCE = 1e-4  # largest |logit| change torch -> onnxruntime that export accepts


def export_classifier(model_name: str, model_args: dict[str, Any], state: dict[str, Any], classes: list[str],
                      inputs: dict[str, Any], calibration: dict[str, Any], thresholds: dict[str, float] | None,
                      card: dict[str, Any], out: str | Path, fp16: bool = True) -> Path:
    import io

    import torch

    from vizecg.runs import atomic_write_bytes

    weights = {k: (v.half() if fp16 and v.is_floating_point() else v) for k, v in state.items()}
    blob = {"format": CLASSIFIER_FORMAT, "model_name": model_name, "model_args": model_args, "model": weights,
            "classes": list(classes), "inputs": inputs, "calibration": calibration, "thresholds": thresholds,
            "card": card}
    buf = io.BytesIO()
    torch.save(blob, buf)
    atomic_write_bytes(out, buf.getvalue())
    return Path(out)


def calibrate(val_probs: np.ndarray, val_targets: np.ndarray, test_probs: np.ndarray | None = None,
              test_targets: np.ndarray | None = None) -> dict[str, Any]:
    """The calibration to ship (vizecg.predict.calibration.fit_calibration: the method with the lowest out-of-fold
    ECE on validation), its parameters rounded as stored, and its ECE on validation and test."""
    cal = fit_calibration(logit(val_probs), val_targets)
    for key, digits in (("temperature", 4), ("slopes", 6), ("biases", 6)):
        if key in cal:
            cal[key] = round(cal[key], digits) if key == "temperature" else [round(v, digits) for v in cal[key]]
    cal["ece_val_before"] = round(expected_calibration_error(val_probs, val_targets), 4)
    cal["ece_val_after"] = round(expected_calibration_error(calibrated(logit(val_probs), cal), val_targets), 4)
    if test_probs is not None and test_targets is not None:
        cal["ece_test_before"] = round(expected_calibration_error(test_probs, test_targets), 4)
        cal["ece_test_after"] = round(expected_calibration_error(calibrated(logit(test_probs), cal), test_targets), 4)
    return cal


def _printouts(render: dict[str, Any], left_out: list[str]) -> str:
    """What the pages were: one layout, or print styles drawn from the families (less those left out)."""
    if render.get("style") != "families":
        return f"{render['layout']} printouts"
    chosen = render.get("families") or "every family"
    return (f"printouts in print styles drawn from {', '.join(chosen) if isinstance(chosen, list) else chosen}"
            + (f" ({', '.join(left_out)} left out of training and validation)" if left_out else ""))


def export_run(run: str | Path, out: str | Path, task: str = "superclass", fp16: bool = True,
               card: dict[str, Any] | None = None, version: str = "1") -> dict[str, Any]:
    import torch

    from vizecg import metrics as M

    run = Path(run)
    ckpt_path = run / task / "student" / "best.pt"
    if not ckpt_path.is_file():
        raise DataError("no trained student here (expected <run>/<task>/student/best.pt)", ckpt_path)
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    results = json.loads((run / "results.json").read_text())
    cfg = results["config"]
    crops = "detector" if (run / task / "student" / "pred-detector.npz").is_file() else "truth"
    with np.load(run / task / "student" / f"pred-{crops}.npz", allow_pickle=False) as z:
        pred = {k: z[k] for k in z.files}
    cal = calibrate(pred["val_probs"], pred["val_targets"], pred["test_probs"], pred["test_targets"])
    # The student's own training data (its checkpoint's config); a benchmark made before the stages' configs were
    # composed held them in its flat config.
    data = (ckpt.get("config") or {}).get("data") or cfg
    render = cfg.get("render") if isinstance(cfg.get("render"), dict) and "layout" in cfg["render"] else cfg
    val = f"PTB-XL fold(s) {cfg['val_folds']}" if cfg.get("val_folds") else "the validation split (strat_fold 9)"
    train = f"folds {cfg['train_folds']}" if cfg.get("train_folds") else "the train split"
    cal["fitted_on"] = f"{val} (validation, {len(pred['val_probs'])} photographed pages, {crops} beat crops)"
    classes = list(results["tasks"][task]["classes"])
    thr = M.choose_thresholds(calibrated(logit(pred["val_probs"]), cal), pred["val_targets"])
    thresholds = {c: round(float(v), 4) for c, v in zip(classes, thr)}
    inputs = {k: data[k] for k in ("page_height", "page_width", "crop_size", "max_beats", "grayscale")}
    key = f"{crops}_crops"
    ev = results["tasks"][task][key]["models"]["student"]
    info = {"name": Path(out).stem, "version": version, "task": task, "classes": classes,
            "trained_on": f"PTB-XL ({cfg['source']}), {train}, {render['photo']} photographed "
                          f"{_printouts(render, cfg.get('left_out_families') or [])}",
            "test_macro_auroc": ev["macro_auroc"], "test_crops": crops, "model_card": "MODEL_CARD.md",
            "params": results["tasks"][task]["models"]["student"]["params"], **(card or {})}
    # fp16 check: the same validation-sized random batch through both precisions
    from vizecg.models import create_model

    model = create_model(ckpt["model_name"], **ckpt["model_args"]).eval()
    model.load_state_dict(ckpt["model"])
    if fp16:
        half = create_model(ckpt["model_name"], **ckpt["model_args"]).eval()
        half.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in ckpt["model"].items()})
        g = torch.Generator().manual_seed(0)
        k = inputs["max_beats"]
        batch = {"page": torch.rand(8, 3, inputs["page_height"], inputs["page_width"], generator=g),
                 "beats": torch.rand(8, k, 3, inputs["crop_size"], inputs["crop_size"], generator=g),
                 "beat_mask": torch.ones(8, k, dtype=torch.bool)}
        with torch.no_grad():
            diff = float((torch.sigmoid(model(batch)["logits"]) - torch.sigmoid(half(batch)["logits"])).abs().max())
        if diff > 1e-2:
            raise ModelError(f"fp16 weights change probabilities by up to {diff:.3g}: export with --fp32", ckpt_path)
        info["fp16_max_prob_change"] = round(diff, 6)
    path = export_classifier(ckpt["model_name"], ckpt["model_args"], ckpt["model"], classes, inputs, cal,
                             thresholds, info, out, fp16)
    return {"out": str(path), "bytes": path.stat().st_size, "calibration": cal, "thresholds": thresholds,
            "card": info}


def export_onnx_classifier(weights: str | Path, out: str | Path | None = None, opset: int = 17) -> dict[str, Any]:
    """The classifier file `weights` (.pt) as an ONNX graph (default: beside it, same stem), checked against torch."""
    import io
    import json
    import warnings

    import onnx
    import onnxruntime as ort
    import torch

    from vizecg.runs import atomic_write_bytes

    weights = Path(weights)
    clf = load_classifier(weights)
    blob = torch.load(weights, map_location="cpu", weights_only=True)
    out = Path(out) if out is not None else weights.with_suffix(".onnx")
    model = clf.model.float().eval()

    class Logits(torch.nn.Module):  # positional inputs for the exporter; the model takes a batch dict
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, page, beats, beat_mask):
            return self.inner({"page": page, "beats": beats, "beat_mask": beat_mask})["logits"]

    rng = np.random.default_rng(0)
    h, w = clf.page_size
    c, k = clf.crop_size, max(clf.max_beats, 1)

    def batch(n_real: int, slots: int = k) -> dict[str, np.ndarray]:
        mask = np.zeros((1, slots), bool)
        mask[0, :n_real] = True
        return {"page": rng.random((1, 3, h, w), np.float32), "beats": rng.random((1, slots, 3, c, c), np.float32),
                "beat_mask": mask}

    example = batch(k)
    buf = io.BytesIO()
    # The tracer warns that the local branch's "any real crop?" test becomes a constant: the graph still runs
    # a page without beats (checked below, 0 beats), so the warning is noise here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logits(model).eval(), tuple(torch.from_numpy(example[n]) for n in ONNX_INPUTS), buf,
                          input_names=list(ONNX_INPUTS), output_names=["logits"], opset_version=opset,
                          dynamic_axes={"beats": {1: "k"}, "beat_mask": {1: "k"}}, dynamo=False)
    graph = onnx.load_from_string(buf.getvalue())
    meta = {k_: v for k_, v in blob.items() if k_ != "model"}
    for key, value in ((ONNX_META_KEY, json.dumps(meta, default=str)), (ONNX_SOURCE_KEY, sha256_file(weights))):
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    data = graph.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    worst = 0.0
    for n_real, slots in sorted({(0, k), (1, k), (k // 2, k), (k, k), (k + 3, k + 3)}):  # k + 3: k is dynamic
        x = batch(n_real, slots)
        with torch.no_grad():
            ref = model({n: torch.from_numpy(v) for n, v in x.items()})["logits"].numpy()
        worst = max(worst, float(np.abs(session.run(["logits"], x)[0] - ref).max()))
    if not worst <= ONNX_TOLERANCE:
        raise ModelError(f"the ONNX graph's logits differ from torch's by up to {worst:.3g} (> {ONNX_TOLERANCE})",
                         weights)
    atomic_write_bytes(out, data)
    return {"out": str(out), "bytes": len(data), "source_sha256": sha256_file(weights), "max_logit_diff": worst}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vizecg.predict.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="a `vizecg benchmark` output folder")
    p.add_argument("--out", help="the classifier file to write (.pt); its ONNX graph goes beside it")
    p.add_argument("--task", default="superclass")
    p.add_argument("--fp32", action="store_true", help="keep fp32 weights")
    p.add_argument("--version", default="1", help="the release's version, shown in every report")
    p.add_argument("--onnx", metavar="PT", help="only export this classifier file's ONNX graph (beside it)")
    args = p.parse_args(argv)
    if not args.onnx and not (args.run and args.out):
        p.error("give --run and --out, or --onnx PT")
    try:
        if args.onnx:
            summary = export_onnx_classifier(args.onnx)
        else:
            summary = export_run(args.run, args.out, args.task, fp16=not args.fp32, version=args.version)
            summary["onnx"] = export_onnx_classifier(summary["out"])
    except (DataError, ModelError) as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

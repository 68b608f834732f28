"""Export a trained student as the shipped classifier file, temperature-scaled on the validation fold.

    python -m vizecg.predict.export --run runs/student_small --out vizecg/predict/weights/student_small.pt

From a benchmark folder (`vizecg benchmark`): <task>/student/best.pt (the weights), <task>/student/pred-<crops>.npz
(validation and test probabilities, on detector crops when they exist: what `vizecg predict` feeds it),
results.json (test macro AUROC with its interval, and the inputs the model was trained on). The temperature is
fitted on the validation probabilities only; ECE is reported on validation (before/after) and test (after).
Thresholds: F1-optimal per class on the calibrated validation probabilities (vizecg.metrics.choose_thresholds).
Read with torch.load(weights_only=True); written in fp16 unless --fp32 (checked: the fp16 model's logits on
the validation pages must match the fp32 model's, else export stops).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from vizecg.errors import DataError, ModelError
from vizecg.predict.calibration import expected_calibration_error, fit_temperature, logit, sigmoid
from vizecg.predict.classifier import CLASSIFIER_FORMAT


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
    z = logit(val_probs)
    t = fit_temperature(z, val_targets)
    cal: dict[str, Any] = {"method": "temperature", "temperature": round(t, 4),
                           "ece_val_before": round(expected_calibration_error(val_probs, val_targets), 4),
                           "ece_val_after": round(expected_calibration_error(sigmoid(z / t), val_targets), 4)}
    if test_probs is not None and test_targets is not None:
        cal["ece_test_before"] = round(expected_calibration_error(test_probs, test_targets), 4)
        cal["ece_test_after"] = round(expected_calibration_error(sigmoid(logit(test_probs) / t), test_targets), 4)
    return cal


def export_run(run: str | Path, out: str | Path, task: str = "superclass", fp16: bool = True,
               card: dict[str, Any] | None = None) -> dict[str, Any]:
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
    cal["fitted_on"] = f"PTB-XL fold(s) {cfg['val_folds']} (validation, {len(pred['val_probs'])} photographed pages, " \
                       f"{crops} beat crops)"
    t = cal["temperature"]
    classes = list(results["tasks"][task]["classes"])
    thr = M.choose_thresholds(sigmoid(logit(pred["val_probs"]) / t), pred["val_targets"])
    thresholds = {c: round(float(v), 4) for c, v in zip(classes, thr)}
    inputs = {"page_height": cfg["page_height"], "page_width": cfg["page_width"], "crop_size": cfg["crop_size"],
              "max_beats": cfg["max_beats"], "grayscale": cfg["grayscale"]}
    key = f"{crops}_crops"
    ev = results["tasks"][task][key]["models"]["student"]
    info = {"name": Path(out).stem, "version": "1", "task": task, "classes": classes,
            "trained_on": f"PTB-XL ({cfg['source']}), folds {cfg['train_folds']}, {cfg['photo']} photographed "
                          f"{cfg['layout']} printouts",
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
        k = cfg["max_beats"]
        batch = {"page": torch.rand(8, 3, cfg["page_height"], cfg["page_width"], generator=g),
                 "beats": torch.rand(8, k, 3, cfg["crop_size"], cfg["crop_size"], generator=g),
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vizecg.predict.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a `vizecg benchmark` output folder")
    p.add_argument("--out", required=True, help="the classifier file to write (.pt)")
    p.add_argument("--task", default="superclass")
    p.add_argument("--fp32", action="store_true", help="keep fp32 weights")
    args = p.parse_args(argv)
    try:
        summary = export_run(args.run, args.out, args.task, fp16=not args.fp32)
    except (DataError, ModelError) as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Why does the student keep little of the teacher's gain? What the teacher's soft labels carry on the pages the
student is distilled on, against pages neither saw, for a finished benchmark run.

    .venv/bin/python benchmarks/kd_diagnosis.py --run runs/bench_cpu_s0 [--out benchmarks/results/kd_diagnosis.json]

For the teacher and the image baseline, on the training pages (what the student is distilled on) and the
validation pages: macro AUROC, mean |p - y| (how close the soft labels are to the hard ones), and the mean
Bernoulli entropy of the teacher's probabilities at the distillation temperature (how much "dark knowledge" is
left). And on the test pages: how closely the student follows the teacher (Pearson r of their logits, per class
averaged) against the image baseline. Crops as the run trained (train_crops).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a finished vizecg benchmark output folder")
    p.add_argument("--task", default="superclass")
    p.add_argument("--out", help="also write the numbers here (JSON)")
    args = p.parse_args(argv)

    from distill.data import MULTILABEL
    from distill.train import TrainConfig, model_from_checkpoint, page_dataset, predict
    from experiments.benchmark import EVAL_FIELDS, _loader, detector_boxes, trains_on_detector
    from experiments.config import load_benchmark_config
    from vizecg import metrics as M
    from vizecg.config import load_config
    from vizecg.predict.calibration import logit
    from vizecg.runs import write_json

    run = Path(args.run)
    cfg = load_benchmark_config(run / "config.yaml")
    boxes_fn, tag, _ = detector_boxes(cfg.detector_weights) if cfg.train_crops == "detector" else (None, None, "")
    out: dict = {"run": str(run), "train_crops": cfg.train_crops}
    for kind in ("teacher", "image"):
        tcfg = load_config(TrainConfig, run / args.task / kind / "config.yaml")
        model, _ = model_from_checkpoint(run / args.task / kind / "best.pt")
        fn = boxes_fn if trains_on_detector(cfg, kind) else None
        rows = {}
        for split in ("train", "val"):
            # as training read them: the left-out print-style families are not among these pages
            ds = page_dataset(tcfg.data, EVAL_FIELDS[kind], **cfg.selection(split), boxes_fn=fn,
                              boxes_tag=tag if fn else None, exclude_families=tuple(tcfg.data.exclude_families))
            probs, targets = predict(model, _loader(ds, tcfg.data), cfg.device, MULTILABEL[args.task])
            T = cfg.student.loss.temperature
            soft = 1 / (1 + np.exp(-logit(probs) / T))
            entropy = -(soft * np.log(soft) + (1 - soft) * np.log(1 - soft)).mean()
            rows[split] = {"pages": len(ds), "macro_auroc": M.fast_macro_auroc(probs, targets),
                           "mean_abs_error": float(np.abs(probs - targets).mean()),
                           f"entropy_at_T{T:g}": float(entropy)}
        out[kind] = rows
    preds = {k: np.load(run / args.task / k / f"pred-{'detector' if cfg.train_crops == 'detector' else 'truth'}.npz")
             for k in ("teacher", "student", "image")}
    z = {k: logit(v["test_probs"]) for k, v in preds.items()}
    out["test_logit_r_with_teacher"] = {k: float(np.mean([np.corrcoef(z[k][:, c], z["teacher"][:, c])[0, 1]
                                                          for c in range(z[k].shape[1])])) for k in ("student", "image")}
    if args.out:
        write_json(args.out, out)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

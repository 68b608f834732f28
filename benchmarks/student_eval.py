"""The shipped student on the PTB-XL validation and test folds, read as `vizecg predict` reads a page (the
shipped detector's beat crops), with the benchmark's own data, metric and bootstrap code.

    .venv/bin/python benchmarks/student_eval.py --run runs/student_small_kd --render runs/student_small/render

Writes RUN/superclass/student/pred-detector.npz and pred-truth.npz (val/test probabilities and targets, as
`vizecg benchmark` does) and RUN/results.json (test macro AUROC with a seeded 1000-resample bootstrap 95% interval
over test records, per-class AUROC, inputs), which `python -m vizecg.predict.export --run RUN` reads.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="folder holding superclass/student/best.pt")
    p.add_argument("--render", required=True, help="the render folder the student was trained on")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import torch
    import yaml

    from experiments.benchmark import detector_boxes
    from distill.data import TASK_CLASSES, PageDataset, collate
    from distill.train import model_from_checkpoint, predict
    from vizecg import metrics as M
    from vizecg.offline import configure_offline
    from vizecg.runs import atomic_write_bytes, write_json

    configure_offline()
    run = Path(args.run)
    sdir = run / "superclass" / "student"
    model, ckpt = model_from_checkpoint(sdir / "best.pt")
    tcfg = yaml.safe_load((sdir / "config.yaml").read_text())
    d = tcfg["data"]
    boxes_fn, tag, note = detector_boxes("auto")
    classes = list(TASK_CLASSES["superclass"])
    evals, t0 = {}, time.perf_counter()
    for crops, fn in (("truth", None), ("detector", boxes_fn)):
        if crops == "detector" and fn is None:
            continue
        out = {}
        for split, folds in (("val", d["val_folds"]), ("test", [10])):
            ds = PageDataset(args.render, task="superclass", fields=("page", "beats"),
                             page_size=(d["page_height"], d["page_width"]), grayscale=d["grayscale"],
                             max_beats=d["max_beats"], folds=folds, crop_size=(d["crop_size"], d["crop_size"]),
                             boxes_fn=fn, boxes_tag=tag if fn else None)
            loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=False,
                                                 collate_fn=lambda items: collate(items, d["max_beats"]))
            probs, targets = predict(model, loader, "cpu", True)
            out[f"{split}_probs"], out[f"{split}_targets"] = probs, targets
            out[f"{split}_records"] = np.asarray([p.record_id for p in ds.pages], dtype=str)
        buf = io.BytesIO()
        np.savez(buf, **out)
        atomic_write_bytes(sdir / f"pred-{crops}.npz", buf.getvalue())
        boot = M.bootstrap_metric(M.fast_macro_auroc, out["test_targets"], {"student": out["test_probs"]}, (),
                                  n_resamples=args.bootstrap, seed=args.seed, groups=out["test_records"])
        evals[f"{crops}_crops"] = {"models": {"student": {
            "macro_auroc": boot["models"]["student"] | {"sklearn": M.macro_auroc(out["test_probs"], out["test_targets"])},
            "val_macro_auroc": M.macro_auroc(out["val_probs"], out["val_targets"]),
            "per_class_auroc": dict(zip(classes, M.per_class_auroc(out["test_probs"], out["test_targets"]).tolist()))}},
            "n_test": int(len(out["test_probs"])), "n_val": int(len(out["val_probs"]))}
    params = sum(p.numel() for p in model.parameters())
    results = {"config": {"source": "ptbxl:/work/shared/data/ptbxl@500", "train_folds": d["train_folds"],
                          "val_folds": d["val_folds"], "test_folds": [10], "photo": "mixed", "layout": "3x4+1",
                          "page_height": d["page_height"], "page_width": d["page_width"],
                          "crop_size": d["crop_size"], "max_beats": d["max_beats"], "grayscale": d["grayscale"]},
               "detector": note, "tasks": {"superclass": {"classes": classes, **evals,
                                                          "models": {"student": {"params": params}}}},
               "seconds": round(time.perf_counter() - t0, 1)}
    write_json(run / "results.json", results)
    for key, ev in evals.items():
        a = ev["models"]["student"]["macro_auroc"]
        print(f"{key:<15} test macro AUROC {a['point']:.3f} [{a['lo']:.3f}, {a['hi']:.3f}] on {ev['n_test']} pages; "
              f"val {ev['models']['student']['val_macro_auroc']:.3f}")
    print(f"-> {run / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

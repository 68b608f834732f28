"""The benchmark's report: test metrics with bootstrap intervals and paired comparisons, written as results.json,
results.md and roc.png (one panel per class, one line per model).

evaluate() takes the models' val/test predictions (experiments.benchmark's pred-<crops>.npz) and nothing else, so
the numbers of a results file can be recomputed from its predictions alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vizecg.errors import DataError

# "digitized": no model of its own but a route: the signal model reading the photo through the digitizer.
DIGITIZED = "digitized"
LABELS = {"signal": "signal-only", "image": "image baseline", "teacher": "teacher", "student": "student",
          DIGITIZED: "signal-only, digitized photo"}
INPUTS = {"signal": "true signal", "image": "photo", "teacher": "photo + true signal", "student": "photo",
          DIGITIZED: "photo -> digitizer"}
PAIRS = (("student", "image", "diff"), ("student", "signal", "ratio"), ("student", DIGITIZED, "diff"))


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


def write_outputs(results: dict[str, Any], out: Path) -> None:
    """results.json, results.md and roc.png (every class of every task: one panel each, one line per model)."""
    from vizecg.report import plot_roc, to_markdown
    from vizecg.runs import atomic_write_text, write_json

    panels = [p for t in results["tasks"].values() for p in t.pop("_curves", [])]
    plot_roc(panels, out / "roc.png", title=f"ROC on the test split ({results['profile']} profile, "
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
        split = results.get("split", {})
        rule = ("the config's folds" if split.get("rule") == "folds" else
                "the one fold rule: PTB-XL strat_fold 1-8 train, 9 val, 10 test, else the source's split")
        blocks.append(("p", f"Test split ({rule}): {ev['n_test']} pages of {ev['n_test_records']} records "
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
                    if results["config"]["render"]["layout"] == "3x4+1" else "")
            blocks.append(("p", f"Digitized route: the signal-only model (trained on true signals) reads what the "
                                f"digitizer recovers from each photo; it recovered {read['mean']:.0%} of the "
                                f"12 leads x 10 s on average{most}; {read['pages_unread']} test page(s) "
                                "rejected. Its CPU ms/page includes the digitizer."))
        if not binary:
            blocks.append((sub, "Per-class AUROC (ground-truth crops)"))
            blocks.append(("table", ["model", *t["classes"]],
                           [[t["models"][k]["label"], *(fmt(v) for v in ev["models"][k]["per_class_auroc"].values())]
                            for k in t["models"]]))
    trained = {"detector": "the detector's crops"}.get(results.get("train_crops", "truth"), "ground-truth crops")
    blocks.append(("p", f"Image models trained and validated on {trained}. Beat crops at evaluation: ground "
                        f"truth and {det['note']}. Macro F1, "
                        "precision, recall and accuracy use per-class thresholds chosen (F1-optimal) on the "
                        "validation split and applied unchanged to the test split; accuracy is exact-match. "
                        "CPU ms/page: median model forward, batch 1, inputs already decoded."))
    return blocks

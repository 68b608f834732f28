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
    for k in kinds:
        models[k]["calibration"] = calibration(preds[k])
    comparisons = {f"{m}:{name}": v for m in ("macro_auroc", "macro_auprc") for name, v in stats[m]["pairs"].items()}
    return {"n_test": int(len(targets)), "n_test_records": int(len(np.unique(groups))),
            "positives": dict(zip(class_names, np.asarray(targets).reshape(len(targets), -1).sum(0).astype(int).tolist())),
            "models": models, "comparisons": comparisons}


def calibration(pred: dict[str, np.ndarray], bins: int = 10) -> dict[str, Any]:
    """Calibration of one model, fitted on its validation predictions (vizecg.predict.calibration): one
    temperature, and per-class Platt scaling (slope and bias per class: it also undoes the base rates that class
    weights in training shift). The test split's expected calibration error before, after the temperature and
    after Platt (ece_after), and the test reliability table after Platt (per equal-width bin: pairs, mean
    probability, observed rate; over every (page, class) pair)."""
    from vizecg.predict.calibration import (apply_platt, expected_calibration_error, fit_platt, fit_temperature,
                                            logit, reliability_table, sigmoid)

    val_z = logit(pred["val_probs"])
    t = fit_temperature(val_z, pred["val_targets"])
    slopes, biases = fit_platt(val_z, pred["val_targets"])
    test_p, test_y = np.asarray(pred["test_probs"], np.float64), np.asarray(pred["test_targets"], np.float64)
    test_y = test_y.reshape(test_p.shape)
    after = apply_platt(logit(test_p), slopes, biases)
    return {"method": "platt per class", "fitted_on": "val", "temperature": t,
            "platt": {"slopes": slopes.tolist(), "biases": biases.tolist()},
            "ece_before": expected_calibration_error(test_p, test_y, bins),
            "ece_after_temperature": expected_calibration_error(sigmoid(logit(test_p) / t), test_y, bins),
            "ece_after": expected_calibration_error(after, test_y, bins),
            "reliability_after": reliability_table(after, test_y, bins)}


def page_groups(render_dir: Path, page_ids: Any) -> dict[str, dict[str, str]]:
    """Each page's print-style family ('' for a fixed or random style) and capture condition (the photo preset
    it went through, vizecg.data.render_folder.photo_condition), read from the render folder."""
    from vizecg.data import RenderFolder
    from vizecg.data.render_folder import photo_condition

    by_id = {p.id: p for p in RenderFolder(render_dir).pages}
    out = {}
    for pid in map(str, page_ids):
        page = by_id.get(pid)
        if page is None:
            raise DataError(f"page {pid} is not in the render folder's manifest", render_dir / "manifest.csv")
        params = page.read_label().get("photo_params")
        out[pid] = {"family": page.family, "capture": photo_condition(params, page.photo)}
    return out


def evaluate_groups(preds: dict[str, dict[str, np.ndarray]], class_names: list[str], groups: dict[str, dict[str, str]],
                    left_out: list[str], n_resamples: int, seed: int, level: float = 0.95) -> dict[str, Any]:
    """Test macro AUROC per print-style family and per capture condition (points: a family holds a few dozen
    pages), and the pages of families seen in training against the left-out ones (full evaluate(), intervals
    and paired comparisons), for predictions of the same test pages."""
    from vizecg import metrics as M

    ids = [str(i) for i in next(iter(preds.values()))["test_ids"]]

    def subset(mask: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        return {k: {**v, **{f: np.asarray(v[f])[mask] for f in ("test_probs", "test_targets", "test_records",
                                                                 "test_ids")}} for k, v in preds.items()}

    out: dict[str, Any] = {}
    for axis in ("family", "capture"):
        values = np.asarray([groups[i][axis] for i in ids])
        rows = {}
        for name in sorted(set(values)):
            mask = values == name
            rows[name or "(none)"] = {
                "n": int(mask.sum()), "left_out": axis == "family" and name in left_out,
                "macro_auroc": {k: M.fast_macro_auroc(np.asarray(v["test_probs"])[mask],
                                                      np.asarray(v["test_targets"])[mask]) for k, v in preds.items()}}
        out[f"by_{axis}"] = rows
    if left_out:
        unseen = np.asarray([groups[i]["family"] in left_out for i in ids])
        for name, mask in (("seen_families", ~unseen), ("left_out_families", unseen)):
            out[name] = evaluate(subset(mask), class_names, n_resamples, seed, level) if mask.any() else None
    return out


def write_outputs(results: dict[str, Any], out: Path) -> None:
    """results.json, results.md and roc.png (every class of every task: one panel each, one line per model)."""
    from vizecg.report import plot_roc, to_markdown
    from vizecg.runs import atomic_write_text, write_json

    panels = [p for t in results["tasks"].values() for p in t.pop("_curves", [])]
    plot_roc(panels, out / "roc.png", title=f"ROC on the test split ({results['profile']} profile, "
                                             "ground-truth beat crops)")
    plot_reliability(results, out / "reliability.png")
    write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", to_markdown(results_blocks(results)))


def plot_reliability(results: dict[str, Any], path: Path) -> None:
    """Reliability diagrams after temperature scaling: one panel per task and crops, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vizecg.report import save_figure

    panels = [(f"{task}, {crops.split('_')[0]} crops", ev) for task, t in results["tasks"].items()
              for crops in ("truth_crops", "detector_crops") if (ev := t.get(crops))]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 4), squeeze=False)
    for ax, (title, ev) in zip(axes[0], panels):
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
        for kind, m in ev["models"].items():
            cal = m["calibration"]
            pts = [(b["mean_probability"], b["observed"]) for b in cal["reliability_after"] if b["n"] >= 5]
            if pts:
                x, y = zip(*pts)
                ax.plot(x, y, marker="o", ms=3, label=f"{LABELS[kind]} (ECE {cal['ece_after']:.3f})")
        ax.set(title=title, xlabel="predicted probability (after per-class Platt)", ylabel="observed rate", xlim=(0, 1),
               ylim=(0, 1))
        ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


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
            render = results["config"]["render"]
            most = (" (a 3x4+1 page shows 2.5 s of 11 leads and 10 s of lead II: 31% at most)"
                    if render["layout"] == "3x4+1" and render.get("style") != "families" else "")
            blocks.append(("p", f"Digitized route: the signal-only model (trained on true signals) reads what the "
                                f"digitizer recovers from each photo; it recovered {read['mean']:.0%} of the "
                                f"12 leads x 10 s on average{most}; {read['pages_unread']} test page(s) "
                                "rejected. Its CPU ms/page includes the digitizer."))
        if not binary:
            blocks.append((sub, "Per-class AUROC (ground-truth crops)"))
            blocks.append(("table", ["model", *t["classes"]],
                           [[t["models"][k]["label"], *(fmt(v) for v in ev["models"][k]["per_class_auroc"].values())]
                            for k in t["models"]]))
        crops = "detector" if dv else "truth"
        cal_ev = dv or ev
        blocks.append((sub, f"Calibration ({crops} crops): fitted on the validation split (one temperature T; "
                            "per-class Platt scaling), expected calibration error on the test split (10 bins, "
                            "every page x class)"))
        blocks.append(("table", ["model", "T", "ECE before", "ECE after T", "ECE after per-class Platt"],
                       [[t["models"][k]["label"], fmt(m["calibration"]["temperature"], 2),
                         fmt(m["calibration"]["ece_before"]), fmt(m["calibration"]["ece_after_temperature"]),
                         fmt(m["calibration"]["ece_after"])] for k, m in cal_ev["models"].items()]))
        g = (t.get("groups") or {}).get(f"{crops}_crops")
        if g:
            kinds = list(t["models"])
            for axis, what in (("family", "print-style family (* left out of training and validation)"),
                               ("capture", "capture condition")):
                blocks.append((sub, f"Macro AUROC per {what}, {crops} crops (points; a few dozen pages each)"))
                blocks.append(("table", [axis, "pages", *(t["models"][k]["label"] for k in kinds)],
                               [[f"{name}{' *' if r['left_out'] else ''}", str(r["n"]),
                                 *(fmt(r["macro_auroc"][k]) for k in kinds)] for name, r in g[f"by_{axis}"].items()]))
            if g.get("left_out_families") and g.get("seen_families"):
                seen, unseen = g["seen_families"], g["left_out_families"]
                blocks.append((sub, f"Families seen in training vs left out ({crops} crops)"))
                rows = [[t["models"][k]["label"], fmt_ci(seen["models"][k]["macro_auroc"]),
                         fmt_ci(unseen["models"][k]["macro_auroc"])] for k in kinds]
                key = "macro_auroc:student-image"
                if key in seen["comparisons"]:
                    rows.append(["student − image baseline", fmt_ci(seen["comparisons"][key], signed=True),
                                 fmt_ci(unseen["comparisons"].get(key), signed=True)])
                blocks.append(("table", ["model", f"seen families ({seen['n_test']} pages)",
                                         f"left-out families ({unseen['n_test']} pages)"], rows))
    trained = {"detector": "the detector's crops"}.get(results.get("train_crops", "truth"), "ground-truth crops")
    blocks.append(("p", f"Image models trained and validated on {trained}. Beat crops at evaluation: ground "
                        f"truth and {det['note']}. Macro F1, "
                        "precision, recall and accuracy use per-class thresholds chosen (F1-optimal) on the "
                        "validation split and applied unchanged to the test split; accuracy is exact-match. "
                        "CPU ms/page: median model forward, batch 1, inputs already decoded."))
    return blocks

"""The headline of one or more benchmark runs, one per training seed: means over seeds, their spread, and paired
intervals of the seed-mean on the same bootstrap resamples of the test records.

    .venv/bin/python -m experiments.summary runs/bench_cpu_s0 runs/bench_cpu_s1 runs/bench_cpu_s2 \
        --out benchmarks/results/benchmark_cpu.json

Each run is a `vizecg benchmark` output folder (its results.json and the models' pred-<crops>.npz). The runs must
test the same records (the seed changes the pages' print styles and photos, not the split); pages are paired by
record. The numbers come from the predictions alone, as experiments.report's do.

Run folders are large and live outside git (a new machine starts without them); `--archive DIR` keeps what the
summary reads of each run (results.json and the models' test predictions, a few kB each) under DIR/<run name>, a
folder the summary reads as a run, so that a later summary over more seeds can be made after the run folders are
gone:

    .venv/bin/python -m experiments.summary runs/bench_cpu_s2 --archive benchmarks/results/benchmark_cpu_runs

`--merge A.json B.json` makes one summary over the seeds of summaries made earlier (`merge`): means and spread
over every seed from their per-seed rows; paired intervals stay each part's own.

`--compare A B` sets two runs of the same seed and pages side by side that differ in a setting (`compare`: for
example the global branch, DenseNet121 against the cpu profile's ResNet18): each model's macro AUROC in both and
B - A with its paired interval, and the settings that differ.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from experiments.report import DIGITIZED
from vizecg.errors import DataError, VizEcgError

# results.json's kinds and the names the summary gives them
NAMES = {"signal": "signal", "image": "image_baseline", "teacher": "teacher", "student": "student",
         DIGITIZED: "digitized"}
EXTRA = {"dwt_pca": "dwt_pca"}  # rows made beside a run (experiments.classical), summarised where every run has one


TEST_KEYS = ("test_probs", "test_targets", "test_records")


def _pred_path(run: Path, task: str, kind: str, crops: str) -> Path:
    if kind == DIGITIZED:  # the signal model reading the digitizer's signal
        return run / task / "signal" / f"pred-{DIGITIZED}.npz"
    if kind == "signal" or kind in EXTRA:  # read no crops
        return run / task / kind / "pred-truth.npz"
    return run / task / kind / f"pred-{crops}.npz"


def _load(run: Path, task: str, kind: str, crops: str) -> dict[str, np.ndarray]:
    path = _pred_path(run, task, kind, crops)
    if not path.is_file():
        raise DataError("predictions missing: run the benchmark to its end first", path)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in TEST_KEYS}


def _aligned(runs: list[Path], task: str, kinds: list[str], crops: str) -> tuple[np.ndarray, dict[str, np.ndarray],
                                                                                 np.ndarray]:
    """(targets (n, C), {kind: probs (n, seeds, C)}, records (n,)): every run's test pages ordered by record."""
    records, targets, probs = None, None, {k: [] for k in kinds}
    for run in runs:
        for kind in kinds:
            p = _load(run, task, kind, crops)
            order = np.argsort(p["test_records"], kind="mergesort")
            recs, y = p["test_records"][order], np.asarray(p["test_targets"])[order]
            if len(np.unique(recs)) != len(recs):
                raise DataError("a record has more than one test page; the summary pairs one page per record",
                                run / task / kind)
            if records is None:
                records, targets = recs, y
            elif not (np.array_equal(recs, records) and np.array_equal(y.reshape(targets.shape), targets)):
                raise DataError("these runs tested other records (or labels) than the first run", run)
            probs[kind].append(np.asarray(p["test_probs"])[order])
    return targets.reshape(len(targets), -1), {k: np.stack(v, axis=1) for k, v in probs.items()}, records


def _read_results(run: Path, task: str) -> dict[str, Any]:
    path = run / "results.json"
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"not a finished benchmark run ({type(exc).__name__})", path) from None
    if task not in results["tasks"]:
        raise DataError(f"the run has no task {task!r}", path)
    return results


def _kinds(runs: list[Path], results: dict[str, Any], task: str) -> tuple[list[str], str]:
    """The summarised models (results.json's kinds, and the extra rows every run has) and the crops they read."""
    first = results["tasks"][task]
    kinds = [k for k in NAMES if k in first["models"]]
    kinds += [k for k in EXTRA if all((r / task / k / "pred-truth.npz").is_file() for r in runs)]
    return kinds, "detector" if first.get("detector_crops") else "truth"


def archive(run: str | Path, dest: str | Path, task: str = "superclass") -> Path:
    """Copy what `summarize` reads of `run` (results.json, the test predictions) to dest/<run name>; returns it."""
    from vizecg.runs import write_json

    run = Path(run)
    results = _read_results(run, task)
    kinds, crops = _kinds([run], results, task)
    out = Path(dest) / run.name
    for kind in kinds:
        pred = _load(run, task, kind, crops)
        path = out / _pred_path(run, task, kind, crops).relative_to(run)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, **pred)
        tmp.replace(path)
    write_json(out / "results.json", results)  # last: a folder with results.json is a whole archive
    return out


def summarize(runs: list[str | Path], task: str = "superclass", n_resamples: int = 1000,
              level: float = 0.95, seconds: list[float] | None = None) -> dict[str, Any]:
    """The summary of `runs` (benchmark output folders, one per seed): see the module docstring. seconds: each
    run's measured wall time, where it was resumed (results.json's total counts only its last invocation)."""
    from vizecg import metrics as M

    runs = [Path(r) for r in runs]
    results = [_read_results(run, task) for run in runs]
    seeds = [r["seed"] for r in results]
    if len(set(seeds)) != len(seeds):
        raise DataError(f"two runs of the same seed ({seeds}): give one run per seed", runs[0])
    kinds, crops = _kinds(runs, results[0], task)
    targets, probs, records = _aligned(runs, task, kinds, crops)

    def seed_mean(p: np.ndarray, t: np.ndarray) -> float:  # p: (n, seeds, C)
        return float(np.mean([M.fast_macro_auroc(p[:, s], t) for s in range(p.shape[1])]))

    pairs = [("student", "image", "diff"), ("student", "signal", "ratio")]
    boot = M.bootstrap_metric(seed_mean, targets, probs, [p for p in pairs if p[0] in kinds and p[1] in kinds],
                              n_resamples=n_resamples, seed=0, groups=records, level=level)
    names = {**NAMES, **EXTRA}
    per_seed = [{"seed": s, **{names[k]: M.fast_macro_auroc(probs[k][:, i], targets) for k in kinds}}
                for i, s in enumerate(seeds)]

    def pair(key: str) -> dict[str, Any] | None:
        b = boot["pairs"].get(key)
        return None if b is None else {"value": b["point"], "ci95": [b["lo"], b["hi"]], "resamples": b["n"]}

    evals = [r["tasks"][task][f"{crops}_crops"] for r in results]
    ece = {names[k]: {key: float(np.mean([e["models"][k]["calibration"][field] for e in evals]))
                      for key, field in (("before", "ece_before"), ("after_temperature", "ece_after_temperature"),
                                         ("after", "ece_after"))}
           for k in kinds if k in evals[0]["models"] and "calibration" in evals[0]["models"][k]}
    commits = sorted({r["code"].get("commit") or "unknown" for r in results})
    return {
        "commit": commits[0] if len(commits) == 1 else commits, "task": task, "profile": results[0]["profile"],
        "source": results[0]["source"], "records": int(sum(results[0]["split"]["pages"].values())),
        "test_records": int(len(records)), "crops": crops, "train_crops": results[0].get("train_crops", "truth"),
        "seeds": seeds,
        "macro_auroc": {**{names[k]: boot["models"][k]["point"] for k in kinds},
                        "ci95": {names[k]: [boot["models"][k]["lo"], boot["models"][k]["hi"]] for k in kinds},
                        "spread": {names[k]: float(np.std([s[names[k]] for s in per_seed])) for k in kinds},
                        "seeds": per_seed},
        "student_minus_image": pair("student-image"), "student_over_signal": pair("student/signal"),
        "ece": ece,
        "seconds": list(seconds) if seconds else [r["timings_s"]["total_s"] for r in results],
        "seconds_source": "given (measured wall time of each run)" if seconds else
                          "results.json total_s (the last invocation: a resumed run counts only what it redid)",
        "runs": [str(r) for r in runs], "bootstrap": {"resamples": n_resamples, "level": level, "over": "test records"},
    }


def merge(summaries: list[dict[str, Any]], sources: list[str] | None = None) -> dict[str, Any]:
    """One summary over the seeds of several (each made by `summarize` over its own runs), for runs whose
    predictions are no longer all at hand: the means and spread over every seed come from the per-seed rows, and
    so does student - image baseline (the mean of its per-seed values); a paired interval needs every seed's
    predictions on the same resamples, so the merged one has none, and each part's own stays beside it
    (`parts`). The parts must summarise the same task, profile, records and crops, and no seed twice."""
    if not summaries:
        raise DataError("nothing to merge", ".")
    sources = sources or [f"summary {i + 1}" for i in range(len(summaries))]
    keys = ("task", "profile", "records", "test_records", "crops")
    first = summaries[0]
    for k, other in enumerate(summaries[1:], 1):
        diff = [key for key in keys if other.get(key) != first.get(key)]
        if diff:
            raise DataError(f"summaries differ in {', '.join(diff)}: not one benchmark", sources[k])
    rows = [row for s in summaries for row in s["macro_auroc"]["seeds"]]
    seeds = [row["seed"] for row in rows]
    if len(set(seeds)) != len(seeds):
        raise DataError(f"a seed appears in more than one summary ({seeds})", sources[0])
    names = [n for n in first["macro_auroc"]["seeds"][0] if n != "seed" and all(n in r for r in rows)]
    mean = {n: float(np.mean([r[n] for r in rows])) for n in names}
    diffs = [r["student"] - r["image_baseline"] for r in rows if "student" in r and "image_baseline" in r]
    ratios = [r["student"] / r["signal"] for r in rows if "student" in r and "signal" in r]
    eces = [s.get("ece") or {} for s in summaries]
    weights = [len(s.get("seeds") or [0]) for s in summaries]
    ece = {m: {k: float(np.average([e[m][k] for e in eces], weights=weights)) for k in eces[0][m]}
           for m in eces[0] if all(m in e and set(e[m]) >= set(eces[0][m]) for e in eces)}
    commit_of = [s.get("commit") or "unknown" for s in summaries]
    commits = sorted({c for cs in commit_of for c in ([cs] if isinstance(cs, str) else cs)})

    def part(s: dict[str, Any], src: str, commit: Any) -> dict[str, Any]:
        return {"source": src, "seeds": [r["seed"] for r in s["macro_auroc"]["seeds"]], "commit": commit,
                "macro_auroc_ci95": s["macro_auroc"].get("ci95"), "student_minus_image": s.get("student_minus_image"),
                "student_over_signal": s.get("student_over_signal")}

    return {
        "commit": commits[0] if len(commits) == 1 else commits, **{k: first[k] for k in keys},
        "train_crops": first.get("train_crops"), "seeds": seeds,
        "macro_auroc": {**mean, "spread": {n: float(np.std([r[n] for r in rows])) for n in names}, "seeds": rows},
        "student_minus_image": {"value": float(np.mean(diffs)) if diffs else None, "ci95": None,
                                "per_seed": diffs, "ci95_note": "paired intervals per part (parts)"},
        "student_over_signal": {"value": float(np.mean(ratios)) if ratios else None, "ci95": None},
        "ece": ece, "seconds": [x for s in summaries for x in s.get("seconds") or []],
        "parts": [part(s, src, c) for s, src, c in zip(summaries, sources, commit_of)],
        "bootstrap": first.get("bootstrap"),
    }


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        return {k: v for key, val in obj.items() for k, v in _flat(val, f"{prefix}{key}.").items()}
    return {prefix[:-1]: obj}


def compare(run_a: str | Path, run_b: str | Path, task: str = "superclass", n_resamples: int = 1000,
            level: float = 0.95) -> dict[str, Any]:
    """Two runs of one seed on the same pages that differ in a setting: per model (those both hold) the macro
    AUROC of each and B - A on the same bootstrap resamples of the test records; `settings`: what differs in
    their resolved configs. Refused unless both ran the same seed and test the same records and labels."""
    from vizecg import metrics as M

    runs = [Path(run_a), Path(run_b)]
    results = [_read_results(run, task) for run in runs]
    if results[0]["seed"] != results[1]["seed"]:
        raise DataError(f"runs of seeds {results[0]['seed']} and {results[1]['seed']}: a comparison of a setting "
                        f"needs the same seed (the same pages and initial weights)", runs[1])
    (kinds_a, crops), (kinds_b, crops_b) = (_kinds([r], res, task) for r, res in zip(runs, results))
    if crops != crops_b:
        raise DataError(f"one run has {crops} crops, the other {crops_b}", runs[1])
    kinds = [k for k in kinds_a if k in kinds_b]
    targets, probs_a, records = _aligned(runs[:1], task, kinds, crops)
    targets_b, probs_b, records_b = _aligned(runs[1:], task, kinds, crops)
    if not (np.array_equal(records, records_b) and np.array_equal(targets, targets_b)):
        raise DataError("the two runs tested other records (or labels)", runs[1])
    probs = {f"{k}@{side}": p[k][:, 0] for k in kinds for side, p in (("a", probs_a), ("b", probs_b))}
    boot = M.bootstrap_metric(M.fast_macro_auroc, targets, probs, [(f"{k}@b", f"{k}@a", "diff") for k in kinds],
                              n_resamples=n_resamples, seed=0, groups=records, level=level)
    names = {**NAMES, **EXTRA}

    def row(k: str) -> dict[str, Any]:
        a, b, d = boot["models"][f"{k}@a"], boot["models"][f"{k}@b"], boot["pairs"][f"{k}@b-{k}@a"]
        return {"a": a["point"], "a_ci95": [a["lo"], a["hi"]], "b": b["point"], "b_ci95": [b["lo"], b["hi"]],
                "b_minus_a": {"value": d["point"], "ci95": [d["lo"], d["hi"]], "resamples": d["n"]}}

    flat = [_flat(r["config"]) for r in results]
    settings = {key: [flat[0].get(key), flat[1].get(key)] for key in sorted(set(flat[0]) | set(flat[1]))
                if flat[0].get(key) != flat[1].get(key)}
    models = {names[k]: {**row(k), **{f"{side}_train_s": r["tasks"][task]["models"].get(k, {}).get("train_time_s")
                                      for side, r in (("a", results[0]), ("b", results[1]))}}
              for k in kinds}
    return {"task": task, "seed": results[0]["seed"], "test_records": int(len(records)), "crops": crops,
            "a": str(runs[0]), "b": str(runs[1]),
            "commits": [r["code"].get("commit") for r in results], "settings": settings, "macro_auroc": models,
            "bootstrap": {"resamples": n_resamples, "level": level, "over": "test records"}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="*", help="benchmark output folders, one per training seed")
    ap.add_argument("--merge", nargs="+", metavar="SUMMARY.json",
                    help="instead: merge summaries made earlier (each over its own seeds) into one over all seeds")
    ap.add_argument("--task", default="superclass")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seconds", type=float, nargs="+", help="each run's measured wall seconds (for resumed runs)")
    ap.add_argument("--out", help="write the summary here (JSON); always printed on stdout")
    ap.add_argument("--archive", metavar="DIR", help="also keep what the summary read of each run under DIR/<name>")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"),
                    help="instead: two runs of one seed that differ in a setting, B - A per model")
    args = ap.parse_args(argv)
    if args.seconds and len(args.seconds) != len(args.runs):
        print(f"error: --seconds gives {len(args.seconds)} value(s) for {len(args.runs)} run(s)", file=sys.stderr)
        return 2
    if sum(map(bool, (args.runs, args.merge, args.compare))) != 1:
        print("error: give benchmark run folders, --merge SUMMARY.json ... or --compare A B (one of them)",
              file=sys.stderr)
        return 2
    try:
        if args.compare:
            return _emit(compare(*args.compare, args.task, args.bootstrap), args.out)
        if args.merge:
            summary = merge([_read_summary(p) for p in args.merge], args.merge)
            return _emit(summary, args.out)
        summary = summarize(args.runs, args.task, args.bootstrap, seconds=args.seconds)
        for run in args.archive and args.runs or []:
            print(f"archived {run} -> {archive(run, args.archive, args.task)}", file=sys.stderr)
    except VizEcgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _emit(summary, args.out)


def _read_summary(path: str) -> dict[str, Any]:
    try:
        summary = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"not a benchmark summary ({type(exc).__name__})", path) from None
    if not (isinstance(summary, dict) and isinstance(summary.get("macro_auroc"), dict)
            and isinstance(summary["macro_auroc"].get("seeds"), list) and summary["macro_auroc"]["seeds"]):
        raise DataError("not a benchmark summary (no per-seed macro AUROC rows)", path)
    return summary


def _emit(summary: dict[str, Any], out: str | None) -> int:
    if out:
        from vizecg.runs import write_json

        write_json(out, summary)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Whole-system experiments: they render, detect, train, digitize and score, so they sit above the core (vizecg/),
detector/ and distill/ and wire them together; only the CLI imports them, inside the sub-command that runs them.

    experiments.config     BenchmarkConfig: the render job, the four models' training configs and the digitizer's
    experiments.benchmark  run_benchmark: render -> train -> predict -> report, each stage reused only when its
                           code, settings and inputs are those that made it
    experiments.report     evaluate (bootstrap intervals, paired comparisons), results.json / results.md / roc.png
    experiments.demo       run_demo: `vizecg demo`, the benchmark on the embedded sample with an HTML report
"""

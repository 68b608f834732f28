"""R-peak detector on the whole MIT-BIH Arrhythmia Database: sensitivity and positive predictivity.

    .venv/bin/python benchmarks/rpeaks.py [--root /work/shared/data/mitdb] [--channel 0]

All 48 records, whole length, channel 0, every beat annotation as reference, 150 ms tolerance, one-to-one
matching. Scored twice: on whole records, and EC57-style with ventricular flutter episodes left out
(record 207; its flutter waves are annotated "!", not as beats). Prints a per-record table (worst first)
and writes benchmarks/results/rpeaks.json.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from vizecg.runs import write_json
from vizecg.signal.peak_eval import evaluate_mitdb

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mitdb"
OUT = Path(__file__).resolve().parent / "results" / "rpeaks.json"
TARGET = 0.995


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"  # None: nothing to count (0 of 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(DEFAULT_ROOT))
    parser.add_argument("--channel", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    whole = evaluate_mitdb(args.root, channel=args.channel, progress=True)
    seconds = time.perf_counter() - start
    ec57 = evaluate_mitdb(args.root, channel=args.channel, exclude_rhythms=("VFL",))

    print(f"{'record':>7} {'TP':>6} {'FP':>5} {'FN':>5} {'Se %':>7} {'PPV %':>7}")
    worst = sorted(whole["records"].items(), key=lambda kv: -(kv[1]["fp"] + kv[1]["fn"]))
    for rid, r in worst:
        print(f"{rid:>7} {r['tp']:>6} {r['fp']:>5} {r['fn']:>5} {_pct(r['sensitivity']):>7} {_pct(r['ppv']):>7}")
    for name, res in (("whole records", whole), ("VFL excluded", ec57)):
        print(f"{name:>15}: TP {res['tp']} FP {res['fp']} FN {res['fn']}  Se {_pct(res['sensitivity'])} %  "
              f"PPV {_pct(res['ppv'])} %")
    print(f"detection + scoring time, 48 records: {seconds:.1f} s")
    write_json(OUT, {
        "benchmark": "rpeaks", "dataset": "MIT-BIH Arrhythmia Database v1.0.0", "channel": args.channel,
        "tolerance_s": whole["tolerance_s"], "target": {"sensitivity": TARGET, "ppv": TARGET},
        "whole_records": whole, "vfl_excluded": ec57, "seconds_whole_records": round(seconds, 1),
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
        "command": ".venv/bin/python benchmarks/rpeaks.py",
    })
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

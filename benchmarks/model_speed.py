"""Parameters and CPU forward time of the full-size models at the `cpu` profile sizes.

    .venv/bin/python benchmarks/model_speed.py [--batch 8] [--repeats 3] [--threads N]

Page 192x256 (H x W), 24 beat crops of 64x64 per page (all real: the worst case), 10 s of 12-lead signal at
100 Hz. Eval mode, no_grad, median of `repeats` timed runs after one warm-up
(wall time, and CPU time summed over threads, which is steadier on a shared machine). Prints a table and writes
benchmarks/results/model_speed.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from vizecg.models import create_model

CASES = [
    ("student", {}),
    ("teacher", {}),
    ("teacher", {"signal_encoder": "both"}),
    ("signal_resnet1d", {}),
    ("signal_resnet1d", {"signal_encoder": "scalogram"}),
]


def make_batch(b: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "page": torch.rand(b, 3, 192, 256, generator=g),  # (b, 3, H, W)
        "beats": torch.rand(b, 24, 3, 64, 64, generator=g),  # (b, k, 3, h, w)
        "beat_mask": torch.ones(b, 24, dtype=torch.bool),  # (b, k)
        "signal": torch.randn(b, 12, 1000, generator=g),  # (b, 12, t) 10 s at 100 Hz
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "model_speed.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = make_batch(args.batch)
    rows = []
    for name, kwargs in CASES:
        model = create_model(name, **kwargs).eval()
        with torch.no_grad():
            model(batch)  # warm-up
            times, cpu = [], []
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                model(batch)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        batch_ms = 1000 * statistics.median(times)
        rows.append({"model": name, "kwargs": kwargs, "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
                     "batch_ms": batch_ms, "ms_per_page": batch_ms / args.batch,
                     # CPU time (all threads) is the steadier number on a shared machine
                     "cpu_ms_per_page": 1000 * statistics.median(cpu) / args.batch})
    print(f"{'model':<40} {'params (M)':>10} {'ms/batch':>10} {'ms/page':>9} {'cpu ms/page':>11}")
    for r in rows:
        label = r["model"] + "".join(f" {k}={v}" for k, v in r["kwargs"].items())
        print(f"{label:<40} {r['params_m']:>10.2f} {r['batch_ms']:>10.0f} {r['ms_per_page']:>9.1f} {r['cpu_ms_per_page']:>11.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"batch": args.batch, "repeats": args.repeats, "threads": torch.get_num_threads(),
            "page_hw": [192, 256], "beats_per_page": 24, "beat_hw": [64, 64], "signal": [12, 1000],
            "torch": torch.__version__, "cpu": platform.processor() or platform.machine()}
    out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Beat-detector design choices on this CPU: what each option costs, and what it buys in object size.

Issue 4 asks which input size, head (P3-P5 or with a P2 level), tiling and model scale (n/s) a clinic laptop
can afford. Training each candidate to convergence costs hours here, so this script measures what can be
measured without it and states the rest:
  1. object size: beats, lead labels and calibration pulses of rendered pages (label JSONs of a `vizecg render`
     folder) in network-input pixels for each input size / tiling, against the smallest stride that sees them;
  2. CPU cost: parameters, GFLOPs and median forward latency (batch 1, 1 thread, untrained weights: latency
     does not depend on them) of each candidate, times the number of forward passes a page needs (tiles);
  3. quality at inference size: the shipped weights (trained at 640 on whole pages, +-30% zoom augmentation)
     evaluated on the same pages at several input sizes.

    .venv/bin/python benchmarks/detector_design.py --data runs/detector_data/ptbxl_mixed_s1000 [--folds 9]

Writes benchmarks/results/detector_design.json and prints the tables.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# (name, model yaml, input side, tile side in page px (0 = whole page letterboxed), finest head stride)
CANDIDATES = (
    ("n 640 (shipped)", "yolo11n.yaml", 640, 0, 8),
    ("n 960", "yolo11n.yaml", 960, 0, 8),
    ("n 1280", "yolo11n.yaml", 1280, 0, 8),
    ("n-P2 640", "yolo11n-p2.yaml", 640, 0, 4),
    ("s 640", "yolo11s.yaml", 640, 0, 8),
    ("n 640, 1120-px tiles", "yolo11n.yaml", 640, 1120, 8),
    ("n 640, 640-px tiles", "yolo11n.yaml", 640, 640, 8),
)
OBJECTS = {0: "beat", 1: "lead_label", 2: "calibration_pulse"}


def object_sizes(pairs: list, imgsz: int, tile: int, stride: int) -> dict[str, dict[str, float]]:
    """Median width/height (network pixels) of each small class, and the share whose short side is below the
    finest head's stride (smaller than one cell of its grid)."""
    from detector.dataset import page_truth_boxes
    from vizecg.data.render_folder import read_label

    sizes: dict[int, list[np.ndarray]] = {c: [] for c in OBJECTS}
    for _, label_path in pairs:
        label = read_label(label_path)
        boxes, cls = page_truth_boxes(label)
        side = tile if tile else max(label["width"], label["height"])
        gain = imgsz / side
        for c in OBJECTS:
            b = boxes[cls == c]
            sizes[c].append(np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1) * gain)
    out = {}
    for c, name in OBJECTS.items():
        wh = np.concatenate(sizes[c]) if sizes[c] else np.zeros((0, 2))
        out[name] = {"n": len(wh), "median_w": round(float(np.median(wh[:, 0])), 1),
                     "median_h": round(float(np.median(wh[:, 1])), 1),
                     "short_side_below_stride": round(float((wh.min(1) < stride).mean()), 3)}
    return out


def build(model_yaml: str, tmp: Path):
    """An untrained 4-class detection model from a yaml (ours in detector/cfg, else ultralytics')."""
    from vizecg.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    ours = REPO / "detector" / "cfg" / model_yaml.replace("yolo11n-", "yolo11-")
    if ours.is_file():  # ultralytics reads the scale from the file name: copy under the scaled name
        path = tmp / model_yaml
        shutil.copy(ours, path)
        model_yaml = str(path)
    return DetectionModel(model_yaml, nc=4, verbose=False).eval()


def forward_ms(model, imgsz: int, repeats: int) -> float:
    import torch

    x = torch.rand(1, 3, imgsz, imgsz)
    with torch.inference_mode():
        model(x)  # warm-up
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))


def n_tiles(shape: tuple[int, int], tile: int, overlap: float = 0.25) -> int:
    from detector.geometry import tile_windows

    return len(tile_windows(shape, tile, overlap)) if tile else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a `vizecg render` folder (labels + images)")
    p.add_argument("--folds", type=int, nargs="+", default=[9], help="PTB-XL folds of the pages to use")
    p.add_argument("--pages", type=int, default=40, help="at most this many pages")
    p.add_argument("--repeats", type=int, default=10, help="timed forward passes per candidate")
    p.add_argument("--eval-sizes", type=int, nargs="*", default=[640, 800, 960],
                   help="input sizes to evaluate the shipped weights at (none: skip)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "detector_design.json"))
    args = p.parse_args(argv)

    from vizecg.offline import import_ultralytics

    import_ultralytics()
    import torch
    from ultralytics.utils.torch_utils import get_flops

    from detector import BeatDetector
    from vizecg.data.render_folder import read_label
    from detector.evaluate import evaluate, iter_render_dir, render_dir_items
    from vizecg.runs import write_json

    torch.set_num_threads(1)
    pairs = render_dir_items(args.data, tuple(args.folds))[: args.pages]
    first = read_label(pairs[0][1])
    page_shape = (int(first["height"]), int(first["width"]))

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, yaml_name, imgsz, tile, stride in CANDIDATES:
            model = build(yaml_name, Path(tmp))
            ms = forward_ms(model, imgsz, args.repeats)
            tiles = n_tiles(page_shape, tile)
            rows.append({
                "candidate": name, "model": yaml_name, "imgsz": imgsz, "tile": tile, "passes_per_page": tiles,
                "params_m": round(sum(q.numel() for q in model.parameters()) / 1e6, 2),
                "gflops_per_pass": round(float(get_flops(model, imgsz)), 1),
                "forward_ms_per_pass": round(ms, 1), "forward_ms_per_page": round(ms * tiles, 1),
                "finest_stride": stride, "objects": object_sizes(pairs, imgsz, tile, stride),
            })
            print(f"{name}: {rows[-1]['forward_ms_per_page']} ms/page", flush=True)

    quality = {}
    for size in args.eval_sizes:
        det = BeatDetector(imgsz=size)
        r = evaluate(det, iter_render_dir(pairs), total=len(pairs), progress=False)
        quality[str(size)] = {k: r[k] for k in ("precision", "recall", "mAP50", "mAP50-95", "beat_best_f1")}
        quality[str(size)]["conf"] = det.conf

    result = {"data": args.data, "folds": args.folds, "pages": len(pairs), "page_shape": list(page_shape),
              "candidates": rows, "shipped_weights_by_input_size": quality, "torch_threads": 1,
              "cpu": platform.processor() or platform.machine(),
              "command": "python benchmarks/detector_design.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_json(args.out, result)

    print(f"\n{'candidate':<22}{'passes':>7}{'params M':>9}{'GFLOPs':>8}{'ms/page':>9}"
          f"{'beat w x h':>13}{'label w x h':>13}{'label < stride':>15}")
    for r in rows:
        b, lab = r["objects"]["beat"], r["objects"]["lead_label"]
        print(f"{r['candidate']:<22}{r['passes_per_page']:>7}{r['params_m']:>9}{r['gflops_per_pass']:>8}"
              f"{r['forward_ms_per_page']:>9}{b['median_w']:>7} x{b['median_h']:>5}"
              f"{lab['median_w']:>7} x{lab['median_h']:>5}{lab['short_side_below_stride']:>15}")
    if quality:
        print(f"\nshipped weights (trained at 640) by input size, {len(pairs)} pages of folds {args.folds}")
        for size, q in quality.items():
            print(f"  {size:>5}: P {q['precision']:.3f} R {q['recall']:.3f} mAP50 {q['mAP50']:.3f} "
                  f"mAP50-95 {q['mAP50-95']:.3f}")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

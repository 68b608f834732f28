"""The segmenter's ONNX graph in int8 (onnxruntime static quantization, QDQ, per-channel weights): about a third
of the fp32 graph's CPU time saved and a quarter of its size, for the same trace within measurement (the numbers
and the command that made the shipped graph: vizecg/digitize/weights/MODEL_CARD.md).

    .venv/bin/python -m vizecg.digitize.segment.quantize --model runs/segment/trace_unet_v1/model.onnx \
        --folders RENDER_DIR [...] --out vizecg/digitize/weights/trace_unet_v1_int8.onnx [--pages 32] [--seed 0] \
        [--families FAMILY ...]

Activation ranges come from tiles of training-split pages (folds 1-8) of render folders written by `vizecg
render`, at the network's scale as the digitizer feeds it: never from validation or test pages.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from vizecg.errors import DataError, ModelError, VizEcgError

CALIBRATION_TILE = 384  # px at the network's scale: 96 mm at 4 px/mm, a few beats of two rows
TILES_PER_PAGE = 4


def calibration_tiles(folders: list[str], pages: int, px_per_mm: float, seed: int = 0,
                      families: list[str] | None = None) -> np.ndarray:
    """(n, 3, s, s) float32 in [0, 1]: tiles of `pages` training-split pages drawn (seeded) from `folders`, of
    the print-style `families` only where given (those the network was trained on: the left-out ones stay a
    measure of what it never saw)."""
    from vizecg.digitize.segment.data import TileConfig, cut_tiles, load_page
    from vizecg.digitize.segment_eval import select_pages

    chosen = [p for p in select_pages(folders, "train") if families is None or p.family in families]
    if not chosen:
        raise DataError("no training-split (folds 1-8) pages to calibrate on", folders[0] if folders else ".")
    rng = np.random.default_rng(seed)
    chosen = [chosen[i] for i in sorted(rng.choice(len(chosen), min(pages, len(chosen)), replace=False))]
    cfg = TileConfig(size=CALIBRATION_TILE, scale_jitter=0.0, flip=False, channel_shuffle=0.0, grey=0.0)
    tiles = [cut_tiles(load_page(p, px_per_mm), TILES_PER_PAGE, cfg, rng)[0] for p in chosen]
    return np.concatenate(tiles).astype(np.float32) / np.float32(255.0)


def quantize_onnx(model: str | Path, out: str | Path, tiles: np.ndarray) -> Path:
    """Write `model` (an fp32 graph from export_onnx) quantized to int8, calibrated on `tiles`; its metadata (scale,
    stride) is kept, so OnnxSegmenter reads it as it reads the fp32 graph. Returns `out`."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from vizecg.digitize.segment.infer import ONNX_META_KEY
    from vizecg.runs import atomic_write_bytes

    class Tiles(CalibrationDataReader):
        def __init__(self):
            self.it = iter(tiles)

        def get_next(self):
            t = next(self.it, None)
            return None if t is None else {"image": t[None]}

    with tempfile.TemporaryDirectory() as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "q.onnx"
        quant_pre_process(str(model), str(pre))
        quantize_static(str(pre), str(q), Tiles(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True)
        graph = onnx.load(str(q))
    if not any(p.key == ONNX_META_KEY for p in graph.metadata_props):
        raise ModelError(f"the quantized graph lost its {ONNX_META_KEY} metadata", model)
    atomic_write_bytes(out, graph.SerializeToString())
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the fp32 .onnx graph (export_onnx)")
    ap.add_argument("--folders", nargs="+", required=True, help="render folders; their training-split pages")
    ap.add_argument("--out", required=True)
    ap.add_argument("--pages", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", nargs="+", default=None, help="only pages of these print-style families")
    args = ap.parse_args(argv)
    try:
        from vizecg.digitize.segment.infer import OnnxSegmenter

        scale = OnnxSegmenter(args.model).px_per_mm
        tiles = calibration_tiles(args.folders, args.pages, scale, args.seed, args.families)
        print(f"calibrating on {len(tiles)} tiles of {CALIBRATION_TILE} px", file=sys.stderr)
        print(quantize_onnx(args.model, args.out, tiles))
    except VizEcgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ink probability of a whole page: resample to the network's scale, cut overlapping tiles, blend them back.

Tiles overlap and are blended with weights that fall off linearly over the overlap, so that a tile's border
(where its convolutions saw padding, not paper) counts little where a neighbour sees the same pixels from inside.
The same tiling runs the torch module and the ONNX graph (`OnnxSegmenter`): either is the `model` argument.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vizecg.digitize.segment.masks import guess_px_per_mm, resample
from vizecg.errors import ModelError

INFER_TILE = 768  # px at the network's scale: larger than the training tiles (a fully convolutional net does not
# mind) so a page is a few tiles and the overlap a small share of the work
INFER_OVERLAP = 64  # px each neighbouring pair of tiles shares: 16 mm at 4 px/mm, past the net's border effects
ONNX_META_KEY = "vizecg_segmenter"  # the graph's metadata_props: model name, arguments, scale
# The network the digitizer ships with (its model card: vizecg/digitize/weights/MODEL_CARD.md)
DEFAULT_SEGMENTER = Path(__file__).resolve().parents[1] / "weights" / "trace_unet_v1.onnx"


def axis_tiles(length: int, tile: int, overlap: int, stride: int) -> tuple[int, list[int]]:
    """(tile length, starts) of the fewest tiles of at most `tile` px (a multiple of `stride`) that cover
    [0, length) with at least `overlap` px shared between neighbours; the tiles are as short as that allows, so
    a page just over one tile long is not read twice over."""
    n = max(1, int(np.ceil((length - overlap) / (tile - overlap))))
    size = min(tile, -(-int(np.ceil((length + (n - 1) * overlap) / n)) // stride) * stride)
    if n == 1:
        return size, [0]
    return size, [int(round(v)) for v in np.linspace(0, max(0, length - size), n)]


def blend_weights(h: int, w: int, overlap: int) -> np.ndarray:
    """(h, w) float32: 1 inside, falling linearly towards each edge over `overlap` px (never quite 0, so that a
    pixel only one tile sees still gets its value)."""
    def ramp(n: int) -> np.ndarray:
        i = np.arange(n, dtype=np.float32)
        return np.clip(np.minimum(i + 0.5, n - i - 0.5) / max(overlap, 1), 1e-3, 1.0)

    return np.outer(ramp(h), ramp(w)).astype(np.float32)


class OnnxSegmenter:
    """The exported graph under onnxruntime (CPU), with the scale and stride its metadata records."""

    def __init__(self, path: str | Path, threads: int | None = None):
        from vizecg.onnx_session import cpu_session, usable_cores

        path = Path(path)
        if not path.is_file():
            raise ModelError("segmenter graph not found", path)
        # the page's tiles are the digitizer's largest single step: all the cores this process may use (at most
        # 4), since a page is read one at a time (a 1-thread session was 0.6 of a page's 2 s on 2 cores)
        self.session = cpu_session(path, threads or min(4, usable_cores()))
        meta = self.session.get_modelmeta().custom_metadata_map
        if ONNX_META_KEY not in meta:
            raise ModelError(f"graph has no {ONNX_META_KEY} metadata: not exported by export_onnx", path)
        info = json.loads(meta[ONNX_META_KEY])
        self.model_name = info["model_name"]
        self.model_args = info["model_args"]
        self.px_per_mm = float(info["model_args"]["px_per_mm"])
        self.stride = int(info["stride"])
        self._input = self.session.get_inputs()[0].name

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(b, 3, h, w) float32 in [0, 1] -> (b, 1, h, w) float32 logits."""
        return self.session.run(None, {self._input: x})[0]


def load_ink_model(path: str | Path | None = None) -> Any:
    """The segmenter a digitizer config names (None or "": the shipped DEFAULT_SEGMENTER): an .onnx graph under
    onnxruntime, else torch weights (eval mode). Loaded once per file version (path, size, mtime), so a folder of
    pages does not reload it per page."""
    path = Path(path) if path else DEFAULT_SEGMENTER
    if not path.is_file():
        raise ModelError("segmenter weights not found", path)
    st = path.stat()
    return _load_ink_model(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _load_ink_model(path: str, size: int, mtime_ns: int) -> Any:
    if path.endswith(".onnx"):
        return OnnxSegmenter(path)
    from vizecg.digitize.segment.model import load_segmenter

    return load_segmenter(path)


def _logits_fn(model: Any):
    if isinstance(model, OnnxSegmenter):
        return model.logits
    import torch

    if model.training:
        raise ModelError("the segmenter is in training mode: call model.eval() first (batch norm would use the "
                         "tiles' statistics)")

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()
    return run


def ink_probability(image: np.ndarray, px_per_mm: float | None, model: Any, tile: int = INFER_TILE,
                    overlap: int = INFER_OVERLAP, batch: int = 2) -> np.ndarray:
    """(h, w) float32 in [0, 1]: the probability that each pixel of `image` ((h, w, 3) uint8 RGB) is trace ink.

    `px_per_mm`: the image's scale (the grid's, where measured); None guesses it from the image size
    (`masks.guess_px_per_mm`). `model`: a TraceSegmenter in eval mode or an OnnxSegmenter."""
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        raise ValueError(f"expected an (h, w, 3) uint8 RGB image, got {getattr(image, 'shape', type(image))} "
                         f"{getattr(image, 'dtype', '')}")
    h, w = image.shape[:2]
    ppm = guess_px_per_mm((h, w)) if px_per_mm is None else float(px_per_mm)
    if not (np.isfinite(ppm) and ppm > 0):
        raise ValueError(f"px_per_mm={px_per_mm!r} must be a positive number")
    stride = int(model.stride)
    if tile % stride or overlap >= tile:
        raise ValueError(f"tile {tile} must be a multiple of {stride} and larger than the overlap {overlap}")
    small = resample(image, float(model.px_per_mm) / ppm)
    sh, sw = small.shape[:2]
    th, ys = axis_tiles(sh, tile, overlap, stride)
    tw, xs = axis_tiles(sw, tile, overlap, stride)
    # a page shorter than its tile is padded paper-like: the edge replicated
    padded = cv2.copyMakeBorder(small, 0, max(0, th - sh), 0, max(0, tw - sw), cv2.BORDER_REPLICATE)
    ph, pw = padded.shape[:2]
    boxes = [(y, x) for y in ys for x in xs]
    weight = blend_weights(th, tw, overlap)
    acc = np.zeros((ph, pw), np.float32)
    norm = np.zeros((ph, pw), np.float32)
    run = _logits_fn(model)
    for i in range(0, len(boxes), batch):
        part = boxes[i:i + batch]
        x = np.stack([padded[y:y + th, x0:x0 + tw] for y, x0 in part]).transpose(0, 3, 1, 2)
        logits = run(np.ascontiguousarray(x, dtype=np.float32) / np.float32(255.0))  # (b, 1, th, tw)
        prob = 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float32)))
        for (y, x0), p in zip(part, prob):
            acc[y:y + th, x0:x0 + tw] += p * weight
            norm[y:y + th, x0:x0 + tw] += weight
    prob = (acc / norm)[:sh, :sw]
    if (sh, sw) != (h, w):
        prob = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(prob, 0.0, 1.0).astype(np.float32)


def export_onnx(model: Any, path: str | Path, opset: int = 17, size: int = 256) -> Path:
    """Write the segmenter as an ONNX graph (fp32; batch, height and width dynamic) whose metadata rebuilds the
    tiling (scale, stride). Returns the path."""
    import io

    import onnx
    import torch

    from vizecg.runs import atomic_write_bytes

    model = model.eval()
    x = torch.rand(1, 3, size, size)
    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, input_names=["image"], output_names=["logits"], opset_version=opset,
                      dynamic_axes={"image": {0: "b", 2: "h", 3: "w"}, "logits": {0: "b", 2: "h", 3: "w"}},
                      dynamo=False)
    graph = onnx.load_from_string(buf.getvalue())
    info = {"model_name": model.model_name, "model_args": model.model_args, "stride": int(model.stride)}
    graph.metadata_props.add(key=ONNX_META_KEY, value=json.dumps(info))
    atomic_write_bytes(path, graph.SerializeToString())
    return Path(path)

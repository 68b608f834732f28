"""Learned trace extraction (issue 14): a small U-Net that marks trace ink, so that grid, dots, text, stamps,
handwriting and fold lines are not ink. Trained on the render truth's exact trace masks (masks.py) by
`python -m vizecg.digitize.segment_train`, scored against the classical ink mask by
`python -m vizecg.digitize.segment_eval`; used by `digitize()` (`trace_ink: learned`, the default, with the
shipped DEFAULT_SEGMENTER); docs/segmentation.md.

The torch model's names load on first use: the ONNX runtime (`OnnxSegmenter`, `ink_probability`) needs no torch."""
from typing import Any

from vizecg.digitize.segment.infer import OnnxSegmenter, export_onnx, ink_probability, load_ink_model
from vizecg.digitize.segment.masks import image_px_per_mm, printed_line_mm, trace_mask

_MODEL_NAMES = ("SegmenterConfig", "TraceSegmenter", "create_segmenter", "list_segmenters", "load_segmenter",
                "save_segmenter")

__all__ = ["OnnxSegmenter", "SegmenterConfig", "TraceSegmenter", "create_segmenter", "export_onnx",
           "image_px_per_mm", "ink_probability", "list_segmenters", "load_ink_model", "load_segmenter",
           "printed_line_mm", "save_segmenter", "trace_mask"]


def __getattr__(name: str) -> Any:
    if name in _MODEL_NAMES:
        from vizecg.digitize.segment import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

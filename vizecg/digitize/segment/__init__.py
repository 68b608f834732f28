"""Learned trace extraction (issue 14): a small U-Net that marks trace ink, so that grid, dots, text, stamps,
handwriting and fold lines are not ink. Trained on the render truth's exact trace masks (masks.py) by
`python -m vizecg.digitize.segment_train`, scored against the classical ink mask by
`python -m vizecg.digitize.segment_eval`; docs/segmentation.md. Not yet wired into `digitize()`."""
from vizecg.digitize.segment.infer import OnnxSegmenter, export_onnx, ink_probability
from vizecg.digitize.segment.masks import image_px_per_mm, printed_line_mm, trace_mask
from vizecg.digitize.segment.model import (SegmenterConfig, TraceSegmenter, create_segmenter, list_segmenters,
                                           load_segmenter, save_segmenter)

__all__ = ["OnnxSegmenter", "SegmenterConfig", "TraceSegmenter", "create_segmenter", "export_onnx",
           "image_px_per_mm", "ink_probability", "list_segmenters", "load_segmenter", "printed_line_mm",
           "save_segmenter", "trace_mask"]

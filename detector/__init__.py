"""YOLO beat detector: dataset preparation from `vizecg render` output, training, evaluation, prediction,
ONNX export. Builds on the core (`vizecg`); the core never imports this package.

    from detector import BeatDetector
    det = BeatDetector()                 # the weights shipped in detector/weights/beats_yolo.pt
    found = det.detect(page_rgb)         # beat boxes in page pixels, lead per beat, time order
    crops, kept = det.crops(page_rgb, found, size=(64, 64), max_beats=24)
"""
from detector.config import CLASS_NAMES, DetectorConfig, InferConfig, TileConfig, TrainConfig
from detector.infer import DEFAULT_WEIGHTS, BeatDetector, Detections, assign_leads, build_detections

__all__ = ["CLASS_NAMES", "DEFAULT_WEIGHTS", "BeatDetector", "Detections", "DetectorConfig", "InferConfig",
           "TileConfig", "TrainConfig", "assign_leads", "build_detections"]

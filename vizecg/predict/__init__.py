"""Prediction: a photographed ECG page -> quality gate -> beats, signal, calibrated probabilities -> report.

`predict_page(image, beat_finder, model)` is the one path the CLI (`vizecg predict`), the web page
(`vizecg serve`) and benchmarks/quality_gate.py share; they build the beat finder (the YOLO detector) and the
classifier (the shipped student) and hand them in.
"""
from vizecg.predict.core import BeatFinder, FoundBeats, default_digitizer, predict_page, quality_only
from vizecg.predict.quality import Quality, assess_quality, image_checks
from vizecg.predict.schema import NOTICE, REPORT_SCHEMA, SCHEMA_VERSION, Beat, Prediction, schema_errors

__all__ = ["predict_page", "quality_only", "default_digitizer", "FoundBeats", "BeatFinder", "Prediction", "Beat",
           "Quality", "assess_quality", "image_checks", "REPORT_SCHEMA", "SCHEMA_VERSION", "NOTICE", "schema_errors"]

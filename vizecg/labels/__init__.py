"""Lead-label reader: printed lead names ("V1", "aVR", "-aVR", "V4R", ...) from label crops of a page.

`crops` (numpy/cv2) is the crop convention; `reader.LabelReader` reads with the shipped weights on torch or
onnxruntime; `model` (torch) holds the network and its self-describing checkpoint; `train` builds crops from
render folders, trains, calibrates and measures. Nothing here imports torch until a torch reader is made.
"""
from vizecg.labels.crops import crop_labels, label_window
from vizecg.labels.reader import DEFAULT_ONNX, DEFAULT_WEIGHTS, MIN_PROB, NOT_A_LABEL, LabelRead, LabelReader

__all__ = ["DEFAULT_ONNX", "DEFAULT_WEIGHTS", "MIN_PROB", "NOT_A_LABEL", "LabelRead", "LabelReader",
           "crop_labels", "label_window"]

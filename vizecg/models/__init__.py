"""VizECG models, created by name: `create_model("student", num_classes=5, multilabel=True)`.

Every model takes `num_classes` and `multilabel`, keeps its arguments in `model.model_args` (primitives) and its
name in `model.model_name`, so `create_model(ckpt["model_name"], **ckpt["model_args"])` rebuilds it; forward takes
a batch dict (page, beats, beat_mask, signal, optional scalogram) and returns a dict with at least "logits".
Backbone weights come only from local files (`local_weights=`, `global_weights=`; `weights=` for the
single-backbone beat_classifier); nothing is downloaded.
"""
from vizecg.models.registry import create_model, list_models, register_model
from vizecg.models import image as _image, signal as _signal, teacher as _teacher  # noqa: F401  (registers)
from vizecg.models.cwt import morlet_scalogram
from vizecg.models.image import BeatClassifier, ImageConfig, Student, load_local_branch
from vizecg.models.signal import SignalConfig, SignalModel
from vizecg.models.teacher import Teacher, TeacherConfig

__all__ = ["create_model", "list_models", "register_model", "load_local_branch", "morlet_scalogram",
           "Student", "Teacher", "SignalModel", "BeatClassifier", "ImageConfig", "SignalConfig", "TeacherConfig"]

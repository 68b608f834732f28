"""Signal processing on ECG arrays (samples,) or (leads, samples) and on EcgRecords; R-peak detection."""
from vizecg.signal.filters import bandpass, normalize_amplitude, notch, remove_baseline, resample
from vizecg.signal.leads import derive_limb_leads
from vizecg.signal.peak_eval import evaluate_mitdb, match_peaks
from vizecg.signal.preprocess import PreprocessConfig, model_input, preprocess
from vizecg.signal.rpeaks import detect_rpeaks, detect_rpeaks_multilead
from vizecg.signal.scalogram import scalogram, scalogram_frequencies

__all__ = [
    "bandpass", "notch", "remove_baseline", "resample", "normalize_amplitude", "derive_limb_leads",
    "scalogram", "scalogram_frequencies", "PreprocessConfig", "preprocess", "model_input", "detect_rpeaks",
    "detect_rpeaks_multilead", "match_peaks", "evaluate_mitdb",
]

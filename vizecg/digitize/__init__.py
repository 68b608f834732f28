"""Digitizer: photographed ECG printout -> 12-lead signal in mV (see digitizer.py), and its Challenge metric."""
from vizecg.digitize.config import DigitizeConfig
from vizecg.digitize.digitizer import DigitizedEcg, digitize
from vizecg.digitize.metrics import align, score_lead, snr_db

__all__ = ["DigitizeConfig", "DigitizedEcg", "align", "digitize", "score_lead", "snr_db"]

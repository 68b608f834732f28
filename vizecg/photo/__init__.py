"""Simulated photos of printouts: scans, phone photos, photos of a monitor; the ground truth moves along."""
from vizecg.photo.config import PRESET_NAMES, PRESETS, PhotoConfig, preset_config
from vizecg.photo.simulate import photograph

__all__ = ["PRESET_NAMES", "PRESETS", "PhotoConfig", "photograph", "preset_config"]

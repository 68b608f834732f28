"""Render ECG records as paper printouts with exact ground truth (see printout.py, paper.py, layout.py)."""
from vizecg.render.layout import LAYOUTS
from vizecg.render.printout import RenderConfig, random_render_config, render_printout
from vizecg.render.truth import BeatTruth, Box, LeadTruth, PageTruth, PixelMapping, Printout

__all__ = ["LAYOUTS", "BeatTruth", "Box", "LeadTruth", "PageTruth", "PixelMapping", "Printout", "RenderConfig",
           "random_render_config", "render_printout"]

"""Render ECG records as paper printouts with exact ground truth (see printout.py, style.py, paper.py, layout.py)."""
from vizecg.render.layout import LAYOUTS
from vizecg.render.printout import (RenderConfig, random_render_config, render_print_style, render_printout,
                                    style_from_config)
from vizecg.render.style import PrintStyle, draw_print_style, list_families
from vizecg.render.truth import BeatTruth, Box, LeadTruth, PageTruth, PixelMapping, Printout, PulseTruth, TextTruth

__all__ = ["LAYOUTS", "BeatTruth", "Box", "LeadTruth", "PageTruth", "PixelMapping", "PrintStyle", "Printout",
           "PulseTruth", "RenderConfig", "TextTruth", "draw_print_style", "list_families", "random_render_config",
           "render_print_style", "render_printout", "style_from_config"]

"""The lead-label classifier: a small CNN over (1, 32, 96) label crops -> one of CLASSES.

Self-describing checkpoint (nanoGPT-style): `{"format", "model_args", "classes", "temperature", "state_dict",
"crop", "meta"}`, tensors and plain values only, so `torch.load(weights_only=True)` reads it and nothing else is
needed to rebuild the model: `LabelNet(**ckpt["model_args"])`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vizecg.errors import ModelError
from vizecg.labels.crops import CROP_H, CROP_W, HEIGHT_MARGIN, MIN_WIDTH_MARGIN

FORMAT = "vizecg-lead-labels/1"
# Every name the print-style space prints (render/style.py: 3x4, Cabrera's -aVR, the 15-lead V4R/V8/V9), then
# the class a false or empty label box reads as.
LEAD_NAMES: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
                               "V4R", "V8", "V9", "-aVR")
NOT_A_LABEL = "not_a_label"
CLASSES: tuple[str, ...] = LEAD_NAMES + (NOT_A_LABEL,)


@dataclass(frozen=True)
class LabelNetArgs:
    n_classes: int = len(CLASSES)
    width: int = 16  # channels of the first block; blocks double it up to 6x (fp16 weights ~0.5 MB at 16)
    hidden: int = 128  # the classifier's hidden layer over the (2, 6) feature map


class LabelNet(nn.Module):
    """Four conv blocks, each halving the crop: (1, 32, 96) -> (6w, 2, 6) -> hidden -> classes. The flatten keeps
    where in the window a stroke is (V4R vs V4 differ only in the last glyph), which a global pool would lose."""

    def __init__(self, n_classes: int = len(CLASSES), width: int = 16, hidden: int = 128):
        super().__init__()
        w = width

        def block(cin: int, cout: int, convs: int) -> list[nn.Module]:
            layers: list[nn.Module] = []
            for i in range(convs):
                layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                           nn.ReLU(inplace=True)]
            return layers + [nn.MaxPool2d(2)]

        self.features = nn.Sequential(*block(1, w, 1), *block(w, 2 * w, 1), *block(2 * w, 4 * w, 2),
                                      *block(4 * w, 6 * w, 1))  # (b, 6w, 2, 6)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(6 * w * (CROP_H // 16) * (CROP_W // 16), hidden),
                                  nn.ReLU(inplace=True), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, 1, 32, 96) -> (b, n_classes) logits
        return self.head(self.features(x))


def save_checkpoint(model: LabelNet, args: LabelNetArgs, temperature: float, path: str | Path,
                    meta: dict[str, Any] | None = None, fp16: bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).clone() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "model_args": asdict(args), "classes": list(CLASSES), "temperature": float(temperature),
                "crop": {"h": CROP_H, "w": CROP_W, "height_margin": HEIGHT_MARGIN, "min_width_margin": MIN_WIDTH_MARGIN},
                "state_dict": state, "meta": meta or {}}, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[LabelNet, dict[str, Any]]:
    """(model in eval mode, float32, the checkpoint's other fields)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("lead-label weights not found", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a foreign or corrupt file
        raise ModelError(f"cannot read lead-label weights: {str(exc).splitlines()[0][:200]}", path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ModelError(f"not a lead-label checkpoint (format {FORMAT} expected)", path)
    crop = ckpt.get("crop", {})
    if (crop.get("h"), crop.get("w")) != (CROP_H, CROP_W):
        raise ModelError(f"checkpoint crops are {crop.get('h')}x{crop.get('w')}, this code cuts {CROP_H}x{CROP_W}", path)
    model = LabelNet(**ckpt["model_args"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    return model.eval(), {k: v for k, v in ckpt.items() if k != "state_dict"}

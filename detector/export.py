"""ONNX export of the beat detector (ultralytics' exporter, fixed input size, no simplifier download)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from vizecg.errors import ModelError


def export_onnx(weights: str | Path, out: str | Path | None = None, imgsz: int | None = None, opset: int = 17) -> Path:
    """Export .pt weights to ONNX (input (1, 3, imgsz, imgsz) float32 RGB [0, 1]; output (1, 4 + nc, anchors)).

    out=None writes `<weights stem>-<imgsz>.onnx` into a per-user cache (reused while the weights are unchanged).
    """
    from vizecg.offline import configure_offline

    configure_offline()
    weights = Path(weights)
    if not weights.is_file():
        raise ModelError("weights file not found", weights)
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights), task="detect")
    except Exception as exc:
        raise ModelError(f"cannot load YOLO weights: {exc}", weights) from None
    from detector.infer import operating_imgsz

    imgsz = int(imgsz or operating_imgsz(weights) or model.overrides.get("imgsz", 640) or 640)
    if out is None:
        import hashlib

        digest = hashlib.sha1(weights.read_bytes()).hexdigest()[:12]
        out = Path(tempfile.gettempdir()) / "vizecg-onnx" / f"{weights.stem}-{digest}-{imgsz}.onnx"
        if out.is_file():
            _copy_sidecar(weights, out)  # the graph is cached by the weights' bytes; the sidecar may be newer
            return out
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        # The exporter writes beside its input: work on a copy so the shipped weights folder stays untouched.
        src = Path(tmp) / weights.name
        shutil.copyfile(weights, src)
        model = YOLO(str(src), task="detect")
        produced = model.export(format="onnx", imgsz=imgsz, opset=opset, simplify=False, dynamic=False,
                                half=False, device="cpu", verbose=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(produced, tmp_out)
        tmp_out.replace(out)
    _copy_sidecar(weights, out)
    return out


def _copy_sidecar(weights: Path, onnx_path: Path) -> None:
    """The calibrated operating point (`<stem>.json`) travels with the graph; a stale copy is removed."""
    sidecar, target = weights.with_suffix(".json"), onnx_path.with_suffix(".json")
    if sidecar.is_file():
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(sidecar, tmp)
        tmp.replace(target)
    elif target.is_file():
        target.unlink()

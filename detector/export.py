"""ONNX export of the beat detector (ultralytics' exporter, fixed input size, no simplifier download).

Exported graphs are cached per user (`$XDG_CACHE_HOME/vizecg/onnx`, else `~/.cache/vizecg/onnx`), never in a shared
temp folder: the folder must be a real directory owned by this user and closed to others (mode 0700), and every
cached graph carries the SHA-256 of the weights it came from, checked before it is used. Nothing is written through
a symbolic link: files are written to fresh private temp names and renamed into place.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from vizecg.errors import ModelError
from vizecg.runs import atomic_write_bytes

SOURCE_SHA_KEY = "vizecg_source_sha256"  # ONNX metadata: the SHA-256 of the .pt the graph was exported from
IMGSZ_KEY = "vizecg_imgsz"


def onnx_cache_dir() -> Path:
    """This user's private cache folder for exported graphs (created 0700; refused if anyone else could write it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "vizecg" / "onnx"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        raise ModelError(f"cannot create the ONNX cache folder: {exc.strerror}", folder) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ModelError("the ONNX cache folder is not a real directory (a link?): refused", folder)
    if info.st_uid != os.getuid():
        raise ModelError("the ONNX cache folder belongs to another user: refused", folder)
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)  # ours, but opened up (an old umask): close it before trusting anything in it
    return folder


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def graph_source(path: Path) -> tuple[str | None, int | None]:
    """(source weights SHA-256, input size) recorded in an exported graph's metadata; (None, None) if absent."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"cannot read ONNX model: {exc}", path) from None
    meta = {p.key: p.value for p in model.metadata_props}
    imgsz = meta.get(IMGSZ_KEY)
    return meta.get(SOURCE_SHA_KEY), int(imgsz) if imgsz and imgsz.isdigit() else None


def export_onnx(weights: str | Path, out: str | Path | None = None, imgsz: int | None = None, opset: int = 17) -> Path:
    """Export .pt weights to ONNX (input (1, 3, imgsz, imgsz) float32 RGB [0, 1]; output (1, 4 + nc, anchors)).

    out=None writes `<weights stem>-<sha>-<imgsz>.onnx` into this user's cache, reused only while its recorded
    source hash matches the weights' bytes.
    """
    from detector.infer import load_error_reason, operating_imgsz
    from vizecg.offline import import_ultralytics

    weights = Path(weights)
    if not weights.is_file():
        raise ModelError("weights file not found", weights)
    yolo_class = import_ultralytics().YOLO
    try:
        model = yolo_class(str(weights), task="detect")
    except Exception as exc:
        raise ModelError(f"cannot load YOLO weights: {load_error_reason(exc)}", weights) from None
    imgsz = int(imgsz or operating_imgsz(weights) or model.overrides.get("imgsz", 640) or 640)
    source_sha = sha256_file(weights)
    if out is None:
        out = onnx_cache_dir() / f"{weights.stem}-{source_sha[:16]}-{imgsz}.onnx"
        if out.is_symlink():
            out.unlink()  # a link in our own folder is not ours to follow
        elif out.is_file() and graph_source(out) == (source_sha, imgsz):
            _copy_sidecar(weights, out)  # the graph is cached by the weights' bytes; the sidecar may be newer
            return out
    out = Path(out)
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        # The exporter writes beside its input: work on a copy so the shipped weights folder stays untouched.
        src = Path(tmp) / weights.name
        src.write_bytes(weights.read_bytes())
        model = yolo_class(str(src), task="detect")
        produced = model.export(format="onnx", imgsz=imgsz, opset=opset, simplify=False, dynamic=False,
                                half=False, device="cpu", verbose=False)
        graph = onnx.load(str(produced))
    for key, value in ((SOURCE_SHA_KEY, source_sha), (IMGSZ_KEY, str(imgsz))):
        entry = next((p for p in graph.metadata_props if p.key == key), None) or graph.metadata_props.add()
        entry.key, entry.value = key, value
    atomic_write_bytes(out, graph.SerializeToString())
    _copy_sidecar(weights, out)
    return out


def _copy_sidecar(weights: Path, onnx_path: Path) -> None:
    """The calibrated operating point (`<stem>.json`) travels with the graph; a stale copy is removed."""
    sidecar, target = weights.with_suffix(".json"), onnx_path.with_suffix(".json")
    if target.resolve() == sidecar.resolve():
        return  # the graph shipped beside its weights (detector/weights/beats_yolo.onnx) shares their sidecar
    if sidecar.is_file():
        atomic_write_bytes(target, sidecar.read_bytes())
    elif target.is_file() or target.is_symlink():
        target.unlink()

"""One way to open an ONNX graph for inference on the CPU, shared by every runtime model (detector, lead-label
reader, trace segmenter, classifier)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the platform tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime InferenceSession on the CPU with `threads` intra-op threads (None: onnxruntime's choice,
    one per core). Its threads sleep when idle rather than spin: `vizecg predict` runs the beat finder's
    graph beside the digitizer's on 2 cores, and spinning threads took the cycles the other graph and OpenCV
    were waiting for. Raises what onnxruntime raises on a foreign or corrupt file; callers name the file."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

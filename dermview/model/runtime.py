"""Running dermview's networks (the learned embedding, the lesion outline) with onnxruntime on the CPU: one shared
session per network file, and the pixels converted as the networks were trained to read them. Its own module,
so that each network's code imports it and neither imports the other."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import DermviewError

# EfficientNet-Lite's ImageNet weights come from TensorFlow, which scales pixels as (x - 127) / 128.
PIXEL_OFFSET = 127.0
PIXEL_SCALE = 128.0


def to_network_input(batch: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) to the float32 (N, 3, H, W) the network reads."""
    x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
    x -= PIXEL_OFFSET
    x /= PIXEL_SCALE
    return x


_SESSIONS: dict[tuple, object] = {}
_SESSIONS_LOCK = threading.Lock()


def shared_session(path: Path, version: str, threads: int, what: str = "learned model"):
    """One onnxruntime session per model file for the whole process (runs are thread-safe).

    Creating one takes ~0.1 s with the GIL held; doing it once, not for every index build and
    every new predictor, keeps the window's GUI thread from stalling.
    """
    key = (str(path), version, threads)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            import onnxruntime as ort

            # Windows builds report through the system's own event tracing, which ORT_DISABLE_TELEMETRY
            # (dermview/__init__.py) does not reach; this switch does (older onnxruntime has neither).
            getattr(ort, "disable_telemetry_events", lambda: None)()
            options = ort.SessionOptions()
            # The index builder already runs one batch per core; more threads per run only fight.
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            try:
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # InvalidProtobuf, InvalidGraph, Fail, ...: onnxruntime's own types
                raise DermviewError(f"The {what} file {path.name} is damaged or not a model dermview "
                                    f"can run ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}).") from exc
            _SESSIONS[key] = session
        return session

"""onnx and onnxruntime, optional dependencies (the [onnx] extra): importing them, or saying
what to install, and the sessions that run a graph."""
import os
from typing import Optional

from ..errors import SpacyBilstmError

INSTALL_COMMAND = 'pip install "spacy-bilstm[onnx]"'
BACKEND_PURPOSE = 'The bilstm_ner backend "onnxruntime"'


class OnnxRuntimeMissingError(SpacyBilstmError, ImportError):
    """onnx or onnxruntime is not installed, and something asked for them."""


def require(package: str, purpose: str):
    """Import `package` (onnx, onnxruntime, onnxruntime.quantization) or say what to install."""
    try:
        return __import__(package, fromlist=["_"])
    except ImportError:
        raise OnnxRuntimeMissingError(
            f"{purpose} needs the package {package.split('.')[0]!r}, which is not installed. Install the ONNX "
            f"extra: {INSTALL_COMMAND}"
        ) from None


def new_session(graph: bytes, purpose: str):
    """An onnxruntime session of `graph` on the CPU, one thread per run, as torch's inference
    (threads.torch_threads): a batch's buckets run side by side instead (inference_workers),
    and no result depends on the thread count."""
    onnxruntime = require("onnxruntime", purpose)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class ProcessSession:
    """A graph's session, made on first use in each process: a session can be neither copied,
    pickled nor shared with a forked child, so copies and children make their own from the
    graph's bytes."""

    def __init__(self, graph: bytes, purpose: str):
        self.graph = graph
        self.purpose = purpose
        self._session = None
        self._pid: Optional[int] = None

    def __getstate__(self):
        return {"graph": self.graph, "purpose": self.purpose, "_session": None, "_pid": None}

    def get(self):
        if self._session is None or self._pid != os.getpid():
            self._session = new_session(self.graph, self.purpose)
            self._pid = os.getpid()
        return self._session

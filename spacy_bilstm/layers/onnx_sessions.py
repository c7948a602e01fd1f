"""onnx and onnxruntime, optional dependencies (the [onnx] extra): importing them, or saying
what to install, and the sessions that run a graph."""
from ..errors import SpacyBilstmError

INSTALL_COMMAND = 'pip install "spacy-bilstm[onnx]"'


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

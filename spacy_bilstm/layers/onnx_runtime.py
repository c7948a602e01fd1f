"""ONNX Runtime in place of torch for prediction: the torch layers' exported graphs (nn.export)
run by shims that answer `predict` with an onnxruntime session and leave training, weights and
serialization to torch. The layers' own forward functions (the char CNN's cache, the tagger's
conversions) are unchanged: they call the shim's predict as before.

The torch module stays loaded: its weights are what a saved pipeline stores, the CRF's scores
come from it, and each graph records a fingerprint of the weights it was exported from, so that
a graph is never run beside other weights."""
import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy
import torch
from thinc.api import ArgsKwargs, Model

from ..errors import ConfigError, ModelLoadError
from ..nn import CharCNN, SequenceTagger
from ..nn.encoder import equal_length_buckets
from ..nn.export import CHAR_CNN_INPUTS, EMISSIONS_INPUTS, char_cnn_graph, emissions_graph
from ..threads import inference_workers, worker_pool
from . import onnx_words, word_features
from .onnx_sessions import (  # noqa: F401
    BACKEND_PURPOSE, INSTALL_COMMAND, OnnxRuntimeMissingError, ProcessSession, require,
)
from .tagger_layer import TaggerOutput
from .torch_layer import TorchShim, torch_module

QUANTIZATIONS = ("int8",)
# The file name of a word-features layer's graph (its thinc name is the whole chain's).
WORD_FEATURES_GRAPH = "word_features"


class StaleGraphError(ModelLoadError):
    """An ONNX graph does not match the weights of the torch module beside it."""


def exportable_layers(model: Model) -> List[Model]:
    """The layers of `model` (in walk order) that have an ONNX graph: those whose torch module
    is a char CNN or a tagger, and the word-features layers (onnx_words)."""
    torch_layers = [
        layer for layer in model.walk()
        if layer.shims and isinstance(layer.shims[0], TorchShim)
        and isinstance(torch_module(layer), (CharCNN, SequenceTagger))
    ]
    return torch_layers + word_features.word_feature_layers(model)


def is_torch_layer(layer: Model) -> bool:
    """Whether the exportable `layer` is a torch layer. The others, the word-features layers,
    have a graph only in exports made since it was added (an older export loads without one)."""
    return bool(layer.shims) and isinstance(layer.shims[0], TorchShim)


def export_graph(layer: Model) -> bytes:
    """The ONNX graph (fp32) of an exportable layer at inference."""
    if not is_torch_layer(layer):
        return onnx_words.export_word_graph(layer)
    module = torch_module(layer)
    return char_cnn_graph(module) if isinstance(module, CharCNN) else emissions_graph(module)


def weights_fingerprint(layer: Model) -> str:
    """sha256 of the layer's weights (names, shapes, dtypes, values): what a graph was exported from."""
    if not is_torch_layer(layer):
        return onnx_words.word_weights_fingerprint(layer)
    digest = hashlib.sha256()
    for name, tensor in torch_module(layer).state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def quantized(graph: bytes, quantization: str) -> bytes:
    """`graph` with its weights quantized dynamically (onnxruntime.quantization.quantize_dynamic):
    int8 weights, activations quantized per batch at run time."""
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"Unknown quantization {quantization!r}: choose one of {', '.join(QUANTIZATIONS)}.")
    quantization_module = require("onnxruntime.quantization", "Quantizing a graph")
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        source.write_bytes(graph)
        # It warns on the root logger about pre-processing meant for static quantization, and about
        # integer shape tensors it leaves alone: nothing to act on here.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantization_module.quantize_dynamic(source, target, weight_type=quantization_module.QuantType.QInt8)
        finally:
            root.setLevel(level)
        return target.read_bytes()


def use_graph(layer: Model, graph: bytes, description: Dict, source: str) -> None:
    """Predict with `graph` in onnxruntime instead of the layer's torch module. `description`:
    what the graph files' index says of it, "weights_sha256" (the weights_fingerprint it was
    exported from) included; `source`: where the graph was read, for errors."""
    if weights_fingerprint(layer) != description.get("weights_sha256"):
        raise StaleGraphError(
            f"The ONNX graph {source} was exported from other weights than the pipeline's {layer.name!r} layer "
            f"has now (the pipeline was retrained or changed after export). Export it again: "
            f"spacy-bilstm export MODEL OUTPUT --to onnx"
        )
    if not is_torch_layer(layer):
        onnx_words.use_word_graph(layer, graph, description, source)
        return
    shim_type = _CharCNNShim if isinstance(torch_module(layer), CharCNN) else _TaggerShim
    torch_shim = layer.shims[0]
    if isinstance(torch_shim, OnnxRuntimeShim):
        torch_shim = torch_shim.torch_shim
    layer.shims[0] = shim_type(torch_shim, graph, description, source)
    if shim_type is _TaggerShim and not isinstance(layer._func, TaggerGraphForward):
        layer._func = TaggerGraphForward(layer._func)


def graph_in_use(layer: Model) -> Optional[Tuple[bytes, Dict]]:
    """The ONNX graph the layer predicts with and its description, or None when it predicts with
    torch (or thinc)."""
    if not is_torch_layer(layer):
        return onnx_words.word_graph_in_use(layer)
    shim = layer.shims[0]
    return (shim.graph, shim.description) if isinstance(shim, OnnxRuntimeShim) else None


class OnnxRuntimeShim(TorchShim):
    """A TorchShim (same module, serialization, training) whose predict runs an ONNX graph."""

    def __init__(self, torch_shim: TorchShim, graph: bytes, description: Dict, source: str):
        super().__init__(
            torch_shim._model, config=torch_shim.cfg, optimizer=torch_shim._optimizer,
            mixed_precision=torch_shim._mixed_precision, grad_scaler=torch_shim._grad_scaler,
            serialize_model=torch_shim._serialize_model, deserialize_model=torch_shim._deserialize_model,
        )
        self.torch_shim = torch_shim
        self.graph = graph
        self.description = dict(description)
        self.source = source
        self.session = ProcessSession(graph, BACKEND_PURPOSE)
        # Every change of weights through thinc (optimizer steps, averages, loading) bumps this
        # counter: a check cheap enough for each call, where weights_key walks the parameters.
        self._loaded_with_changes = self._weights_changes

    def predict(self, inputs: ArgsKwargs):
        self.check_weights()
        return self._run(*inputs.args, **inputs.kwargs)

    def check_weights(self) -> None:
        if self._weights_changes != self._loaded_with_changes:
            raise StaleGraphError(
                f"The weights of the torch module changed after the ONNX graph {self.source} was loaded "
                f"(training or loading other weights), so the graph no longer computes this model. Load the "
                f"pipeline with backend \"torch\" to train it, then export it again."
            )

    def _run(self, *args, **kwargs):
        raise NotImplementedError


class _CharCNNShim(OnnxRuntimeShim):
    def _run(self, char_ids: torch.Tensor, char_lengths: torch.Tensor, token_rows: torch.Tensor) -> torch.Tensor:
        width = self._model.output_width
        if char_ids.shape[0] == 0 or char_ids.shape[1] == 0:
            return torch.zeros(token_rows.shape[0], width)
        feeds = dict(zip(CHAR_CNN_INPUTS, (char_ids.numpy(), char_lengths.numpy())))
        (word_features,) = self.session.get().run(None, feeds)
        return torch.from_numpy(word_features[token_rows.numpy()])


class _TaggerShim(OnnxRuntimeShim):
    _crf_scores = None

    def _run(self, features: List[torch.Tensor]):
        emissions, scores = self.tag_arrays([row.numpy() for row in features])
        return [torch.from_numpy(e) for e in emissions], tuple(torch.from_numpy(s) for s in scores)

    def tag_arrays(self, rows: List[numpy.ndarray]) -> Tuple[List[numpy.ndarray], Tuple[numpy.ndarray, ...]]:
        """Each row's emissions (n_i, T), and the CRF's masked scores (start, end, transitions)."""
        self.check_weights()
        module: SequenceTagger = self._model
        emissions: List[Optional[numpy.ndarray]] = [None] * len(rows)
        session = self.session.get()

        def tag(bucket: List[int]) -> None:
            length = rows[bucket[0]].shape[0]
            if length == 0:
                for index in bucket:
                    emissions[index] = numpy.zeros((0, module.n_tags), dtype="float32")
                return
            batch = rows[bucket[0]][None] if len(bucket) == 1 else numpy.stack([rows[i] for i in bucket])
            (scores,) = session.run(None, {EMISSIONS_INPUTS[0]: numpy.ascontiguousarray(batch, dtype="float32")})
            for row, index in enumerate(bucket):
                emissions[index] = scores[row]

        _each_bucket(tag, equal_length_buckets([row.shape[0] for row in rows], module.max_padded_tokens))
        if self._crf_scores is None:
            # Computed once: check_weights refuses to run after the weights changed.
            self._crf_scores = module.crf.masked_scores_numpy()
        return emissions, self._crf_scores


class TaggerGraphForward:
    """The tagger layer's forward with its graph in use: numpy rows to the graph and back to a
    TaggerOutput, without the torch tensors and thinc conversions its torch forward makes
    around the shim (a tenth of tagging one sentence at a time). In training, the layer's own."""

    def __init__(self, thinc_forward: Callable):
        self.thinc_forward = thinc_forward

    def __call__(self, layer: Model, features: List[numpy.ndarray], is_train: bool):
        shim = layer.shims[0]
        if is_train or not isinstance(shim, _TaggerShim):
            return self.thinc_forward(layer, features, is_train)
        emissions, scores = shim.tag_arrays([numpy.asarray(rows, dtype="float32") for rows in features])
        return TaggerOutput(emissions, *scores), _no_backprop


def _no_backprop(_gradient):
    raise RuntimeError("The tagger's emissions were computed by its ONNX graph, for prediction: no gradient.")


def _each_bucket(tag: Callable[[List[int]], None], buckets: List[List[int]]) -> None:
    # As SequenceTagger.forward at prediction: buckets side by side when more threads are allowed.
    n_workers = min(inference_workers(), len(buckets))
    if n_workers > 1:
        for _ in worker_pool(n_workers).map(tag, buckets):
            pass
    else:
        for bucket in buckets:
            tag(bucket)


def graphs_by_layer(model: Model) -> Dict[str, Model]:
    """Each exportable layer of `model` under a file name that says what it is: its layer name,
    numbered from the second of a name on (walk order, the same on every load of a config)."""
    named: Dict[str, Model] = {}
    for layer in exportable_layers(model):
        base = layer.name if is_torch_layer(layer) else WORD_FEATURES_GRAPH
        name, number = base, 1
        while f"{name}.onnx" in named:
            number += 1
            name = f"{base}_{number}"
        named[f"{name}.onnx"] = layer
    return named

"""The word features of a bilstm_ner model (word_features.py) as one ONNX graph at prediction.
Hashing the tokens' attributes (thinc's MurmurHash) and looking their vectors up stay in numpy,
as in the layers; the graph sums each table's hashed rows, projects the vectors, and applies
Maxout and LayerNorm. In training the layer runs its own thinc forward. The export checks that
the graph computes what the layer does before writing it (`graph_error`)."""
import hashlib
from typing import Callable, Dict, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import Model

from ..nn.export import WORD_FEATURES_INPUTS, WordFeaturesGraph, word_features_graph
from .onnx_sessions import BACKEND_PURPOSE, ProcessSession
from .word_features import (
    WordFeaturesForward, hashing, static_vectors, table_rows, thinc_forward_of, word_feature_parts,
)


def export_word_graph(layer: Model) -> bytes:
    parts = word_feature_parts(layer)
    graph = WordFeaturesGraph(
        [table.get_param("E") for table in parts.tables],
        parts.static_vectors.get_param("W") if parts.static_vectors is not None else None,
        parts.maxout.get_param("W"), parts.maxout.get_param("b"),
        parts.layer_norm.get_param("G"), parts.layer_norm.get_param("b"),
    )
    return word_features_graph(graph)


def word_weights_fingerprint(layer: Model) -> str:
    """sha256 of the layer's weights and of the hashing (the tables' seeds and columns)."""
    digest = hashlib.sha256()
    for index, node in enumerate(layer.walk()):
        for name in node.param_names:
            if node.has_param(name):
                array = numpy.ascontiguousarray(node.get_param(name))
                digest.update(f"{index}:{node.name}:{name}:{array.dtype.str}:{array.shape};".encode())
                digest.update(array.tobytes())
        if node.name == "hashembed":
            digest.update(f"seed={node.attrs['seed']},column={node.attrs['column']};".encode())
    return digest.hexdigest()


class WordGraphForward(WordFeaturesForward):
    """The forward function of a word-features layer that predicts with its ONNX graph: the
    hashing and vectors lookup in numpy, the rest in onnxruntime; in training, the layer's own
    thinc forward. Its weights change only through training or loading, which also change the
    tagger's torch weights: the tagger's graph refuses to run then (OnnxRuntimeShim.predict), in
    the same prediction, so this one needs no check of its own."""

    def __init__(self, thinc_forward: Callable, layer: Model, graph: bytes, description: Dict, source: str):
        super().__init__(thinc_forward)
        parts = word_feature_parts(layer)
        self.graph = graph
        self.description = dict(description)
        self.source = source
        self.columns = parts.columns
        self.hashing = hashing(parts)
        self.has_vectors = parts.static_vectors is not None
        self.output_width = parts.maxout.get_dim("nO")
        self.session = ProcessSession(graph, BACKEND_PURPOSE)

    def width(self, model: Model) -> int:
        return self.output_width

    def features(self, model: Model, docs: List[Doc]) -> numpy.ndarray:
        feeds = {}
        if self.hashing:
            feeds[WORD_FEATURES_INPUTS[0]] = table_rows(docs, self.columns, self.hashing, model.ops).astype("int64")
        if self.has_vectors:
            feeds[WORD_FEATURES_INPUTS[1]] = static_vectors(docs)
        (features,) = self.session.get().run(None, feeds)
        return features


def use_word_graph(layer: Model, graph: bytes, description: Dict, source: str) -> None:
    layer._func = WordGraphForward(thinc_forward_of(layer), layer, graph, description, source)


def word_graph_in_use(layer: Model) -> Optional[Tuple[bytes, Dict]]:
    function = layer._func
    return (function.graph, function.description) if isinstance(function, WordGraphForward) else None


def graph_error(layer: Model, graph: bytes, docs: List[Doc]) -> float:
    """The largest difference between the layer's thinc output and `graph`'s on `docs`: what
    the export checks before writing a graph."""
    expected = thinc_forward_of(layer)(layer, docs, False)[0]
    forward = WordGraphForward(thinc_forward_of(layer), layer, graph, {}, "export")
    got = forward(layer, docs, False)[0]
    return max((float(numpy.abs(a - b).max(initial=0.0)) for a, b in zip(expected, got)), default=0.0)

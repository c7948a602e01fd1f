"""The word features of a bilstm_ner model (spaCy's MultiHashEmbed: hashed tables and, or,
static vectors, then Maxout and LayerNorm) as one ONNX graph at prediction.

These are a dozen thinc layers (feature extraction, a lookup per table, concatenations, Maxout,
LayerNorm, list and ragged conversions): tagging one sentence at a time, their calls cost more
than their arithmetic, as much as the LSTM. In the graph they are one call. Hashing the tokens'
attributes (thinc's MurmurHash, ops.hash) and looking their vectors up stay in numpy, as in the
layers; the graph sums each table's hashed rows, projects the vectors, and applies Maxout and
LayerNorm. In training the layer runs its own thinc forward, so only prediction changes.

A layer qualifies when it is made of exactly those layers (`word_feature_parts`); the export
checks that the graph computes what the layer does before writing it (`graph_error`)."""
import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy
from spacy.attrs import ORTH
from spacy.tokens import Doc
from spacy.vectors import Mode, Vectors
from thinc.api import Model
from thinc.layers.chain import forward as chain_forward
from thinc.layers.concatenate import forward as concatenate_forward
from thinc.layers.with_array import forward as with_array_forward

from ..nn.export import WORD_FEATURES_INPUTS, WordFeaturesGraph, word_features_graph
from .onnx_sessions import new_session

COMBINATORS = (chain_forward, concatenate_forward, with_array_forward)
# Layers that compute nothing at prediction (dropout, hidden_tokens), convert, or are the parts.
LEAVES = frozenset((
    "extract_features", "list2ragged", "ragged2list", "ints-getitem", "hashembed", "static_vectors",
    "hidden_tokens", "dropout", "maxout", "layernorm",
))
HASHES_PER_KEY = 4  # thinc's HashEmbed sums the rows of the 4 hashes of a key


@dataclass
class WordFeatureParts:
    columns: List  # the token attributes extract_features reads, table i reads columns[i]
    tables: List[Model]  # HashEmbed layers, by column
    static_vectors: Optional[Model]
    maxout: Model
    layer_norm: Model


def _forward_of(layer: Model) -> Callable:
    function = layer._func
    return function.thinc_forward if isinstance(function, WordGraphForward) else function


def word_feature_parts(layer: Model) -> Optional[WordFeatureParts]:
    """The parts of `layer` when it maps docs to word features the way MultiHashEmbed does
    (hashed tables and/or static vectors, concatenated, then Maxout with LayerNorm, one array
    per doc), else None."""
    if _forward_of(layer) is not chain_forward or not layer.name.endswith("ragged2list"):
        return None
    leaves = [node for node in layer.walk() if _forward_of(node) not in COMBINATORS]
    counts = Counter(node.name for node in leaves)
    if set(counts) - LEAVES or counts["maxout"] != 1 or counts["layernorm"] != 1:
        return None
    if counts["static_vectors"] > 1 or counts["extract_features"] > 1:
        return None
    by_name = {node.name: node for node in leaves}
    tables = sorted((node for node in leaves if node.name == "hashembed"), key=lambda node: node.attrs["column"])
    columns = list(by_name["extract_features"].attrs["columns"]) if "extract_features" in by_name else []
    if [table.attrs["column"] for table in tables] != list(range(len(columns))):
        return None
    static_vectors = by_name.get("static_vectors")
    if not tables and static_vectors is None:
        return None
    maxout, layer_norm = by_name["maxout"], by_name["layernorm"]
    width = maxout.get_dim("nO")
    if maxout.get_dim("nI") != width * (len(tables) + (static_vectors is not None)):
        return None
    return WordFeatureParts(columns, tables, static_vectors, maxout, layer_norm)


def word_feature_layers(model: Model) -> List[Model]:
    """The layers of `model` (walk order) that word_feature_parts describes, none inside another."""
    found: List[Model] = []
    inside = set()
    for node in model.walk():
        if node.id in inside:
            continue
        if word_feature_parts(node) is not None:
            found.append(node)
            inside.update(child.id for child in node.walk())
    return found


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


class WordGraphForward:
    """The forward function of a word-features layer that predicts with its ONNX graph: the
    hashing and vectors lookup in numpy, the rest in onnxruntime; in training, the layer's own
    thinc forward. Its weights change only through training or loading, which also change the
    tagger's torch weights: the tagger's graph refuses to run then (OnnxRuntimeShim.predict), in
    the same prediction, so this one needs no check of its own."""

    def __init__(self, thinc_forward: Callable, layer: Model, graph: bytes, description: Dict, source: str):
        parts = word_feature_parts(layer)
        self.thinc_forward = thinc_forward
        self.graph = graph
        self.description = dict(description)
        self.source = source
        self.columns = parts.columns
        self.hashing = [(table.attrs["seed"], table.get_param("E").shape[0]) for table in parts.tables]
        self.has_vectors = parts.static_vectors is not None
        self.width = parts.maxout.get_dim("nO")
        self._session = None
        self._session_pid: Optional[int] = None

    def __getstate__(self):
        # A session can be neither copied nor pickled: it is made again from the graph's bytes.
        state = self.__dict__.copy()
        state["_session"] = None
        return state

    def session(self):
        if self._session is None or self._session_pid != os.getpid():
            self._session = new_session(self.graph, 'The bilstm_ner backend "onnxruntime"')
            self._session_pid = os.getpid()
        return self._session

    def __call__(self, model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[numpy.ndarray], Callable]:
        if is_train:
            return self.thinc_forward(model, docs, is_train)
        lengths = [len(doc) for doc in docs]
        if not sum(lengths):
            return [numpy.zeros((n, self.width), dtype="float32") for n in lengths], _no_backprop
        feeds = {}
        if self.hashing:
            feeds[WORD_FEATURES_INPUTS[0]] = self._table_rows(model, docs)
        if self.has_vectors:
            feeds[WORD_FEATURES_INPUTS[1]] = _static_vectors(docs)
        (features,) = self.session().run(None, feeds)
        if len(docs) == 1:
            return [features], _no_backprop
        return numpy.split(features, numpy.cumsum(lengths)[:-1]), _no_backprop

    def _table_rows(self, model: Model, docs: List[Doc]) -> numpy.ndarray:
        # As FeatureExtractor and HashEmbed: each column's keys hashed with its table's seed,
        # modulo the table's rows.
        keys = docs[0].to_array(self.columns) if len(docs) == 1 else numpy.concatenate(
            [doc.to_array(self.columns) for doc in docs])
        keys = numpy.asarray(keys, dtype="uint64").reshape(len(keys), -1)
        rows = numpy.empty((len(keys), len(self.hashing), HASHES_PER_KEY), dtype="int64")
        for column, (seed, n_rows) in enumerate(self.hashing):
            rows[:, column] = model.ops.hash(numpy.ascontiguousarray(keys[:, column]), seed) % n_rows
        return rows


def _static_vectors(docs: List[Doc]) -> numpy.ndarray:
    # As spaCy's StaticVectors: keys by the vectors' attribute, a missing vector is zeros.
    vectors = docs[0].vocab.vectors
    key_attr = getattr(vectors, "attr", ORTH)
    keys = numpy.concatenate([doc.to_array(key_attr) for doc in docs]).astype("uint64")
    if isinstance(vectors, Vectors) and vectors.mode == Mode.default:
        rows = vectors.find(keys=keys)
        looked_up = numpy.asarray(vectors.data)[rows]
        looked_up[rows < 0] = 0.0
    else:
        looked_up = numpy.asarray(vectors.get_batch(keys))
    return numpy.ascontiguousarray(looked_up, dtype="float32")


def _no_backprop(_gradient):
    raise RuntimeError("The word features were computed by their ONNX graph, for prediction: no gradient.")


def use_word_graph(layer: Model, graph: bytes, description: Dict, source: str) -> None:
    layer._func = WordGraphForward(_forward_of(layer), layer, graph, description, source)


def word_graph_in_use(layer: Model) -> Optional[Tuple[bytes, Dict]]:
    function = layer._func
    return (function.graph, function.description) if isinstance(function, WordGraphForward) else None


def graph_error(layer: Model, graph: bytes, docs: List[Doc]) -> float:
    """The largest difference between the layer's thinc output and `graph`'s on `docs`: what
    the export checks before writing a graph."""
    expected = _forward_of(layer)(layer, docs, False)[0]
    forward = WordGraphForward(_forward_of(layer), layer, graph, {}, "export")
    got = forward(layer, docs, False)[0]
    return max((float(numpy.abs(a - b).max(initial=0.0)) for a, b in zip(expected, got)), default=0.0)

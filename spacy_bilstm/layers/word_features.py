"""The word features of a bilstm_ner model: spaCy's MultiHashEmbed (hashed tables and, or,
static vectors, then Maxout and LayerNorm), a dozen thinc layers (feature extraction, a lookup
per table, concatenations, Maxout, LayerNorm, list and ragged conversions).

At prediction, on the CPU, `FastWordFeatures` computes them with a few array calls instead:
tagging one sentence at a time, the layers' calls cost more than their arithmetic, and thinc's
product for the Maxout (blis) is 3-4x slower than torch's (MKL), a fifth of tagging a batch.
In training the layers run as always. `onnx_words` runs the same arithmetic as an ONNX graph.

A layer qualifies when it is made of exactly those layers (`word_feature_parts`)."""
from collections import Counter
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy
import torch
from spacy.attrs import ORTH
from spacy.tokens import Doc
from spacy.vectors import Mode, Vectors
from thinc.api import Model, NumpyOps
from thinc.layers.chain import forward as chain_forward
from thinc.layers.concatenate import forward as concatenate_forward
from thinc.layers.with_array import forward as with_array_forward

from ..nn.export import LAYER_NORM_EPSILON
from ..nn.products import rows_times
from ..threads import torch_threads

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


def thinc_forward_of(layer: Model) -> Callable:
    """The layer's own thinc forward function, under any WordFeaturesForward put over it."""
    function = layer._func
    while isinstance(function, WordFeaturesForward):
        function = function.thinc_forward
    return function


def word_feature_parts(layer: Model, *, own_forward: bool = True) -> Optional[WordFeatureParts]:
    """The parts of `layer` when it maps docs to word features the way MultiHashEmbed does
    (hashed tables and/or static vectors, concatenated, then Maxout with LayerNorm, one array
    per doc), else None. own_forward=False: whatever forward function the layer itself has now
    (one that wraps its chain's, say)."""
    if (own_forward and thinc_forward_of(layer) is not chain_forward) or not layer.name.endswith("ragged2list"):
        return None
    leaves = [node for node in layer.walk() if node is not layer and thinc_forward_of(node) not in COMBINATORS]
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
    n_parts = len(tables) + (static_vectors is not None)
    # The widths are known once the layer is initialized.
    if maxout.has_dim("nI") and maxout.has_dim("nO") and maxout.get_dim("nI") != maxout.get_dim("nO") * n_parts:
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


class WordFeaturesForward:
    """A forward function put over a word-features layer's own (`thinc_forward`): the layer's
    thinc forward in training, and at prediction the (N tokens, width) features of all the docs
    at once from `features`, one array per doc."""

    def __init__(self, thinc_forward: Callable):
        self.thinc_forward = thinc_forward

    def __call__(self, model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[numpy.ndarray], Callable]:
        if is_train or not self.predicts_for(model):
            return self.thinc_forward(model, docs, is_train)
        lengths = [len(doc) for doc in docs]
        if not sum(lengths):
            return [numpy.zeros((n, self.width(model)), dtype="float32") for n in lengths], _no_backprop
        features = self.features(model, docs)
        if len(docs) == 1:
            return [features], _no_backprop
        return numpy.split(features, numpy.cumsum(lengths)[:-1]), _no_backprop

    def predicts_for(self, model: Model) -> bool:
        return True

    def width(self, model: Model) -> int:
        raise NotImplementedError

    def features(self, model: Model, docs: List[Doc]) -> numpy.ndarray:
        raise NotImplementedError


class FastWordFeatures(WordFeaturesForward):
    """The word features at prediction on the CPU, as the layers compute them but in a few
    array calls, with the products in torch (rows_times: a row's result does not depend on the
    rows beside it)."""

    def __init__(self, thinc_forward: Callable):
        super().__init__(thinc_forward)
        self._parts: Optional[WordFeatureParts] = None
        self._parts_of: Optional[int] = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_parts"] = None  # found again in the copy's own layers
        return state

    def predicts_for(self, model: Model) -> bool:
        return type(model.ops) is NumpyOps

    def parts(self, model: Model) -> WordFeatureParts:
        # Found for the layer it is called with: thinc's Model.copy() gives the copy this same object.
        if self._parts is None or self._parts_of != model.id:
            self._parts, self._parts_of = word_feature_parts(model, own_forward=False), model.id
            if self._parts is None:
                raise RuntimeError(f"FastWordFeatures was put on a layer it cannot compute: {model.name}")
        return self._parts

    def width(self, model: Model) -> int:
        return self.parts(model).maxout.get_dim("nO")

    def features(self, model: Model, docs: List[Doc]) -> numpy.ndarray:
        parts = self.parts(model)
        width = parts.maxout.get_dim("nO")
        inputs = []
        if parts.tables:
            rows = table_rows(docs, parts.columns, hashing(parts), model.ops)
            inputs.extend(model.ops.gather_add(table.get_param("E"), rows[index])
                          for index, table in enumerate(parts.tables))
        with torch_threads(inference=True), torch.no_grad():
            if parts.static_vectors is not None:
                projection = torch.from_numpy(parts.static_vectors.get_param("W"))
                vectors = torch.from_numpy(static_vectors(docs))
                inputs.append(rows_times(projection.new_zeros(projection.shape[0]), vectors, projection.t()).numpy())
            embedded = numpy.hstack(inputs) if len(inputs) > 1 else inputs[0]
            maxout = parts.maxout
            n_pieces = maxout.get_dim("nP")
            weights = torch.from_numpy(maxout.get_param("W").reshape(width * n_pieces, -1))
            bias = torch.from_numpy(maxout.get_param("b").reshape(width * n_pieces))
            pieces = rows_times(bias, torch.from_numpy(embedded), weights.t()).numpy()
        # Maxout's max over the pieces, one piece at a time: numpy's max over a last axis of 3
        # runs about 9x slower than these elementwise maxima.
        pieces = pieces.reshape(len(embedded), width, n_pieces)
        best = pieces[:, :, 0].copy()
        for piece in range(1, n_pieces):
            numpy.maximum(best, pieces[:, :, piece], out=best)
        # thinc's LayerNorm
        mean = best.mean(axis=1, keepdims=True)
        variance = best.var(axis=1, keepdims=True) + LAYER_NORM_EPSILON
        features = (best - mean) * variance ** (-1.0 / 2.0)
        features *= parts.layer_norm.get_param("G")
        features += parts.layer_norm.get_param("b")
        return features


def use_fast_word_features(model: Model) -> None:
    """Make every word-features layer of `model` predict with FastWordFeatures."""
    for layer in word_feature_layers(model):
        if not isinstance(layer._func, WordFeaturesForward):
            layer._func = FastWordFeatures(layer._func)


def hashing(parts: WordFeatureParts) -> List[Tuple[int, int]]:
    """(seed, rows) of each table, by column."""
    return [(table.attrs["seed"], table.get_param("E").shape[0]) for table in parts.tables]


def table_rows(docs: List[Doc], columns: List, table_hashing: List[Tuple[int, int]], ops) -> numpy.ndarray:
    """(tables, N tokens, 4) uint32: as FeatureExtractor and HashEmbed, each column's keys hashed
    with its table's seed, modulo the table's rows."""
    keys = docs[0].to_array(columns) if len(docs) == 1 else numpy.concatenate(
        [doc.to_array(columns) for doc in docs])
    keys = numpy.asarray(keys, dtype="uint64").reshape(len(keys), -1)
    rows = numpy.empty((len(table_hashing), len(keys), HASHES_PER_KEY), dtype="uint32")
    for column, (seed, n_rows) in enumerate(table_hashing):
        rows[column] = ops.hash(numpy.ascontiguousarray(keys[:, column]), seed) % n_rows
    return rows


def static_vectors(docs: List[Doc]) -> numpy.ndarray:
    """(N tokens, vectors width) float32: as spaCy's StaticVectors, keys by the vectors'
    attribute, and a missing vector is zeros."""
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
    raise RuntimeError("The word features were computed for prediction only: no gradient.")

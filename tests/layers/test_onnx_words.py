"""The word features' ONNX graph (layers/onnx_words.py) computes what the thinc layers it
replaces compute, for every shape of word features the configs build, and only for those."""
import numpy
import pytest
import spacy
from spacy.vectors import Vectors
from thinc.api import Model

from spacy_bilstm.layers import onnx_words, word_features

for _package in ("onnx", "onnxruntime"):
    pytest.importorskip(_package, reason='the ONNX extra is not installed: pip install ".[onnx]"')

TEXTS = [
    "Tim Cook and Angela Merkel met the United Nations in London on Monday.",
    "apple banana , 12,500 shares at $ 3.75 !",
    "x",
]
WORD_CHAR_EMBED = {"width": 16, "char_embed_width": 8, "char_filters": 8, "char_rows": 64}


def built(nlp, architecture: dict) -> Model:
    model = spacy.util.registry.resolve({"model": architecture})["model"]
    model.initialize(X=[nlp.make_doc(text) for text in TEXTS])
    return model


@pytest.fixture
def nlp_with_vectors():
    # Keyed by LOWER, as GloVe's: "London" finds the vector of "london".
    words = ["apple", "banana", "london", "monday", "the"]
    nlp = spacy.blank("en")
    data = numpy.random.default_rng(0).normal(size=(len(words), 6)).astype("float32")
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=data, keys=[nlp.vocab.strings.add(w) for w in words],
                                attr="LOWER")
    return nlp


def only_word_layer(model: Model) -> Model:
    layers = word_features.word_feature_layers(model)
    assert len(layers) == 1
    return layers[0]


def assert_graph_computes_the_layer(nlp, layer: Model) -> None:
    docs = [nlp.make_doc(text) for text in TEXTS]
    assert onnx_words.graph_error(layer, onnx_words.export_word_graph(layer), docs) < 1e-5


@pytest.mark.parametrize("architecture", [
    {"@architectures": "spacy-bilstm.WordCharEmbed.v3", **WORD_CHAR_EMBED, "rows": [50, 20, 30, 40],
     "identity_dropout": 0.5},
    {"@architectures": "spacy-bilstm.WordCharEmbed.v1", **WORD_CHAR_EMBED, "rows": [50, 20, 30, 40]},
    {"@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM", "SHAPE"], "rows": [50, 20],
     "include_static_vectors": False},
], ids=["ours, hashed tables with identity dropout", "spaCy's MultiHashEmbed in WordCharEmbed.v1", "spaCy's own"])
def test_the_graph_of_hashed_tables_computes_the_layer(architecture):
    nlp = spacy.blank("en")
    assert_graph_computes_the_layer(nlp, only_word_layer(built(nlp, architecture)))


@pytest.mark.parametrize("architecture", [
    # bilstm_crf_vectors' words: static vectors alone.
    {"@architectures": "spacy-bilstm.WordCharEmbed.v2", **WORD_CHAR_EMBED, "attrs": [], "rows": [],
     "include_static_vectors": True},
    {"@architectures": "spacy-bilstm.WordCharEmbed.v3", **WORD_CHAR_EMBED, "attrs": ["NORM", "SHAPE"],
     "rows": [50, 20], "include_static_vectors": True, "identity_dropout": 0.3},
    {"@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM"], "rows": [50],
     "include_static_vectors": True},
], ids=["vectors alone", "tables and vectors", "spaCy's own, with vectors"])
def test_the_graph_of_static_vectors_computes_the_layer_words_without_a_vector_included(
    nlp_with_vectors, architecture
):
    layer = only_word_layer(built(nlp_with_vectors, architecture))
    assert word_features.word_feature_parts(layer).static_vectors is not None
    assert_graph_computes_the_layer(nlp_with_vectors, layer)


def test_the_embedding_inside_spacys_tok2vec_has_a_graph_and_the_cnn_around_it_none():
    nlp = spacy.blank("en")
    model = built(nlp, {"@architectures": "spacy.HashEmbedCNN.v2", "width": 16, "depth": 1, "embed_size": 50,
                        "window_size": 1, "maxout_pieces": 2, "subword_features": True, "pretrained_vectors": None})
    layer = only_word_layer(model)
    assert layer is not model
    assert_graph_computes_the_layer(nlp, layer)


def test_in_training_the_layer_runs_its_own_thinc_forward():
    nlp = spacy.blank("en")
    layer = only_word_layer(built(nlp, {"@architectures": "spacy-bilstm.WordCharEmbed.v3", **WORD_CHAR_EMBED,
                                        "rows": [50, 20, 30, 40], "identity_dropout": 0.5}))
    docs = [nlp.make_doc(text) for text in TEXTS]
    onnx_words.use_word_graph(layer, onnx_words.export_word_graph(layer), {}, "test")
    assert onnx_words.word_graph_in_use(layer) is not None
    features, backprop = layer.begin_update(docs)
    backprop([numpy.ones_like(f) for f in features])  # a thinc backprop: the graph's would raise
    with pytest.raises(RuntimeError, match="no gradient"):
        layer._func(layer, docs, False)[1]([numpy.ones_like(f) for f in features])

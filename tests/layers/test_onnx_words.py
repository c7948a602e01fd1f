"""The word features' ONNX graph (layers/onnx_words.py) computes what the thinc layers it
replaces compute, for every shape of word features the configs build, and only for those."""
import numpy
import pytest
import spacy
from thinc.api import Model

from spacy_bilstm.layers import onnx_words, word_features

from .word_layers import HASHED, TEXTS, WITH_VECTORS, built, only_word_layer

for _package in ("onnx", "onnxruntime"):
    pytest.importorskip(_package, reason='the ONNX extra is not installed: pip install ".[onnx]"')

def assert_graph_computes_the_layer(nlp, layer: Model) -> None:
    docs = [nlp.make_doc(text) for text in TEXTS]
    assert onnx_words.graph_error(layer, onnx_words.export_word_graph(layer), docs) < 1e-5


@pytest.mark.parametrize("architecture", HASHED.values(), ids=HASHED)
def test_the_graph_of_hashed_tables_computes_the_layer(architecture):
    nlp = spacy.blank("en")
    assert_graph_computes_the_layer(nlp, only_word_layer(built(nlp, architecture)))


@pytest.mark.parametrize("architecture", WITH_VECTORS.values(), ids=WITH_VECTORS)
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
    layer = only_word_layer(built(nlp, HASHED["ours, hashed tables with identity dropout"]))
    docs = [nlp.make_doc(text) for text in TEXTS]
    onnx_words.use_word_graph(layer, onnx_words.export_word_graph(layer), {}, "test")
    assert onnx_words.word_graph_in_use(layer) is not None
    features, backprop = layer.begin_update(docs)
    backprop([numpy.ones_like(f) for f in features])  # a thinc backprop: the graph's would raise
    with pytest.raises(RuntimeError, match="no gradient"):
        layer._func(layer, docs, False)[1]([numpy.ones_like(f) for f in features])

"""The word features at prediction (layers/word_features.py): which layers qualify, and the
few-call forward computes what the thinc layers do, for a text alone as in any batch."""
import numpy
import pytest
import spacy
from spacy.ml.featureextractor import FeatureExtractor
from thinc.api import HashEmbed, Maxout, Relu, chain, list2ragged, ragged2list, with_array

from spacy_bilstm.layers import word_features

from .word_layers import HASHED, TEXTS, WITH_VECTORS, built, only_word_layer

ARCHITECTURES = {**HASHED, **WITH_VECTORS}


@pytest.mark.parametrize("architecture", ARCHITECTURES.values(), ids=ARCHITECTURES)
def test_the_fast_forward_computes_what_the_layers_do_and_a_texts_features_do_not_depend_on_its_batch(
    nlp_with_vectors, architecture
):
    layer = only_word_layer(built(nlp_with_vectors, architecture))
    docs = [nlp_with_vectors.make_doc(text) for text in TEXTS * 7]  # more tokens than rows_times pads to
    expected = layer.predict(docs)
    word_features.use_fast_word_features(model=layer)
    assert isinstance(layer._func, word_features.FastWordFeatures)
    batched = layer.predict(docs)
    assert max(float(numpy.abs(a - b).max()) for a, b in zip(expected, batched)) < 1e-5
    alone = [layer.predict([doc])[0] for doc in docs]
    assert all(numpy.array_equal(a, b) for a, b in zip(alone, batched))


def test_in_training_the_layer_runs_its_thinc_forward():
    nlp = spacy.blank("en")
    layer = only_word_layer(built(nlp, HASHED["ours, hashed tables with identity dropout"]))
    word_features.use_fast_word_features(layer)
    docs = [nlp.make_doc(text) for text in TEXTS]
    features, backprop = layer.begin_update(docs)
    backprop([numpy.ones_like(f) for f in features])
    with pytest.raises(RuntimeError, match="no gradient"):
        layer._func(layer, docs, False)[1]([numpy.ones_like(f) for f in features])


def test_the_component_predicts_its_word_features_with_the_fast_forward():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    layers = word_features.word_feature_layers(ner.model)
    assert len(layers) == 1 and isinstance(layers[0]._func, word_features.FastWordFeatures)


def test_word_features_with_other_arithmetic_have_no_graph():
    without_layer_norm = chain(
        FeatureExtractor(["NORM"]), list2ragged(), with_array(HashEmbed(16, 50, column=0)),
        with_array(Maxout(16, 16, nP=3, normalize=False)), ragged2list(),
    )
    assert word_features.word_feature_layers(without_layer_norm) == []
    with_another_layer = chain(
        FeatureExtractor(["NORM"]), list2ragged(), with_array(chain(HashEmbed(16, 50, column=0), Relu(16, 16))),
        with_array(Maxout(16, 16, nP=3, normalize=True)), ragged2list(),
    )
    assert word_features.word_feature_layers(with_another_layer) == []




def test_a_copy_of_the_layer_predicts_with_its_own_weights():
    nlp = spacy.blank("en")
    layer = only_word_layer(built(nlp, HASHED["ours, hashed tables with identity dropout"]))
    word_features.use_fast_word_features(layer)
    docs = [nlp.make_doc(text) for text in TEXTS]
    original = layer.predict(docs)
    copy = layer.copy()  # thinc's copy shares the forward object, with new weights arrays
    maxout = next(node for node in copy.walk() if node.name == "maxout")
    maxout.set_param("b", maxout.get_param("b") + 1.0)
    assert not numpy.allclose(copy.predict(docs)[0], original[0])
    assert numpy.array_equal(layer.predict(docs)[0], original[0])

"""Word-features layers (layers/word_features.py) of every shape the configs build, tiny, for
the tests of their fast forward and of their ONNX graph."""
import spacy
from thinc.api import Model

from spacy_bilstm.layers import word_features

TEXTS = [
    "Tim Cook and Angela Merkel met the United Nations in London on Monday.",
    "apple banana , 12,500 shares at $ 3.75 !",
    "x",
]
WORD_CHAR_EMBED = {"width": 16, "char_embed_width": 8, "char_filters": 8, "char_rows": 64}
HASHED = {
    "ours, hashed tables with identity dropout": {
        "@architectures": "spacy-bilstm.WordCharEmbed.v3", **WORD_CHAR_EMBED, "rows": [50, 20, 30, 40],
        "identity_dropout": 0.5},
    "spaCy's MultiHashEmbed in WordCharEmbed.v1": {
        "@architectures": "spacy-bilstm.WordCharEmbed.v1", **WORD_CHAR_EMBED, "rows": [50, 20, 30, 40]},
    "spaCy's own": {
        "@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM", "SHAPE"], "rows": [50, 20],
        "include_static_vectors": False},
}
WITH_VECTORS = {
    # bilstm_crf_vectors' words: static vectors alone.
    "vectors alone": {
        "@architectures": "spacy-bilstm.WordCharEmbed.v2", **WORD_CHAR_EMBED, "attrs": [], "rows": [],
        "include_static_vectors": True},
    "tables and vectors": {
        "@architectures": "spacy-bilstm.WordCharEmbed.v3", **WORD_CHAR_EMBED, "attrs": ["NORM", "SHAPE"],
        "rows": [50, 20], "include_static_vectors": True, "identity_dropout": 0.3},
    "spaCy's own, with vectors": {
        "@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM"], "rows": [50],
        "include_static_vectors": True},
}


def built(nlp, architecture: dict) -> Model:
    model = spacy.util.registry.resolve({"model": architecture})["model"]
    model.initialize(X=[nlp.make_doc(text) for text in TEXTS])
    return model


def only_word_layer(model: Model) -> Model:
    layers = word_features.word_feature_layers(model)
    assert len(layers) == 1
    return layers[0]

"""The registered architectures, version by version: BiLSTMCRF, WordCharEmbed, Tok2VecCharEmbed, CharCNN."""
import numpy
import pytest
import spacy

from ..helpers import TRAIN_DATA, entity_tuples, make_examples


def _trained_small_pipeline(architecture, n_updates=5, drop=0.1, **settings):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    config = {"model": {"@architectures": architecture, "hidden_width": 32, "dropout": 0.2, **settings,
                        "tok2vec": {"@architectures": "spacy-bilstm.WordCharEmbed.v1", "width": 32}}}
    nlp.add_pipe("bilstm_ner", config=config)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_updates):
        nlp.update(examples, sgd=optimizer, drop=drop)
    return nlp


def _emissions(nlp):
    docs = [nlp.make_doc(text) for text, _ in TRAIN_DATA]
    return numpy.concatenate(nlp.get_pipe("bilstm_ner").model.predict(docs).emissions)


def test_bilstm_crf_v2_with_its_defaults_trains_exactly_like_v1():
    v1 = _trained_small_pipeline("spacy-bilstm.BiLSTMCRF.v1")
    v2 = _trained_small_pipeline("spacy-bilstm.BiLSTMCRF.v2")
    assert numpy.array_equal(_emissions(v1), _emissions(v2))


@pytest.mark.parametrize("setting", ["locked_dropout", "word_dropout"])
def test_bilstm_crf_v2_each_sequence_dropout_reaches_the_lstm(setting):
    plain = _trained_small_pipeline("spacy-bilstm.BiLSTMCRF.v2")
    dropped = _trained_small_pipeline("spacy-bilstm.BiLSTMCRF.v2", **{setting: 0.2})
    assert not numpy.allclose(_emissions(plain), _emissions(dropped))


def test_bilstm_crf_v2_with_sequence_dropouts_learns_the_training_data():
    nlp = _trained_small_pipeline("spacy-bilstm.BiLSTMCRF.v2", n_updates=150, drop=0.0, dropout=0.0,
                                  locked_dropout=0.2, word_dropout=0.05)
    for text, gold in TRAIN_DATA:
        assert entity_tuples(nlp(text)) == gold


@pytest.mark.parametrize("setting", ["locked_dropout", "word_dropout"])
def test_bilstm_crf_v2_rejects_a_dropout_of_one(setting):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=f"{setting} must be at least 0 and below 1"):
        nlp.add_pipe("bilstm_ner", config={"model": {
            "@architectures": "spacy-bilstm.BiLSTMCRF.v2", setting: 1.0,
            "tok2vec": {"@architectures": "spacy-bilstm.WordCharEmbed.v1"},
        }})


def test_word_char_embed_builds_with_its_default_attrs_and_rows():
    # The defaults are tuples (no mutable defaults); config validation must accept them. A model
    # block of another architecture replaces the factory's default block, defaults and all.
    nlp = spacy.blank("en")
    model = {"@architectures": "spacy-bilstm.BiLSTMCRF.v2", "tok2vec": {"@architectures": "spacy-bilstm.WordCharEmbed.v1"}}
    ner = nlp.add_pipe("bilstm_ner", config={"model": model})
    nlp.initialize(lambda: make_examples(nlp))
    assert ner.model.get_ref("tok2vec").get_dim("nO") == 96 + 64


def _initialized_with_vectors(model):
    """A blank English pipeline with an 8-wide vector for each word of the training texts and
    bilstm_ner of `model`, initialized on those texts."""
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    rng = numpy.random.default_rng(0)
    for text, _ in TRAIN_DATA:
        for token in nlp.make_doc(text):
            nlp.vocab.set_vector(token.text, rng.normal(size=8).astype("float32"))
    nlp.add_pipe("bilstm_ner", config={"model": model})
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    return nlp, examples, optimizer


def _pipeline_with_vectors(tok2vec):
    return _initialized_with_vectors({"@architectures": "spacy-bilstm.BiLSTMCRF.v1", "hidden_width": 32,
                                      "tok2vec": {"width": 32, "include_static_vectors": True, **tok2vec}})


def test_word_char_embed_v2_with_attributes_trains_exactly_like_v1():
    attributes = {"attrs": ["SHAPE"], "rows": [50]}
    results = []
    for version in ("v1", "v2"):
        nlp, examples, optimizer = _pipeline_with_vectors({"@architectures": f"spacy-bilstm.WordCharEmbed.{version}",
                                                           **attributes})
        for _ in range(3):
            nlp.update(examples, sgd=optimizer, drop=0.1)
        results.append(_emissions(nlp))
    assert numpy.array_equal(*results)


def test_word_char_embed_v2_without_hashed_attributes_describes_words_by_their_vectors():
    nlp, examples, optimizer = _pipeline_with_vectors(
        {"@architectures": "spacy-bilstm.WordCharEmbed.v2", "attrs": [], "rows": []}
    )
    tok2vec = nlp.get_pipe("bilstm_ner").model.get_ref("tok2vec")
    names = [node.name for node in tok2vec.walk()]
    assert "static_vectors" in names and "char_cnn" in names
    assert not any(name.startswith("hashembed") for name in names)
    for _ in range(150):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    for text, gold in TRAIN_DATA:
        assert entity_tuples(nlp(text)) == gold


@pytest.mark.parametrize("version, settings", [("v2", {}), ("v3", {"identity_dropout": 0.5})])
@pytest.mark.parametrize("attrs, rows", [([], [5000]), (["SHAPE"], [])])
def test_word_char_embed_v2_and_v3_attrs_and_rows_must_pair_up(attrs, rows, version, settings):
    nlp = spacy.blank("en")
    tok2vec = {"@architectures": f"spacy-bilstm.WordCharEmbed.{version}", "attrs": attrs, "rows": rows,
               "include_static_vectors": True, **settings}
    with pytest.raises(ValueError, match="must pair up"):
        nlp.add_pipe("bilstm_ner", config={"model": {"tok2vec": tok2vec}})


def test_word_char_embed_v2_without_attributes_or_vectors_is_a_config_error():
    nlp = spacy.blank("en")
    tok2vec = {"@architectures": "spacy-bilstm.WordCharEmbed.v2", "attrs": [], "rows": []}
    with pytest.raises(ValueError, match="needs the static vectors"):
        nlp.add_pipe("bilstm_ner", config={"model": {"tok2vec": tok2vec}})


def test_word_char_embed_v3_without_identity_dropout_trains_exactly_like_v2():
    results = []
    for version, settings in (("v2", {}), ("v3", {"identity_dropout": 0.0})):
        nlp, examples, optimizer = _pipeline_with_vectors({"@architectures": f"spacy-bilstm.WordCharEmbed.{version}",
                                                           "attrs": ["NORM", "SHAPE"], "rows": [50, 50], **settings})
        for _ in range(3):
            nlp.update(examples, sgd=optimizer, drop=0.1)
        results.append(_emissions(nlp))
    assert numpy.array_equal(*results)


@pytest.mark.parametrize("attrs, rows", [(["NORM", "PREFIX", "SHAPE"], [50, 20, 30]), ([], [])])
def test_word_char_embed_v3_with_identity_dropout_predicts_exactly_like_v2_with_the_same_weights(attrs, rows):
    """Hiding words only happens in training: the tables, seeds and mixing layer are spaCy's
    MultiHashEmbed's, so a freshly initialized v3 and v2 give the same prediction."""
    results = []
    for version, settings in (("v2", {}), ("v3", {"identity_dropout": 0.5})):
        nlp, _, _ = _pipeline_with_vectors({"@architectures": f"spacy-bilstm.WordCharEmbed.{version}",
                                            "attrs": attrs, "rows": rows, **settings})
        results.append(_emissions(nlp))
    assert numpy.array_equal(*results)


def _hiding_layers(nlp):
    """The layers of the pipeline's tok2vec that chain an embedding and hidden_tokens."""
    tok2vec = nlp.get_pipe("bilstm_ner").model.get_ref("tok2vec")
    return [node for node in tok2vec.walk()
            if len(node.layers) == 2 and node.layers[1].name == "with_array(hidden_tokens)"]


def _hidden_embeddings(nlp):
    return [node.layers[0] for node in _hiding_layers(nlp)]


def test_word_char_embed_v3_hides_the_norm_table_only_and_still_learns_the_training_data():
    nlp, examples, optimizer = _initialized_with_vectors({
        "@architectures": "spacy-bilstm.BiLSTMCRF.v3", "hidden_width": 32,
        "tok2vec": {"@architectures": "spacy-bilstm.WordCharEmbed.v3", "width": 32, "attrs": ["NORM", "SHAPE"],
                    "rows": [50, 50], "identity_dropout": 0.3},
    })
    hidden = _hidden_embeddings(nlp)
    assert len(hidden) == 1
    assert hidden[0].name.endswith("hashembed") and hidden[0].attrs["column"] == 0  # NORM, not SHAPE
    for _ in range(150):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    for text, gold in TRAIN_DATA:
        assert entity_tuples(nlp(text)) == gold


@pytest.mark.parametrize("attrs, rows, hidden_names", [
    ([], [], ["static_vectors"]),
    (["NORM", "SUFFIX"], [50, 50], ["ints-getitem>>hashembed", "static_vectors"]),
    (["SUFFIX"], [50], ["static_vectors"]),
])
def test_word_char_embed_v3_hides_the_static_vectors_too(attrs, rows, hidden_names):
    nlp, _, _ = _pipeline_with_vectors({"@architectures": "spacy-bilstm.WordCharEmbed.v3", "attrs": attrs,
                                        "rows": rows, "identity_dropout": 0.5})
    assert sorted(layer.name for layer in _hidden_embeddings(nlp)) == hidden_names


def test_word_char_embed_v3_hides_whole_static_vectors_in_training_only():
    nlp, _, _ = _pipeline_with_vectors({"@architectures": "spacy-bilstm.WordCharEmbed.v3", "attrs": [], "rows": [],
                                        "identity_dropout": 0.5})
    hiding = _hiding_layers(nlp)
    docs = [nlp.make_doc(text) for text, _ in TRAIN_DATA]
    vectors = hiding[0].predict(docs).data  # every word of the training texts has a vector
    assert not numpy.any(numpy.all(vectors == 0.0, axis=1))
    numpy.random.seed(0)
    hidden_in_training, _ = hiding[0](docs, is_train=True)
    zero_rows = numpy.all(hidden_in_training.data == 0.0, axis=1)
    assert 0 < zero_rows.sum() < len(zero_rows)
    assert numpy.array_equal(hidden_in_training.data[~zero_rows], vectors[~zero_rows])


def test_word_char_embed_v3_identity_dropout_without_a_word_identity_table_is_a_config_error():
    nlp = spacy.blank("en")
    tok2vec = {"@architectures": "spacy-bilstm.WordCharEmbed.v3", "attrs": ["PREFIX", "SHAPE"], "rows": [50, 50],
               "identity_dropout": 0.3}
    with pytest.raises(ValueError, match="Add NORM to attrs"):
        nlp.add_pipe("bilstm_ner", config={"model": {"tok2vec": tok2vec}})


def _pipeline_on_an_upstream_tok2vec(version, **settings):
    """bilstm_ner on Tok2VecCharEmbed.`version` over a 32-wide hashed-NORM upstream (standing in
    for a listener), with an 8-wide vector for each word of the training texts."""
    upstream = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 32, "attrs": ["NORM"], "rows": [100],
                "include_static_vectors": False}
    tok2vec = {"@architectures": f"spacy-bilstm.Tok2VecCharEmbed.{version}", "tok2vec": upstream,
               "tok2vec_width": 32, "char_filters": 16, **settings}
    return _initialized_with_vectors({"@architectures": "spacy-bilstm.BiLSTMCRF.v3", "hidden_width": 32,
                                      "tok2vec": tok2vec})


def test_tok2vec_char_embed_v2_without_static_vectors_trains_exactly_like_v1():
    results = []
    for version in ("v1", "v2"):
        nlp, examples, optimizer = _pipeline_on_an_upstream_tok2vec(version)
        for _ in range(3):
            nlp.update(examples, sgd=optimizer, drop=0.1)
        results.append(_emissions(nlp))
    assert numpy.array_equal(*results)


def test_tok2vec_char_embed_v2_puts_the_static_vectors_beside_the_upstream_and_the_characters():
    nlp, examples, optimizer = _pipeline_on_an_upstream_tok2vec("v2", include_static_vectors=True, vectors_width=24)
    tok2vec = nlp.get_pipe("bilstm_ner").model.get_ref("tok2vec")
    names = [node.name for node in tok2vec.walk()]
    assert "static_vectors" in names and "char_cnn" in names
    docs = [nlp.make_doc(text) for text, _ in TRAIN_DATA]
    assert all(features.shape == (len(doc), 32 + 24 + 16) for doc, features in zip(docs, tok2vec.predict(docs)))
    for _ in range(150):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    for text, gold in TRAIN_DATA:
        assert entity_tuples(nlp(text)) == gold


def test_tok2vec_char_embed_v2_refuses_an_empty_vectors_width():
    with pytest.raises(ValueError, match="vectors_width must be at least 1, got 0"):
        _pipeline_on_an_upstream_tok2vec("v2", include_static_vectors=True, vectors_width=0)


def test_char_cnn_can_be_switched_off():
    nlp = spacy.blank("en")
    config = {"model": {"tok2vec": {"include_char_cnn": False}}}
    ner = nlp.add_pipe("bilstm_ner", config=config)
    nlp.initialize(lambda: make_examples(nlp))
    assert "char_cnn" not in [node.name for node in ner.model.walk()]
    assert len(nlp("Apple hired Tim Cook.").spans["bilstm_ner"]) >= 0


def test_a_char_cnn_keeping_no_characters_is_a_config_error():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="max_chars"):
        nlp.add_pipe("bilstm_ner", config={"model": {"tok2vec": {"max_chars": 0}}})


def test_unknown_output_layer_is_a_config_error():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="Unknown output 'sigmoid'"):
        nlp.add_pipe("bilstm_ner", config={"model": {"output": "sigmoid"}})

"""The bilstm_ner component inside spaCy: learning, serialization, batching, edge cases."""
import pickle
import re
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Config

from spacy_bilstm import BiLSTMEntityRecognizer
from spacy_bilstm.tags import UnknownLabelError

from .helpers import TRAIN_DATA, entity_tuples, make_examples


def test_overfitting_io(overfitted_nlp, tmp_path):
    nlp = overfitted_nlp
    for text, gold in TRAIN_DATA:
        assert entity_tuples(nlp(text)) == gold
    nlp.to_disk(tmp_path)
    reloaded = spacy.load(tmp_path)
    texts = [text for text, _ in TRAIN_DATA] + ["Tim Cook flew from London to Geneva with Angela Merkel."]
    for text in texts:
        assert entity_tuples(reloaded(text)) == entity_tuples(nlp(text))
        assert reloaded(text).spans["bilstm_ner"].attrs["scores"] == pytest.approx(
            nlp(text).spans["bilstm_ner"].attrs["scores"], abs=1e-6
        )
    from_bytes = spacy.blank("en")
    from_bytes.add_pipe("bilstm_ner")
    from_bytes.from_bytes(nlp.to_bytes())
    for text in texts:
        assert entity_tuples(from_bytes(text)) == entity_tuples(nlp(text))
    piped = [entity_tuples(doc) for doc in nlp.pipe(texts, batch_size=3)]
    assert piped == [entity_tuples(nlp(text)) for text in texts]


def test_overfitted_entities_score_near_one(overfitted_nlp):
    doc = overfitted_nlp("Apple hired Tim Cook in Cupertino.")
    scores = doc.spans["bilstm_ner"].attrs["scores"]
    assert len(scores) == 3 and min(scores) > 0.9


def test_predictions_are_batch_independent(overfitted_nlp):
    """Padding and length bucketing never change a document's result."""
    texts = [text for text, _ in TRAIN_DATA]
    alone = [entity_tuples(overfitted_nlp(text)) for text in texts]
    long_text = " ".join(texts * 30)
    together = [entity_tuples(doc) for doc in overfitted_nlp.pipe(texts + [long_text], batch_size=100)]
    assert together[: len(texts)] == alone


def test_multiprocess_pipe_matches_single_process(overfitted_nlp):
    texts = [text for text, _ in TRAIN_DATA] * 4
    single = [entity_tuples(doc) for doc in overfitted_nlp.pipe(texts, n_process=1, batch_size=4)]
    multi = [entity_tuples(doc) for doc in overfitted_nlp.pipe(texts, n_process=2, batch_size=4)]
    assert multi == single


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "London", "x"])
def test_degenerate_documents(overfitted_nlp, text):
    doc = overfitted_nlp(text)
    assert len(doc.spans["bilstm_ner"]) == len(doc.ents) <= len(doc)


def test_batch_with_empty_documents(overfitted_nlp):
    docs = list(overfitted_nlp.pipe(["", "Apple hired Tim Cook in Cupertino.", "   "]))
    assert [len(doc.ents) for doc in docs] == [0, 3, 0]


def test_document_far_longer_than_any_training_doc(overfitted_nlp):
    text = "Apple hired Tim Cook in Cupertino. " * 2000
    doc = overfitted_nlp(text)
    assert len(doc) == 14000
    assert sum(ent.label_ == "PER" for ent in doc.ents) == 2000


def test_threshold_only_removes_entities(overfitted_nlp, tmp_path):
    text = "Tim Cook flew from London to Geneva with Angela Merkel and the United Nations."
    baseline = overfitted_nlp(text)
    ner = overfitted_nlp.get_pipe("bilstm_ner")
    previous = set(entity_tuples(baseline))
    try:
        for threshold in [0.3, 0.6, 0.9, 0.99, 1.0]:
            ner.cfg["threshold"] = threshold
            doc = overfitted_nlp(text)
            current = set(entity_tuples(doc))
            assert current <= previous
            kept = [s for s, score in zip(doc.spans["bilstm_ner"], doc.spans["bilstm_ner"].attrs["scores"]) if score >= threshold]
            assert current == {(s.start_char, s.end_char, s.label_) for s in kept}
            assert len(doc.spans["bilstm_ner"]) == len(baseline.spans["bilstm_ner"])
            previous = current
    finally:
        ner.cfg["threshold"] = 0.0


def test_labels_inferred_from_examples_or_given():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    nlp.initialize(lambda: make_examples(nlp))
    assert ner.labels == ("LOC", "ORG", "PER")
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    nlp.config["initialize"]["components"]["bilstm_ner"] = {"labels": ["PER", "LOC", "ORG", "MISC"]}
    nlp.initialize(lambda: make_examples(nlp))
    assert ner.labels == ("PER", "LOC", "ORG", "MISC")


def test_add_label_before_initialize_and_after_it_grows_the_model():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    assert ner.add_label("PER") == 1
    assert ner.add_label("PER") == 0
    nlp.initialize(lambda: make_examples(nlp, [("Who is Shaka Khan?", [(7, 17, "PER")])]))
    assert ner.add_label("LOC") == 1  # tests/test_growth.py: what growing keeps
    assert ner.labels == ("PER", "LOC")


def test_labels_added_before_initialize_are_kept_beside_those_of_the_examples():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    ner.add_label("MISC")
    nlp.initialize(lambda: make_examples(nlp))
    assert ner.labels == ("MISC", "LOC", "ORG", "PER")


def test_labels_added_before_initialize_without_examples_are_the_labels():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    ner.add_label("PER")
    ner.add_label("LOC")
    nlp.initialize()
    assert ner.labels == ("PER", "LOC")
    assert {ent.label_ for ent in nlp("Paris and Berlin.").ents} <= {"PER", "LOC"}


def test_initializing_again_keeps_the_labels_and_can_add_new_ones():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    nlp.initialize(lambda: make_examples(nlp))
    nlp.initialize(lambda: make_examples(nlp))
    assert ner.labels == ("LOC", "ORG", "PER")
    nlp.config["initialize"]["components"]["bilstm_ner"] = {"labels": ["MISC"]}
    optimizer = nlp.initialize(lambda: make_examples(nlp))
    assert ner.labels == ("LOC", "ORG", "PER", "MISC")
    nlp.update(make_examples(nlp, [("A MISC thing.", [(2, 6, "MISC")])]), sgd=optimizer)


def test_an_empty_label_is_refused_by_add_label_and_by_initialize():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    with pytest.raises(ValueError, match="non-empty strings"):
        ner.add_label("")
    nlp.config["initialize"]["components"]["bilstm_ner"] = {"labels": ["PER", ""]}
    with pytest.raises(ValueError, match="non-empty strings"):
        nlp.initialize(lambda: make_examples(nlp))


def test_no_entities_anywhere_is_a_clear_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    with pytest.raises(ValueError, match="no entity labels"):
        nlp.initialize(lambda: make_examples(nlp, [("Nothing here.", [])]))


def test_update_with_an_unknown_label_names_it():
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    optimizer = nlp.initialize(lambda: make_examples(nlp, [("Who is Shaka Khan?", [(7, 17, "PER")])]))
    with pytest.raises(UnknownLabelError, match="'GPE'") as raised:
        nlp.update(make_examples(nlp, [("I like Paris.", [(7, 12, "GPE")])]), sgd=optimizer)
    message = str(raised.value)
    assert "'bilstm_ner'" in message and "'I like Paris.'" in message
    assert "[initialize.components.bilstm_ner.labels]" in message and "<name>" not in message


def test_entities_set_before_the_component_are_kept_and_predictions_fill_the_gaps(overfitted_nlp):
    text = "Tim Cook flew from London to Geneva with Angela Merkel."
    ner = overfitted_nlp.get_pipe("bilstm_ner")
    predicted = {(ent.text, ent.label_) for ent in overfitted_nlp(text).ents}
    assert {("Tim Cook", "PER"), ("Geneva", "LOC"), ("Angela Merkel", "PER")} <= predicted
    doc = overfitted_nlp.make_doc(text)
    doc.ents = [Span(doc, 0, 1, label="ORG"), Span(doc, 4, 5, label="GPE")]  # "Tim", "London"
    doc = ner(doc)
    ents = {(ent.text, ent.label_) for ent in doc.ents}
    assert {("Tim", "ORG"), ("London", "GPE")} <= ents
    assert ("Tim Cook", "PER") not in ents and ("London", "LOC") not in ents
    assert ents - {("Tim", "ORG"), ("London", "GPE")} == predicted - {("Tim Cook", "PER"), ("London", "LOC")}
    assert {(span.text, span.label_) for span in doc.spans["bilstm_ner"]} == predicted


def test_a_threshold_given_when_loading_wins_over_the_saved_one(overfitted_nlp, tmp_path):
    overfitted_nlp.to_disk(tmp_path)
    strict = spacy.load(tmp_path, config={"components": {"bilstm_ner": {"threshold": 1.0}}})
    assert strict.get_pipe("bilstm_ner").threshold == 1.0
    text = "Tim Cook flew from London to Geneva with Angela Merkel."
    assert len(strict(text).ents) < len(spacy.load(tmp_path)(text).ents)


def test_saving_a_threshold_changed_at_runtime_warns_that_the_config_wins(overfitted_nlp, tmp_path):
    ner = overfitted_nlp.get_pipe("bilstm_ner")
    try:
        ner.cfg["threshold"] = 0.5
        with pytest.warns(UserWarning, match=r"cfg\['threshold'\] was changed to 0.5"):
            overfitted_nlp.to_disk(tmp_path)
    finally:
        ner.cfg["threshold"] = 0.0
    assert spacy.load(tmp_path).get_pipe("bilstm_ner").threshold == 0.0


def test_unknown_gold_tags_are_not_trained_as_outside():
    """Tokens without an annotation (spaCy's missing value) must not be learned as O: a model
    trained on partially annotated text keeps finding the entity in the unannotated part."""
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    full = make_examples(nlp, [("I like London and Berlin.", [(7, 13, "LOC"), (18, 24, "LOC")])])
    words = ["Berlin", "is", "big", "."]
    partial_doc = Doc(nlp.vocab, words=words, ents=[None, "O", "O", "O"])  # "Berlin" unannotated
    assert partial_doc[0].ent_iob_ == ""
    partial = [Example(nlp.make_doc("Berlin is big ."), partial_doc)]
    assert partial[0].get_aligned_ner()[0] is None
    optimizer = nlp.initialize(lambda: full)
    for _ in range(60):
        nlp.update(full + partial * 3, sgd=optimizer, drop=0.0)
    assert ("Berlin", "LOC") in [(e.text, e.label_) for e in nlp("Berlin is big .").ents]


@pytest.mark.parametrize("overrides", [{"output": "softmax"}, {"bidirectional": False}, {"depth": 2}])
def test_model_variants_learn_the_training_data(overrides):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    config = Config().from_str(
        """
        [model]
        @architectures = "spacy-bilstm.BiLSTMCRF.v1"
        hidden_width = 32

        [model.tok2vec]
        @architectures = "spacy-bilstm.WordCharEmbed.v1"
        width = 32
        """
    )
    config["model"].update(overrides)
    nlp.add_pipe("bilstm_ner", config=config)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(120):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    for text, gold in TRAIN_DATA:
        doc = nlp(text)
        assert entity_tuples(doc) == gold
        assert all(0.0 <= s <= 1.0 for s in doc.spans["bilstm_ner"].attrs["scores"])


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


def test_scores_that_are_no_longer_finite_are_reported_as_divergence_not_bad_data():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    nlp.initialize(lambda: make_examples(nlp))
    examples = make_examples(nlp, TRAIN_DATA[:2])
    output = ner.model.predict([eg.predicted for eg in examples])
    output.emissions = [numpy.array(scores, copy=True) for scores in output.emissions]
    output.emissions[1][0, 0] = numpy.nan
    with pytest.raises(FloatingPointError, match="learn_rate"):
        ner.get_loss(examples, output)


def test_unknown_output_layer_is_a_config_error():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="Unknown output 'sigmoid'"):
        nlp.add_pipe("bilstm_ner", config={"model": {"output": "sigmoid"}})


def test_listener_passes_gradients_to_the_shared_tok2vec():
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe(
        "bilstm_ner",
        config={"model": {"tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}}},
    )
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    tok2vec = nlp.get_pipe("tok2vec")
    assert tok2vec.listening_components == ["bilstm_ner"]

    def tok2vec_params():
        return {
            (node.id, name): node.get_param(name).copy()
            for node in tok2vec.model.walk()
            for name in node.param_names
            if node.has_param(name)
        }

    before = tok2vec_params()
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    after = tok2vec_params()
    changed = [key for key in before if not numpy.allclose(before[key], after[key])]
    assert len(changed) == len(before) > 0


def test_factory_and_architectures_resolve_through_entry_points_without_import():
    code = (
        "import spacy, sys\n"
        "nlp = spacy.blank('en'); nlp.add_pipe('bilstm_ner')\n"
        "assert 'spacy_bilstm' in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_entry_point_name_resolves_in_spacys_registry():
    from importlib.metadata import entry_points

    from spacy.util import registry

    architectures = [ep for ep in entry_points(group="spacy_architectures") if ep.name.startswith("spacy-bilstm.")]
    assert {ep.name for ep in architectures} >= {
        "spacy-bilstm.BiLSTMCRF.v1", "spacy-bilstm.BiLSTMCRF.v2", "spacy-bilstm.WordCharEmbed.v1",
        "spacy-bilstm.WordCharEmbed.v2", "spacy-bilstm.WordCharEmbed.v3", "spacy-bilstm.CharCNN.v1",
        "spacy-bilstm.Tok2VecCharEmbed.v1", "spacy-bilstm.Tok2VecCharEmbed.v2",
    }
    for ep in architectures:
        assert registry.architectures.get(ep.name) is ep.load()
    callbacks = [ep for ep in entry_points(group="spacy_callbacks") if ep.name.startswith("spacy-bilstm.")]
    assert {ep.name for ep in callbacks} == {
        "spacy-bilstm.InitializeFrozenTransformers.v1", "spacy-bilstm.CacheFrozenTransformerOutputs.v1",
        "spacy-bilstm.Rehearse.v1",
    }
    for ep in callbacks:
        assert registry.callbacks.get(ep.name) is ep.load()
    factories = [ep for ep in entry_points(group="spacy_factories") if ep.value.startswith("spacy_bilstm")]
    assert [ep.name for ep in factories] == ["bilstm_ner"]
    assert Language.has_factory("bilstm_ner")
    assert isinstance(spacy.blank("en").add_pipe("bilstm_ner"), BiLSTMEntityRecognizer)


def test_pipeline_pickles(overfitted_nlp):
    restored = pickle.loads(pickle.dumps(overfitted_nlp))
    text = "Apple hired Tim Cook in Cupertino."
    assert entity_tuples(restored(text)) == entity_tuples(overfitted_nlp(text))


def test_temperature_softens_scores_keeps_entities_and_is_saved(overfitted_nlp, tmp_path):
    text = "Apple hired Tim Cook in Cupertino."
    ner = overfitted_nlp.get_pipe("bilstm_ner")
    sharp = overfitted_nlp(text)
    try:
        ner.cfg["temperature"] = 4.0
        soft = overfitted_nlp(text)
        overfitted_nlp.to_disk(tmp_path)
    finally:
        ner.cfg["temperature"] = 1.0
    assert entity_tuples(soft) == entity_tuples(sharp)
    sharp_scores = sharp.spans["bilstm_ner"].attrs["scores"]
    soft_scores = soft.spans["bilstm_ner"].attrs["scores"]
    assert all(s < t for s, t in zip(soft_scores, sharp_scores))
    reloaded = spacy.load(tmp_path)
    assert reloaded.get_pipe("bilstm_ner").temperature == 4.0
    assert reloaded(text).spans["bilstm_ner"].attrs["scores"] == pytest.approx(soft_scores, abs=1e-6)


def test_each_sentence_is_read_on_its_own(overfitted_nlp):
    """With sentence boundaries (a sentencizer upstream), a doc gets exactly the entities its
    sentences get one by one: the LSTM reads each sentence as a unit."""
    texts = ["Apple hired Tim Cook in Cupertino.", "I like London and Berlin.", "Who is Shaka Khan?"]
    nlp = overfitted_nlp
    alone = [entity_tuples(nlp(text)) for text in texts]
    joined = nlp.make_doc(" ".join(texts))
    for token in joined:
        token.is_sent_start = token.i == 0 or token.nbor(-1).text in {".", "?"}
    doc = nlp.get_pipe("bilstm_ner")(joined)
    offsets = [0, len(texts[0]) + 1, len(texts[0]) + len(texts[1]) + 2]
    expected = [(s + o, e + o, label) for ents, o in zip(alone, offsets) for s, e, label in ents]
    assert entity_tuples(doc) == expected


def test_a_gold_entity_across_a_sentence_boundary_is_marginalised_not_an_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    words = ["I", "met", "Dr.", "Smith", "today", "."]
    predicted = Doc(nlp.vocab, words=words, sent_starts=[True, False, False, True, False, False])
    reference = Doc(nlp.vocab, words=words, ents=["O", "O", "B-PER", "I-PER", "O", "O"])
    example = Example(predicted, reference)
    optimizer = nlp.initialize(lambda: [example])
    losses = nlp.update([example], sgd=optimizer)
    assert numpy.isfinite(losses["bilstm_ner"])


def test_cut_to_segment_unknowns_only_the_crossing_entity():
    from spacy_bilstm.tags import BiluoTags

    tags = BiluoTags(["PER"])
    ids = tags.ids_from_biluo(["O", "B-PER", "I-PER", "L-PER", "U-PER", "O"])
    assert tags.cut_to_segment(ids, 0, 3).tolist() == [0, -1, -1]
    assert tags.cut_to_segment(ids, 3, 6).tolist() == [-1, tags.ids["U-PER"], 0]
    assert tags.cut_to_segment(ids, 0, 6).tolist() == ids.tolist()


def test_get_loss_changes_nothing_so_a_diagnostic_call_leaves_the_next_update_as_it_was():
    def trained_weights(call_get_loss_first):
        spacy.util.fix_random_seed(0)
        nlp = spacy.blank("en")
        ner = nlp.add_pipe("bilstm_ner")
        examples = make_examples(nlp)
        optimizer = nlp.initialize(lambda: examples)
        if call_get_loss_first:
            output = ner.model.predict([eg.predicted for eg in examples])
            loss, gradient = ner.get_loss(examples, output)
            assert loss > 0 and gradient.d_transitions is not None
        nlp.update(examples, sgd=optimizer, drop=0.0)
        return ner.model.to_bytes()

    assert trained_weights(call_get_loss_first=True) == trained_weights(call_get_loss_first=False)


def test_get_loss_of_a_generator_of_examples_is_the_loss_of_their_list():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner", config={"model": {"hidden_width": 8}})
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    output = ner.model.predict([eg.predicted for eg in examples])
    loss_of_list, _ = ner.get_loss(examples, output)
    loss_of_generator, _ = ner.get_loss((eg for eg in examples), output)
    assert loss_of_generator == loss_of_list > 0


def test_the_crfs_own_scores_learn_through_the_models_backprop():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    crf = ner.model.get_ref("tagger").shims[0]._model.crf
    before = crf.transition_scores.detach().clone()
    nlp.update(examples, sgd=optimizer, drop=0.0)
    assert not numpy.array_equal(before.numpy(), crf.transition_scores.detach().numpy())


# --- reading whole documents (BiLSTMCRF.v3) ----------------------------------------------------

CUT_BY_THE_SENTENCIZER = [
    ("The court cited arts. 32 and 33 of the law. Then it ruled.", [(16, 31, "LAW")]),
    ("See arts. 12 and 14 first. The case ended.", [(4, 19, "LAW")]),
    ("Maria read arts. 5 and 6 today. She left.", [(11, 24, "LAW"), (0, 5, "PER")]),
]


def _v3_model(**settings):
    from spacy_bilstm.pipeline import DEFAULT_MODEL

    return {**DEFAULT_MODEL, "@architectures": "spacy-bilstm.BiLSTMCRF.v3", **settings}


def _reading_pipeline(reading, window=None, context="sentence"):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("bilstm_ner", config={"model": _v3_model(reading=reading, window=window, context=context)})
    return nlp


def _train(nlp, data, steps=60):
    # The sentencizer's boundaries on the predicted docs, as annotating_components gives them.
    sentencizer = nlp.get_pipe("sentencizer")
    examples = [Example.from_dict(sentencizer(nlp.make_doc(text)), {"entities": ents}) for text, ents in data]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp


def test_document_reading_learns_entities_that_the_sentencizer_cuts_in_two():
    nlp = _reading_pipeline("sentence")
    for text, ents in CUT_BY_THE_SENTENCIZER[:2]:
        doc = nlp.get_pipe("sentencizer")(nlp.make_doc(text))
        start, end, _ = ents[0]
        assert any(token.is_sent_start for token in doc.char_span(start, end)[1:]), "no longer cut: pick another"
    by_document = _train(_reading_pipeline("document"), CUT_BY_THE_SENTENCIZER)
    by_sentence = _train(_reading_pipeline("sentence"), CUT_BY_THE_SENTENCIZER)
    for text, ents in CUT_BY_THE_SENTENCIZER:
        assert entity_tuples(by_document(text)) == sorted(tuple(e) for e in ents)
        assert (16, 31, "LAW") not in entity_tuples(by_sentence(CUT_BY_THE_SENTENCIZER[0][0]))


def test_a_reading_given_when_loading_wins_over_the_saved_one(tmp_path):
    _train(_reading_pipeline("document"), CUT_BY_THE_SENTENCIZER).to_disk(tmp_path)
    text, cut = CUT_BY_THE_SENTENCIZER[0][0], (16, 31, "LAW")
    by_sentence = spacy.load(tmp_path, config={"components": {"bilstm_ner": {"model": {"reading": "sentence"}}}})
    assert by_sentence.get_pipe("bilstm_ner").model.attrs["reading"] == "sentence"
    assert cut not in entity_tuples(by_sentence(text))
    assert cut in entity_tuples(spacy.load(tmp_path)(text))


@pytest.mark.parametrize("context", ["sentence", "document"])
def test_documents_far_longer_than_a_window_get_well_formed_entities_across_the_seams(context):
    text = " ".join(f"Angela Merkel met Tim Cook in Paris {i} ." for i in range(30))
    ents = [(m.start(), m.start() + len(name), label) for name, label in
            (("Angela Merkel", "PER"), ("Tim Cook", "PER"), ("Paris", "LOC")) for m in re.finditer(name, text)]
    nlp = _train(_reading_pipeline("document", window=7, context=context), [(text, ents)], steps=40)
    doc = nlp(text)
    assert len(doc) > 10 * 7
    group = doc.spans["bilstm_ner"]
    assert len(group) > 0 and all(0.0 <= score <= 1.0 for score in group.attrs["scores"])
    assert sorted(entity_tuples(doc)) == sorted(ents)


def test_a_window_longer_than_every_document_reads_as_no_window():
    whole = _train(_reading_pipeline("document", window=None), TRAIN_DATA, steps=5)
    windowed = _reading_pipeline("document", window=500)
    windowed.get_pipe("bilstm_ner").cfg["labels"] = list(whole.get_pipe("bilstm_ner").labels)
    windowed.initialize(lambda: make_examples(windowed))
    windowed.get_pipe("bilstm_ner").model.from_bytes(whole.get_pipe("bilstm_ner").model.to_bytes())
    for text, _ in TRAIN_DATA:
        a, b = whole(text), windowed(text)
        assert entity_tuples(a) == entity_tuples(b)
        assert a.spans["bilstm_ner"].attrs["scores"] == b.spans["bilstm_ner"].attrs["scores"]


@pytest.mark.parametrize("setting, value", [("reading", "paragraph"), ("context", "page"), ("window", 1)])
def test_bilstm_crf_v3_refuses_an_unknown_reading_or_a_window_too_small(setting, value):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=setting):
        nlp.add_pipe("bilstm_ner", config={"model": _v3_model(**{setting: value})})


def test_bilstm_crf_v3_refuses_a_document_context_for_sentence_reading():
    with pytest.raises(ValueError, match="needs reading"):
        spacy.blank("en").add_pipe("bilstm_ner", config={"model": _v3_model(reading="sentence", context="document")})

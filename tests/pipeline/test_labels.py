"""The labels of bilstm_ner: inferred, given, added before and after initialize, refused."""
import pytest
import spacy

from spacy_bilstm.tags import UnknownLabelError

from ..helpers import make_examples


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

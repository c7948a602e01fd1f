"""The bilstm_ner component saved and loaded: to disk, with settings given on loading, pickled."""
import pickle

import pytest
import spacy

from ..helpers import TRAIN_DATA, entity_tuples


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


def test_pipeline_pickles(overfitted_nlp):
    restored = pickle.loads(pickle.dumps(overfitted_nlp))
    text = "Apple hired Tim Cook in Cupertino."
    assert entity_tuples(restored(text)) == entity_tuples(overfitted_nlp(text))

"""What a trained bilstm_ner predicts: scores, batches, edge-case documents, thresholds, temperature."""
import pytest
import spacy
from spacy.tokens import Span

from ..helpers import TRAIN_DATA, entity_tuples


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

"""Counting the gold entities a reading makes unreachable."""
from pathlib import Path

import spacy
from spacy.tokens import Span

from spacy_bilstm.corpora.readers import read_corpus
from spacy_bilstm.reachability import unreachable_entities, with_sentencizer_sentences

SAMPLE = Path(__file__).resolve().parents[1] / "corpora" / "sample"


def test_an_entity_the_sentencizer_cuts_is_unreachable_by_sentence_and_reachable_by_document():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("The court cited arts. 32 and 33 of the law. Then it ruled.")
    doc.ents = [Span(doc, 3, 8, label="LAW"), Span(doc, 12, 13, label="PER")]
    (cut,) = with_sentencizer_sentences([doc], "en")
    assert [ent.label_ for ent in cut.ents] == ["LAW", "PER"]
    by_sentence = unreachable_entities([cut], "sentence")
    assert (by_sentence.entities, by_sentence.unreachable) == (2, 1)
    by_document = unreachable_entities([cut], "document")
    assert (by_document.entities, by_document.unreachable) == (2, 0)


def test_document_reading_leaves_no_entity_of_the_sample_corpus_unreachable():
    for name in ("train.conll", "dev.conll"):
        docs = read_corpus(SAMPLE / name).docs
        counts = unreachable_entities(with_sentencizer_sentences(docs, "en"), "document")
        print(f"{name}: {counts.entities} entities, {counts.unreachable} unreachable by document reading")
        assert counts.entities > 100 and counts.unreachable == 0

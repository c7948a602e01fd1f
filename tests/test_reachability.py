"""Counting the gold entities a reading makes unreachable."""
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Span

from spacy_bilstm.corpora.readers import read_corpus
from spacy_bilstm.reachability import config_reading, shipped_reading, unreachable_entities, with_sentencizer_sentences

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


def test_the_shipped_configs_read_by_document():
    assert shipped_reading() == "document"
    assert config_reading({"@architectures": "spacy-bilstm.BiLSTMCRF.v1"}) == "sentence"
    assert config_reading({"@architectures": "spacy-bilstm.BiLSTMCRF.v3"}) == "document"
    assert config_reading({"@architectures": "spacy-bilstm.BiLSTMCRF.v3", "reading": "sentence"}) == "sentence"


# (folder, file, language, read with repair: one entity continues across a sentence break)
SHARED_CORPORA = [
    ("conll2003", name, "en", False) for name in ("train.txt", "valid.txt", "test.txt")
] + [
    ("conll2002", name, "es", True) for name in ("esp.train", "esp.testa", "esp.testb")
] + [
    ("conll2002", name, "nl", False) for name in ("ned.train", "ned.testa", "ned.testb")
] + [
    ("wnut17", name, "en", name == "dev.conll") for name in ("train.conll", "dev.conll", "test.conll")
] + [
    ("wikiann-en", name, "en", False) for name in ("train.txt", "dev.txt", "test.txt")
]


@pytest.mark.slow
@pytest.mark.parametrize("folder,name,lang,repair", SHARED_CORPORA)
def test_the_shipped_reading_leaves_no_entity_of_a_shared_corpus_unreachable(shared_dir, folder, name, lang, repair):
    path = shared_dir / "corpora" / folder / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    docs = list(with_sentencizer_sentences(read_corpus(path, lang=lang, repair=repair).docs, lang))
    by_sentence = unreachable_entities(docs, "sentence")
    shipped = unreachable_entities(docs, shipped_reading())
    print(f"{folder}/{name}: {shipped.entities} gold entities; unreachable after the sentencizer: "
          f"{by_sentence.unreachable} by sentence, {shipped.unreachable} by the shipped reading")
    assert shipped.entities > 0 and shipped.unreachable == 0

"""The data of the growth study (benchmarks/growth.py): one Doc per sentence, the first sentences
for stage 1 with MISC turned into O, the rest complete, and the stage-1 raw text for rehearsal.
Data only, no training."""

import pytest
import spacy
from spacy.tokens import Doc, Span

from ..helpers import load_benchmark_script


@pytest.fixture(scope="module")
def growth():
    return load_benchmark_script("growth")


def two_sentence_docs(n_docs=3):
    """Docs of two 5-token sentences: a PER and a MISC in the first, a two-token LOC in the second."""
    nlp = spacy.blank("en")
    docs = []
    for d in range(n_docs):
        words = [f"w{d}_{i}" for i in range(10)]
        doc = Doc(nlp.vocab, words=words, sent_starts=[i in (0, 5) for i in range(10)])
        doc.ents = [Span(doc, 0, 1, "PER"), Span(doc, 2, 3, "MISC"), Span(doc, 6, 8, "LOC")]
        docs.append(doc)
    return docs


def entities(doc):
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


def test_each_sentence_becomes_a_doc_with_its_entities(growth):
    sentences = growth.sentence_docs(two_sentence_docs(3))
    assert len(sentences) == 6
    assert [token.text for token in sentences[1]] == [f"w0_{i}" for i in range(5, 10)]
    assert entities(sentences[0]) == [(0, 1, "PER"), (2, 3, "MISC")]
    assert entities(sentences[1]) == [(1, 3, "LOC")]


def test_split_keeps_corpus_order_and_loses_nothing(growth):
    sentences = growth.sentence_docs(two_sentence_docs(3))
    old, new = growth.split_old_new(sentences, 4)
    assert old == sentences[:4] and new == sentences[4:]


@pytest.mark.parametrize("n_old", [0, 6, 7])
def test_split_refuses_a_size_that_leaves_a_side_empty(growth, n_old):
    sentences = growth.sentence_docs(two_sentence_docs(3))
    with pytest.raises(growth.BenchmarkError, match="--old-sentences"):
        growth.split_old_new(sentences, n_old)


def test_misc_becomes_outside_and_the_other_entities_stay(growth):
    docs = two_sentence_docs(2)
    converted, removed = growth.without_label(docs, "MISC")
    assert removed == 2
    for original, copy in zip(docs, converted):
        assert entities(copy) == [(0, 1, "PER"), (6, 8, "LOC")]
        assert copy[2].ent_iob_ == "O"  # annotated as outside, not missing
        assert [t.text for t in copy] == [t.text for t in original]
        assert [t.is_sent_start for t in copy] == [t.is_sent_start for t in original]
        assert "MISC" in [ent.label_ for ent in original.ents]  # the input is left as it was


def test_rehearsal_text_is_one_line_per_doc(growth):
    sentences = growth.sentence_docs(two_sentence_docs(1))
    assert growth.raw_text_lines(sentences) == ["w0_0 w0_1 w0_2 w0_3 w0_4", "w0_5 w0_6 w0_7 w0_8 w0_9"]


def test_rehearse_floors_read_the_runs(growth):
    runs = {
        "stage1": {"test_f1_per_type": {"PER": 90.0, "LOC": 88.0, "ORG": 80.0}, "train_minutes": 12.0},
        "rehearse": {"test_f1_per_type": {"PER": 89.5, "LOC": 86.0, "ORG": 80.5, "MISC": 70.0},
                     "train_minutes": 4.0},
        "scratch": {"test_f1_per_type": {"PER": 91.0, "LOC": 89.0, "ORG": 82.0, "MISC": 78.0},
                    "train_minutes": 15.0},
    }
    found = growth.floors(runs)
    assert found["old_type_loss"] == {"PER": 0.5, "LOC": 2.0, "ORG": -0.5}
    assert found["old_types_kept"] is False
    assert found["misc_below_scratch"] == 8.0 and found["misc_close_to_scratch"] is True
    assert found["time_within_floor"] is True
    assert "missed" in growth.floor_text(found).split(";")[0]

"""The training sets of the incomplete-annotation study (benchmarks/incomplete.py): half the
entities removed, tagged O in one set and marked missing (with as many O tokens) in the other,
everything else as it was. Data only, no training."""
from collections import Counter

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from ..helpers import load_benchmark_script


@pytest.fixture(scope="module")
def incomplete():
    return load_benchmark_script("incomplete")


def corpus_docs(n_docs=20):
    """Docs of 12 tokens, each with a one-token PER, a two-token LOC and a three-token ORG, and
    two sentences."""
    nlp = spacy.blank("en")
    docs = []
    for d in range(n_docs):
        words = [f"w{d}_{i}" for i in range(12)]
        doc = Doc(nlp.vocab, words=words, sent_starts=[i in (0, 6) for i in range(12)])
        doc.ents = [Span(doc, 0, 1, "PER"), Span(doc, 3, 5, "LOC"), Span(doc, 7, 10, "ORG")]
        docs.append(doc)
    return docs


def entity_set(docs):
    return {(d, ent.start, ent.end, ent.label_) for d, doc in enumerate(docs) for ent in doc.ents}


def test_half_the_entities_are_removed_and_their_tokens_plus_as_many_o_tokens_go_missing(incomplete):
    docs = corpus_docs()
    conditions, counts = incomplete.incomplete_training_docs(docs, seed=0)
    complete, as_o, missing = (entity_set(conditions[c]) for c in ("complete", "as_o", "missing"))
    assert complete == entity_set(docs)
    assert len(complete) == 60 and len(as_o) == 30 and counts["entities_removed"] == 30
    assert as_o == missing and as_o < complete
    removed_tokens = sum(end - start for _, start, end, _ in complete - as_o)
    assert counts["removed_entity_tokens"] == removed_tokens
    assert counts["missing_missing_tokens"] == 2 * removed_tokens
    assert counts["as_o_missing_tokens"] == counts["complete_missing_tokens"] == 0
    assert counts["as_o_outside_tokens"] == counts["complete_outside_tokens"] + removed_tokens
    assert counts["missing_outside_tokens"] == counts["complete_outside_tokens"] - removed_tokens


def test_the_missing_tokens_are_the_removed_entities_and_tokens_that_were_o(incomplete):
    docs = corpus_docs()
    conditions, _ = incomplete.incomplete_training_docs(docs, seed=1)
    removed = {(d, i) for d, start, end, _ in entity_set(docs) - entity_set(conditions["as_o"])
               for i in range(start, end)}
    missing = {(d, t.i) for d, doc in enumerate(conditions["missing"]) for t in doc if t.ent_iob == 0}
    assert removed < missing
    assert all(docs[d][i].ent_iob_ == "O" for d, i in missing - removed)
    assert len(missing - removed) == len(removed)


def test_nothing_but_the_entity_annotation_changes(incomplete):
    docs = corpus_docs()
    conditions, _ = incomplete.incomplete_training_docs(docs, seed=2)
    for condition in ("as_o", "missing"):
        for before, after in zip(docs, conditions[condition]):
            assert [t.text for t in after] == [t.text for t in before]
            assert [t.is_sent_start for t in after] == [t.is_sent_start for t in before]
    assert all(doc.ents for doc in docs) and len(entity_set(docs)) == 60  # the input is left as it was


def test_the_seed_chooses_the_removal_and_the_same_seed_repeats_it(incomplete):
    docs = corpus_docs()
    first, second, other = (entity_set(incomplete.incomplete_training_docs(docs, seed=s)[0]["as_o"])
                            for s in (3, 3, 4))
    assert first == second and first != other


def test_missing_tokens_survive_a_docbin_and_a_sentence_as_gold_preproc_reads_it(incomplete, tmp_path):
    conditions, _ = incomplete.incomplete_training_docs(corpus_docs(), seed=0)
    DocBin(docs=conditions["missing"], store_user_data=False).to_disk(tmp_path / "missing.spacy")
    read = list(DocBin().from_disk(tmp_path / "missing.spacy").get_docs(spacy.blank("en").vocab))
    iob = Counter(t.ent_iob for doc in read for t in doc)
    assert iob == Counter(t.ent_iob for doc in conditions["missing"] for t in doc) and iob[0] > 0
    sentences = [sent.as_doc() for doc in read for sent in doc.sents]
    assert sum(t.ent_iob == 0 for doc in sentences for t in doc) == iob[0]


def test_a_missing_token_has_no_gold_tag_for_the_loss_and_an_o_token_has_o(incomplete):
    from spacy.training import Example

    conditions, _ = incomplete.incomplete_training_docs(corpus_docs(), seed=0)
    for reference in conditions["missing"]:
        predicted = Doc(reference.vocab, words=[t.text for t in reference])
        tags = Example(predicted, reference).get_aligned_ner()
        assert [tag is None for tag in tags] == [t.ent_iob == 0 for t in reference]
        assert [tag == "O" for tag in tags] == [t.ent_iob_ == "O" for t in reference]

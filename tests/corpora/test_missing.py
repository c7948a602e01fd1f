"""Incomplete annotation: tokens a file marks as not annotated become spaCy's missing value
(ent_iob 0), which the loss marginalises, in every reader and writer."""
import json

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_bilstm.corpora import convert, read_corpus, write_docs

from .corpus_files import assert_clear_error, ents, jsonl, write


def iob(doc):
    return [token.ent_iob_ for token in doc]


def test_a_dash_tag_makes_a_token_unannotated_not_outside(tmp_path):
    result = read_corpus(write(tmp_path, "a.conll", "Ann B-PER\nmet O\nsomeone -\nin -\nParis B-LOC\n"))
    (doc,) = result.docs
    assert iob(doc) == ["B", "O", "", "", "B"]
    assert ents(doc) == [("Ann", "PER"), ("Paris", "LOC")]
    assert result.summary.missing_tokens == 2
    assert result.summary.to_dict()["unannotated_tokens"] == 2
    assert "unannotated 2" in result.summary.format_table()


@pytest.mark.parametrize("name,content", [
    ("a.conll", "Ann B-PER\nmet O\nsomeone -\n"),
    ("a.jsonl", json.dumps({"text": "Ann met someone", "annotated": [[0, 7]],
                            "spans": [{"start": 0, "end": 3, "label": "PER"}]})),
    ("a.json", json.dumps([{"data": {"text": "Ann met someone", "annotated": [[0, 7]]}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 3, "text": "Ann", "labels": ["PER"]}}]}]}])),
])
def test_unannotated_tokens_reach_the_loss_as_missing_tags(tmp_path, name, content):
    nlp = spacy.blank("en")
    (doc,) = read_corpus(write(tmp_path, name, content), vocab=nlp.vocab).docs
    assert Example(nlp.make_doc(doc.text), doc).get_aligned_ner() == ["U-PER", "O", None]


def test_an_iob2_entity_running_across_a_dash_is_an_error_even_with_repair(tmp_path):
    path = write(tmp_path, "a.conll", "New B-LOC\n- -\nYork I-LOC\n")
    for repair in (False, True):
        error = assert_clear_error(path, 3, "follows a not-annotated token", repair=repair)
        assert "mark the whole entity '-'" in error.hint


def test_a_bioes_entity_cut_off_by_a_dash_is_an_error_on_its_opening_line(tmp_path):
    assert_clear_error(write(tmp_path, "a.conll", "Ann S-PER\nNew B-LOC\nsomething -\n"), 2, "cut off",
                       scheme="bioes")
    assert_clear_error(write(tmp_path, "b.conll", "Ann S-PER\nthing -\nYork E-LOC\n"), 3,
                       "follows a not-annotated token")


def test_in_iob1_an_i_tag_after_a_dash_starts_a_new_entity(tmp_path):
    (doc,) = read_corpus(write(tmp_path, "a.conll", "Ann I-PER\nx -\nBob I-PER\n")).docs
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(0, 1, "PER"), (2, 3, "PER")]
    assert iob(doc) == ["B", "", "B"]


@pytest.mark.parametrize("scheme", ["iob1", "iob2", "bioes", "biluo"])
def test_conll_output_writes_dashes_and_reads_back_the_same_missing_tokens(tmp_path, scheme):
    source = write(tmp_path, "a.conll", "New B-LOC\nYork I-LOC\nx -\nAnn B-PER\ny -\nz O\n\nBob B-PER\nw -\n")
    original = read_corpus(source)
    convert(source, tmp_path / "out.conll", to="conll", output_scheme=scheme)
    assert "x -\n" in (tmp_path / "out.conll").read_text()
    back = read_corpus(tmp_path / "out.conll", scheme=scheme)
    assert [iob(d) for d in back.docs] == [iob(d) for d in original.docs]
    assert [ents(d) for d in back.docs] == [ents(d) for d in original.docs]


def test_jsonl_tokens_outside_the_annotated_ranges_are_unannotated(tmp_path):
    text = "Ann met Bob. Then Carl left."
    result = read_corpus(jsonl(tmp_path, {"text": text, "annotated": [[0, 12]],
                                          "spans": [{"start": 0, "end": 3, "label": "PER"}]}))
    (doc,) = result.docs
    assert iob(doc) == ["B", "O", "O", "O", "", "", "", ""]
    assert result.summary.missing_tokens == 4


def test_without_annotated_ranges_the_whole_jsonl_text_is_annotated(tmp_path):
    (doc,) = read_corpus(jsonl(tmp_path, {"text": "Ann met Bob.", "spans": []})).docs
    assert iob(doc) == ["O"] * 4


@pytest.mark.parametrize(
    "annotated,fragment",
    [
        ("0-12", '"annotated" must be a list'),
        ([[0]], "not a [start, end] pair"),
        ([[5, 99]], "outside the text"),
        ([[0, 5]], "inside the token 'met'"),
        ([[4, 12]], "is not inside the annotated ranges"),
    ],
)
def test_bad_annotated_ranges_are_errors_naming_the_line(tmp_path, annotated, fragment):
    record = {"text": "Ann met Bob.", "annotated": annotated, "spans": [{"start": 0, "end": 3, "label": "PER"}]}
    assert_clear_error(jsonl(tmp_path, {"text": "fine"}, record), 2, fragment)


@pytest.mark.parametrize("to", ["jsonl", "prodigy", "labelstudio", "spacy"])
def test_every_format_that_can_say_not_annotated_keeps_the_missing_tokens(tmp_path, to):
    source = jsonl(tmp_path, {"text": "Ann met Bob. Then Carl left. End.", "annotated": [[0, 12], [29, 33]],
                              "spans": [{"start": 0, "end": 3, "label": "PER"}]})
    original = read_corpus(source)
    out = tmp_path / f"out.{to}"
    write_docs(original.docs, out, to)
    back = read_corpus(out, format="auto" if to == "spacy" else to)
    assert [iob(d) for d in back.docs] == [iob(d) for d in original.docs]
    assert back.summary.missing_tokens == original.summary.missing_tokens == 4


def test_jsonl_output_writes_the_annotated_ranges_only_for_partly_annotated_docs(tmp_path):
    source = jsonl(tmp_path, {"text": "Ann met Bob.", "spans": []},
                   {"text": "Ann met Bob. Then more.", "annotated": [[0, 12]], "spans": []})
    convert(source, tmp_path / "out.jsonl", to="jsonl")
    first, second = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert "annotated" not in first and second["annotated"] == [[0, 12]]


def test_a_docbin_keeps_unannotated_tokens_natively(tmp_path):
    source = write(tmp_path, "a.conll", "Ann B-PER\nx -\n")
    convert(source, tmp_path / "a.spacy")
    (doc,) = DocBin().from_disk(tmp_path / "a.spacy").get_docs(spacy.blank("en").vocab)
    assert iob(doc) == ["B", ""]
    assert read_corpus(tmp_path / "a.spacy").summary.missing_tokens == 1

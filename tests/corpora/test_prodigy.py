"""Prodigy JSONL: only accepted answers are gold, rejected and ignored ones are counted, and a
file with answers must answer every line; plain JSONL spans files read as before."""
import json
from pathlib import Path

from spacy.tokens import Span, SpanGroup

from spacy_bilstm.corpora import read_corpus, write_docs

from .corpus_files import assert_clear_error, ents, jsonl

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample" / "prodigy.jsonl"


def line(text="Ann met Bob.", answer="accept", **fields):
    return {"text": text, "spans": [{"start": 0, "end": 3, "label": "PER"}], "answer": answer, **fields}


def test_the_sample_reads_accepted_answers_and_counts_the_others():
    result = read_corpus(SAMPLE)
    assert result.summary.format == "prodigy"
    assert [ents(d) for d in result.docs] == [
        [("Lena Fischer", "PER"), ("Coastal Rowing Club", "ORG"), ("Bergen", "LOC")],
        [("Ravi Menon", "PER"), ("Ostara Foods", "ORG")],
        [("Oliver Grant", "PER"), ("Nairobi", "LOC")],
    ]
    assert result.summary.skipped == {"rejected answers": 1, "ignored answers": 1}
    assert result.summary.missing_tokens == 12


def test_a_line_without_an_answer_among_answered_lines_is_an_error(tmp_path):
    unanswered = line()
    del unanswered["answer"]
    error = assert_clear_error(jsonl(tmp_path, line(), line(answer="reject"), unanswered), 3,
                               'no "answer" while line 1 has one')
    assert "plain JSONL" in error.hint


def test_an_unknown_answer_is_an_error(tmp_path):
    assert_clear_error(jsonl(tmp_path, line(answer="maybe")), 1, "the answer 'maybe'")


def test_plain_jsonl_without_answers_reads_as_before_unless_prodigy_is_asked_for(tmp_path):
    plain = line()
    del plain["answer"]
    path = jsonl(tmp_path, plain)
    result = read_corpus(path)
    assert result.summary.format == "jsonl" and ents(result.docs[0]) == [("Ann", "PER")]
    assert_clear_error(path, 1, 'no "answer"', format="prodigy")


def test_a_file_of_only_rejected_answers_is_an_error_not_an_empty_corpus(tmp_path):
    assert_clear_error(jsonl(tmp_path, line(answer="reject"), line(answer="ignore")), None, "no accepted answers")


def test_prodigy_round_trip_keeps_every_accepted_span_and_the_annotated_ranges(tmp_path):
    text = "Ann met Bob. Then more text."
    source = jsonl(tmp_path, line(text, annotated=[[0, 12]]), line(answer="reject"),
                   {**line(), "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 11, "label": "PER"}]})
    original = read_corpus(source)
    write_docs(original.docs, tmp_path / "docs.spacy", "spacy")
    write_docs(read_corpus(tmp_path / "docs.spacy").docs, tmp_path / "back.jsonl", "prodigy")
    back = read_corpus(tmp_path / "back.jsonl")
    assert back.summary.format == "prodigy" and back.summary.documents == 2
    assert [ents(d) for d in back.docs] == [ents(d) for d in original.docs]
    assert [[t.ent_iob for t in d] for d in back.docs] == [[t.ent_iob for t in d] for d in original.docs]


def test_predictions_go_out_unanswered_with_span_scores_and_meta(tmp_path):
    (doc,) = read_corpus(jsonl(tmp_path, line())).docs
    doc.spans["predicted"] = SpanGroup(doc, name="predicted", spans=[Span(doc, 0, 1, "PER")], attrs={"scores": [0.9]})
    write_docs([doc], tmp_path / "tasks.jsonl", "prodigy", scores_key="predicted", meta=[{"score": 0.4}])
    (task,) = [json.loads(text) for text in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert "answer" not in task and task["meta"] == {"score": 0.4}
    assert [(s["start"], s["end"], s["label"], s["score"]) for s in task["spans"]] == [(0, 3, "PER", 0.9)]


def test_binary_ner_answers_read_as_complete_annotation_are_noted(tmp_path):
    result = read_corpus(jsonl(tmp_path, line(_view_id="ner"), line(_view_id="ner_manual")))
    assert any("1 line(s) come from Prodigy's binary 'ner' view" in note for note in result.summary.notes)

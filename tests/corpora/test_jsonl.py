"""JSONL corpora: tokens or tokenizer, span alignment, and every malformed record named by its line."""
import json
import time

import pytest

from spacy_bilstm.corpora import CorpusError, read_corpus

from .corpus_files import assert_clear_error, ents, jsonl, words_and_ents, write


def test_jsonl_reads_given_tokens_or_tokenizes_the_text(tmp_path):
    lines = [
        {"text": "Ann lives in New York.", "spans": [{"start": 0, "end": 3, "label": "PER"},
                                                  {"start": 13, "end": 21, "label": "LOC"}]},
        {"text": "Hi Bob", "tokens": [{"text": "Hi", "start": 0, "end": 2, "id": 0, "ws": True},
                                   {"text": "Bob", "start": 3, "end": 6, "id": 1, "ws": False}],
         "spans": [{"start": 3, "end": 6, "label": "PER"}]},
    ]
    path = write(tmp_path, "a.jsonl", "\n".join(json.dumps(line) for line in lines))
    result = read_corpus(path)
    assert result.summary.format == "jsonl"
    assert [ents(d) for d in result.docs] == [[("Ann", "PER"), ("New York", "LOC")], [("Bob", "PER")]]


def test_jsonl_span_off_token_boundaries_is_an_error_unless_aligned(tmp_path):
    record = {"text": "Ann lives in Newtown.", "spans": [{"start": 13, "end": 16, "label": "LOC"}]}
    path = write(tmp_path, "a.jsonl", "\n" + json.dumps(record) + "\n")
    with pytest.raises(CorpusError, match=r"Span \(13, 16, 'LOC'\) = 'New'") as info:
        read_corpus(path)
    assert info.value.line == 2 and "--alignment" in str(info.value)
    expanded = read_corpus(path, alignment="expand")
    assert ents(expanded.docs[0]) == [("Newtown", "LOC")] and expanded.summary.repairs == 1
    with pytest.raises(CorpusError, match="covers no whole token"):
        read_corpus(path, alignment="contract")


def test_jsonl_overlapping_spans_are_an_error(tmp_path):
    record = {"text": "New York City", "spans": [{"start": 0, "end": 8, "label": "LOC"},
                                                 {"start": 4, "end": 13, "label": "LOC"}]}
    with pytest.raises(CorpusError, match="overlap"):
        read_corpus(write(tmp_path, "a.jsonl", json.dumps(record)))


def test_a_20000_token_jsonl_text_with_2000_spans_reads_fast(tmp_path):
    words = [f"w{i}" for i in range(20_000)]
    spans, offset = [], 0
    for i, word in enumerate(words):
        if i % 10 == 0:
            spans.append({"start": offset, "end": offset + len(word) + 1 + len(words[i + 1]), "label": "PER"})
        offset += len(word) + 1
    path = write(tmp_path, "long.jsonl", json.dumps({"text": " ".join(words), "spans": spans}) + "\n")
    started = time.perf_counter()
    (doc,) = read_corpus(path).docs
    # Span alignment used to scan every token for every span (20,000 x 2,000 steps).
    assert time.perf_counter() - started < 10
    assert len(doc) == 20_000 and len(doc.ents) == 2_000


@pytest.mark.parametrize(
    "record,fragment",
    [
        ({"text": "Ann sings", "spans": [{"start": 4, "end": 20, "label": "X"}]}, "outside the text"),
        ({"text": "Ann sings", "spans": [{"start": -1, "end": 3, "label": "X"}]}, "outside the text"),
        ({"text": "Ann sings", "spans": [{"start": 3, "end": 3, "label": "X"}]}, "outside the text (length 9) or empty"),
        (
            {"text": "Ann Lee sings", "spans": [{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 13, "label": "X"}]},
            "overlap",
        ),
        (
            {"text": "Ann Lee sings", "spans": [{"start": 0, "end": 7, "label": "PER"}, {"start": 0, "end": 3, "label": "PER"}]},
            "overlap",
        ),
        ({"text": "Ann sings", "spans": [{"start": True, "end": 3, "label": "X"}]}, "needs integer start and end"),
        ({"text": "Ann sings", "spans": [{"start": 0.0, "end": 3, "label": "X"}]}, "needs integer start and end"),
        ({"text": "Ann sings", "spans": [{"start": 0, "end": 3, "label": ""}]}, "non-empty label"),
        ({"text": "Ann sings", "spans": 5}, '"spans" must be a list'),
        ({"text": "Ann sings", "spans": "PER"}, '"spans" must be a list'),
        ({"text": "Ann sings", "entities": {"PER": [0, 3]}}, '"entities" must be a list'),
        ({"text": "Ann sings", "sentences": 3}, '"sentences" must be a list'),
        ({"text": "Ann sings", "sentences": [{"start": [0]}]}, "does not start on a token boundary"),
        ({"text": "Ann sings", "tokens": [{"text": "Ann", "start": "0"}]}, 'needs integer "start" and "end"'),
        ({"text": "Ann sings", "tokens": [{"text": "Ann", "start": 0, "end": "3"}]}, 'needs integer "start" and "end"'),
        (
            {"text": "Ann sings", "tokens": [{"text": "Ann", "start": 0, "end": 3}, {"text": "n", "start": 2, "end": 3}]},
            "before the end of the token before it",
        ),
        ({"text": "Ann sings", "tokens": [{"text": "Ann"}]}, "'sings'"),
        ({"text": "Ann sings well", "tokens": [{"text": "Ann"}, {"text": "well"}]}, "is in no token"),
        ({"text": "Ann \ud800 sings"}, "lone surrogate"),
        ({"text": ""}, "no tokens"),
        ({"text": 5}, 'not an object with a "text" string'),
        ([1, 2], 'not an object with a "text" string'),
        ('{"text": "Ann", ', "Invalid JSON"),
        ('{"text": "Ann"} {"text": "Bob"}', "Invalid JSON"),
    ],
)
def test_bad_jsonl_records_name_the_line_and_the_problem(tmp_path, record, fragment):
    good = {"text": "Fine text."}
    path = jsonl(tmp_path, good, record)
    if isinstance(record, list):  # an array line would make auto-detection read columns
        assert_clear_error(path, 2, fragment, format="jsonl")
    else:
        assert_clear_error(path, 2, fragment)


def test_deeply_nested_json_is_an_error_not_a_crash(tmp_path):
    path = jsonl(tmp_path, {"text": "Fine."}, "[" * 100_000)
    assert_clear_error(path, 2, "Invalid JSON", format="jsonl")


def test_jsonl_with_bom_and_crlf_reads(tmp_path):
    data = "\ufeff" + json.dumps({"text": "Ann sings", "spans": [{"start": 0, "end": 3, "label": "PER"}]}) + "\r\n"
    result = read_corpus(write(tmp_path, "a.jsonl", data))
    assert words_and_ents(result) == [(["Ann", "sings"], [(0, 1, "PER")])]


def test_span_alignment_treats_whitespace_between_given_tokens_as_outside_every_token(tmp_path):
    # "New" and "York" are three spaces apart, which a Doc (one space at most) cannot hold.
    tokens = [{"text": "in", "start": 0, "end": 2}, {"text": "New", "start": 3, "end": 6},
              {"text": "York", "start": 9, "end": 13}]
    text = "in New   York"

    def read(start, end, alignment):
        record = {"text": text, "tokens": tokens, "spans": [{"start": start, "end": end, "label": "LOC"}]}
        return read_corpus(jsonl(tmp_path, record), alignment=alignment)

    assert ents(read(3, 13, "strict").docs[0]) == [("New York", "LOC")]
    with pytest.raises(CorpusError, match="does not start and end on token boundaries"):
        read(3, 8, "strict")
    expanded = read(7, 11, "expand")
    assert ents(expanded.docs[0]) == [("York", "LOC")] and expanded.summary.repairs == 2
    contracted = read(2, 8, "contract")
    assert ents(contracted.docs[0]) == [("New", "LOC")] and contracted.summary.repairs == 2
    with pytest.raises(CorpusError, match="covers no whole token"):
        read(6, 9, "expand")

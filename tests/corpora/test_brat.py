"""brat standoff in and out: .txt/.ann pairs, T lines checked against the text, discontinuous
and overlapping entities refused or resolved by a named option and counted."""
from pathlib import Path

import pytest
from spacy.tokens import Span, SpanGroup

from spacy_bilstm.corpora import CorpusError, read_corpus, write_docs

from .corpus_files import assert_clear_error, ents, write

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample" / "brat"
TEXT = "Ann Lee met Bob in New York.\n"


def pair(tmp_path, ann, text=TEXT, name="doc"):
    write(tmp_path, f"{name}.txt", text)
    return write(tmp_path, f"{name}.ann", ann)


def test_the_sample_folder_reads_every_pair_and_counts_the_lines_it_leaves_out():
    result = read_corpus(SAMPLE)
    assert result.summary.format == "brat" and result.summary.documents == 3
    assert [ents(d) for d in result.docs] == [
        [("Sofia Marin", "PER"), ("Atlas Cycling Team", "ORG"), ("Granada", "LOC")],
        [],
        [("Kenji Sato", "PER"), ("Evening Ledger", "ORG"), ("Osaka", "LOC")],
    ]
    assert result.summary.skipped == {"relations (R lines)": 1, "notes (# lines)": 1, "attributes (A lines)": 1}
    assert "skipped annotation.conf (not a .txt or .ann file)" in result.summary.notes
    assert result.summary.missing_tokens == 0


def test_a_single_ann_file_reads_with_its_text(tmp_path):
    ann = pair(tmp_path, "T1\tPER 0 7\tAnn Lee\nT2\tLOC 19 27\tNew York\n")
    assert ents(read_corpus(ann).docs[0]) == [("Ann Lee", "PER"), ("New York", "LOC")]


def test_a_t_line_whose_text_disagrees_with_the_txt_is_an_error_on_its_line(tmp_path):
    ann = pair(tmp_path, "T1\tPER 0 7\tAnn Lee\nT2\tLOC 18 26\tNew York\n")
    error = assert_clear_error(ann, 2, "says its text is 'New York' but the .txt has ' New Yor'")
    assert ".txt" in error.hint


@pytest.mark.parametrize("line", ["T1\tPER 0\tAnn", "T1 PER 0 3 Ann", "X1\tPER 0 3\tAnn", "T1\tPER 0 99\tAnn"])
def test_malformed_lines_are_errors_on_their_line(tmp_path, line):
    assert_clear_error(pair(tmp_path, "T9\tPER 12 15\tBob\n" + line + "\n"), 2, "")


def test_discontinuous_entities_are_refused_or_read_as_one_span_or_dropped(tmp_path):
    ann = pair(tmp_path, "T1\tPER 0 3;4 7\tAnn Lee\nT2\tLOC 19 22;23 27\tNew York\nT3\tPER 12 15\tBob\n")
    error = assert_clear_error(ann, 1, "discontinuous (2 fragments)")
    assert "--discontinuous span" in error.hint
    spanned = read_corpus(tmp_path, discontinuous="span")
    assert ents(spanned.docs[0]) == [("Ann Lee", "PER"), ("Bob", "PER"), ("New York", "LOC")]
    assert any("2 discontinuous entities" in note for note in spanned.summary.notes)
    dropped = read_corpus(tmp_path, discontinuous="drop")
    assert ents(dropped.docs[0]) == [("Bob", "PER")]
    assert dropped.summary.skipped == {"discontinuous entities (--discontinuous drop)": 2}


def test_overlapping_entities_are_refused_or_resolved_and_counted(tmp_path):
    ann = pair(tmp_path, "T1\tLOC 19 22\tNew\nT2\tLOC 19 27\tNew York\nT3\tPER 0 3\tAnn\nT4\tPER 0 7\tAnn Lee\n")
    error = assert_clear_error(ann, 2, "T2 (LOC, 19-27) overlaps T1 (LOC, 19-22, line 1)")
    assert "--overlaps keep-longest" in error.hint
    longest = read_corpus(ann, overlaps="keep-longest")
    assert ents(longest.docs[0]) == [("Ann Lee", "PER"), ("New York", "LOC")]
    assert longest.summary.skipped == {"overlapping entities (--overlaps keep-longest)": 2}
    first = read_corpus(ann, overlaps="keep-first")
    assert ents(first.docs[0]) == [("Ann Lee", "PER"), ("New York", "LOC")]
    nested_later = pair(tmp_path, "T1\tLOC 19 27\tNew York\nT2\tLOC 23 27\tYork\n", name="b")
    assert ents(read_corpus(nested_later, overlaps="keep-first").docs[0]) == [("New York", "LOC")]


def test_a_txt_without_ann_is_counted_and_an_ann_without_txt_is_an_error(tmp_path):
    pair(tmp_path, "T1\tPER 12 15\tBob\n")
    write(tmp_path, "lonely.txt", "Nobody annotated this.\n")
    result = read_corpus(tmp_path)
    assert result.summary.documents == 1 and result.summary.skipped == {"text files without an .ann": 1}
    assert any("lonely.txt" in note for note in result.summary.notes)
    orphan = write(tmp_path, "orphan.ann", "T1\tPER 0 3\tAnn\n")
    with pytest.raises(CorpusError, match="no orphan.txt beside the annotations") as info:
        read_corpus(tmp_path)
    assert info.value.path == orphan


def test_brat_round_trip_keeps_every_span(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    pair(source, "T1\tPER 0 7\tAnn Lee\nT2\tPER 12 15\tBob\nT3\tLOC 19 27\tNew York\n")
    pair(source, "", text="Nothing here.", name="empty")
    original = read_corpus(source)
    write_docs(original.docs, tmp_path / "docs.spacy", "spacy")
    write_docs(read_corpus(tmp_path / "docs.spacy").docs, tmp_path / "out", "brat")
    back = read_corpus(tmp_path / "out")
    assert [d.text for d in back.docs] == [d.text for d in original.docs]
    assert [ents(d) for d in back.docs] == [ents(d) for d in original.docs]


def test_brat_output_writes_scores_as_annotator_notes_and_refuses_unannotated_tokens(tmp_path):
    (doc,) = read_corpus(pair(tmp_path, "T1\tPER 12 15\tBob\n")).docs
    doc.spans["predicted"] = SpanGroup(doc, name="predicted", spans=[Span(doc, 3, 4, "PER")], attrs={"scores": [0.8]})
    write_docs([doc], tmp_path / "out", "brat", scores_key="predicted")
    assert (tmp_path / "out" / "0001.ann").read_text() == "T1\tPER 12 15\tBob\n#1\tAnnotatorNotes T1\tscore=0.8000\n"
    partial = read_corpus(write(tmp_path, "p.conll", "Ann B-PER\nx -\n")).docs
    with pytest.raises(CorpusError, match="brat cannot say 'not annotated'"):
        write_docs(partial, tmp_path / "partial", "brat")
    assert not (tmp_path / "partial").exists()

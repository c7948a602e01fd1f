"""`read_corpus`, `convert` and `spacy-bilstm convert` on small corpora written inline."""
import gzip
import json

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.corpora import CorpusError, convert, is_raw_corpus, read_corpus

CONLL_2003_STYLE = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_docstart_lines_mark_documents_and_never_become_tokens(tmp_path):
    result = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE))
    assert [d.text for d in result.docs] == ["EU rejects German call . Peter Blackburn", "BRUSSELS 1996-08-22"]
    assert all("-DOCSTART-" not in t.text for d in result.docs for t in d)
    assert [[s.text for s in d.sents] for d in result.docs][0] == ["EU rejects German call .", "Peter Blackburn"]
    assert ents(result.docs[0]) == [("EU", "ORG"), ("German", "MISC"), ("Peter Blackburn", "PER")]
    s = result.summary
    assert (s.documents, s.sentences, s.tokens, s.entities) == (2, 3, 9, 4)
    assert s.entities_per_label == {"LOC": 1, "MISC": 1, "ORG": 1, "PER": 1}
    assert (s.format, s.scheme, s.repairs) == ("conll", "iob2", 0)


def test_tokens_outside_entities_are_annotated_as_outside_not_missing(tmp_path):
    doc = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE)).docs[0]
    assert [t.ent_iob_ for t in doc][:3] == ["B", "O", "B"]


def test_summary_prints_every_count(tmp_path):
    text = str(read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE)).summary)
    for expected in ("documents   2", "sentences   3", "tokens      9", "entities    4", "PER", "repairs     0",
                     "conll (auto-detected: 4 columns", "iob2 (auto-detected"):
        assert expected in text


def test_tag_column_picks_another_column(tmp_path):
    result = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE), tag_column=3, scheme="iob2")
    assert ents(result.docs[0])[:2] == [("EU", "NP"), ("rejects", "VP")]


def test_token_column_and_comment_lines_read_germeval_style(tmp_path):
    text = "#\thttp://example.org [2009]\n1\tSchartau\tB-PER\tO\n2\tsagte\tO\tO\n\n"
    result = read_corpus(write(tmp_path, "g.tsv", text), token_column=2, tag_column=3, comment_prefix="#")
    assert ents(result.docs[0]) == [("Schartau", "PER")]


def test_without_document_markers_each_sentence_is_a_document_unless_n_sents(tmp_path):
    path = write(tmp_path, "w.conll", "a\tO\nb\tB-PER\n\nc\tO\n\nd\tB-LOC\n")
    assert read_corpus(path).summary.documents == 3
    grouped = read_corpus(path, n_sents=2)
    assert [len(list(d.sents)) for d in grouped.docs] == [2, 1]
    assert grouped.summary.format == "columns"


def test_iob1_file_is_detected_and_decoded(tmp_path):
    path = write(tmp_path, "iob1.txt", "Ann I-PER\nBob B-PER\nand O\nParis I-LOC\nRome I-LOC\n")
    result = read_corpus(path)
    assert result.summary.scheme == "iob1"
    assert ents(result.docs[0]) == [("Ann", "PER"), ("Bob", "PER"), ("Paris Rome", "LOC")]


def test_bioes_file_keeps_multi_token_entities_whole(tmp_path):
    path = write(tmp_path, "b.txt", "New B-LOC\nYork E-LOC\nis O\nbig O\nAnn S-PER\n")
    result = read_corpus(path)
    assert result.summary.scheme == "bioes"
    assert ents(result.docs[0]) == [("New York", "LOC"), ("Ann", "PER")]


def test_biluo_file(tmp_path):
    result = read_corpus(write(tmp_path, "b.txt", "New B-LOC\nYork L-LOC\nAnn U-PER\n"))
    assert result.summary.scheme == "biluo"
    assert ents(result.docs[0]) == [("New York", "LOC"), ("Ann", "PER")]


def test_wikiann_language_prefix_is_stripped_when_every_token_has_it(tmp_path):
    path = write(tmp_path, "wa.txt", "en:Sioux\tB-ORG\nen:Falls\tI-ORG\nen::\tO\n\nen:Paris\tB-LOC\n")
    result = read_corpus(path)
    assert [t.text for t in result.docs[0]] == ["Sioux", "Falls", ":"]
    assert any("'en:'" in note for note in result.summary.notes)
    kept = read_corpus(path, strip_prefix=None)
    assert kept.docs[0][0].text == "en:Sioux"


def test_prefix_is_kept_when_not_every_token_has_it(tmp_path):
    result = read_corpus(write(tmp_path, "x.txt", "en:Sioux\tB-ORG\nFalls\tI-ORG\n"))
    assert result.docs[0][0].text == "en:Sioux"


def test_explicit_prefix_missing_on_a_token_is_an_error(tmp_path):
    with pytest.raises(CorpusError) as info:
        read_corpus(write(tmp_path, "x.txt", "en:Sioux\tB-ORG\nFalls\tI-ORG\n"), strip_prefix="en:")
    assert info.value.line == 2


def test_bom_and_crlf_are_accepted(tmp_path):
    path = write(tmp_path, "bom.txt", "\ufeff-DOCSTART- O\r\n\r\nAnn B-PER\r\nsings O\r\n")
    result = read_corpus(path)
    assert [t.text for t in result.docs[0]] == ["Ann", "sings"]
    assert ents(result.docs[0]) == [("Ann", "PER")]


def test_whitespace_only_and_stray_bom_lines_separate_sentences(tmp_path):
    result = read_corpus(write(tmp_path, "w.conll", "a\tO\n\t\nb\tO\n\ufeff\nc\tO\n"))
    assert result.summary.sentences == 3 and result.summary.tokens == 3


def test_latin1_file_reads_with_encoding_option(tmp_path):
    path = write(tmp_path, "esp.train", "Málaga B-LOC\n", encoding="latin-1")
    with pytest.raises(CorpusError, match="cannot be decoded as utf-8") as info:
        read_corpus(path)
    assert info.value.line == 1 and "--encoding" in str(info.value)
    assert read_corpus(path, encoding="latin-1").docs[0].text == "Málaga"


def test_gzipped_input(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress(CONLL_2003_STYLE.encode()))
    assert read_corpus(path).summary.documents == 2


def test_directory_input_reads_every_corpus_file_and_lists_skipped_ones(tmp_path):
    write(tmp_path, "a.txt", CONLL_2003_STYLE)
    write(tmp_path, "b.conll", "Ann\tB-PER\n")
    write(tmp_path, "README.md", "# not data\n")
    result = read_corpus(tmp_path)
    assert result.summary.documents == 3
    assert any("README.md" in note for note in result.summary.notes)


def test_docs_are_built_on_the_given_vocab(tmp_path):
    nlp = spacy.blank("en")
    result = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE), vocab=nlp.vocab)
    assert result.docs[0].vocab is nlp.vocab


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("Ann B-PER\nsings O extra\n", 2, "Found 3 columns but line 1 has 2"),
        ("Ann\tB-PER\n\tO\n", 2, "Empty token"),
        ("Ann X-PER\n", 1, "Unknown tag 'X-PER'"),
        ("Ann B-PER\nsings\n", 2, "Found 1 column but line 1 has 2"),
        ("Ann S-PER\n\nNew B-LOC\nYork I-LOC\n", 3, "never closed"),
        ("Ann S-PER\nBob U-PER\n", 1, "mixes BIOES"),
        ("Ann O\nBob I-PER\n\nCarl B-PER\n", 2, "mixes IOB1"),
        ("Ann\n", 1, "expected a token and a tag"),
    ],
)
def test_validation_errors_name_file_line_problem_and_remedy(tmp_path, text, line, fragment):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    err = info.value
    assert err.path == path and err.line == line
    assert fragment in str(err)
    assert str(path) in str(err) and f"line {line}" in str(err)


def test_e_tag_without_b_under_stated_bioes_is_an_error_naming_the_line(tmp_path):
    path = write(tmp_path, "bad.txt", "Ann O\nSmith E-PER\n")
    with pytest.raises(CorpusError, match="no B-PER before it") as info:
        read_corpus(path, scheme="bioes")
    assert info.value.line == 2 and "--repair" in str(info.value)


def test_empty_input_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="empty"):
        read_corpus(write(tmp_path, "empty.txt", "\n\n"))


def test_repair_fixes_invalid_sequences_only_when_asked_and_counts_them(tmp_path):
    path = write(tmp_path, "r.txt", "Ann B-PER\n\nthe O\nBob I-PER\nSmith I-PER\n")
    with pytest.raises(CorpusError):
        read_corpus(path)
    result = read_corpus(path, repair=True)
    assert result.summary.repairs == 1
    assert [ents(d) for d in result.docs] == [[("Ann", "PER")], [("Bob Smith", "PER")]]


def test_jsonl_with_and_without_tokens(tmp_path):
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


def test_convert_writes_a_docbin_with_entities_and_sentences(tmp_path):
    out = tmp_path / "out.spacy"
    summary = convert(write(tmp_path, "a.txt", CONLL_2003_STYLE), out)
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert summary.documents == len(docs) == 2
    assert ents(docs[0]) == [("EU", "ORG"), ("German", "MISC"), ("Peter Blackburn", "PER")]
    assert len(list(docs[0].sents)) == 2


@pytest.mark.parametrize("output_scheme", ["iob1", "iob2", "bioes", "biluo"])
def test_spacy_to_conll_round_trip_reproduces_tokens_and_entities(tmp_path, output_scheme):
    source = write(tmp_path, "a.txt", CONLL_2003_STYLE + "\nAnn NNP B-NP B-PER\nBob NNP B-NP B-PER\n")
    convert(source, tmp_path / "a.spacy")
    convert(tmp_path / "a.spacy", tmp_path / "back.conll", to="conll", output_scheme=output_scheme)
    original, back = read_corpus(source), read_corpus(tmp_path / "back.conll")
    assert back.summary.scheme == output_scheme
    assert [[t.text for t in d] for d in back.docs] == [[t.text for t in d] for d in original.docs]
    assert [ents(d) for d in back.docs] == [ents(d) for d in original.docs]
    assert [[s.text for s in d.sents] for d in back.docs] == [[s.text for s in d.sents] for d in original.docs]


def test_jsonl_output_reads_back_identically(tmp_path):
    source = write(tmp_path, "a.txt", CONLL_2003_STYLE)
    convert(source, tmp_path / "a.jsonl", to="jsonl")
    original, back = read_corpus(source), read_corpus(tmp_path / "a.jsonl")
    assert [ents(d) for d in back.docs] == [ents(d) for d in original.docs]
    assert back.summary.sentences == original.summary.sentences


def test_failed_conversion_leaves_no_output_and_keeps_an_old_one(tmp_path):
    bad = write(tmp_path, "bad.txt", "Ann B-PER\nBob Q-PER\n")
    with pytest.raises(CorpusError):
        convert(bad, tmp_path / "new.spacy")
    assert list(tmp_path.iterdir()) == [bad]
    old = write(tmp_path, "old.spacy", b"previous")
    with pytest.raises(CorpusError):
        convert(bad, old)
    assert old.read_bytes() == b"previous"


def test_is_raw_corpus(tmp_path):
    raw = write(tmp_path, "a.txt", CONLL_2003_STYLE)
    convert(raw, tmp_path / "a.spacy")
    assert is_raw_corpus(raw)
    assert not is_raw_corpus(tmp_path / "a.spacy")
    assert not is_raw_corpus(tmp_path / "missing.txt")
    spacy_only = tmp_path / "bins"
    spacy_only.mkdir()
    (tmp_path / "a.spacy").rename(spacy_only / "a.spacy")
    assert not is_raw_corpus(spacy_only)
    assert is_raw_corpus(tmp_path)


def test_cli_prints_the_summary_and_infers_the_output_format(tmp_path):
    source = write(tmp_path, "a.txt", CONLL_2003_STYLE)
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "documents   2" in result.stdout and "entities    4" in result.stdout
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["text"].startswith("EU rejects")


def test_cli_writes_into_a_directory_named_with_a_trailing_slash(tmp_path):
    source = write(tmp_path, "train.txt", CONLL_2003_STYLE)
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out") + "/"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "train.spacy").is_file()


def test_cli_error_exits_non_zero_names_the_line_and_writes_nothing(tmp_path):
    source = write(tmp_path, "bad.txt", "Ann B-PER\nBob\n")
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out.spacy")])
    assert result.exit_code == 1
    assert f"{source}, line 2" in result.stderr
    assert not (tmp_path / "out.spacy").exists()

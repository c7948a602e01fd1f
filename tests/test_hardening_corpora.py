"""The corpus converter against a user's mistakes and a disk's faults: every bad input gives a
CorpusError naming the file, the line where there is one, and what to do; `convert` exits
non-zero and leaves no output; nothing is dropped or changed silently."""
import gzip
import json
import time

import pytest
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.corpora import CorpusError, convert, read_corpus
from spacy_bilstm.corpora.schemes import MixedSchemeError, TagError
from spacy_bilstm.errors import OutputWriteError, SpacyBilstmError


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def words_and_ents(result):
    return [([t.text for t in doc], [(e.start, e.end, e.label_) for e in doc.ents]) for doc in result.docs]


def assert_clear_error(path, line, fragment, **options):
    with pytest.raises(CorpusError) as info:
        read_corpus(path, **options)
    error = info.value
    message = str(error)
    assert error.path == path and str(path) in message
    assert error.line == line
    if line is not None:
        assert f"line {line}" in message
    assert fragment in message
    # What to do: every message ends with a remedy after the problem.
    assert error.hint, message
    return error


# --- malformed column files -------------------------------------------------------------


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("EU NNP B-ORG\nrejects O\n", 2, "Found 2 columns but line 1 has 3"),
        ("EU B-ORG\nrejects VBZ O\n", 2, "Found 3 columns but line 1 has 2"),
        ("EU\tB-ORG\n\tO\n", 2, "Empty token"),
        ("EU\tB-ORG\n\u00a0\tO\n", 2, "Empty token"),
        ("EU\tB-ORG\nrejects\t\n", 2, "Empty tag"),
        ("EU B-ORG\nrejects\n", 2, "Found 1 column"),
        ("EU\n", 1, "expected a token and a tag"),
        # A vertical tab is not a column separator: the line is one column, not two.
        ("EU\x0bB-ORG\n", 1, "Found 1 column"),
    ],
)
def test_wrong_column_counts_and_empty_tokens_name_the_line(tmp_path, text, line, fragment):
    assert_clear_error(write(tmp_path, "bad.txt", text), line, fragment)


def test_tab_file_with_a_space_separated_line_says_the_separators_are_mixed(tmp_path):
    path = write(tmp_path, "mixed.tsv", "EU\tB-ORG\nrejects O\n")
    error = assert_clear_error(path, 2, "Found 1 column")
    assert "tabs" in error.hint and "spaces" in error.hint


def test_space_file_with_a_tab_separated_line_reads_every_token(tmp_path):
    result = read_corpus(write(tmp_path, "mixed.txt", "EU B-ORG\nrejects\tO\n"))
    assert words_and_ents(result) == [(["EU", "rejects"], [(0, 1, "ORG")])]


def test_unicode_spaces_inside_a_token_are_kept_not_split_off(tmp_path):
    # str.split() would split "New\u00a0York" and keep only "New", losing a token silently.
    path = write(tmp_path, "nbsp.txt", "New\u00a0York B-LOC\nis O\nbig\u2003one O\n")
    result = read_corpus(path)
    assert words_and_ents(result) == [(["New\u00a0York", "is", "big\u2003one"], [(0, 1, "LOC")])]


@pytest.mark.parametrize(
    "data",
    [
        b"EU B-ORG\r\nrejects O\r\n\r\nGerman B-MISC\r\n",  # CRLF
        b"\xef\xbb\xbfEU B-ORG\nrejects O\n\nGerman B-MISC\n",  # UTF-8 BOM
        b"\xef\xbb\xbfEU B-ORG\r\nrejects O\r\n\r\nGerman B-MISC",  # both, no final newline
        b"EU B-ORG\rrejects O\r\rGerman B-MISC\r",  # old Mac line ends
    ],
    ids=["crlf", "bom", "bom+crlf", "cr"],
)
def test_line_ends_and_byte_order_marks_read_the_same(tmp_path, data):
    result = read_corpus(write(tmp_path, "a.txt", data))
    assert words_and_ents(result) == [(["EU", "rejects"], [(0, 1, "ORG")]), (["German"], [(0, 1, "MISC")])]


def test_undecodable_bytes_name_the_line_offset_and_encoding_option(tmp_path):
    path = write(tmp_path, "latin1.txt", "EU B-ORG\nr\u00e9jette O\n".encode("latin-1"))
    error = assert_clear_error(path, 2, "cannot be decoded as utf-8")
    assert "--encoding" in error.hint
    assert words_and_ents(read_corpus(path, encoding="latin-1"))[0][0] == ["EU", "r\u00e9jette"]


def test_utf16_file_is_named_as_utf16(tmp_path):
    path = write(tmp_path, "utf16.txt", "EU B-ORG\n".encode("utf-16"))
    error = assert_clear_error(path, None, "UTF-16")
    assert "--encoding utf-16" in error.hint
    assert words_and_ents(read_corpus(path, encoding="utf-16")) == [(["EU"], [(0, 1, "ORG")])]


@pytest.mark.parametrize("data", [bytes(range(256)) * 4, b"\x00\x01 \x02\n\x03 \x04\n", b"EU B-ORG\nx\x00y O\n"])
def test_binary_file_is_refused_as_binary(tmp_path, data):
    error = assert_clear_error(write(tmp_path, "weights.bin", data), data[: data.find(b"\x00")].count(b"\n") + 1, "binary")
    assert "--format spacy" in error.hint


def test_binary_inside_gzip_is_refused_as_binary(tmp_path):
    assert_clear_error(write(tmp_path, "a.txt.gz", gzip.compress(b"\x00\x01\x02")), 1, "binary")


def test_truncated_gzip_is_a_clear_error(tmp_path):
    data = gzip.compress(b"EU B-ORG\n" * 1000)
    assert_clear_error(write(tmp_path, "a.txt.gz", data[: len(data) // 2]), None, "cannot be decompressed")


@pytest.mark.parametrize("data", [b"", b"\n\n", b" \t \n\r\n", b"\xef\xbb\xbf\n"])
def test_empty_file_is_an_error(tmp_path, data):
    assert_clear_error(write(tmp_path, "empty.txt", data), None, "empty")


def test_file_of_only_docstart_lines_has_no_tokens(tmp_path):
    path = write(tmp_path, "docstart.txt", "-DOCSTART- -X- -X- O\n\n-DOCSTART- -X- -X- O\n")
    assert_clear_error(path, None, "no tokens")


def test_a_20000_token_sentence_reads_whole_and_fast(tmp_path):
    n = 20_000
    tags = ["B-PER" if i % 10 == 0 else "I-PER" if i % 10 == 1 else "O" for i in range(n)]
    path = write(tmp_path, "long.txt", "".join(f"w{i} {tag}\n" for i, tag in enumerate(tags)))
    started = time.perf_counter()
    result = read_corpus(path)
    assert time.perf_counter() - started < 10
    (doc,) = result.docs
    assert len(doc) == n and len(doc.ents) == n // 10 and len(list(doc.sents)) == 1
    assert all(e.end - e.start == 2 and e.label_ == "PER" for e in doc.ents)


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


# --- invalid tag transitions, each scheme ------------------------------------------------


@pytest.mark.parametrize(
    "scheme,tags,bad_line,fragment",
    [
        ("iob2", ["O", "I-PER"], 2, "in IOB2 every entity starts with B-"),
        ("iob2", ["B-PER", "I-LOC"], 2, "in IOB2 every entity starts with B-"),
        ("iob2", ["B-PER", "L-PER"], 2, "prefix L-"),
        ("iob1", ["I-PER", "E-PER"], 2, "prefix E-"),
        ("io", ["B-PER", "I-PER"], 1, "prefix B-"),
        ("bioes", ["B-PER", "O"], 2, "interrupts the entity"),
        ("bioes", ["O", "E-PER"], 2, "no B-PER before it"),
        ("bioes", ["B-PER", "I-PER"], 1, "never closed"),
        ("bioes", ["B-PER", "E-LOC"], 2, "interrupts the entity"),
        ("bioes", ["U-PER"], 1, "prefix U-"),
        ("biluo", ["B-PER", "B-PER", "L-PER"], 2, "interrupts the entity"),
        ("biluo", ["O", "I-PER", "L-PER"], 2, "no B-PER before it"),
        ("biluo", ["S-PER"], 1, "prefix S-"),
    ],
)
def test_invalid_transitions_under_each_scheme_name_the_line(tmp_path, scheme, tags, bad_line, fragment):
    path = write(tmp_path, "bad.txt", "".join(f"w{i} {tag}\n" for i, tag in enumerate(tags)))
    assert_clear_error(path, bad_line, fragment, scheme=scheme)


def test_auto_detection_refuses_a_file_that_fits_no_single_scheme(tmp_path):
    path = write(tmp_path, "bad.txt", "Ann S-PER\n\nBob U-PER\n")
    error = assert_clear_error(path, 1, "mixes BIOES")
    assert "--scheme" in error.hint


# --- JSONL --------------------------------------------------------------------------------


def jsonl(tmp_path, *records):
    return write(tmp_path, "a.jsonl", "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


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


# --- the command: non-zero exit, nothing written -------------------------------------------


@pytest.mark.parametrize(
    "name,data,line",
    [
        ("cols.txt", "EU B-ORG\nrejects VBZ O\n", 2),
        ("binary.txt", b"\x00\x01\x02\x03", 1),
        ("empty.txt", "", None),
        ("docstart.txt", "-DOCSTART- -X- -X- O\n", None),
        ("bad.jsonl", '{"text": "Ann sings", "spans": [{"start": 0, "end": 30, "label": "PER"}]}\n', 1),
        ("bad.iob", "Ann O\nLee I-PER\n\nBob B-PER\n", 2),
    ],
)
@pytest.mark.parametrize("to", ["spacy", "conll", "jsonl"])
def test_convert_cli_exits_1_names_the_place_and_leaves_no_output(tmp_path, name, data, line, to):
    source = write(tmp_path, name, data)
    out = tmp_path / "out" / f"corpus.{to}"
    result = CliRunner().invoke(app, ["convert", str(source), str(out), "--to", to])
    assert result.exit_code == 1, result.output
    assert str(source) in result.stderr
    if line is not None:
        assert f"line {line}" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_failed_conversion_keeps_the_previous_output_byte_for_byte(tmp_path):
    good = write(tmp_path, "good.txt", "EU B-ORG\n")
    out = tmp_path / "out.spacy"
    convert(good, out)
    before = out.read_bytes()
    bad = write(tmp_path, "bad.txt", "EU B-ORG\n\x00")
    with pytest.raises(CorpusError):
        convert(bad, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "good.txt", "out.spacy"]


def test_output_directory_that_cannot_be_created_is_an_error_not_a_traceback(tmp_path):
    source = write(tmp_path, "a.txt", "EU B-ORG\n")
    blocker = write(tmp_path, "not-a-directory", "")
    result = CliRunner().invoke(app, ["convert", str(source), str(blocker / "sub" / "a.spacy")])
    assert result.exit_code == 1, result.output
    assert "cannot write the output here" in result.stderr and str(blocker / "sub" / "a.spacy") in result.stderr
    assert "Traceback" not in result.output
    assert source.read_text() == "EU B-ORG\n"


def test_disk_full_while_writing_keeps_the_old_output_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    from spacy_bilstm import files

    source = write(tmp_path, "a.txt", "EU B-ORG\nrejects O\n")
    out = tmp_path / "out.jsonl"
    out.write_text("old output\n")

    def full_disk(self, data, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.Path, "write_text", full_disk)
    with pytest.raises(OutputWriteError, match="No space left on device") as info:
        convert(source, out, to="jsonl")
    assert str(out) in str(info.value) and "nothing was written" in str(info.value)
    assert out.read_text() == "old output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "out.jsonl"]


@pytest.mark.parametrize("error", [CorpusError, TagError, MixedSchemeError, OutputWriteError])
def test_every_corpus_error_is_caught_by_the_package_base_class(error):
    assert issubclass(error, SpacyBilstmError)

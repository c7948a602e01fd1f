"""Reading a corpus file's text: encodings, byte-order marks, line ends, gzip, binary and empty files."""
import gzip

import pytest

from spacy_bilstm.corpora import CorpusError, read_corpus

from .corpus_files import CONLL_2003_STYLE, assert_clear_error, ents, words_and_ents, write


def test_bom_and_crlf_are_accepted(tmp_path):
    path = write(tmp_path, "bom.txt", "\ufeff-DOCSTART- O\r\n\r\nAnn B-PER\r\nsings O\r\n")
    result = read_corpus(path)
    assert [t.text for t in result.docs[0]] == ["Ann", "sings"]
    assert ents(result.docs[0]) == [("Ann", "PER")]


def test_latin1_file_reads_with_encoding_option(tmp_path):
    path = write(tmp_path, "esp.train", "Málaga B-LOC\n", encoding="latin-1")
    with pytest.raises(CorpusError, match="cannot be decoded as utf-8") as info:
        read_corpus(path)
    assert info.value.line == 1 and "--encoding" in str(info.value)
    assert read_corpus(path, encoding="latin-1").docs[0].text == "Málaga"


def test_a_gzipped_file_reads_like_the_plain_text(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress(CONLL_2003_STYLE.encode()))
    assert read_corpus(path).summary.documents == 2


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
def test_an_empty_or_blank_file_is_an_error_naming_the_file(tmp_path, data):
    assert_clear_error(write(tmp_path, "empty.txt", data), None, "empty")

"""Exact counts and round trips on the real corpora in the shared data folder (skipped without it).

CoNLL-2003's counts are the published ones; WNUT-17 and WikiANN counts are computed here
from the raw files with a few lines of independent code.
"""
from pathlib import Path

import pytest

from spacy_bilstm.corpora import CorpusError, convert, read_corpus

def counts(summary):
    return summary.documents, summary.sentences, summary.tokens, summary.entities


@pytest.mark.parametrize(
    "split,expected",
    [
        ("train", (946, 14_041, 203_621, 23_499)),
        ("valid", (216, 3_250, 51_362, 5_942)),
        ("test", (231, 3_453, 46_435, 5_648)),
    ],
)
def test_conll2003_reads_to_the_published_counts(real_corpora, split, expected):
    result = read_corpus(real_corpora / "conll2003" / f"{split}.txt")
    assert counts(result.summary) == expected
    assert result.summary.format == "conll" and result.summary.scheme == "iob2"
    assert sum(1 for doc in result.docs for token in doc if token.text == "-DOCSTART-") == 0


def independent_counts(path: Path, strip: str = ""):
    """Sentences are split by lines that hold nothing but whitespace (or a stray BOM);
    an entity starts at B-X, or at I-X after anything but X (conlleval's reading)."""
    sentences = tokens = entities = 0
    in_sentence, previous = False, "O"
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.replace("\ufeff", "").strip():
            sentences += in_sentence
            in_sentence, previous = False, "O"
            continue
        token, tag = line.split("\t")
        assert token.startswith(strip)
        in_sentence = True
        tokens += 1
        if tag.startswith("B-") or (tag.startswith("I-") and previous[2:] != tag[2:]):
            entities += 1
        previous = tag
    sentences += in_sentence
    return sentences, sentences, tokens, entities


@pytest.mark.parametrize("split", ["train", "test"])
def test_wnut17_counts_match_an_independent_count(real_corpora, split):
    path = real_corpora / "wnut17" / f"{split}.conll"
    assert counts(read_corpus(path).summary) == independent_counts(path)


def test_wnut17_dev_has_one_invalid_iob2_sequence_that_repair_fixes(real_corpora):
    path = real_corpora / "wnut17" / "dev.conll"
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    assert info.value.line == 1674  # Turn I-creative-work right after Sly- I-person
    result = read_corpus(path, repair=True)
    assert result.summary.repairs == 1
    assert counts(result.summary) == independent_counts(path)


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_wikiann_en_counts_match_and_the_en_prefix_is_stripped(real_corpora, split):
    path = real_corpora / "wikiann-en" / f"{split}.txt"
    result = read_corpus(path)
    assert counts(result.summary) == independent_counts(path, strip="en:")
    assert not any(token.text.startswith("en:") for doc in result.docs for token in doc)


def raw_rows(path: Path, strip: str = ""):
    """(token, tag) per token line and None per sentence break, documents ignored."""
    rows = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        fields = line.replace("\ufeff", "").split()
        if not fields or fields[0] == "-DOCSTART-":
            if rows and rows[-1] is not None:
                rows.append(None)
            continue
        rows.append((fields[0][len(strip):], fields[-1]))
    return rows if rows[-1] is not None else rows[:-1]


@pytest.mark.parametrize(
    "relative,strip",
    [("conll2003/valid.txt", ""), ("wnut17/test.conll", ""), ("wikiann-en/dev.txt", "en:")],
)
def test_spacy_then_conll_round_trip_reproduces_tokens_and_tags(real_corpora, tmp_path, relative, strip):
    source = real_corpora / relative
    convert(source, tmp_path / "corpus.spacy")
    convert(tmp_path / "corpus.spacy", tmp_path / "back.conll", to="conll", output_scheme="iob2")
    assert raw_rows(tmp_path / "back.conll") == raw_rows(source, strip)
    assert counts(read_corpus(tmp_path / "back.conll").summary) == counts(read_corpus(source).summary)

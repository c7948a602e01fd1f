"""`convert` writing DocBin, CoNLL and JSONL: round trips, and outputs that a failure leaves untouched."""
import pytest
import spacy
from spacy.tokens import DocBin

from spacy_bilstm.corpora import CorpusError, convert, read_corpus
from spacy_bilstm.errors import OutputWriteError

from .corpus_files import CONLL_2003_STYLE, ents, write


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

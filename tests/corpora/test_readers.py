"""`read_corpus` and `is_raw_corpus`: directories, the vocab, which paths are raw corpora."""
import spacy

from spacy_bilstm.corpora import convert, is_raw_corpus, read_corpus

from .corpus_files import CONLL_2003_STYLE, write


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


def test_text_corpora_are_raw_and_docbins_folders_of_docbins_and_missing_paths_are_not(tmp_path):
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

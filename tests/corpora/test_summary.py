"""The conversion summary a user reads."""


from spacy_bilstm.corpora import read_corpus

from .corpus_files import CONLL_2003_STYLE, write


def test_summary_prints_every_count(tmp_path):
    text = str(read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE)).summary)
    for expected in ("documents   2", "sentences   3", "tokens      9", "entities    4", "PER", "repairs     0",
                     "conll (auto-detected: 4 columns", "iob2 (auto-detected"):
        assert expected in text

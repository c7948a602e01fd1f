"""What a training run reads besides its config: corpora, raw ones converted."""
from spacy_bilstm.corpora import convert
from spacy_bilstm.training import prepare_corpus

from ..helpers import SAMPLE_DEV, SAMPLE_TRAIN

TRAIN, DEV = SAMPLE_TRAIN, SAMPLE_DEV


def test_docbin_corpora_are_used_as_they_are_and_raw_ones_converted(tmp_path):
    convert(TRAIN, tmp_path / "train.spacy")
    out = tmp_path / "out"
    docbin_path, docbin_labels = prepare_corpus(tmp_path / "train.spacy", out, "train", lang="en", log=lambda _: None)
    assert docbin_path == tmp_path / "train.spacy" and not (out / "corpus").exists()
    raw_path, raw_labels = prepare_corpus(TRAIN, out, "train", lang="en", log=lambda _: None)
    assert raw_path == out / "corpus" / "train.spacy" and raw_path.is_file()
    assert docbin_labels == raw_labels and sum(raw_labels.values()) == 501

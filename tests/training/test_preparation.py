"""What a training run reads besides its config: corpora, raw ones converted."""
import pytest

from spacy_bilstm.corpora import convert
from spacy_bilstm.training import TrainingError, prepare_corpus

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


def test_a_raw_corpus_convert_would_read_only_with_options_says_to_convert_it_first(tmp_path):
    # IOB2 with an entity started by I- after O: convert reads it with --repair, which train lacks.
    corpus = tmp_path / "dev.conll"
    corpus.write_text("Tim\tB-PER\nCook\tI-PER\nin\tO\nBerlin\tI-LOC\n")
    with pytest.raises(TrainingError) as error:
        prepare_corpus(corpus, tmp_path / "out", "dev", lang="en", log=lambda _: None)
    message = str(error.value)
    assert "--repair" in message and f"spacy-bilstm convert {corpus} dev.spacy" in message
    assert "--dev dev.spacy" in message


def test_a_broken_docbin_is_not_told_to_be_converted(tmp_path):
    corpus = tmp_path / "train.spacy"
    corpus.write_bytes(b"not a DocBin")
    with pytest.raises(TrainingError) as error:
        prepare_corpus(corpus, tmp_path / "out", "train", lang="en", log=lambda _: None)
    message = str(error.value)
    assert str(corpus) in message and message.endswith("(the --train corpus)")
    assert "convert it first" not in message
